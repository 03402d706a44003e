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
BIRD sends ``::`` then the link-local). IPv4 NLRI may carry one only where the session
negotiated the extended next hop capability for that family (RFC 8950 §3-4); an IPv6 route
never carries a 4-octet next hop (RFC 4760 §3, RFC 2545 §3).

A next-hop length the family (and the session) does not allow makes the attribute malformed,
and RFC 7606 §7.11 leaves no softer outcome: the NLRI that follows cannot be located
reliably, so the session is reset (the codec does not implement AFI/SAFI disable).
An MP_REACH_NLRI or MP_UNREACH_NLRI of a family the session did not negotiate
(``CodecContext.families``) is ignored: its routes may not be exchanged on this session
(RFC 4760 §8), so the attribute is discarded with a problem line and the rest of the UPDATE kept;
with ``CodecContext.reset_unnegotiated`` it resets the session instead (RFC 4760 §7: UPDATE
Message Error / Optional Attribute Error).
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Final

from bgpcore.constants import Afi, Safi
from bgpcore.errors import ErrorAction, Malformed, UsageError
from bgpcore.wire.context import CodecContext
from bgpcore.wire.nlri import NlriError, decode_prefixes
from bgpcore.wire.types import MpReach, MpUnreach

_ntop = socket.inet_ntop
_pton = socket.inet_pton
_V4, _V6 = socket.AF_INET, socket.AF_INET6
_RD_LEN: Final = 8
_LABEL_BITS: Final = 24
_V4_NH: Final = frozenset({4})
_V6_NH: Final = frozenset({16, 32})
_DISCARD: Final = ErrorAction.ATTRIBUTE_DISCARD
_V4_MAPPED: Final = b"\0" * 10 + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One AFI/SAFI: how long its NLRI may be and which next-hop lengths it takes.

    ``next_hop_lengths`` are always accepted; ``extended_next_hop_lengths`` (an IPv6 next hop
    for IPv4 NLRI) only when ``CodecContext.extended_nexthop`` holds the family (RFC 8950).
    """

    afi: int
    safi: int
    name: str
    max_prefix_bits: int
    next_hop_lengths: frozenset[int]
    route_distinguisher: bool = False
    extended_next_hop_lengths: frozenset[int] = frozenset()

    def allows_next_hop_length(self, n: int, ctx: CodecContext) -> bool:
        """Whether an MP_REACH_NLRI next hop of ``n`` octets is valid for this family here."""
        if n in self.next_hop_lengths:
            return True
        return n in self.extended_next_hop_lengths and (self.afi, self.safi) in ctx.extended_nexthop


FAMILIES: Final[dict[tuple[int, int], FamilySpec]] = {
    (s.afi, s.safi): s
    for s in (
        FamilySpec(Afi.IPV4, Safi.UNICAST, "ipv4-unicast", 32, _V4_NH, extended_next_hop_lengths=_V6_NH),
        FamilySpec(Afi.IPV4, Safi.MULTICAST, "ipv4-multicast", 32, _V4_NH, extended_next_hop_lengths=_V6_NH),
        FamilySpec(Afi.IPV6, Safi.UNICAST, "ipv6-unicast", 128, _V6_NH),
        FamilySpec(Afi.IPV6, Safi.MULTICAST, "ipv6-multicast", 128, _V6_NH),
        FamilySpec(Afi.IPV4, 4, "ipv4-labeled-unicast", 32 + _LABEL_BITS, _V4_NH, extended_next_hop_lengths=_V6_NH),
        FamilySpec(Afi.IPV6, 4, "ipv6-labeled-unicast", 128 + _LABEL_BITS, _V6_NH),
        # VPN next hops carry a zero route distinguisher before each address (RFC 4364 §4.3.2, RFC 8950 §4)
        FamilySpec(Afi.IPV4, Safi.MPLS_VPN, "ipv4-vpn", 32 + _LABEL_BITS + 64, frozenset({12}), True,
                   extended_next_hop_lengths=frozenset({24, 48})),
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
    """Next-hop octets for ``family``; an IPv6 next hop on IPv4 NLRI needs RFC 8950 negotiated.

    An IPv4 next hop for an IPv6 family is written as its IPv4-mapped IPv6 address
    (RFC 4291 §2.5.5.2, as RFC 4798 §2 does), since an IPv6 next hop is 16 or 32 octets.
    """
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
    if family[0] == Afi.IPV6:
        return rd + _V4_MAPPED + _pton(_V4, next_hop[0])
    return rd + _pton(_V4, next_hop[0])


def _not_negotiated(name: str, afi: int, safi: int, ctx: CodecContext) -> Malformed | None:
    """RFC 4760 §8: routes of a family the session did not negotiate are not exchanged on it."""
    if ctx.families is None or (afi, safi) in ctx.families:
        return None
    if ctx.reset_unnegotiated:  # the attribute's own outcome: session reset, Optional Attribute Error
        return Malformed(f"{name} of {family_name((afi, safi))}, a family not negotiated on this session")
    return Malformed(f"{name} of {family_name((afi, safi))}, a family not negotiated on this session, ignored",
                     action=_DISCARD)


def decode_mp_reach(value: bytes, ctx: CodecContext, rib_entry: bool = False) -> MpReach:
    """MP_REACH_NLRI value.

    Raises:
        Malformed: with the default outcome (session reset, RFC 7606 §7.11) when the value is
            malformed, the next hop length is not one the family allows on this session
            (RFC 8950 for IPv6 next hops of IPv4 NLRI), the NLRI cannot be parsed, or the family
            was not negotiated and ``ctx.reset_unnegotiated`` holds; with
            ``action=ATTRIBUTE_DISCARD`` when the family was not negotiated (RFC 4760 §8).
    """
    if rib_entry and value and value[0] + 1 == len(value):
        # MRT RIB entries keep only the next hop (RFC 6396 §4.3.4); the family is the record's
        return MpReach(0, 0, _rib_next_hop(value[1:]), [])
    if len(value) < 5:
        raise Malformed("MP_REACH_NLRI shorter than its fixed fields")
    afi, safi, nh_len = struct.unpack_from("!HBB", value)
    ignored = _not_negotiated("MP_REACH_NLRI", afi, safi, ctx)
    if ignored is not None:
        raise ignored
    spec = FAMILIES.get((afi, safi))
    nh_end = 4 + nh_len
    if nh_end + 1 > len(value):
        raise Malformed(f"MP_REACH_NLRI next hop length {nh_len} overruns the attribute")
    if spec is None:
        return MpReach(afi, safi, (value[4:nh_end].hex(),), [])
    if not spec.allows_next_hop_length(nh_len, ctx):
        # RFC 7606 §7.11: the NLRI cannot be located reliably, so session reset (no AFI/SAFI disable here)
        extended = " without the extended next hop capability" if nh_len in spec.extended_next_hop_lengths else ""
        raise Malformed(f"MP_REACH_NLRI next hop length {nh_len} invalid for {spec.name}{extended}")
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
    """MP_UNREACH_NLRI value; malformed ones end the session (RFC 7606 §7.12).

    Raises:
        Malformed: with the default outcome (session reset) when malformed, or when the family
            was not negotiated and ``ctx.reset_unnegotiated`` holds; with
            ``action=ATTRIBUTE_DISCARD`` when the family was not negotiated (RFC 4760 §8).
    """
    if len(value) < 3:
        raise Malformed("MP_UNREACH_NLRI shorter than its fixed fields")
    afi, safi = struct.unpack_from("!HB", value)
    ignored = _not_negotiated("MP_UNREACH_NLRI", afi, safi, ctx)
    if ignored is not None:
        raise ignored
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
