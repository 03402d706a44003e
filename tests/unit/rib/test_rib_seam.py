from __future__ import annotations

import logging
import struct

import pytest
from receiver import Receiver

from bgpcore.constants import AsPathSegmentType, CeaseSubcode, WellKnownCommunity
from bgpcore.errors import UsageError
from bgpcore.policy.builtins import Policy, PrefixList, SetLocalPref, Term
from bgpcore.policy.hooks import Verdict
from bgpcore.rib import CeasePeer, MaxPrefixAction, Rib, RibConfig, RibPeer
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
A = PathAttributes(origin=0, as_path=((SEQ, (65010,)),), next_hop="192.0.2.1", local_pref=100)
KEYS = [network_key(f"10.{i}.0.0/16") for i in range(6)]


def client(n: int, **kw: object) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=True,
                    **kw)  # type: ignore[arg-type]


def new_rib(**kw: object) -> Rib:
    return Rib(RibConfig(local_asn=65000, router_id=ME, shards=1, **kw))  # type: ignore[arg-type]


def drain(rib: Rib, peer: int, receiver: Receiver) -> None:
    while messages := rib.next_messages(peer, 1 << 16):
        receiver.feed(messages)


def test_receive_from_a_peer_that_is_not_up_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        new_rib().receive(1, Update([], A, KEYS))


def test_routes_carrying_our_cluster_id_are_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    rib = new_rib(cluster_id="10.255.255.1")
    rib.peer_up(1, client(1))
    with caplog.at_level(logging.INFO, logger="bgpcore.rib"):
        changes = rib.receive(1, Update([], A._replace(cluster_list=("10.255.255.1",)), KEYS[:2]))
    assert changes == [] and len(rib) == 0
    assert "cluster id" in caplog.text and "2 prefixes dropped" in caplog.text
    assert rib.receive(1, Update([], A._replace(originator_id=ME), KEYS[:1])) == []


def test_no_advertise_is_kept_but_not_sent() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1))
    rib.peer_up(2, client(2))
    rib.receive(1, Update([], A._replace(communities=(WellKnownCommunity.NO_ADVERTISE,)), KEYS[:1]))
    receiver = Receiver()
    drain(rib, 2, receiver)
    assert len(rib) == 1 and receiver.table == {} and receiver.end_of_rib == [IPV4_UNICAST]


SHARDINGS = [pytest.param(1, "inline", id="one-shard"), pytest.param(2, "inline", id="two-inline-shards")]


def sharded_rib(shards: int, start_method: str) -> Rib:
    return Rib(RibConfig(local_asn=65000, router_id=ME, shards=shards, start_method=start_method))


