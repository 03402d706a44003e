"""Capabilities Advertisement (RFC 5492): the value of one Capabilities optional parameter.

The parameter value is a run of capability TLVs::

    +------------------------------+
    | Capability Code (1 octet)    |
    +------------------------------+
    | Capability Length (1 octet)  |
    +------------------------------+
    | Capability Value (variable)  |
    +------------------------------+

Each known code decodes to a small frozen value; unknown codes are kept raw so they can be
logged and sent back unchanged.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Final, Iterable, Union

from bgpcore.constants import AddPathMode, CapCode, OpenSubcode
from bgpcore.errors import OpenMessageError

Entry = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Multiprotocol:
    """RFC 4760 §8: ``AFI (2) | Reserved (1) | SAFI (1)``."""

    afi: int
    safi: int


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """RFC 2918 §3: empty value."""


@dataclass(frozen=True, slots=True)
class ExtendedNextHop:
    """RFC 8950 §3: repeated ``NLRI AFI (2) | NLRI SAFI (2) | Next Hop AFI (2)``."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class ExtendedMessage:
    """RFC 8654 §3: empty value; messages up to 65535 octets."""


@dataclass(frozen=True, slots=True)
class GracefulRestart:
    """RFC 4724 §3::

        | Restart Flags (4 bits) | Restart Time in seconds (12 bits) |
        | AFI (2) | SAFI (1) | Flags for Address Family (1) |  ... repeated

    ``restart_flags`` holds the four flag bits (R = 8, N = 4, RFC 8538).
    """

    restart_flags: int
    restart_time_s: int
    families: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class FourOctetAs:
    """RFC 6793 §3: the speaker's 4-octet AS number."""

    asn: int


