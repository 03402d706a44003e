from __future__ import annotations

from receiver import Receiver

from bgpcore.constants import AsPathSegmentType, HEADER_LEN
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.rib.adj_out import AdjRibOut, ExportSpec
from bgpcore.rib.loc import LocRib
from bgpcore.route import Path, Source
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import MpReach, PathAttributes, Update
from bgpcore.wire.update import decode_update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"


def attrs(n: int, nh: str = "192.0.2.1") -> PathAttributes:
    return PathAttributes(origin=0, as_path=((SEQ, (65010, n)),), next_hop=nh, local_pref=100)


def client(n: int, **kw: object) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=True,
                    **kw)  # type: ignore[arg-type]


def prefixes(start: int, count: int) -> list[bytes]:
    return [bytes((24, 10, (start + i) >> 8 & 0xFF, (start + i) & 0xFF)) for i in range(count)]


def rib_with_clients(n: int, **config: object) -> Rib:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1, **config))  # type: ignore[arg-type]
    for i in range(1, n + 1):
        rib.peer_up(i, client(i))
    return rib


def drain(rib: Rib, peer: int, receiver: Receiver, budget: int = 1 << 16) -> None:
    while True:
        messages = rib.next_messages(peer, budget)
        if not messages:
            return
        receiver.feed(messages)


def test_prefixes_sharing_an_attribute_set_leave_in_one_update() -> None:
    loc = LocRib()
    src = Source(1, "10.0.0.1", "1.1.1.1", 65000, False, True)
    a = Path(attrs(1)._replace(next_hop=None), ("192.0.2.1",), src)
    b = Path(attrs(2)._replace(next_hop=None), ("192.0.2.1",), src)
    group = AdjRibOut(ExportSpec(local_asn=65000, cluster_id=ME, ebgp=False, rr_client=True))
    keys_a, keys_b = prefixes(0, 300), prefixes(1000, 5)
    interleaved = [k for pair in zip(keys_a, keys_b) for k in pair] + keys_a[5:]
    for key in interleaved:
        loc.update(IPV4_UNICAST, a if key in keys_a else b, [key])
    group.mark(IPV4_UNICAST, interleaved)
    plans, covered = group.generate(loc, 1 << 20)
    parts = group.encode(plans)
    assert all(p[1] == 1 and p[2] is None and p[3] is None for p in parts), "skips only the routes' sender"
    messages = [m for p in parts for m in p[0]]
    assert len(messages) == 2, "one UPDATE per attribute set"
    assert covered == {IPV4_UNICAST: interleaved}
    decoded = [decode_update(m[HEADER_LEN:], group.spec.send_ctx) for m in messages]
    by_path = {u.attributes.as_path: u for u in decoded if u.attributes}
    assert sorted(by_path[a.attrs.as_path].nlri) == sorted(keys_a)
    assert sorted(by_path[b.attrs.as_path].nlri) == sorted(keys_b)
    assert all(u.attributes.cluster_list == (ME,) and u.attributes.originator_id == "1.1.1.1" for u in decoded)
    assert group.generate(loc, 1 << 20) == ([], {}), "nothing pending after a round"


def test_members_of_a_group_get_the_same_encoded_bytes() -> None:
    rib = rib_with_clients(3)
    rib.receive(1, Update([], attrs(1), prefixes(0, 50)))
    assert rib.groups.by_member[2] is rib.groups.by_member[3] is rib.groups.by_member[1]
    out2 = rib.next_messages(2, 1 << 16)
    out3 = rib.next_messages(3, 1 << 16)
    assert out2 == out3 and all(x is y for x, y in zip(out2, out3)), "encoded once, shared"
    receiver = Receiver()
    receiver.feed(out2)
    assert receiver.end_of_rib == [IPV4_UNICAST]
    assert len(receiver.table) == 50


