"""ICMPv6 Router Advertisement and Router Solicitation messages (RFC 4861 §4.1, §4.2), as bytes.

Unnumbered BGP finds the peer on a link by its Router Advertisements: their link-local source
address plus the interface they arrived on is the neighbor, as FRR's zebra does. This module
only turns messages into bytes and back and says whether a received one may be trusted; the
socket lives in :mod:`bgpcore.discovery.listener`.

Router Advertisement (type 134)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | Cur Hop Limit |M|O|  Reserved |       Router Lifetime         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Reachable Time                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          Retrans Timer                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   Options ...

Router Solicitation (type 133) is Type, Code, Checksum, 4 reserved octets, then options.
Options are (type, length in units of 8 octets, value); a zero length is invalid (§4.6).
The kernel fills in and verifies the checksum of ICMPv6 raw sockets (RFC 3542 §3.1), so the
checksum field is written as zero here and not checked.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

ICMPV6_ROUTER_SOLICIT: Final = 133
ICMPV6_ROUTER_ADVERT: Final = 134
ND_HOP_LIMIT: Final = 255
"""Hop limit of every Neighbor Discovery message: a received one with less crossed a router."""

OPT_SOURCE_LINK_ADDR: Final = 1
OPT_MTU: Final = 5

ALL_NODES: Final = ipaddress.IPv6Address("ff02::1")
ALL_ROUTERS: Final = ipaddress.IPv6Address("ff02::2")

_RA_HEADER: Final = struct.Struct("!BBHBBHII")
_RS_HEADER: Final = struct.Struct("!BBHI")
_MTU_OPTION: Final = struct.Struct("!BBHI")
_FLAG_MANAGED: Final = 0x80
_FLAG_OTHER: Final = 0x40
_MAX_LIFETIME_S: Final = 0xFFFF


class NdError(ValueError):
    """A received Neighbor Discovery message is malformed and must be dropped (RFC 4861 §6.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterAdvert:
    """A Router Advertisement.

    ``router_lifetime_s`` 0 says "not a default router": a BGP speaker advertises itself to be
    found, not to become the host's default gateway.
    """

    cur_hop_limit: int = 64
    managed: bool = False
    other: bool = False
    router_lifetime_s: int = 0
    reachable_time_ms: int = 0
    retrans_timer_ms: int = 0
    source_mac: bytes | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterSolicit:
    """A Router Solicitation: asks routers on the link to advertise now."""

    source_mac: bytes | None = None


def _link_addr_option(mac: bytes) -> bytes:
    size = (len(mac) + 2 + 7) // 8 * 8
    return bytes((OPT_SOURCE_LINK_ADDR, size // 8)) + mac + bytes(size - 2 - len(mac))


def encode_router_advert(ra: RouterAdvert) -> bytes:
    """The ICMPv6 message (checksum zero; the kernel fills it in)."""
    if not 0 <= ra.router_lifetime_s <= _MAX_LIFETIME_S:
        raise ValueError(f"router lifetime {ra.router_lifetime_s} s is outside 0..{_MAX_LIFETIME_S}")
    flags = (_FLAG_MANAGED if ra.managed else 0) | (_FLAG_OTHER if ra.other else 0)
    out = _RA_HEADER.pack(ICMPV6_ROUTER_ADVERT, 0, 0, ra.cur_hop_limit, flags, ra.router_lifetime_s,
                          ra.reachable_time_ms, ra.retrans_timer_ms)
    if ra.source_mac:
        out += _link_addr_option(ra.source_mac)
    if ra.mtu is not None:
        out += _MTU_OPTION.pack(OPT_MTU, 1, 0, ra.mtu)
    return out


def encode_router_solicit(rs: RouterSolicit) -> bytes:
    """The ICMPv6 message (checksum zero; the kernel fills it in)."""
    out = _RS_HEADER.pack(ICMPV6_ROUTER_SOLICIT, 0, 0, 0)
    if rs.source_mac:
        out += _link_addr_option(rs.source_mac)
    return out


def _options(data: bytes, start: int) -> dict[int, bytes]:
    """Option type -> value (the first of each type); unknown types are kept and ignored."""
    found: dict[int, bytes] = {}
    pos = start
    while pos < len(data):
        if pos + 2 > len(data):
            raise NdError(f"option header truncated at offset {pos}")
        opt_type, units = data[pos], data[pos + 1]
        if units == 0:
            raise NdError(f"option {opt_type} has length zero")
        end = pos + units * 8
        if end > len(data):
            raise NdError(f"option {opt_type} of {units * 8} octets overruns the message")
        found.setdefault(opt_type, data[pos + 2:end])
        pos = end
    return found


def _source_mac(options: dict[int, bytes]) -> bytes | None:
    value = options.get(OPT_SOURCE_LINK_ADDR)
    # Ethernet: 6 octets of address, padding to 8 with the option header
    return None if value is None else value[:6]


def decode_router_advert(data: bytes) -> RouterAdvert:
    """Decode a Router Advertisement (the ICMPv6 message, from its type octet).

    Raises:
        NdError: wrong type or code, shorter than 16 octets, or a malformed option.
    """
    if len(data) < _RA_HEADER.size:
        raise NdError(f"Router Advertisement of {len(data)} octets, at least {_RA_HEADER.size} needed")
    msg_type, code, _cksum, hop_limit, flags, lifetime, reachable, retrans = _RA_HEADER.unpack_from(data)
    if msg_type != ICMPV6_ROUTER_ADVERT or code != 0:
        raise NdError(f"ICMPv6 type {msg_type} code {code} is not a Router Advertisement")
    options = _options(data, _RA_HEADER.size)
    mtu_value = options.get(OPT_MTU)
    mtu = struct.unpack_from("!I", mtu_value, 2)[0] if mtu_value and len(mtu_value) >= 6 else None
    return RouterAdvert(cur_hop_limit=hop_limit, managed=bool(flags & _FLAG_MANAGED),
                        other=bool(flags & _FLAG_OTHER), router_lifetime_s=lifetime,
                        reachable_time_ms=reachable, retrans_timer_ms=retrans,
                        source_mac=_source_mac(options), mtu=mtu)


def decode_router_solicit(data: bytes) -> RouterSolicit:
    """Decode a Router Solicitation.

    Raises:
        NdError: wrong type or code, shorter than 8 octets, or a malformed option.
    """
    if len(data) < _RS_HEADER.size:
        raise NdError(f"Router Solicitation of {len(data)} octets, at least {_RS_HEADER.size} needed")
    msg_type, code, _cksum, _reserved = _RS_HEADER.unpack_from(data)
    if msg_type != ICMPV6_ROUTER_SOLICIT or code != 0:
        raise NdError(f"ICMPv6 type {msg_type} code {code} is not a Router Solicitation")
    return RouterSolicit(source_mac=_source_mac(_options(data, _RS_HEADER.size)))


def decode_message(data: bytes) -> RouterAdvert | RouterSolicit:
    """A Router Advertisement or Solicitation, by its type octet.

    Raises:
        NdError: another ICMPv6 type, or a malformed message.
    """
    if data and data[0] == ICMPV6_ROUTER_SOLICIT:
        return decode_router_solicit(data)
    return decode_router_advert(data)


def drop_reason(source: str | ipaddress.IPv6Address, hop_limit: int | None,
                message: RouterAdvert | RouterSolicit) -> str | None:
    """Why a received message must not be trusted (RFC 4861 §6.1.1, §6.1.2), or None.

    An advertisement must come from a link-local address with hop limit 255, so it was sent on
    this link and nobody forwarded it; a solicitation may come from the unspecified address but
    then carries no link-layer address. An unknown hop limit (no ancillary data) is refused.
    """
    if hop_limit != ND_HOP_LIMIT:
        return f"hop limit {hop_limit}, not {ND_HOP_LIMIT}: it was forwarded or forged"
    ip = ipaddress.IPv6Address(source.split("%", 1)[0] if isinstance(source, str) else source)
    if isinstance(message, RouterSolicit):
        if ip.is_unspecified and message.source_mac is not None:
            return "solicitation from :: with a source link-layer address option"
        return None
    if not ip.is_link_local:
        return f"advertisement from {ip}, not a link-local address"
    return None


def icmp6_filter(*passed: int) -> bytes:
    """The ``ICMP6_FILTER`` socket option value letting only ``passed`` ICMPv6 types through.

    Linux keeps 256 bits, one per type, a set bit blocking that type (``ICMP6_FILTER_SETBLOCKALL``
    then ``ICMP6_FILTER_SETPASS``).
    """
    words = [0xFFFFFFFF] * 8
    for icmp_type in passed:
        words[icmp_type >> 5] &= ~(1 << (icmp_type & 31)) & 0xFFFFFFFF
    return struct.pack("=8I", *words)


__all__ = ["ALL_NODES", "ALL_ROUTERS", "ICMPV6_ROUTER_ADVERT", "ICMPV6_ROUTER_SOLICIT", "ND_HOP_LIMIT", "NdError",
           "RouterAdvert", "RouterSolicit", "decode_message", "decode_router_advert", "decode_router_solicit",
           "drop_reason", "encode_router_advert", "encode_router_solicit", "icmp6_filter"]