@pytest.mark.parametrize(("shards", "start_method"), SHARDINGS)
def test_maximum_prefix_warning_only_keeps_the_session(shards: int, start_method: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with sharded_rib(shards, start_method) as rib:
        rib.peer_up(1, client(1, max_prefix=3))
        with caplog.at_level(logging.WARNING, logger="bgpcore.rib"):
            rib.receive(1, Update([], A, KEYS[:5]))
            rib.flush()
            rib.receive(1, Update([], A, KEYS[5:]))
            rib.flush()
        assert caplog.text.count("exceed the limit of 3") == 1
        assert rib.take_actions() == []
        assert rib.prefix_count(1) == 6 and len(rib) == 6


@pytest.mark.parametrize(("shards", "start_method"),
                         [*SHARDINGS, pytest.param(2, "spawn", id="two-worker-processes")])
@pytest.mark.parametrize(("action", "restart_after_s"),
                         [(MaxPrefixAction.RESTART, 30.0), (MaxPrefixAction.SHUTDOWN, None)])
def test_maximum_prefix_restart_and_shutdown_ask_for_one_cease(
        action: MaxPrefixAction, restart_after_s: float | None, shards: int, start_method: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with sharded_rib(shards, start_method) as rib:
        limited = client(1, max_prefix=3, max_prefix_action=action, max_prefix_restart_s=30.0)
        rib.peer_up(1, limited)
        rib.peer_up(2, client(2))
        with caplog.at_level(logging.WARNING, logger="bgpcore.rib"):
            changes = rib.receive(1, Update([], A, KEYS[:3]))
            changes += rib.flush()
            assert rib.take_actions() == []
            changes += rib.receive(1, Update([], A, KEYS[3:4]))
            actions = rib.take_actions()
            if shards == 1:
                assert actions, "one shard: the action is there when receive returns"
            changes += rib.flush()
            actions += rib.take_actions()
            # later UPDATEs of the peer are ignored, quietly, until peer_down
            assert rib.receive(1, Update([], A, KEYS[4:6])) == []
            assert rib.receive(1, Update(KEYS[:3], None, [])) == []
            rib.flush()
        assert actions == [CeasePeer(peer_id=1, subcode=CeaseSubcode.MAXIMUM_PREFIXES_REACHED,
                                     data=struct.pack("!HBI", 1, 1, 3),
                                     reason="maximum-prefix 3 exceeded (4 prefixes)",
                                     restart_after_s=restart_after_s)]
        assert caplog.text.count("exceed the limit of 3") == 1
        assert rib.take_actions() == []
        assert sorted(k for c in changes for k in c.keys) == sorted(KEYS[:4]), "the UPDATE over the limit counts"
        assert rib.prefix_count(1) == 4 and len(rib) == 4
        rib.receive(2, Update([], A._replace(next_hop="192.0.2.2"), KEYS[5:6]))
        assert len(rib) == 5, "other peers are not affected"
        rib.peer_down(1)
        assert len(rib) == 1
        rib.peer_up(1, limited)
        rib.receive(1, Update([], A, KEYS[:3]))
        rib.flush()
        assert rib.take_actions() == [] and rib.prefix_count(1) == 3, "a new session counts afresh"
        rib.receive(1, Update([], A, KEYS[3:5]))
        rib.flush()
        assert [a.reason for a in rib.take_actions()] == ["maximum-prefix 3 exceeded (5 prefixes)"]


def test_maximum_prefix_cease_names_the_family_that_went_over() -> None:
    from bgpcore.wire.context import IPV6_UNICAST
    from bgpcore.wire.types import MpReach
    six = [bytes((32, 0x20, 0x01, 0x0D, i)) for i in range(3)]
    rib = new_rib()
    rib.peer_up(1, client(1, families=frozenset({IPV4_UNICAST, IPV6_UNICAST}), max_prefix=4,
                         max_prefix_action=MaxPrefixAction.SHUTDOWN))
    rib.receive(1, Update([], A, KEYS[:3]))
    rib.receive(1, Update([], A._replace(next_hop=None), [], mp_reach=MpReach(2, 1, ("2001:db8::1",), six)))
    [action] = rib.take_actions()
    assert action.data == struct.pack("!HBI", 2, 1, 4) and action.restart_after_s is None


def test_graceful_restart_keeps_stale_routes_until_end_of_rib() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1, restart_time_s=120))
    rib.peer_up(2, client(2))
    rib.receive(1, Update([], A, KEYS[:4]))
    assert rib.peer_down(1, graceful=True, now=1000.0) == []
    assert len(rib) == 4 and rib.next_deadline() == 1120.0
    rib.peer_up(1, client(1, restart_time_s=120), now=1050.0)
    assert rib.next_deadline() == 1050.0 + 360.0
    rib.receive(1, Update([], A._replace(med=5), KEYS[:2]))
    changes = rib.receive(1, Update([], None, []))
    assert [(c.keys, c.best) for c in changes] == [(KEYS[2:4], None)]
    assert len(rib) == 2 and rib.next_deadline() is None
    observer = Receiver()
    drain(rib, 2, observer)
    assert len(observer.table) == 2


def test_restart_timer_withdraws_routes_of_a_peer_that_never_came_back() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1, restart_time_s=60))
    rib.receive(1, Update([], A, KEYS[:3]))
    rib.peer_down(1, graceful=True, now=0.0)
    assert rib.handle_timer(59.0) == [] and len(rib) == 3
    changes = rib.handle_timer(60.0)
    assert sorted(k for c in changes for k in c.keys) == sorted(KEYS[:3])
    assert len(rib) == 0 and rib.next_deadline() is None


