"""Router Advertisement / Solicitation bytes (RFC 4861 §4.1, §4.2, §4.6, §6.1), checked against scapy."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgpcore.discovery import ra

scapy_inet6 = pytest.importorskip("scapy.layers.inet6")

MAC = bytes.fromhex("020000000001")
LL = "fe80::1"


def _without_checksum(data: bytes) -> bytes:
    return data[:2] + b"\0\0" + data[4:]


def test_router_advert_bytes_match_scapy() -> None:
    ours = ra.encode_router_advert(ra.RouterAdvert(cur_hop_limit=64, managed=True, router_lifetime_s=1800,
                                                   reachable_time_ms=30000, retrans_timer_ms=1000,
                                                   source_mac=MAC, mtu=1500))
    theirs = bytes(scapy_inet6.ICMPv6ND_RA(chlim=64, M=1, prf=0, routerlifetime=1800, reachabletime=30000,
                                           retranstimer=1000)
                   / scapy_inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
                   / scapy_inet6.ICMPv6NDOptMTU(mtu=1500))
    assert _without_checksum(ours) == _without_checksum(theirs)


def test_router_solicit_bytes_match_scapy() -> None:
    ours = ra.encode_router_solicit(ra.RouterSolicit(source_mac=MAC))
    theirs = bytes(scapy_inet6.ICMPv6ND_RS() / scapy_inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))
    assert _without_checksum(ours) == _without_checksum(theirs)


def test_scapy_router_advert_decodes_with_prefix_option_ignored() -> None:
    data = bytes(scapy_inet6.ICMPv6ND_RA(chlim=255, O=1, prf=0, routerlifetime=0)
                 / scapy_inet6.ICMPv6NDOptPrefixInfo(prefix="2001:db8::", prefixlen=64)
                 / scapy_inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))
    decoded = ra.decode_router_advert(data)
    assert decoded == ra.RouterAdvert(cur_hop_limit=255, other=True, router_lifetime_s=0, source_mac=MAC)


@given(hop=st.integers(0, 255), managed=st.booleans(), other=st.booleans(), lifetime=st.integers(0, 0xFFFF),
       reachable=st.integers(0, 2**32 - 1), retrans=st.integers(0, 2**32 - 1),
       mac=st.one_of(st.none(), st.binary(min_size=6, max_size=6)), mtu=st.one_of(st.none(), st.integers(0, 2**32 - 1)))
def test_router_advert_round_trips(hop: int, managed: bool, other: bool, lifetime: int, reachable: int,
                                   retrans: int, mac: bytes | None, mtu: int | None) -> None:
    advert = ra.RouterAdvert(cur_hop_limit=hop, managed=managed, other=other, router_lifetime_s=lifetime,
                             reachable_time_ms=reachable, retrans_timer_ms=retrans, source_mac=mac, mtu=mtu)
    data = ra.encode_router_advert(advert)
    assert len(data) % 8 == 0
    assert ra.decode_message(data) == advert


@given(st.binary(max_size=64))
def test_decoding_any_bytes_returns_a_message_or_raises_nd_error(data: bytes) -> None:
    try:
        ra.decode_message(data)
    except ra.NdError:
        pass


def test_zero_length_option_is_refused() -> None:
    data = ra.encode_router_advert(ra.RouterAdvert()) + bytes((ra.OPT_SOURCE_LINK_ADDR, 0)) + bytes(6)
    with pytest.raises(ra.NdError, match="length zero"):
        ra.decode_router_advert(data)


def test_option_overrunning_the_message_is_refused() -> None:
    data = ra.encode_router_advert(ra.RouterAdvert()) + bytes((ra.OPT_SOURCE_LINK_ADDR, 2)) + bytes(6)
    with pytest.raises(ra.NdError, match="overruns"):
        ra.decode_router_advert(data)


def test_short_advert_and_wrong_code_are_refused() -> None:
    with pytest.raises(ra.NdError, match="at least 16"):
        ra.decode_router_advert(ra.encode_router_advert(ra.RouterAdvert())[:15])
    bad_code = bytearray(ra.encode_router_advert(ra.RouterAdvert()))
    bad_code[1] = 1
    with pytest.raises(ra.NdError, match="code 1"):
        ra.decode_router_advert(bytes(bad_code))
    with pytest.raises(ra.NdError, match="type 135"):
        ra.decode_message(bytes((135,)) + bytes(23))


def test_router_lifetime_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="router lifetime"):
        ra.encode_router_advert(ra.RouterAdvert(router_lifetime_s=70000))


@pytest.mark.parametrize(("source", "hop_limit", "reason"), [
    (LL, 255, None),
    (f"{LL}%eth1", 255, None),
    (LL, 254, "hop limit 254"),
    (LL, 64, "hop limit 64"),
    (LL, None, "hop limit None"),
    ("2001:db8::1", 255, "not a link-local"),
])
def test_advert_trusted_only_from_link_local_with_hop_limit_255(source: str, hop_limit: int | None,
                                                                 reason: str | None) -> None:
    got = ra.drop_reason(source, hop_limit, ra.RouterAdvert())
    assert got is None if reason is None else reason in (got or "")


def test_solicit_from_unspecified_address_may_not_carry_a_link_layer_address() -> None:
    assert ra.drop_reason("::", 255, ra.RouterSolicit()) is None
    assert "source link-layer" in (ra.drop_reason("::", 255, ra.RouterSolicit(source_mac=MAC)) or "")
    assert ra.drop_reason(LL, 255, ra.RouterSolicit(source_mac=MAC)) is None


def test_icmp6_filter_passes_only_router_solicit_and_advert() -> None:
    words = struct.unpack("=8I", ra.icmp6_filter(ra.ICMPV6_ROUTER_SOLICIT, ra.ICMPV6_ROUTER_ADVERT))
    blocked = {t for t in range(256) if words[t >> 5] & (1 << (t & 31))}
    assert set(range(256)) - blocked == {133, 134}
