"""The default route handler without sockets: what it keeps, what it sends, in what order."""
from __future__ import annotations

from bgpcore.constants import MsgType, RefreshSubtype
from bgpcore.session.negotiate import OpenPolicy, build_open, negotiate
from bgpcore.transport.routes import PeerInfo, SimpleRoutes, export_attributes
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, DEFAULT_CONTEXT
from bgpcore.wire.nlri import network_key
from bgpcore.wire.refresh import decode_refresh
from bgpcore.wire.types import PathAttributes, Update
from bgpcore.wire.update import decode_update

FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)
K1, K2 = network_key("198.51.100.0/24"), network_key("203.0.113.0/24")


def _info(ibgp: bool = False) -> PeerInfo:
    ours = OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as=65001 if ibgp else 65002, families=FAMILIES)
    theirs = OpenPolicy(local_as=65001 if ibgp else 65002, router_id="192.0.2.2", remote_as=65001, families=FAMILIES)
    params = negotiate(build_open(ours), build_open(theirs), 65001)
    return PeerInfo(peer_id="192.0.2.2", params=params, local_address="192.0.2.1", remote_address="192.0.2.2",
                    next_hop_ipv6="2001:db8::1")


def _from_peer(*keys: bytes, as_path: tuple[int, ...] = (65002,)) -> Update:
    return Update([], PathAttributes(origin=0, as_path=((2, as_path),), next_hop="192.0.2.2"), list(keys))


def test_export_prepends_our_as_for_ebgp_and_sets_local_pref_for_ibgp() -> None:
    ebgp = export_attributes(PathAttributes(local_pref=50, as_path=((2, (64500,)),)), _info().params)
    assert ebgp.as_path == ((2, (65001, 64500)),) and ebgp.local_pref is None and ebgp.origin == 0
    ibgp = export_attributes(PathAttributes(), _info(ibgp=True).params)
    assert ibgp.as_path == () and ibgp.local_pref == 100


def test_routes_with_our_as_in_the_path_are_not_kept() -> None:
    r = SimpleRoutes()
    r.peer_up("p", _info())
    r.receive("p", _from_peer(K1))
    r.receive("p", _from_peer(K1, K2, as_path=(65002, 65001)))
    assert r.received["p"][IPV4_UNICAST] == {}


def test_initial_dump_groups_prefixes_then_sends_end_of_rib() -> None:
    r = SimpleRoutes()
    attrs = PathAttributes(med=3)
    r.announce(IPV4_UNICAST, K1, attrs, None)
    r.announce(IPV4_UNICAST, K2, attrs, None)
    r.announce(IPV6_UNICAST, network_key("2001:db8:1::/48"), attrs, None)
    r.peer_up("p", _info())
    messages = r.pull("p", 10)
    assert r.pull("p", 10) == []
    updates = [decode_update(m[19:], DEFAULT_CONTEXT) for m in messages]
    assert sorted(updates[0].nlri) == sorted([K1, K2]) and updates[0].attributes.next_hop == "192.0.2.1"  # type: ignore[union-attr]
    assert updates[1].mp_reach is not None and updates[1].mp_reach.next_hop == ("2001:db8::1",)
    assert [u.end_of_rib() for u in updates[2:]] == [IPV4_UNICAST, IPV6_UNICAST]


def test_resend_is_bracketed_by_borr_and_eorr() -> None:
    r = SimpleRoutes()
    r.announce(IPV4_UNICAST, K1, PathAttributes(), None)
    r.peer_up("p", _info())
    r.pull("p", 10)
    r.resend("p", IPV4_UNICAST)
    messages = r.pull("p", 10)
    assert [m[18] for m in messages] == [MsgType.ROUTE_REFRESH, MsgType.UPDATE, MsgType.ROUTE_REFRESH]
    assert [decode_refresh(m[19:]).subtype for m in (messages[0], messages[2])] == [RefreshSubtype.BORR, RefreshSubtype.EORR]


def test_routes_left_out_of_an_enhanced_refresh_are_purged() -> None:
    r = SimpleRoutes()
    r.peer_up("p", _info())
    r.receive("p", _from_peer(K1, K2))
    r.refresh_marker("p", IPV4_UNICAST, RefreshSubtype.BORR)
    r.receive("p", _from_peer(K1))
    r.refresh_marker("p", IPV4_UNICAST, RefreshSubtype.EORR)
    assert list(r.received["p"][IPV4_UNICAST]) == [K1]


def test_withdrawal_before_the_peer_got_the_route_sends_a_withdrawal_only() -> None:
    r = SimpleRoutes()
    r.peer_up("p", _info())
    r.pull("p", 10)
    r.announce(IPV4_UNICAST, K1, PathAttributes(), None)
    assert r.withdraw(IPV4_UNICAST, K1) == ["p"]
    (message,) = r.pull("p", 10)
    assert decode_update(message[19:], DEFAULT_CONTEXT).withdrawn == [K1]
    assert r.withdraw(IPV4_UNICAST, K2) == []