@dataclass(frozen=True, slots=True)
class AddPath:
    """RFC 7911 §4: repeated ``AFI (2) | SAFI (1) | Send/Receive (1)`` (an ``AddPathMode``)."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class EnhancedRouteRefresh:
    """RFC 7313 §3.1: empty value."""


@dataclass(frozen=True, slots=True)
class Fqdn:
    """draft-walton-bgp-hostname-capability: ``Len (1) | Hostname | Len (1) | Domain``."""

    hostname: str
    domain: str = ""


@dataclass(frozen=True, slots=True)
class UnknownCapability:
    """A code bgpcore does not interpret, kept byte for byte."""

    code: int
    value: bytes


Capability = Union[
    Multiprotocol, RouteRefresh, ExtendedNextHop, ExtendedMessage, GracefulRestart,
    FourOctetAs, AddPath, EnhancedRouteRefresh, Fqdn, UnknownCapability,
]


def _malformed(code: int, why: str) -> OpenMessageError:
    return OpenMessageError(OpenSubcode.UNSPECIFIC, reason=f"capability {code}: {why}")


def _fixed(code: int, value: bytes, size: int) -> None:
    if len(value) != size:
        raise _malformed(code, f"length {len(value)}, expected {size}")


def _records(code: int, value: bytes, fmt: str) -> tuple[Entry, ...]:
    size = struct.calcsize(fmt)
    if not value or len(value) % size:
        raise _malformed(code, f"length {len(value)} is not a positive multiple of {size}")
    return tuple(struct.iter_unpack(fmt, value))


def _decode_multiprotocol(value: bytes) -> Capability:
    _fixed(CapCode.MULTIPROTOCOL, value, 4)
    afi, _reserved, safi = struct.unpack("!HBB", value)
    return Multiprotocol(afi, safi)


def _decode_empty(cls: type[RouteRefresh | ExtendedMessage | EnhancedRouteRefresh], code: int) -> Callable[[bytes], Capability]:
    def decode(value: bytes) -> Capability:
        _fixed(code, value, 0)
        return cls()
    return decode


def _decode_extended_next_hop(value: bytes) -> Capability:
    return ExtendedNextHop(_records(CapCode.EXTENDED_NEXT_HOP, value, "!HHH"))


def _decode_graceful_restart(value: bytes) -> Capability:
    if len(value) < 2 or (len(value) - 2) % 4:
        raise _malformed(CapCode.GRACEFUL_RESTART, f"length {len(value)} is not 2 + 4n")
    (head,) = struct.unpack_from("!H", value)
    families = tuple(struct.iter_unpack("!HBB", value[2:]))
    return GracefulRestart(head >> 12, head & 0x0FFF, families)


def _decode_four_octet_as(value: bytes) -> Capability:
    _fixed(CapCode.FOUR_OCTET_AS, value, 4)
    return FourOctetAs(struct.unpack("!I", value)[0])


def _decode_add_path(value: bytes) -> Capability:
    entries = _records(CapCode.ADD_PATH, value, "!HBB")
    return AddPath(tuple((afi, safi, AddPathMode(mode)) for afi, safi, mode in entries))


def _decode_fqdn(value: bytes) -> Capability:
    if not value or 1 + value[0] > len(value):
        raise _malformed(CapCode.FQDN, "hostname runs past the value")
    end = 1 + value[0]
    hostname = value[1:end].decode("utf-8", "surrogateescape")
    if end == len(value):
        return Fqdn(hostname, "")
    if end + 1 + value[end] != len(value):
        raise _malformed(CapCode.FQDN, "domain length does not match the value")
    return Fqdn(hostname, value[end + 1:].decode("utf-8", "surrogateescape"))


_DECODERS: Final[dict[int, Callable[[bytes], Capability]]] = {
    CapCode.MULTIPROTOCOL: _decode_multiprotocol,
    CapCode.ROUTE_REFRESH: _decode_empty(RouteRefresh, CapCode.ROUTE_REFRESH),
    CapCode.EXTENDED_NEXT_HOP: _decode_extended_next_hop,
    CapCode.EXTENDED_MESSAGE: _decode_empty(ExtendedMessage, CapCode.EXTENDED_MESSAGE),
    CapCode.GRACEFUL_RESTART: _decode_graceful_restart,
    CapCode.FOUR_OCTET_AS: _decode_four_octet_as,
    CapCode.ADD_PATH: _decode_add_path,
    CapCode.ENHANCED_ROUTE_REFRESH: _decode_empty(EnhancedRouteRefresh, CapCode.ENHANCED_ROUTE_REFRESH),
    CapCode.FQDN: _decode_fqdn,
}


def decode_capabilities(data: bytes | memoryview) -> list[Capability]:
    """Decode the value of one Capabilities optional parameter (RFC 5492 §4).

    Raises:
        OpenMessageError: (subcode 0) a TLV runs past the parameter or a known
            capability has a value of the wrong shape.
    """
    data = bytes(data)
    caps: list[Capability] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise OpenMessageError(OpenSubcode.UNSPECIFIC, reason="capability header truncated")
        code, length = data[pos], data[pos + 1]
        value = data[pos + 2:pos + 2 + length]
        if len(value) != length:
            raise _malformed(code, f"length {length} runs past the parameter")
        decoder = _DECODERS.get(code)
        caps.append(decoder(value) if decoder else UnknownCapability(code, value))
        pos += 2 + length
    return caps


def _value(cap: Capability) -> tuple[int, bytes]:
    if isinstance(cap, Multiprotocol):
        return CapCode.MULTIPROTOCOL, struct.pack("!HBB", cap.afi, 0, cap.safi)
    if isinstance(cap, RouteRefresh):
        return CapCode.ROUTE_REFRESH, b""
    if isinstance(cap, ExtendedNextHop):
        return CapCode.EXTENDED_NEXT_HOP, b"".join(struct.pack("!HHH", *e) for e in cap.entries)
    if isinstance(cap, ExtendedMessage):
        return CapCode.EXTENDED_MESSAGE, b""
    if isinstance(cap, GracefulRestart):
        head = struct.pack("!H", (cap.restart_flags & 0xF) << 12 | (cap.restart_time_s & 0x0FFF))
        return CapCode.GRACEFUL_RESTART, head + b"".join(struct.pack("!HBB", *f) for f in cap.families)
    if isinstance(cap, FourOctetAs):
        return CapCode.FOUR_OCTET_AS, struct.pack("!I", cap.asn)
    if isinstance(cap, AddPath):
        return CapCode.ADD_PATH, b"".join(struct.pack("!HBB", a, s, int(m)) for a, s, m in cap.entries)
    if isinstance(cap, EnhancedRouteRefresh):
        return CapCode.ENHANCED_ROUTE_REFRESH, b""
    if isinstance(cap, Fqdn):
        host = cap.hostname.encode("utf-8", "surrogateescape")[:255]
        domain = cap.domain.encode("utf-8", "surrogateescape")[:255]
        return CapCode.FQDN, bytes((len(host),)) + host + bytes((len(domain),)) + domain
    return cap.code, cap.value


def encode_capability(cap: Capability) -> bytes:
    """One capability TLV: ``code | length | value``."""
    code, value = _value(cap)
    return bytes((code, len(value))) + value


def encode_capabilities(caps: Iterable[Capability]) -> bytes:
    """The value of one Capabilities optional parameter holding ``caps`` in order."""
    return b"".join(encode_capability(c) for c in caps)