def test_stale_path_timer_purges_when_end_of_rib_never_comes() -> None:
    rib = new_rib(stale_path_time_s=30.0)
    rib.peer_up(1, client(1, restart_time_s=60))
    rib.receive(1, Update([], A, KEYS[:3]))
    rib.peer_down(1, graceful=True, now=0.0)
    rib.peer_up(1, client(1, restart_time_s=60), now=10.0)
    rib.receive(1, Update([], A, KEYS[:1]))
    changes = rib.handle_timer(40.0)
    assert sorted(k for c in changes for k in c.keys) == sorted(KEYS[1:3])
    assert len(rib) == 1


def test_peer_down_without_graceful_restart_withdraws_everything() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1, restart_time_s=60))
    rib.receive(1, Update([], A, KEYS))
    changes = rib.peer_down(1)
    assert sorted(k for c in changes for k in c.keys) == sorted(KEYS)
    assert len(rib) == 0


def test_route_refresh_resends_the_table_and_end_of_rib() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1))
    rib.peer_up(2, client(2))
    rib.receive(1, Update([], A, KEYS))
    first = Receiver()
    drain(rib, 2, first)
    rib.route_refresh(2)
    again = Receiver()
    drain(rib, 2, again)
    assert again.table == first.table and again.end_of_rib == [IPV4_UNICAST]


def test_soft_reconfiguration_applies_a_new_import_policy() -> None:
    rib = new_rib()
    rib.peer_up(1, client(1, soft_reconfiguration=True))
    rib.receive(1, Update([], A, KEYS))
    only_two = Policy((Term(matches=(PrefixList.of("10.0.0.0/15 le 16"),), actions=(SetLocalPref(10),)),),
                      default=Verdict.REJECT)
    rib.soft_reset_in(1, only_two)
    best = rib.best_paths(IPV4_UNICAST)
    assert sorted(best) == sorted(KEYS[:2])
    assert {p[0].attrs.local_pref for p in best.values()} == {10}


def test_export_policy_and_originated_routes() -> None:
    rib = new_rib()
    deny_ten_one = Policy((Term(matches=(PrefixList.of("10.1.0.0/16"),), verdict=Verdict.REJECT),))
    rib.peer_up(1, RibPeer(asn=65001, router_id="2.2.2.2", address="10.0.1.2", local_address=ME,
                            export_policy=deny_ten_one))
    rib.originate(IPV4_UNICAST, KEYS[:3], PathAttributes(origin=0))
    receiver = Receiver()
    drain(rib, 1, receiver)
    assert sorted(k for _, k in receiver.table) == sorted([KEYS[0], KEYS[2]])
    assert {v[1] for v in receiver.table.values()} == {(ME,)}
    assert {v[0].as_path for v in receiver.table.values()} == {((SEQ, (65000,)),)}
    rib.withdraw_originated(IPV4_UNICAST, KEYS[:1])
    drain(rib, 1, receiver)
    assert [k for _, k in receiver.table] == [KEYS[2]]


def test_show_queries_for_received_and_advertised_routes() -> None:
    rib = new_rib()
    only_first = Policy((Term(matches=(PrefixList.of("10.0.0.0/16"),)),), default=Verdict.REJECT)
    rib.peer_up(1, client(1, soft_reconfiguration=True, import_policy=only_first))
    rib.peer_up(2, client(2))
    rib.receive(1, Update([], A, KEYS[:3]))
    assert list(rib.adj_rib_in(1, IPV4_UNICAST)) == KEYS[:1]
    assert sorted(rib.adj_rib_in(1, IPV4_UNICAST, received=True)) == sorted(KEYS[:3])
    drain(rib, 2, Receiver())
    advertised = rib.advertised(2, IPV4_UNICAST)
    assert list(advertised) == KEYS[:1]
    attrs, next_hop = advertised[KEYS[0]]
    assert next_hop == ("192.0.2.1",) and attrs.cluster_list == (ME,)
    with pytest.raises(UsageError):
        rib.soft_reset_in(2, None)
