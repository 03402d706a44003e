"""MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3-4) and next hops (RFC 8950).

::

    MP_REACH_NLRI value                     MP_UNREACH_NLRI value
    +---------------------------------+     +---------------------------------+
    | AFI (2) | SAFI (1)              |     | AFI (2) | SAFI (1)              |
    | Next hop length (1)             |     | Withdrawn routes (variable)     |
    | Next hop (variable)             |     +---------------------------------+
    | Reserved (1)                    |
    | NLRI (variable)                 |
    +---------------------------------+

Each family is one ``FamilySpec`` row: the longest prefix its NLRI may carry and the next-hop
lengths it accepts. An IPv6 next hop is 16 octets (global, or link-local alone) or 32
(global + link-local; FRR sends the link-local twice when the link has no global address,
BIRD sends ``::`` then the link-local). IPv4 NLRI may carry one (RFC 8950).
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Final

from bgpcore.constants import Afi, Safi
from bgpcore.errors import Malformed, UsageError
from bgpcore.wire.context import CodecContext
from bgpcore.wire.nlri import NlriError, decode_prefixes
from bgpcore.wire.types import MpReach, MpUnreach

_ntop = socket.inet_ntop
_pton = socket.inet_pton
_V4, _V6 = socket.AF_INET, socket.AF_INET6
_RD_LEN: Final = 8
_LABEL_BITS: Final = 24


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One AFI/SAFI: how long its NLRI may be and which next-hop lengths it takes."""

    afi: int
    safi: int
    name: str
    max_prefix_bits: int
    next_hop_lengths: frozenset[int]
    route_distinguisher: bool = False


FAMILIES: Final[dict[tuple[int, int], FamilySpec]] = {
    (s.afi, s.safi): s
    for s in (
        FamilySpec(Afi.IPV4, Safi.UNICAST, "ipv4-unicast", 32, frozenset({4, 16, 32})),
        FamilySpec(Afi.IPV4, Safi.MULTICAST, "ipv4-multicast", 32, frozenset({4, 16, 32})),
        FamilySpec(Afi.IPV6, Safi.UNICAST, "ipv6-unicast", 128, frozenset({16, 32, 4})),
        FamilySpec(Afi.IPV6, Safi.MULTICAST, "ipv6-multicast", 128, frozenset({16, 32, 4})),
        FamilySpec(Afi.IPV4, 4, "ipv4-labeled-unicast", 32 + _LABEL_BITS, frozenset({4, 16, 32})),
        FamilySpec(Afi.IPV6, 4, "ipv6-labeled-unicast", 128 + _LABEL_BITS, frozenset({16, 32})),
        FamilySpec(Afi.IPV4, Safi.MPLS_VPN, "ipv4-vpn", 32 + _LABEL_BITS + 64, frozenset({12, 24, 48}), True),
        FamilySpec(Afi.IPV6, Safi.MPLS_VPN, "ipv6-vpn", 128 + _LABEL_BITS + 64, frozenset({24, 48}), True),
    )
}


def decode_next_hop(raw: bytes, spec: FamilySpec) -> tuple[str, ...]:
    """Next-hop octets as text: one address, or (global, link-local)."""
    if spec.route_distinguisher:
        step = len(raw) // (2 if len(raw) == 48 else 1)
        raw = b"".join(raw[i + _RD_LEN : i + step] for i in range(0, len(raw), step))
    n = len(raw)
    if n == 4:
        return (_ntop(_V4, raw),)
    if n == 16:
        return (_ntop(_V6, raw),)
    return (_ntop(_V6, raw[:16]), _ntop(_V6, raw[16:32]))


