"""rtnetlink message bytes: encode/decode round trips and the layouts the kernel expects."""
from __future__ import annotations

import ipaddress
import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from bgpcore.fib import netlink as nl


def _one(data: bytes) -> tuple[int, int, int, memoryview]:
    messages = list(nl.iter_messages(data))
    assert len(messages) == 1
    return messages[0]


def _v4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def _v6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def test_header_carries_length_type_flags_and_sequence() -> None:
    data = nl.encode_message(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 77, b"\x01\x02\x03\x04")
    assert struct.unpack("=IHHII", data[:16]) == (20, 24, 5, 77, 0)
    assert _one(data)[:3] == (nl.MsgType.NEWROUTE, 5, 77)


def test_attribute_is_padded_to_four_octets_and_length_excludes_padding() -> None:
    attr = nl.push_attr(nl.Rta.DST, b"\xc0\x00\x02")
    assert attr == struct.pack("=HH", 7, 1) + b"\xc0\x00\x02\x00"
    assert list(nl.iter_attrs(attr + nl.push_u32_attr(nl.Rta.OIF, 9))) == [(1, b"\xc0\x00\x02"), (4, struct.pack("=I", 9))]


def test_truncated_attribute_stops_the_walk() -> None:
    broken = struct.pack("=HH", 40, 1) + b"\0" * 4
    assert list(nl.iter_attrs(broken)) == []


def test_ipv4_route_round_trip() -> None:
    route = nl.RouteMessage(family=socket.AF_INET, dst_len=24, dst=_v4("203.0.113.0"), protocol=186,
                            priority=20, oif=3, gateway=_v4("192.0.2.2"))
    msg_type, flags, seq, body = _one(route.encode(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 9))
    assert (msg_type, seq) == (nl.MsgType.NEWROUTE, 9)
    assert nl.RouteMessage.decode(body) == route


def test_table_past_255_travels_in_rta_table_with_compat_header() -> None:
    route = nl.RouteMessage(family=socket.AF_INET, dst_len=32, dst=_v4("198.51.100.1"), table=1000, oif=2)
    body = _one(route.encode(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 1))[3]
    assert body[4] == nl.RT_TABLE_COMPAT
    assert nl.RouteMessage.decode(body).table == 1000


def test_ipv4_route_via_ipv6_uses_rta_via_with_family() -> None:
    route = nl.RouteMessage(family=socket.AF_INET, dst_len=32, dst=_v4("198.51.100.7"), oif=4,
                            flags=nl.RTNH_F_ONLINK, via=(socket.AF_INET6, _v6("fe80::1")))
    body = _one(route.encode(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 1))[3]
    attrs = dict(nl.iter_attrs(body, nl.RTMSG.size))
    assert attrs[nl.Rta.VIA] == struct.pack("=H", socket.AF_INET6) + _v6("fe80::1")
    assert nl.Rta.GATEWAY not in attrs
    assert nl.RouteMessage.decode(body) == route


def test_multipath_round_trip_keeps_weights_and_gateways() -> None:
    hops = (nl.PathHop(gateway=_v6("fe80::1"), ifindex=3, weight=1),
            nl.PathHop(gateway=_v6("fe80::2"), ifindex=4, weight=5),
            nl.PathHop(via=(socket.AF_INET6, _v6("fe80::3")), ifindex=5, weight=2, flags=nl.RTNH_F_ONLINK))
    route = nl.RouteMessage(family=socket.AF_INET6, dst_len=48, dst=_v6("2001:db8:1::"), multipath=hops)
    body = _one(route.encode(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 1))[3]
    rtnh = dict(nl.iter_attrs(body, nl.RTMSG.size))[nl.Rta.MULTIPATH]
    assert nl.RTNEXTHOP.unpack_from(rtnh, 0) == (4 + 4 + 4 + 16, 0, 0, 3)  # weight travels as weight-1
    assert nl.RouteMessage.decode(body).multipath == hops


