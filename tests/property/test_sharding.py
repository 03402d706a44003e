"""Splitting the RIB into shards changes where work runs, not what it produces."""
from __future__ import annotations

import random
import select
import sys
from pathlib import Path as FsPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(FsPath(__file__).resolve().parents[1] / "unit" / "rib"))

from receiver import Receiver  # noqa: E402

from bgpcore.constants import AsPathSegmentType  # noqa: E402
from bgpcore.rib import AddPathSelect, DecisionOptions, Rib, RibConfig, RibPeer  # noqa: E402
from bgpcore.route import BestChange  # noqa: E402
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext  # noqa: E402
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update  # noqa: E402

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
BOTH = frozenset({IPV4_UNICAST, IPV6_UNICAST})
ADDPATH = CodecContext(addpath=frozenset({IPV4_UNICAST}))


def peers() -> dict[int, RibPeer]:
    def info(n: int, asn: int = 65000, **kw: object) -> RibPeer:
        # every session on its own link: our address differs per peer (the clients still share a group)
        return RibPeer(asn=asn, router_id=f"1.1.1.{n}", address=f"10.0.{n}.1", local_address=f"10.0.{n}.254",
                        local_address6=f"2001:db8:{n}::fe", families=BOTH, **kw)  # type: ignore[arg-type]
    return {
        1: info(1, rr_client=True), 2: info(2, rr_client=True), 3: info(3),
        4: info(4, asn=65001), 5: info(5, rr_client=True, send_ctx=ADDPATH, addpath_select=AddPathSelect.ALL),
    }


Op = tuple[int, bool, int, list[int], int]
"""(peer, announce?, family index, prefix numbers, attribute variant)."""


def updates_from(ops: list[Op]) -> list[tuple[int, Update]]:
    out = []
    for peer, announce, fam, numbers, variant in ops:
        if fam == 0:
            keys = [bytes((24, 10, n >> 8, n & 0xFF)) for n in numbers]
        else:
            keys = [bytes((48, 0x20, 0x01, 0x0D, 0xB8, n >> 8, n & 0xFF)) for n in numbers]
        if not announce:
            out.append((peer, Update(keys, None, []) if fam == 0 else
                        Update([], None, [], mp_unreach=MpUnreach(2, 1, keys))))
            continue
        first = 65001 if peer == 4 else 65010 + variant % 2
        attrs = PathAttributes(origin=variant % 3, as_path=((SEQ, (first, 64600 + variant)),),
                               med=variant % 2 * 10, local_pref=None if peer == 4 else 100 + variant % 2 * 50,
                               next_hop=f"192.0.2.{peer}" if fam == 0 else None)
        if fam == 0:
            out.append((peer, Update([], attrs, keys)))
        else:
            out.append((peer, Update([], attrs, [], mp_reach=MpReach(2, 1, (f"2001:db8::{peer}",), keys))))
    return out


def pull(rib: Rib, peer: int, budget: int, wait: bool) -> list[bytes]:
    """``next_messages``; with rounds planned in the background and ``wait``, waits (as the
    router's event loop does, on ``shard_fds``) until the peer has output or nothing pending."""
    while True:
        messages = rib.next_messages(peer, budget)
        if messages or not wait or not rib.pending(peer) or not rib.shard_fds():
            return messages
        readable, _, _ = select.select(rib.shard_fds(), [], [], 10)
        assert readable, "a round asked of the workers came back"
        rib.poll()


def run(ops: list[Op], shards: int, start_method: str, pull_every: int = 5, background: bool = False):
    """Feed the same updates to a RIB; returns (best paths, what every peer received and in how
    many UPDATEs, change replay)."""
    config = RibConfig(local_asn=65000, router_id=ME, shards=shards, start_method=start_method,
                       decision=DecisionOptions(maximum_paths=2, multipath_relax=True),
                       rounds_in_background=background)
    receivers = {p: Receiver(i.send_ctx) for p, i in peers().items()}
    replay: dict[tuple, tuple] = {}

    def apply(changes: list[BestChange]) -> None:
        for change in changes:
            for key in change.keys:
                replay[(change.family, key)] = tuple((p.source.peer_id, p.path_id, p.attrs) for p in change.paths)

    with Rib(config) as rib:
        for peer, info in peers().items():
            rib.peer_up(peer, info)
        for step, (peer, update) in enumerate(updates_from(ops)):
            apply(rib.receive(peer, update))
            if step % pull_every == 0:
                for p, receiver in receivers.items():
                    receiver.feed(pull(rib, p, 4096, False))
        apply(rib.flush())
        for p, receiver in receivers.items():
            while messages := pull(rib, p, 1 << 20, True):
                receiver.feed(messages)
        best = {(fam, key): tuple((p.source.peer_id, p.path_id, p.attrs) for p in paths)
                for fam in (IPV4_UNICAST, IPV6_UNICAST) for key, paths in rib.best_paths(fam).items()}
    return best, {p: (r.table, sorted(r.end_of_rib), r.updates) for p, r in receivers.items()}, \
        {k: v for k, v in replay.items() if v}


