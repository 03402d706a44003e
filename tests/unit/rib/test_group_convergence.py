"""Whatever the interleaving of updates, joins, refreshes, session resets and partial reads,
every member ends up with what a member joining last receives."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from receiver import Receiver

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import DecisionOptions, Rib, RibConfig, RibPeer
from bgpcore.wire.context import IPV4_UNICAST, CodecContext
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
ADDPATH = CodecContext(addpath=frozenset({IPV4_UNICAST}))


def client(n: int, addpath: bool) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=True,
                    send_ctx=ADDPATH if addpath else CodecContext(), restart_time_s=120)


step = st.one_of(
    st.tuples(st.just("announce"), st.integers(1, 2), st.lists(st.integers(0, 30), min_size=1, max_size=8),
              st.integers(0, 3)),
    st.tuples(st.just("withdraw"), st.integers(1, 2), st.lists(st.integers(0, 30), min_size=1, max_size=8),
              st.just(0)),
    st.tuples(st.just("pull"), st.integers(3, 6), st.just([]), st.sampled_from([1, 60, 200, 1 << 16])),
    st.tuples(st.just("join"), st.integers(3, 6), st.just([]), st.just(0)),
    st.tuples(st.just("refresh"), st.integers(3, 6), st.just([]), st.just(0)),
    st.tuples(st.just("reset"), st.integers(2, 6), st.just([]), st.just(0)),
    st.tuples(st.just("graceful"), st.just(1), st.lists(st.integers(0, 30), max_size=8), st.integers(0, 1)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, max_size=60), st.integers(200, 3000), st.booleans(), st.sampled_from([1, 3]))
def test_every_member_converges_to_what_a_new_member_gets(steps: list, lag_limit: int, addpath: bool,
                                                          shards: int) -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=shards, start_method="inline",
                        lag_limit_bytes=lag_limit, decision=DecisionOptions(maximum_paths=2)))
    rib.groups.round_bytes = 150
    rib.peer_up(1, client(1, False))
    rib.peer_up(2, client(2, False))
    receivers: dict[int, Receiver] = {}
    for peer in (3, 4):
        rib.peer_up(peer, client(peer, addpath))
        receivers[peer] = Receiver(ADDPATH if addpath else CodecContext())
    for action, peer, numbers, variant in steps:
        keys = [bytes((24, 10, 0, n)) for n in numbers]
        if action == "announce":
            attrs = PathAttributes(origin=0, as_path=((SEQ, (65010 + variant,)),), next_hop=f"192.0.2.{peer}",
                                   local_pref=100)
            rib.receive(peer, Update([], attrs, keys))
        elif action == "withdraw":
            rib.receive(peer, Update(keys, None, []))
        elif action == "pull" and peer in receivers:
            receivers[peer].feed(rib.next_messages(peer, variant))
        elif action == "join" and peer not in receivers:
            rib.peer_up(peer, client(peer, addpath))
            receivers[peer] = Receiver(ADDPATH if addpath else CodecContext())
        elif action == "refresh" and peer in receivers:
            rib.route_refresh(peer)
        elif action == "graceful":  # feeder 1 restarts, re-announces some prefixes, then End-of-RIB
            rib.peer_down(1, graceful=True, now=0.0)
            rib.peer_up(1, client(1, False), now=1.0)
            if keys:
                attrs = PathAttributes(origin=0, as_path=((SEQ, (65020,)),), next_hop="192.0.2.1", local_pref=100)
                rib.receive(1, Update([], attrs, keys))
            if variant:
                rib.receive(1, Update([], None, []))
            else:
                rib.handle_timer(1000.0)
        elif action == "reset":  # the session restarts: a new, empty receiver
            rib.peer_down(peer)
            rib.peer_up(peer, client(peer, addpath and peer != 2))
            if peer in receivers or peer == 2:
                receivers[peer] = Receiver(ADDPATH if addpath and peer != 2 else CodecContext())
    rib.peer_up(9, client(9, addpath))
    truth = Receiver(ADDPATH if addpath else CodecContext())
    receivers[9] = truth
    for peer, receiver in receivers.items():
        while messages := rib.next_messages(peer, 1 << 16):
            receiver.feed(messages)
    for peer, receiver in receivers.items():
        if peer == 2:  # a feeder: no ADD-PATH, and its own routes come back (reflected)
            continue
        assert receiver.table == truth.table, f"member {peer} diverged"
        assert IPV4_UNICAST in receiver.end_of_rib
