"""Update groups skip prefixes they could only send nothing for, and only those."""
from __future__ import annotations

from receiver import Receiver

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
KEYS = [bytes((24, 10, 0, i)) for i in range(4)]


def peer(n: int, client: bool) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=client)


def announce(rib: Rib, peer_id: int, keys: list[bytes], local_pref: int = 100) -> None:
    attrs = PathAttributes(origin=0, as_path=((SEQ, (65010,)),), next_hop=f"192.0.2.{peer_id}", local_pref=local_pref)
    rib.receive(peer_id, Update([], attrs, keys))


def drain(rib: Rib, peer_id: int, receiver: Receiver) -> None:
    while messages := rib.next_messages(peer_id, 1 << 16):
        receiver.feed(messages)


def dirty(rib: Rib, peer_id: int) -> dict[bytes, None]:
    group = rib.groups.by_member[peer_id]
    return rib.shards[0].shard.groups[group.id].dirty[IPV4_UNICAST]  # type: ignore[union-attr]


def test_a_non_client_group_does_not_walk_paths_of_another_non_client() -> None:
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, peer(1, client=False))
        rib.peer_up(2, peer(2, client=False))
        rib.peer_up(3, peer(3, client=True))
        announce(rib, 1, KEYS)
        assert list(dirty(rib, 3)) == KEYS  # the client's group will send them
        assert not dirty(rib, 2)  # non-client to non-client: nothing to send, nothing marked
        r2, r3 = Receiver(), Receiver()
        drain(rib, 2, r2)
        drain(rib, 3, r3)
        assert r2.table == {} and r2.end_of_rib == [IPV4_UNICAST]
        assert sorted(k for _, k in r3.table) == KEYS


def test_a_group_that_advertised_a_prefix_withdraws_it_when_its_best_path_becomes_unsendable() -> None:
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, peer(1, client=False))
        rib.peer_up(2, peer(2, client=False))
        rib.peer_up(3, peer(3, client=True))
        r2 = Receiver()
        announce(rib, 3, KEYS[:2])  # from a client: goes to the non-client 2
        drain(rib, 2, r2)
        assert sorted(k for _, k in r2.table) == KEYS[:2]
        announce(rib, 1, KEYS, local_pref=200)  # a better path from non-client 1: not for 2
        assert set(KEYS[:2]) <= set(dirty(rib, 2))  # what it advertised must be looked at again
        drain(rib, 2, r2)
        assert r2.table == {}


def test_a_catching_up_member_still_gets_every_change() -> None:
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, peer(1, client=False))
        rib.peer_up(2, peer(2, client=False))
        rib.peer_up(4, peer(4, client=False))  # joins the group of 2 (same export settings)
        rib.peer_up(3, peer(3, client=True))
        announce(rib, 1, KEYS)
        r2, r4 = Receiver(), Receiver()
        drain(rib, 2, r2)
        drain(rib, 4, r4)
        assert r2.table == {} and r4.table == {}
        announce(rib, 3, KEYS[:1], local_pref=300)  # a client's path is best now: sent to 2 and 4
        drain(rib, 2, r2)
        drain(rib, 4, r4)
        assert [k for _, k in r2.table] == [k for _, k in r4.table] == KEYS[:1]


def test_a_group_whose_export_policy_rejects_everything_marks_nothing_and_sends_end_of_rib() -> None:
    from bgpcore.policy import Policy, Term, Verdict
    deny = Policy((Term(verdict=Verdict.REJECT),))
    with Rib(RibConfig(local_asn=65000, router_id=ME, shards=1)) as rib:
        rib.peer_up(1, peer(1, client=True))
        quiet = RibPeer(asn=65000, router_id="1.1.1.2", address="10.0.0.2", local_address=ME, rr_client=True,
                        export_policy=deny)
        rib.peer_up(2, quiet)
        rib.peer_up(3, peer(3, client=True))
        announce(rib, 1, KEYS)
        assert not dirty(rib, 2)
        assert list(dirty(rib, 3)) == KEYS
        r2, r3 = Receiver(), Receiver()
        drain(rib, 2, r2)
        drain(rib, 3, r3)
        assert r2.table == {} and r2.end_of_rib == [IPV4_UNICAST]
        assert sorted(k for _, k in r3.table) == KEYS


def test_which_policies_reject_everything() -> None:
    from bgpcore.policy import CommunityMatch, Policy, RejectAll, Term, Verdict
    from bgpcore.policy.builtins import Chain
    from bgpcore.policy.hooks import rejects_all
    some = CommunityMatch.of("65000:1")
    assert rejects_all(RejectAll())
    assert rejects_all(Policy((), default=Verdict.REJECT))
    assert rejects_all(Policy((Term((some,), verdict=Verdict.REJECT),), default=Verdict.REJECT))
    assert rejects_all(Policy((Term(verdict=Verdict.REJECT), Term(verdict=Verdict.ACCEPT))))
    assert not rejects_all(Policy((Term((some,), verdict=Verdict.ACCEPT),), default=Verdict.REJECT))
    assert not rejects_all(Policy((Term((some,), verdict=Verdict.REJECT),)))  # default accepts
    assert not rejects_all(Policy(()))
    assert rejects_all(Chain((Policy(()), RejectAll())))
    assert not rejects_all(Chain((Policy(()),)))
    assert not rejects_all(lambda family, prefix, path: None)  # undeclared: assumed to keep some