ops_strategy = st.lists(
    st.tuples(st.integers(1, 5), st.booleans() | st.just(True), st.integers(0, 1),
              st.lists(st.integers(0, 40), min_size=1, max_size=12, unique=True), st.integers(0, 5)),
    min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_strategy)
def test_n_inline_shards_give_the_same_routes_and_output_as_one(ops: list[Op]) -> None:
    one = run(ops, 1, "spawn")
    three = run(ops, 3, "inline")
    assert three == one, "same routes, same UPDATE count per peer (one packing)"
    assert one[2] == one[0], "replaying the change stream gives the Loc-RIB"
    check_split_horizon(*one[:2])


CLIENTS = {1, 2, 5}


def check_split_horizon(best: dict, received: dict) -> None:
    """Each peer without ADD-PATH holds exactly the best routes it may get (RFC 4456 §6): none
    learned from itself, none from one non-client to another."""
    for peer in (1, 2, 3, 4):
        want = {fk for fk, paths in best.items()
                if paths[0][0] != peer and (peer in CLIENTS or paths[0][0] in CLIENTS or paths[0][0] == 4 or peer == 4)}
        assert set(received[peer][0]) == want, f"peer {peer}"


def random_ops(seed: int, count: int) -> list[Op]:
    rnd = random.Random(seed)
    return [(rnd.randint(1, 5), rnd.random() < 0.8, rnd.randint(0, 1),
             rnd.sample(range(400), rnd.randint(1, 30)), rnd.randint(0, 5)) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2])
def test_worker_processes_give_the_same_routes_and_output_as_one_shard(seed: int) -> None:
    ops = random_ops(seed, 300)
    one = run(ops, 1, "spawn")
    workers = run(ops, 2, "spawn")
    assert workers == one, "same routes, same UPDATE count per peer (one packing)"
    assert len(one[0]) > 300, "the workload exercised a real table"
    check_split_horizon(*one[:2])


@pytest.mark.parametrize("seed", [3, 4])
def test_rounds_planned_in_the_background_give_the_same_routes_as_one_shard(seed: int) -> None:
    """The router's mode: ``next_messages`` never waits for the workers; output comes once
    their rounds are back (``poll``). Every peer ends with the same routes and End-of-RIB;
    rounds cut at other moments may pack into a different number of UPDATEs."""
    ops = random_ops(seed, 300)
    one = run(ops, 1, "spawn")
    background = run(ops, 2, "spawn", background=True)
    assert background[0] == one[0] and background[2] == one[2]
    assert {p: r[:2] for p, r in background[1].items()} == {p: r[:2] for p, r in one[1].items()}
    check_split_horizon(*background[:2])


@pytest.mark.parametrize("background", [False, True])
def test_a_late_joiner_and_a_route_refresh_mid_stream_end_with_the_table(background: bool) -> None:
    """With worker processes, a client that joins while the table streams, a client that asks
    for a ROUTE-REFRESH meanwhile and a client that lags until it is detached catch up from
    the group's state and end with every route they may hold, End-of-RIB included (rounds
    waited for, and in the background)."""
    late = RibPeer(asn=65000, router_id="1.1.1.6", address="10.0.6.1", local_address="10.0.6.254",
                   local_address6="2001:db8:6::fe", families=BOTH, rr_client=True)
    config = RibConfig(local_asn=65000, router_id=ME, shards=2, start_method="spawn",
                       decision=DecisionOptions(maximum_paths=2, multipath_relax=True),
                       rounds_in_background=background, lag_limit_bytes=2000)
    receivers = {p: Receiver(i.send_ctx) for p, i in peers().items()}
    with Rib(config) as rib:
        for peer, info in peers().items():
            rib.peer_up(peer, info)
        for step, (peer, update) in enumerate(updates_from(random_ops(5, 300))):
            rib.receive(peer, update)
            if step == 100:
                rib.peer_up(6, late)
                receivers[6] = Receiver(late.send_ctx)
            if step % 5 == 0:
                for p, receiver in receivers.items():
                    if p != 2 or step > 250:  # peer 2 lags, beyond the limit: it is detached
                        receiver.feed(pull(rib, p, 4096, False))
            if step == 150:
                rib.route_refresh(1)  # just after a pull: a round may be out with the workers
        rib.flush()
        for p, receiver in receivers.items():
            while messages := pull(rib, p, 1 << 20, True):
                receiver.feed(messages)
        best = {(fam, key): tuple((p.source.peer_id, p.path_id, p.attrs) for p in paths)
                for fam in (IPV4_UNICAST, IPV6_UNICAST) for key, paths in rib.best_paths(fam).items()}
    received = {p: (r.table, sorted(r.end_of_rib), r.updates) for p, r in receivers.items()}
    assert len(best) > 300
    check_split_horizon(best, received)
    assert set(received[6][0]) == set(best), "the late client holds every best route"
    assert received[6][1] == sorted(BOTH)
    assert received[1][1] == sorted([*BOTH, *BOTH]), "End-of-RIB again after the refresh"
