"""scapy's BGP layer (``scapy.contrib.bgp``, written independently of bgpcore) as a second oracle:
it parses what bgpcore encodes, and bgpcore decodes what scapy builds."""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from strategies import CTX, asn, host4, mp_prefix4, notifications, opens, prefix4, prefix6, refreshes, router_id, updates  # noqa: E402

from bgpcore.constants import AS_TRANS, HEADER_LEN, MsgType  # noqa: E402
from bgpcore.wire.capabilities import FourOctetAs, GracefulRestart, Multiprotocol, RouteRefresh as RouteRefreshCap, encode_capability  # noqa: E402
from bgpcore.wire.messages import Keepalive, decode_message, encode_message  # noqa: E402
from bgpcore.wire.nlri import key_to_network  # noqa: E402
from bgpcore.wire.notification import Notification  # noqa: E402
from bgpcore.wire.open import Open  # noqa: E402
from bgpcore.wire.refresh import RouteRefresh  # noqa: E402
from bgpcore.wire.types import Update  # noqa: E402

bgp = pytest.importorskip("scapy.contrib.bgp")
SCAPY = settings(max_examples=40, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def four_octet_as_paths() -> Iterator[None]:
    saved = bgp.bgp_module_conf.use_2_bytes_asn
    bgp.bgp_module_conf.use_2_bytes_asn = False
    yield
    bgp.bgp_module_conf.use_2_bytes_asn = saved


def scapy_parse(message: bytes) -> Any:
    parsed = bgp.BGPHeader(message)
    assert parsed.len == len(message)
    return parsed


def attribute(update: Any, code: int) -> Any:
    found = [a.attribute for a in update.path_attr if a.type_code == code]
    return found[0] if found else None


def texts(keys: list[bytes], afi: int) -> list[str]:
    return [str(key_to_network(k, afi)) for k in keys]


def parsed_prefixes(nlri: Any) -> list[str]:
    return [str(ipaddress.ip_network(p.prefix)) for p in nlri]  # '::0.1.0.0/112' -> '::1:0/112'



# ---------------------------------------------------------------- bgpcore -> scapy

# scapy 2.5 reads an MP_REACH_NLRI next hop for IPv4 as four octets only, drops zero-length
# prefixes next to others and reads one large community: those cases are left to tshark.
plain_updates = updates(kinds=("ipv4", "ipv6", "withdraw"), v4=mp_prefix4, max_large=1)


@SCAPY
@given(plain_updates)
def test_scapy_parses_bgpcore_updates(u: Update) -> None:
    parsed = scapy_parse(encode_message(u, CTX))[bgp.BGPUpdate]
    assert parsed_prefixes(parsed.withdrawn_routes) == texts(u.withdrawn, 1)
    assert parsed_prefixes(parsed.nlri) == texts(u.nlri, 1)
    attrs = u.attributes
    if attrs is None:
        assert list(parsed.path_attr) == []
        return
    assert attribute(parsed, 1).origin == attrs.origin
    assert [(s.segment_type, tuple(s.segment_value)) for s in attribute(parsed, 2).segments] == list(attrs.as_path)
    assert (attribute(parsed, 3).next_hop if attribute(parsed, 3) else None) == attrs.next_hop
    assert (attribute(parsed, 4).med if attribute(parsed, 4) else None) == attrs.med
    assert (attribute(parsed, 5).local_pref if attribute(parsed, 5) else None) == attrs.local_pref
    communities = [bytes(a.attribute) for a in parsed.path_attr if a.type_code == 8]
    assert communities == ([b"".join(c.to_bytes(4, "big") for c in attrs.communities)] if attrs.communities else [])
    large = attribute(parsed, 32)
    assert ([(s.global_administrator, s.local_data_part1, s.local_data_part2) for s in large.segments] if large else []) == list(attrs.large_communities)
    mp = attribute(parsed, 14)
    if u.mp_reach is None:
        assert mp is None
        return
    assert (mp.afi, mp.safi) == (u.mp_reach.afi, u.mp_reach.safi)
    hops = [mp.nh_v6_global, mp.nh_v6_link_local] if mp.nh_addr_len == 32 else [mp.nh_v6_addr]
    assert [ipaddress.ip_address(h) for h in hops] == [ipaddress.ip_address(h) for h in u.mp_reach.next_hop]
    assert parsed_prefixes(mp.nlri) == texts(u.mp_reach.nlri, 2)


@SCAPY
@given(opens())
def test_scapy_parses_bgpcore_opens(o: Open) -> None:
    parsed = scapy_parse(encode_message(o, CTX))[bgp.BGPOpen]
    assert (parsed.version, parsed.my_as, parsed.hold_time, parsed.bgp_id) == (
        4, o.my_as if o.my_as <= 0xFFFF else AS_TRANS, o.hold_time_s, o.bgp_id)
    caps = [p.param_value for p in parsed.opt_params]
    assert all(p.param_type == 2 for p in parsed.opt_params)
    assert [c.code for c in caps] == [encode_capability(c)[0] for c in o.capabilities]
    for ours, theirs in zip(o.capabilities, caps):
        if isinstance(ours, FourOctetAs):
            assert theirs.asn == ours.asn
        elif isinstance(ours, Multiprotocol):
            assert (theirs.afi, theirs.safi) == (ours.afi, ours.safi)
        elif isinstance(ours, GracefulRestart):
            assert (theirs.restart_flags, theirs.restart_time) == (ours.restart_flags, ours.restart_time_s)
            assert theirs.length == 2 + 4 * len(ours.families)
            # scapy 2.5 reads the first family only
            assert [(e.afi, e.safi, e.flags) for e in theirs.entries][:1] == list(ours.families)[:1]


@SCAPY
@given(notifications | refreshes | st.just(Keepalive()))
def test_scapy_parses_bgpcore_control_messages(m: Notification | RouteRefresh | Keepalive) -> None:
    parsed = scapy_parse(encode_message(m, CTX))
    if isinstance(m, Notification):
        n = parsed[bgp.BGPNotification]
        assert (n.error_code, n.error_subcode, bytes(n.data or b"")) == (m.code, m.subcode, m.data)
    elif isinstance(m, RouteRefresh):
        r = parsed[bgp.BGPRouteRefresh]
        assert (r.afi, r.subtype, r.safi) == (m.afi, m.subtype, m.safi)
    else:
        assert parsed.type == MsgType.KEEPALIVE and parsed.len == HEADER_LEN


# ---------------------------------------------------------------- scapy -> bgpcore

def ours(built: Any) -> Any:
    raw = bytes(built)
    return decode_message(raw[18], raw[HEADER_LEN:], CTX)


def path_attr(flags: int, code: int, value: Any) -> Any:
    return bgp.BGPPathAttr(type_flags=flags, type_code=code, attribute=value)


@SCAPY
@given(st.lists(prefix4, max_size=8), st.lists(prefix4, min_size=1, max_size=8), st.integers(0, 2), host4,
       st.lists(asn, max_size=6), st.none() | st.integers(0, 2**32 - 1), st.lists(st.integers(0, 2**32 - 1), max_size=4))
def test_bgpcore_decodes_scapy_ipv4_updates(withdrawn: list[bytes], nlri: list[bytes], origin: int, next_hop: str,
                                             path: list[int], local_pref: int | None, communities: list[int]) -> None:
    attrs = [
        path_attr(0x40, 1, bgp.BGPPAOrigin(origin=origin)),
        path_attr(0x40, 2, bgp.BGPPAAS4BytesPath(segments=[bgp.BGPPAAS4BytesPath.ASPathSegment(segment_type=2, segment_value=path)] if path else [])),
        path_attr(0x40, 3, bgp.BGPPANextHop(next_hop=next_hop)),
    ]
    if local_pref is not None:
        attrs.append(path_attr(0x40, 5, bgp.BGPPALocalPref(local_pref=local_pref)))
    if communities:
        attrs.append(bgp.BGPPathAttr(type_flags=0xC0, type_code=8, attribute=b"".join(c.to_bytes(4, "big") for c in communities)))
    built = bgp.BGPHeader(type=2) / bgp.BGPUpdate(
        withdrawn_routes=[bgp.BGPNLRI_IPv4(prefix=p) for p in texts(withdrawn, 1)],
        path_attr=attrs, nlri=[bgp.BGPNLRI_IPv4(prefix=p) for p in texts(nlri, 1)])
    u = ours(built)
    assert isinstance(u, Update) and u.action == 0, u
    assert (u.withdrawn, u.nlri) == (withdrawn, nlri)
    assert u.attributes is not None
    assert (u.attributes.origin, u.attributes.next_hop, u.attributes.local_pref) == (origin, next_hop, local_pref)
    assert u.attributes.as_path == (((2, tuple(path)),) if path else ())
    assert u.attributes.communities == tuple(communities)


@SCAPY
@given(st.lists(prefix6, min_size=1, max_size=8), st.integers(0, 2**64 - 1))
def test_bgpcore_decodes_scapy_ipv6_mp_reach(nlri: list[bytes], host: int) -> None:
    next_hop = str(ipaddress.IPv6Address((0x20010DB8 << 96) | host))
    mp = bgp.BGPPAMPReachNLRI(afi=2, safi=1, nh_addr_len=16, nh_v6_addr=next_hop,
                              nlri=[bgp.BGPNLRI_IPv6(prefix=p) for p in texts(nlri, 2)])
    built = bgp.BGPHeader(type=2) / bgp.BGPUpdate(path_attr=[
        path_attr(0x40, 1, bgp.BGPPAOrigin(origin=0)),
        path_attr(0x40, 2, bgp.BGPPAAS4BytesPath(segments=[])),
        path_attr(0x80, 14, mp)])
    u = ours(built)
    assert isinstance(u, Update) and u.mp_reach is not None, u
    assert (u.mp_reach.afi, u.mp_reach.safi, u.mp_reach.nlri) == (2, 1, nlri)
    assert [ipaddress.ip_address(h) for h in u.mp_reach.next_hop] == [ipaddress.ip_address(next_hop)]


@SCAPY
@given(asn, st.integers(3, 65535), router_id, st.lists(st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2, 128])), max_size=4))
def test_bgpcore_decodes_scapy_opens(my_as: int, hold: int, bgp_id: str, families: list[tuple[int, int]]) -> None:
    params = [bgp.BGPOptParam(param_type=2, param_value=bgp.BGPCapMultiprotocol(afi=a, safi=s)) for a, s in families]
    params += [bgp.BGPOptParam(param_type=2, param_value=bgp.BGPCapGeneric(code=2)),
               bgp.BGPOptParam(param_type=2, param_value=bgp.BGPCapFourBytesASN(asn=my_as))]
    built = bgp.BGPHeader(type=1) / bgp.BGPOpen(my_as=my_as if my_as <= 0xFFFF else AS_TRANS, hold_time=hold,
                                                  bgp_id=bgp_id, opt_params=params)
    o = ours(built)
    assert isinstance(o, Open)
    assert (o.asn, o.my_as, o.hold_time_s, o.bgp_id) == (my_as, my_as, hold, bgp_id)
    assert o.capabilities == tuple(Multiprotocol(a, s) for a, s in families) + (RouteRefreshCap(), FourOctetAs(my_as))


@SCAPY
@given(st.integers(1, 7), st.integers(0, 255), st.binary(max_size=20), st.integers(1, 2), st.integers(0, 2), st.integers(1, 255))
def test_bgpcore_decodes_scapy_notifications_refreshes_and_keepalives(code: int, subcode: int, data: bytes,
                                                                       afi: int, subtype: int, safi: int) -> None:
    n = ours(bgp.BGPHeader(type=3) / bgp.BGPNotification(error_code=code, error_subcode=subcode, data=data))
    assert n == Notification(code, subcode, data)
    r = ours(bgp.BGPHeader(type=5) / bgp.BGPRouteRefresh(afi=afi, subtype=subtype, safi=safi))
    assert r == RouteRefresh(afi, safi, subtype)
    assert ours(bgp.BGPKeepAlive()) == Keepalive()  # scapy: a KEEPALIVE is a header of type 4
