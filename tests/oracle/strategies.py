"""Hypothesis strategies for messages the oracles read: values bgpcore encodes."""
from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from bgpcore.constants import AddPathMode, RefreshSubtype
from bgpcore.wire.capabilities import (
    AddPath, Capability, EnhancedRouteRefresh, ExtendedMessage, ExtendedNextHop, FourOctetAs, Fqdn,
    GracefulRestart, Multiprotocol, RouteRefresh,
)
from bgpcore.wire.context import CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.notification import Notification, shutdown_data
from bgpcore.wire.open import Open
from bgpcore.wire.refresh import RouteRefresh as RefreshMessage
from bgpcore.wire.types import MpReach, PathAttributes, Update

CTX = CodecContext(asn4=True, extended_nexthop=frozenset({(1, 1)}))

u8, u16, u32 = (st.integers(0, 2**n - 1) for n in (8, 16, 32))
asn = st.integers(1, 2**32 - 1)
host4 = st.integers(0x01000000, 0xDFFFFFFF).map(lambda n: str(ipaddress.IPv4Address(n)))
router_id = st.integers(1, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
global6 = st.integers(0, 2**96 - 1).map(lambda n: str(ipaddress.IPv6Address((0x20010DB8 << 96) | n)))
link_local6 = st.integers(1, 2**64 - 1).map(lambda n: str(ipaddress.IPv6Address((0xFE80 << 112) | n)))
prefix4 = st.builds(lambda a, n: network_key(ipaddress.IPv4Network((a, n), strict=False)), u32, st.integers(0, 32))
prefix6 = st.builds(lambda a, n: network_key(ipaddress.IPv6Network((a, n), strict=False)), st.integers(0, 2**128 - 1),
                    st.integers(1, 128))
# Wireshark 4.0 calls MP_REACH_NLRI malformed when it holds only zero-length prefixes: keep those classic.
mp_prefix4 = st.builds(lambda a, n: network_key(ipaddress.IPv4Network((a, n), strict=False)), u32, st.integers(1, 32))
hostname = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)

capabilities: st.SearchStrategy[Capability] = st.one_of(
    st.builds(Multiprotocol, st.sampled_from([1, 2]), st.sampled_from([1, 2, 128])),
    st.just(RouteRefresh()),
    st.builds(ExtendedNextHop, st.lists(st.tuples(st.just(1), st.sampled_from([1, 2, 128]), st.just(2)), min_size=1, max_size=3).map(tuple)),
    st.just(ExtendedMessage()),
    st.builds(GracefulRestart, st.sampled_from([0, 4, 8, 12]), st.integers(0, 4095),
              st.lists(st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.sampled_from([0, 0x80])), max_size=3).map(tuple)),
    st.builds(AddPath, st.lists(st.tuples(st.sampled_from([1, 2]), st.just(1), st.sampled_from(list(AddPathMode))), min_size=1, max_size=2).map(tuple)),
    st.just(EnhancedRouteRefresh()),
    st.builds(Fqdn, hostname, hostname),
)


@st.composite
def opens(draw: st.DrawFn) -> Open:
    my_as = draw(asn)
    caps = draw(st.lists(capabilities, max_size=8))
    caps.insert(draw(st.integers(0, len(caps))), FourOctetAs(my_as))
    return Open(my_as, draw(st.integers(3, 65535) | st.just(0)), draw(router_id), tuple(caps))


as_path = st.lists(st.tuples(st.sampled_from([1, 2]), st.lists(asn, min_size=1, max_size=6).map(tuple)), max_size=3).map(tuple)
plain_communities = st.lists(st.integers(0x00010000, 0xFFFEFFFF), max_size=5).map(tuple)
large_communities = st.lists(st.tuples(u32, u32, u32), max_size=4).map(tuple)


@st.composite
def attributes(draw: st.DrawFn, next_hop: str | None, max_large: int = 4) -> PathAttributes:
    return PathAttributes(
        origin=draw(st.integers(0, 2)), as_path=draw(as_path), next_hop=next_hop,
        med=draw(st.none() | u32), local_pref=draw(st.none() | u32),
        communities=draw(plain_communities), large_communities=draw(large_communities.filter(lambda c: len(c) <= max_large)))


KINDS = ("ipv4", "ipv6", "ipv4-over-ipv6", "withdraw")


@st.composite
def updates(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS, v4: st.SearchStrategy[bytes] = prefix4,
            max_large: int = 4) -> Update:
    """IPv4 unicast, IPv6 in MP_REACH_NLRI, IPv4 over an IPv6 next hop (RFC 8950), or withdrawals."""
    kind = draw(st.sampled_from(kinds))
    some_v4 = st.lists(v4, min_size=1, max_size=20)
    if kind == "ipv4":
        return Update(draw(st.lists(v4, max_size=10)), draw(attributes(draw(host4), max_large)), draw(some_v4))
    if kind == "withdraw":
        return Update(draw(some_v4), None, [])
    if kind == "ipv6":
        next_hop = (draw(global6),) + draw(st.lists(link_local6, max_size=1).map(tuple))
        return Update([], draw(attributes(None, max_large)), [], MpReach(2, 1, next_hop, draw(st.lists(prefix6, min_size=1, max_size=12))))
    return Update([], draw(attributes(None, max_large)), [], MpReach(1, 1, (draw(global6 | link_local6),),
                                                                     draw(st.lists(mp_prefix4, min_size=1, max_size=20))))


notifications = st.one_of(
    st.builds(Notification, st.integers(1, 7), u8, st.binary(max_size=16)),
    st.builds(lambda sub, text: Notification(6, sub, shutdown_data(text)), st.sampled_from([2, 4]),
              st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)),
)
refreshes = st.builds(RefreshMessage, st.sampled_from([1, 2]), st.sampled_from([1, 2, 128]), st.sampled_from(list(RefreshSubtype)))