def test_template_encodes_the_same_bytes_as_a_full_message() -> None:
    for family, dst, plen in ((socket.AF_INET, _v4("203.0.113.128"), 25), (socket.AF_INET6, _v6("2001:db8::"), 32)):
        shared = dict(family=family, table=254, protocol=186, priority=20, nh_id=7)
        template = nl.RouteTemplate(nl.RouteMessage(**shared), nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST)  # type: ignore[arg-type]
        full = nl.RouteMessage(dst_len=plen, dst=dst, **shared).encode(nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 41)  # type: ignore[arg-type]
        assert template.encode(41, dst, plen) == full


def test_nexthop_object_and_group_round_trip() -> None:
    single = nl.NexthopMessage(id=10, family=socket.AF_INET6, protocol=186, oif=3, gateway=_v6("fe80::1"))
    group = nl.NexthopMessage(id=11, protocol=186, group=((10, 1), (12, 3)))
    for msg in (single, group):
        body = _one(msg.encode(nl.MsgType.NEWNEXTHOP, nl.NLM_F_REQUEST, 1))[3]
        assert nl.NexthopMessage.decode(body) == msg
    raw = dict(nl.iter_attrs(_one(group.encode(nl.MsgType.NEWNEXTHOP, 1, 1))[3], nl.NHMSG.size))[nl.Nha.GROUP]
    assert list(nl.NEXTHOP_GRP.iter_unpack(raw)) == [(10, 0, 0, 0), (12, 2, 0, 0)]


def test_delete_nexthop_carries_only_the_id() -> None:
    body = _one(nl.NexthopMessage(id=5, oif=3).encode(nl.MsgType.DELNEXTHOP, 1, 1))[3]
    assert [t for t, _v in nl.iter_attrs(body, nl.NHMSG.size)] == [nl.Nha.ID]


def _error_bytes(error: int, request: bytes, extack: str | None, capped: bool) -> bytes:
    flags = (nl.NLM_F_CAPPED if capped else 0) | (nl.NLM_F_ACK_TLVS if extack is not None else 0)
    body = struct.pack("=i", error) + (request[:16] if capped else request)
    if extack is not None:
        body += nl.push_attr(nl.NLMSGERR_ATTR_MSG, extack.encode() + b"\0") + nl.push_u32_attr(nl.NLMSGERR_ATTR_OFFS, 20)
    return nl.encode_message(nl.MsgType.ERROR, flags, 3, body)


def test_error_decodes_errno_request_sequence_and_extack_capped_or_not() -> None:
    request = nl.RouteMessage(family=socket.AF_INET, dst_len=32, dst=_v4("198.51.100.8"), oif=999).encode(
        nl.MsgType.NEWROUTE, nl.NLM_F_REQUEST, 1234)
    for capped in (True, False):
        msg_type, flags, _seq, body = _one(_error_bytes(-19, request, "Nexthop device is not up", capped))
        err = nl.ErrorMessage.decode(body, flags)
        assert msg_type == nl.MsgType.ERROR
        assert (err.errno, err.request_type, err.request_seq, err.extack) == (19, nl.MsgType.NEWROUTE, 1234, "Nexthop device is not up")
    ack = nl.ErrorMessage.decode(_one(_error_bytes(0, request, None, True))[3], nl.NLM_F_CAPPED)
    assert (ack.errno, ack.extack) == (0, "")


def test_done_with_error_code_reports_a_refused_dump() -> None:
    body = struct.pack("=i", -22) + nl.push_attr(nl.NLMSGERR_ATTR_MSG, b"Invalid values in header\0")
    err = nl.ErrorMessage.decode_done(body, nl.NLM_F_ACK_TLVS)
    assert (err.errno, err.extack) == (22, "Invalid values in header")
    assert nl.ErrorMessage.decode_done(struct.pack("=i", 0), 0).errno == 0