def encode_next_hop(next_hop: tuple[str, ...], family: tuple[int, int], ctx: CodecContext) -> bytes:
    """Next-hop octets for ``family``; an IPv6 next hop on IPv4 NLRI needs RFC 8950 negotiated."""
    if not next_hop:
        raise UsageError("a next hop is required to announce routes")
    rd = b"\0" * _RD_LEN if FAMILIES.get(family, FAMILIES[(1, 1)]).route_distinguisher else b""
    if ":" in next_hop[0]:
        if family[0] == Afi.IPV4 and family not in ctx.extended_nexthop:
            raise UsageError(f"IPv6 next hop {next_hop[0]} for {family} needs the extended next hop capability")
        if len(next_hop) > 2:
            raise UsageError(f"an IPv6 next hop is one or two addresses, got {next_hop}")
        return b"".join(rd + _pton(_V6, a) for a in next_hop)
    if len(next_hop) != 1:
        raise UsageError(f"an IPv4 next hop is one address, got {next_hop}")
    return rd + _pton(_V4, next_hop[0])


def decode_mp_reach(value: bytes, ctx: CodecContext, rib_entry: bool = False) -> MpReach:
    """MP_REACH_NLRI value; malformed ones end the session (RFC 7606 §7.11)."""
    if rib_entry and value and value[0] + 1 == len(value):
        # MRT RIB entries keep only the next hop (RFC 6396 §4.3.4); the family is the record's
        return MpReach(0, 0, _rib_next_hop(value[1:]), [])
    if len(value) < 5:
        raise Malformed("MP_REACH_NLRI shorter than its fixed fields")
    afi, safi, nh_len = struct.unpack_from("!HBB", value)
    spec = FAMILIES.get((afi, safi))
    nh_end = 4 + nh_len
    if nh_end + 1 > len(value):
        raise Malformed(f"MP_REACH_NLRI next hop length {nh_len} overruns the attribute")
    if spec is None:
        return MpReach(afi, safi, (value[4:nh_end].hex(),), [])
    if nh_len not in spec.next_hop_lengths:
        raise Malformed(f"MP_REACH_NLRI next hop length {nh_len} invalid for {spec.name}")
    next_hop = decode_next_hop(value[4:nh_end], spec)
    try:
        nlri = decode_prefixes(value[nh_end + 1 :], afi, (afi, safi) in ctx.addpath, spec.max_prefix_bits)
    except NlriError as exc:
        raise Malformed(f"MP_REACH_NLRI {spec.name}: {exc.reason}") from None
    return MpReach(afi, safi, next_hop, nlri)


def _rib_next_hop(raw: bytes) -> tuple[str, ...]:
    n = len(raw)
    if n == 4:
        return (_ntop(_V4, raw),)
    if n in (16, 32):
        return decode_next_hop(raw, FAMILIES[(2, 1)])
    return (raw.hex(),)


def decode_mp_unreach(value: bytes, ctx: CodecContext) -> MpUnreach:
    """MP_UNREACH_NLRI value; malformed ones end the session (RFC 7606 §7.12)."""
    if len(value) < 3:
        raise Malformed("MP_UNREACH_NLRI shorter than its fixed fields")
    afi, safi = struct.unpack_from("!HB", value)
    spec = FAMILIES.get((afi, safi))
    if spec is None:
        return MpUnreach(afi, safi, [])
    try:
        nlri = decode_prefixes(value[3:], afi, (afi, safi) in ctx.addpath, spec.max_prefix_bits)
    except NlriError as exc:
        raise Malformed(f"MP_UNREACH_NLRI {spec.name}: {exc.reason}") from None
    return MpUnreach(afi, safi, nlri)


def mp_reach_header(family: tuple[int, int], next_hop_raw: bytes) -> bytes:
    """The fixed part of an MP_REACH_NLRI value, before the NLRI."""
    return struct.pack("!HBB", family[0], family[1], len(next_hop_raw)) + next_hop_raw + b"\0"


def mp_unreach_header(family: tuple[int, int]) -> bytes:
    return struct.pack("!HB", family[0], family[1])


def family_name(family: tuple[int, int]) -> str:
    spec = FAMILIES.get(family)
    return spec.name if spec else f"afi {family[0]} safi {family[1]}"


__all__ = ["FAMILIES", "FamilySpec", "decode_mp_reach", "decode_mp_unreach", "decode_next_hop",
           "encode_next_hop", "family_name", "mp_reach_header", "mp_unreach_header"]
