"""A peer that goes down leaves the Loc-RIB in bounded slices (``peer_down(stream=True)`` and
``drain``), with the same end result as removing it at once, in-process and in shard workers."""
from __future__ import annotations

import pytest
from receiver import Receiver

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.rib.manager import _DRAIN_PREFIXES
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
N = 100_000
KEYS = [bytes((24, 10 + (i >> 16), i >> 8 & 0xFF, i & 0xFF)) for i in range(N)]


def client(n: int) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=True)


def attrs(n: int, local_pref: int = 100) -> PathAttributes:
    return PathAttributes(origin=0, as_path=((SEQ, (65010,)),), next_hop=f"192.0.2.{n}", local_pref=local_pref)


def feed(rib: Rib, peer: int, keys: list[bytes], local_pref: int = 100) -> None:
    for start in range(0, len(keys), 1000):
        rib.receive(peer, Update([], attrs(peer, local_pref), keys[start:start + 1000]))
    rib.flush()


def read(rib: Rib, peer: int, receiver: Receiver) -> None:
    while messages := rib.next_messages(peer, 1 << 16):
        receiver.feed(messages)


@pytest.mark.parametrize("shards", [1, 2])
def test_a_streamed_removal_comes_in_slices_and_ends_where_a_whole_one_does(shards: int) -> None:
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=shards)) as rib:
        for peer in (1, 2, 3):
            rib.peer_up(peer, client(peer))
        feed(rib, 1, KEYS, local_pref=200)  # best everywhere
        feed(rib, 2, KEYS[: N // 2])  # a second path for half of them
        reader = Receiver()
        read(rib, 3, reader)
        assert len(reader.table) == N
        first = rib.peer_down(1, stream=True)
        slices = [first]
        assert rib.draining
        while rib.draining:
            slices.append(rib.drain())
        assert len(slices) >= 2  # bounded steps, not one
        assert max(sum(len(c.keys) for c in part) for part in slices) <= _DRAIN_PREFIXES * shards
        gone = [k for part in slices for c in part if c.best is None for k in c.keys]
        moved = [k for part in slices for c in part if c.best is not None for k in c.keys]
        assert sorted(gone) == sorted(KEYS[N // 2:]) and sorted(moved) == sorted(KEYS[: N // 2])
        assert len(rib) == N // 2 and rib.drain() == []
        read(rib, 3, reader)  # the client follows: peer 2's paths, nothing of peer 1
        assert len(reader.table) == N // 2
        assert {hop for _, hop in reader.table.values()} == {("192.0.2.2",)}


def test_a_peer_that_comes_back_during_its_removal_starts_from_nothing() -> None:
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, client(1))
        rib.peer_up(3, client(3))
        feed(rib, 1, KEYS)
        rib.peer_down(1, stream=True)
        assert rib.draining and 0 < len(rib) < N
        rib.peer_up(1, client(1))  # the rest of the old session's routes leave first ...
        gone = rib.flush()
        assert len(rib) == 0 and not rib.draining
        assert sum(len(c.keys) for c in gone) == N - _DRAIN_PREFIXES
        feed(rib, 1, KEYS[:10])  # ... so the new session's routes are not removed with them
        assert len(rib) == 10 and rib.drain() == [] and len(rib) == 10
        assert rib.prefix_count(1) == 10


def test_routes_of_a_restarting_peer_that_never_came_back_also_leave_in_slices() -> None:
    from dataclasses import replace
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, replace(client(1), restart_time_s=5.0), now=0.0)
        feed(rib, 1, KEYS)
        assert rib.peer_down(1, graceful=True, now=0.0) == [] and len(rib) == N  # kept, stale
        first = rib.handle_timer(10.0, stream=True)
        assert 0 < sum(len(c.keys) for c in first) <= _DRAIN_PREFIXES and rib.draining
        rest = []
        while rib.draining:
            rest += rib.drain()
        assert sum(len(c.keys) for c in first + rest) == N and len(rib) == 0