def test_link_decodes_name_mac_flags_and_carrier() -> None:
    body = (nl.IFINFOMSG.pack(0, 1, 7, nl.IFF_UP | nl.IFF_LOWER_UP, 0) + nl.push_attr(nl.Ifla.IFNAME, b"eth1\0")
            + nl.push_attr(nl.Ifla.ADDRESS, bytes.fromhex("020000000001")) + nl.push_attr(nl.Ifla.CARRIER, b"\x01")
            + nl.push_attr(nl.Ifla.OPERSTATE, bytes([nl.OPERSTATE_UP])))
    link = nl.LinkMessage.decode(body)
    assert (link.ifindex, link.name, link.mac_text, link.carrier) == (7, "eth1", "02:00:00:00:00:01", True)
    assert link.up and link.running
    gone = nl.LinkMessage.decode(body, nl.MsgType.DELLINK)
    assert gone.deleted and not gone.running
    down = nl.LinkMessage.decode(nl.IFINFOMSG.pack(0, 1, 7, 0, 0))
    assert not down.up and not down.running


def test_address_prefers_local_and_keeps_scope() -> None:
    body = (nl.IFADDRMSG.pack(socket.AF_INET6, 64, 0x80, nl.RT_SCOPE_LINK, 7) + nl.push_attr(nl.Ifa.ADDRESS, _v6("fe80::1"))
            + nl.push_u32_attr(nl.Ifa.FLAGS, 0x280))
    addr = nl.AddressMessage.decode(body)
    assert (addr.family, addr.prefixlen, addr.scope, addr.ifindex, addr.address, addr.flags) == (
        socket.AF_INET6, 64, nl.RT_SCOPE_LINK, 7, _v6("fe80::1"), 0x280)


def test_neighbour_round_trip_with_router_flag_and_state_name() -> None:
    neigh = nl.NeighbourMessage(family=socket.AF_INET6, ifindex=7, state=nl.NUD_PERMANENT, flags=nl.NTF_ROUTER,
                                dst=_v6("fe80::1"), lladdr=bytes.fromhex("020000000001"))
    decoded = nl.NeighbourMessage.decode(_one(neigh.encode(nl.MsgType.NEWNEIGH, 1, 1))[3])
    assert decoded == neigh and decoded.router and decoded.state_name == "PERMANENT"
    assert nl.NeighbourMessage(family=2, ifindex=1, state=0x02 | 0x04).state_name == "REACHABLE|STALE"


def test_several_messages_in_one_datagram_are_split_in_order() -> None:
    data = b"".join(nl.encode_message(nl.MsgType.NOOP, 0, seq, b"\x00" * (seq % 3)) for seq in range(1, 6))
    assert [seq for _t, _f, seq, _b in nl.iter_messages(data)] == [1, 2, 3, 4, 5]


_addresses4 = st.binary(min_size=4, max_size=4)
_hops = st.lists(st.builds(nl.PathHop, gateway=st.one_of(st.none(), _addresses4), ifindex=st.integers(0, 2**31 - 1),
                           weight=st.integers(1, 256), flags=st.sampled_from([0, nl.RTNH_F_ONLINK])), max_size=8)


@given(dst_len=st.integers(0, 32), dst=_addresses4, table=st.integers(1, 2**32 - 1), priority=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       oif=st.one_of(st.none(), st.integers(1, 2**31 - 1)), nh_id=st.one_of(st.none(), st.integers(1, 2**32 - 1)), hops=_hops)
def test_any_ipv4_route_survives_encode_decode(dst_len: int, dst: bytes, table: int, priority: int | None,
                                               oif: int | None, nh_id: int | None, hops: list[nl.PathHop]) -> None:
    route = nl.RouteMessage(family=socket.AF_INET, dst_len=dst_len, dst=dst, table=table, protocol=186,
                            priority=priority, oif=oif, nh_id=nh_id, multipath=tuple(hops))
    assert nl.RouteMessage.decode(_one(route.encode(nl.MsgType.NEWROUTE, 1, 1))[3]) == route