def test_ebgp_and_different_capabilities_get_their_own_groups() -> None:
    rib = rib_with_clients(1)
    rib.peer_up(2, RibPeer(asn=65001, router_id="2.2.2.2", address="10.0.1.2", local_address=ME))
    rib.peer_up(3, client(3, send_ctx=CodecContext(asn4=False)))
    groups = {id(rib.groups.by_member[p]) for p in (1, 2, 3)}
    assert len(groups) == 3
    rib.receive(1, Update([], attrs(1), prefixes(0, 3)))
    ebgp = Receiver()
    drain(rib, 2, ebgp)
    (got_attrs, next_hop), = {v for v in ebgp.table.values()}
    assert next_hop == (ME,) and got_attrs.as_path == ((SEQ, (65000, 65010, 1)),) and got_attrs.local_pref is None


def test_late_member_catches_up_alone_then_follows_the_group() -> None:
    rib = rib_with_clients(2)
    rib.receive(1, Update([], attrs(1), prefixes(0, 100)))
    early = Receiver()
    drain(rib, 2, early)
    rib.peer_up(3, client(3))
    late = Receiver()
    drain(rib, 3, late)
    assert late.table == early.table and late.end_of_rib == [IPV4_UNICAST]
    rib.receive(1, Update(prefixes(0, 10), None, []))
    rib.receive(1, Update([], attrs(7), prefixes(500, 20)))
    drain(rib, 2, early)
    drain(rib, 3, late)
    assert late.table == early.table and len(late.table) == 110
    assert rib.groups.by_member[3].members[3].catching_up is False


def test_member_that_lags_is_detached_and_still_converges() -> None:
    rib = rib_with_clients(3, lag_limit_bytes=2000)
    rib.groups.round_bytes = 500
    fast, slow = Receiver(), Receiver()
    for i in range(30):
        rib.receive(1, Update([], attrs(i % 4), prefixes(i * 10, 10)))
        if i % 7 == 0:
            rib.receive(1, Update(prefixes(i * 10 - 20, 3) if i else [], None, []))
        drain(rib, 2, fast, 400)
    group = rib.groups.by_member[3]
    assert group.members[3].catching_up, "the slow member was detached"
    assert sum(r.size for r in group.log) <= 2000 + 2 * 4096, "the shared log stays bounded"
    drain(rib, 3, slow, 300)
    drain(rib, 2, fast)
    assert slow.table == fast.table and len(fast.table) > 200
    assert not group.members[3].catching_up


def test_withdrawn_best_path_falls_back_to_the_other_client() -> None:
    rib = rib_with_clients(3)
    rib.receive(1, Update([], attrs(1)._replace(local_pref=200), prefixes(0, 5)))
    rib.receive(2, Update([], attrs(2, nh="192.0.2.2"), prefixes(0, 5)))
    observer = Receiver()
    drain(rib, 3, observer)
    assert {v[1] for v in observer.table.values()} == {("192.0.2.1",)}
    changes = rib.receive(1, Update(prefixes(0, 5), None, []))
    assert [c.best.source.peer_id for c in changes] == [2]
    drain(rib, 3, observer)
    assert {v[1] for v in observer.table.values()} == {("192.0.2.2",)}
    rib.receive(2, Update(prefixes(0, 5), None, []))
    drain(rib, 3, observer)
    assert observer.table == {}


def test_add_path_peer_receives_the_multipath_set_with_distinct_ids() -> None:
    from bgpcore.rib.decision import DecisionOptions
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1,
                        decision=DecisionOptions(maximum_paths=4)))
    rib.peer_up(1, client(1))
    rib.peer_up(2, client(2))
    ap = CodecContext(addpath=frozenset({IPV4_UNICAST}))
    rib.peer_up(3, client(3, send_ctx=ap))
    same_path = attrs(1)
    rib.receive(1, Update([], same_path, prefixes(0, 2)))
    rib.receive(2, Update([], same_path._replace(next_hop="192.0.2.2"), prefixes(0, 2)))
    receiver = Receiver(ap)
    drain(rib, 3, receiver)
    assert len(receiver.table) == 4
    assert {v[1] for v in receiver.table.values()} == {("192.0.2.1",), ("192.0.2.2",)}
    plain, own = Receiver(), Receiver()
    drain(rib, 2, plain)
    drain(rib, 1, own)
    assert len(plain.table) == 2, "peer 1's best paths"
    assert own.table == {}, "split horizon: none of them back to peer 1"
    rib.receive(2, Update(prefixes(0, 1), None, []))
    drain(rib, 3, receiver)
    assert len(receiver.table) == 3


def test_ipv6_routes_go_in_mp_reach() -> None:
    rib = rib_with_clients(0)
    six = frozenset({IPV6_UNICAST})
    rib.peer_up(1, client(1, families=six))
    rib.peer_up(2, client(2, families=six))
    key = network_key("2001:db8:1::/48")
    rib.receive(1, Update([], PathAttributes(origin=0, local_pref=100), [],
                          mp_reach=MpReach(2, 1, ("2001:db8::1",), [key])))
    receiver = Receiver()
    drain(rib, 2, receiver)
    assert list(receiver.table) == [(IPV6_UNICAST, key)]
    assert receiver.table[(IPV6_UNICAST, key)][1] == ("2001:db8::1",)
    assert receiver.end_of_rib == [IPV6_UNICAST]


class _Tagging:
    """An export policy that is not hashable (a plain class with ``__eq__``)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Tagging)

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, family, prefix, path):  # type: ignore[no-untyped-def]
        return path._replace(attrs=path.attrs._replace(communities=(1,)))


def test_equal_policies_share_a_group_and_unhashable_ones_get_their_own() -> None:
    from bgpcore.policy.builtins import Policy, SetMed, Term
    rib = rib_with_clients(1)
    rib.peer_up(2, client(2, export_policy=Policy((Term(actions=(SetMed(1),)),))))
    rib.peer_up(3, client(3, export_policy=Policy((Term(actions=(SetMed(1),)),))))
    rib.peer_up(4, client(4, export_policy=_Tagging()))
    rib.peer_up(5, client(5, export_policy=_Tagging()))
    assert rib.groups.by_member[2] is rib.groups.by_member[3]
    assert rib.groups.by_member[4] is not rib.groups.by_member[5]
    rib.receive(1, Update([], attrs(1), prefixes(0, 2)))
    for peer, check in ((3, lambda a: a.med == 1), (5, lambda a: a.communities == (1,))):
        receiver = Receiver()
        drain(rib, peer, receiver)
        assert len(receiver.table) == 2 and all(check(a) for a, _ in receiver.table.values())
    rib.peer_down(4)
    rib.peer_down(5)
    assert len(rib.groups.by_id) == 2


def test_lagging_add_path_member_loses_withdrawn_path_ids_too() -> None:
    from bgpcore.rib.decision import DecisionOptions
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1, lag_limit_bytes=1500,
                        decision=DecisionOptions(maximum_paths=2)))
    rib.groups.round_bytes = 400
    ap = CodecContext(addpath=frozenset({IPV4_UNICAST}))
    for peer in (1, 2):
        rib.peer_up(peer, client(peer))
    for peer in (3, 4):
        rib.peer_up(peer, client(peer, send_ctx=ap))
    fast, slow = Receiver(ap), Receiver(ap)
    for i in range(20):
        rib.receive(1, Update([], attrs(1), prefixes(i * 8, 8)))
        rib.receive(2, Update([], attrs(1, nh="192.0.2.2"), prefixes(i * 8, 8)))
        if i >= 10:
            rib.receive(2, Update(prefixes((i - 10) * 8, 8), None, []))
        drain(rib, 3, fast, 300)
        if i < 6:
            drain(rib, 4, slow, 300)
    assert len(slow.table) == 2 * 6 * 8, "the slow member holds both paths of the early prefixes"
    group = rib.groups.by_member[4]
    assert group.members[4].catching_up
    drain(rib, 4, slow, 300)
    drain(rib, 3, fast)
    assert slow.table == fast.table
    assert len({k[4:] for _, k in fast.table}) == 160
    assert len(fast.table) == 160 + 160 - 10 * 8, "peer 2 withdrew its first ten runs"


def test_budget_is_honoured_inside_a_shared_round() -> None:
    rib = rib_with_clients(3)
    for i in range(10):
        rib.receive(1, Update([], attrs(i), prefixes(i * 4, 4)))
    whole = rib.next_messages(2, 1 << 20)
    assert len(whole) == 11, "ten UPDATEs and End-of-RIB"
    trickle: list[bytes] = []
    while batch := rib.next_messages(3, 1):
        assert len(batch) == 1
        trickle.extend(batch)
    assert trickle == whole


def test_member_catching_up_does_not_keep_a_route_the_group_never_sent() -> None:
    rib = rib_with_clients(2)
    two, three = Receiver(), Receiver()
    rib.receive(1, Update([], attrs(1), prefixes(0, 4)))
    drain(rib, 2, two)
    rib.receive(1, Update([], attrs(2), prefixes(100, 1)))  # pending in the group, not sent yet
    rib.peer_up(3, client(3))
    three.feed(rib.next_messages(3, 1))  # its catch-up reads the group's advertised state ...
    assert len(three.table) == 4
    drain(rib, 3, three)  # ... and the group's pending change reaches it as the group encodes it
    assert len(three.table) == 5
    rib.receive(1, Update(prefixes(100, 1), None, []))
    drain(rib, 2, two)
    drain(rib, 3, three)
    assert three.table == two.table and len(two.table) == 4


def test_unnumbered_ebgp_peer_gets_ipv4_routes_over_our_link_local_next_hop() -> None:
    rib = rib_with_clients(1)
    ext = CodecContext(extended_nexthop=frozenset({IPV4_UNICAST}))
    rib.peer_up(2, RibPeer(asn=65001, router_id="2.2.2.2", address="fe80::2", local_address="fe80::1",
                            local_next_hop=("fe80::1",), send_ctx=ext))
    rib.receive(1, Update([], attrs(1), prefixes(0, 3)))
    receiver = Receiver(ext)
    drain(rib, 2, receiver)
    assert sorted(k for _, k in receiver.table) == sorted(prefixes(0, 3))
    assert {nh for _, nh in receiver.table.values()} == {("fe80::1",)}
    assert {f for f, _ in receiver.table} == {IPV4_UNICAST}


def test_clients_with_different_local_addresses_share_one_group_and_its_bytes() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    for n in (1, 2, 3):
        rib.peer_up(n, RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.{n}.1",
                               local_address=f"10.0.{n}.254", rr_client=True))
    assert len(rib.groups.by_id) == 1, "our address is not written by an iBGP client group"
    rib.receive(1, Update([], attrs(1), prefixes(0, 40)))
    out2, out3 = rib.next_messages(2, 1 << 16), rib.next_messages(3, 1 << 16)
    assert out2 == out3 and all(x is y for x, y in zip(out2, out3)), "one encoding for all of them"


def test_next_hop_self_ebgp_or_another_policy_split_the_group() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))

    def peer(n: int, **kw: object) -> RibPeer:
        kw.setdefault("asn", 65000)
        return RibPeer(router_id=f"1.1.1.{n}", address=f"10.0.{n}.1", local_address=f"10.0.{n}.254",
                       rr_client=True, **kw)  # type: ignore[arg-type]

    def deny_all(family, prefix, path):  # type: ignore[no-untyped-def]
        return None

    rib.peer_up(1, peer(1))
    rib.peer_up(2, peer(2))
    rib.peer_up(3, peer(3, next_hop_self=True))
    rib.peer_up(4, peer(4, next_hop_self=True))
    rib.peer_up(5, peer(5, export_policy=deny_all))
    rib.peer_up(6, peer(6, asn=65009))
    group = rib.groups.by_member
    assert group[1] is group[2]
    assert len({id(group[n]) for n in (1, 3, 4, 5, 6)}) == 5, "each rewrites next hops or filters differently"
    rib.receive(6, Update([], attrs(9)._replace(local_pref=None), prefixes(0, 5)))
    hops = {}
    for n in (1, 3):
        receiver = Receiver()
        drain(rib, n, receiver)
        hops[n] = {v[1] for v in receiver.table.values()}
    assert hops == {1: {("192.0.2.1",)}, 3: {("10.0.3.254",)}}, "next-hop-self writes the member's own address"


def test_originated_routes_without_next_hop_get_each_members_own_address() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    for n in (1, 2):
        rib.peer_up(n, RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.{n}.1",
                               local_address=f"10.0.{n}.254", rr_client=True))
    rib.originate(IPV4_UNICAST, prefixes(0, 3), PathAttributes(origin=0, as_path=()))
    rib.receive(1, Update([], attrs(1), prefixes(10, 2)))
    got = {}
    for n in (1, 2):
        receiver = Receiver()
        drain(rib, n, receiver)
        got[n] = {key[1]: hop for key, (_, hop) in receiver.table.items()}
        assert {hop for _, hop in rib.advertised(n, IPV4_UNICAST).values()} >= {("10.0.%d.254" % n,)}
    assert got[1] == {k: ("10.0.1.254",) for k in prefixes(0, 3)}
    assert got[2] == {**{k: ("10.0.2.254",) for k in prefixes(0, 3)}, **{k: ("192.0.2.1",) for k in prefixes(10, 2)}}
    assert rib.groups.by_member[1] is rib.groups.by_member[2]


def test_members_of_a_shared_group_cost_a_read_position_not_a_copy() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    for n in range(1, 21):
        rib.peer_up(n, RibPeer(asn=65000, router_id=f"1.1.{n}.1", address=f"10.0.{n}.1",
                               local_address=f"10.0.{n}.254", rr_client=True))
    rib.receive(1, Update([], attrs(1), prefixes(0, 2000)))
    for n in range(1, 21):  # the sender reads past the rounds of its own routes without receiving them
        drain(rib, n, Receiver())
    shard = rib.shards[0].shard  # type: ignore[union-attr]
    assert len(shard.groups) == 1, "one Adj-RIB-Out for twenty clients"
    group = next(iter(shard.groups.values()))
    assert group.members == {} and len(group.advertised[IPV4_UNICAST]) == 2000, "no private copy per member"
    assert rib.groups.by_member[2].log == [], "the log is trimmed once every member has read it"


def test_a_late_joiner_reads_the_groups_advertised_state_without_exporting_again() -> None:
    rib = rib_with_clients(2)
    rib.receive(1, Update([], attrs(1), prefixes(0, 300)))
    rib.receive(1, Update([], attrs(2), prefixes(300, 300)))
    drain(rib, 2, Receiver())
    group = rib.shards[0].shard.groups[rib.groups.by_member[2].id]  # type: ignore[union-attr]
    calls = []
    original = group.export
    group.export = lambda *a: calls.append(a) or original(*a)  # type: ignore[method-assign]
    rib.peer_up(3, client(3))
    late = Receiver()
    drain(rib, 3, late)
    assert len(late.table) == 600 and calls == []
    rib.route_refresh(2)
    again = Receiver()
    drain(rib, 2, again)
    assert len(again.table) == 600 and calls == []


def test_one_pull_adds_one_bounded_slice_of_output_work() -> None:
    rib = rib_with_clients(2)
    keys = [bytes((24, 10, i >> 8 & 0xFF, i & 0xFF)) for i in range(60000)]
    for start in range(0, len(keys), 100):
        rib.receive(1, Update([], attrs(start), keys[start:start + 100]))
    group = rib.shards[0].shard.groups[rib.groups.by_member[2].id]  # type: ignore[union-attr]
    assert len(group.dirty[IPV4_UNICAST]) == 60000
    out = rib.next_messages(2, 4096)
    assert out and sum(map(len, out)) < 4096 + 4096
    rounds = rib.groups.by_member[2].log
    assert len(rounds) == 1 and rounds[0].size < 2 * rib.groups.round_bytes, "one round of about 128 KiB"
    assert len(group.dirty[IPV4_UNICAST]) > 20000, "not the whole table"
