"""BMP messages (RFC 7854; Loc-RIB instance RFC 9069; Adj-RIB-Out flag RFC 8671): bytes only.

Every message starts with the common header, and all but Initiation and Termination with the
per-peer header::

    version (1) = 3 | message length (4) | message type (1)
    peer type (1) | peer flags (1) | peer distinguisher (8) | peer address (16)
    peer AS (4) | peer BGP ID (4) | timestamp seconds (4) | timestamp microseconds (4)

Encoders are pure functions of values (``PeerHeader``, TLV lists, BGP message bytes); the
decoder splits a byte stream back into ``BmpMessage`` values for tests and tools.
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import Final, NamedTuple

BMP_VERSION: Final = 3
_COMMON: Final = struct.Struct("!BIB")
_PEER: Final = struct.Struct("!BB8s16sI4sII")
_TLV: Final = struct.Struct("!HH")
COMMON_HEADER_LEN: Final = _COMMON.size
PEER_HEADER_LEN: Final = _PEER.size


class MessageType(IntEnum):
    ROUTE_MONITORING = 0
    STATISTICS_REPORT = 1
    PEER_DOWN = 2
    PEER_UP = 3
    INITIATION = 4
    TERMINATION = 5
    ROUTE_MIRRORING = 6


class PeerType(IntEnum):
    GLOBAL = 0
    RD_INSTANCE = 1
    LOCAL = 2
    LOC_RIB = 3  # RFC 9069


class PeerFlag(IntEnum):
    IPV6 = 0x80  # V
    POST_POLICY = 0x40  # L
    AS2 = 0x20  # A: the BGP messages carry 2-octet AS numbers
    ADJ_RIB_OUT = 0x10  # O, RFC 8671
    LOC_RIB_FILTERED = 0x80  # F, RFC 9069 (Loc-RIB peer type only)


class InfoTlv(IntEnum):
    """Initiation, Peer Up and Termination information TLV types."""

    STRING = 0
    SYS_DESCR = 1
    SYS_NAME = 2
    VRF_TABLE_NAME = 3  # RFC 9069, Peer Up
    TERMINATION_REASON = 1  # Termination only


class TerminationReason(IntEnum):
    ADMIN_CLOSE = 0
    UNSPECIFIED = 1
    OUT_OF_RESOURCES = 2
    REDUNDANT_CONNECTION = 3
    PERMANENTLY_CLOSED = 4


class PeerDownReason(IntEnum):
    LOCAL_NOTIFICATION = 1
    LOCAL_NO_NOTIFICATION = 2
    REMOTE_NOTIFICATION = 3
    REMOTE_NO_DATA = 4
    DECONFIGURED = 5
    LOC_RIB_CLOSED = 6  # RFC 9069


class StatType(IntEnum):
    REJECTED_PREFIXES = 0
    ADJ_RIB_IN_ROUTES = 7  # 64-bit gauge
    LOC_RIB_ROUTES = 8  # 64-bit gauge
    PER_FAMILY_ADJ_RIB_IN_ROUTES = 9  # AFI (2), SAFI (1), 64-bit gauge
    PER_FAMILY_LOC_RIB_ROUTES = 10


class PeerHeader(NamedTuple):
    """The per-peer header; ``address`` is text ("192.0.2.1", "2001:db8::1", "0.0.0.0")."""

    peer_type: int
    flags: int
    address: str
    asn: int
    bgp_id: str
    timestamp: float
    distinguisher: bytes = bytes(8)


class BmpMessage(NamedTuple):
    """One decoded message: its type, per-peer header (None for Initiation/Termination) and
    the rest of the body after that header."""

    type: int
    peer: PeerHeader | None
    body: bytes


Tlv = tuple[int, bytes]


def _address16(address: str) -> bytes:
    ip = ipaddress.ip_address(address.partition("%")[0])
    return ip.packed if ip.version == 6 else bytes(12) + ip.packed


def _message(msg_type: int, body: bytes) -> bytes:
    return _COMMON.pack(BMP_VERSION, COMMON_HEADER_LEN + len(body), msg_type) + body


def encode_tlvs(tlvs: Sequence[Tlv]) -> bytes:
    return b"".join(_TLV.pack(kind, len(value)) + value for kind, value in tlvs)


def encode_peer_header(peer: PeerHeader) -> bytes:
    seconds = int(peer.timestamp)
    micros = min(999_999, int(round((peer.timestamp - seconds) * 1e6)))
    return _PEER.pack(peer.peer_type, peer.flags, peer.distinguisher, _address16(peer.address), peer.asn,
                      ipaddress.IPv4Address(peer.bgp_id).packed, seconds, micros)


def encode_initiation(sys_name: str, sys_descr: str, strings: tuple[str, ...] = ()) -> bytes:
    """Initiation (RFC 7854 §4.3): sysDescr and sysName are required."""
    tlvs = [(InfoTlv.SYS_DESCR, sys_descr.encode()), (InfoTlv.SYS_NAME, sys_name.encode())]
    tlvs += [(InfoTlv.STRING, s.encode()) for s in strings]
    return _message(MessageType.INITIATION, encode_tlvs(tlvs))


def encode_termination(reason: int = TerminationReason.ADMIN_CLOSE, text: str = "") -> bytes:
    tlvs: list[Tlv] = [(InfoTlv.STRING, text.encode())] if text else []
    tlvs.append((InfoTlv.TERMINATION_REASON, struct.pack("!H", reason)))
    return _message(MessageType.TERMINATION, encode_tlvs(tlvs))


def encode_peer_up(peer: PeerHeader, local_address: str, local_port: int, remote_port: int, sent_open: bytes,
                   received_open: bytes, tlvs: Sequence[Tlv] = ()) -> bytes:
    """Peer Up (RFC 7854 §4.10): the two OPEN messages are whole BGP messages, header included."""
    body = (encode_peer_header(peer) + _address16(local_address) + struct.pack("!HH", local_port, remote_port)
            + sent_open + received_open + encode_tlvs(tlvs))
    return _message(MessageType.PEER_UP, body)


def encode_peer_down(peer: PeerHeader, reason: int, data: bytes = b"") -> bytes:
    """Peer Down (RFC 7854 §4.9); ``data`` is the NOTIFICATION PDU (reasons 1, 3) or the
    2-octet FSM event code (reason 2)."""
    return _message(MessageType.PEER_DOWN, encode_peer_header(peer) + bytes((reason,)) + data)


def encode_route_monitoring(peer: PeerHeader, update: bytes) -> bytes:
    """Route Monitoring (RFC 7854 §4.6): one whole UPDATE message."""
    return _message(MessageType.ROUTE_MONITORING, encode_peer_header(peer) + update)


def encode_statistics(peer: PeerHeader, gauges: Sequence[tuple[int, int]],
                      per_family: Sequence[tuple[int, tuple[int, int], int]] = ()) -> bytes:
    """Statistics Report (RFC 7854 §4.8): ``gauges`` are (type, value) 64-bit gauges and
    ``per_family`` (type, (AFI, SAFI), value)."""
    tlvs = [(kind, struct.pack("!Q", value)) for kind, value in gauges]
    tlvs += [(kind, struct.pack("!HBQ", afi, safi, value)) for kind, (afi, safi), value in per_family]
    return _message(MessageType.STATISTICS_REPORT, encode_peer_header(peer) + struct.pack("!I", len(tlvs))
                    + encode_tlvs(tlvs))


# ---- decoding (tests, tools) ------------------------------------------------------------------


class BmpError(ValueError):
    """Bytes that are not a BMP v3 message."""


def decode_peer_header(data: bytes) -> PeerHeader:
    ptype, flags, rd, addr, asn, bgp_id, sec, usec = _PEER.unpack_from(data)
    ip = ipaddress.IPv6Address(addr)
    address = str(ip) if flags & PeerFlag.IPV6 and ptype != PeerType.LOC_RIB else str(ipaddress.IPv4Address(addr[12:]))
    return PeerHeader(ptype, flags, address, asn, str(ipaddress.IPv4Address(bgp_id)), sec + usec / 1e6, rd)


def split_messages(data: bytes) -> tuple[list[BmpMessage], int]:
    """The complete messages at the start of ``data`` and how many octets they used."""
    out: list[BmpMessage] = []
    pos = 0
    while len(data) - pos >= COMMON_HEADER_LEN:
        version, length, msg_type = _COMMON.unpack_from(data, pos)
        if version != BMP_VERSION or length < COMMON_HEADER_LEN:
            raise BmpError(f"at octet {pos}: version {version}, length {length}")
        if len(data) - pos < length:
            break
        body = bytes(data[pos + COMMON_HEADER_LEN:pos + length])
        peer = None
        if msg_type not in (MessageType.INITIATION, MessageType.TERMINATION):
            if len(body) < PEER_HEADER_LEN:
                raise BmpError(f"at octet {pos}: message type {msg_type} without a per-peer header")
            peer, body = decode_peer_header(body), body[PEER_HEADER_LEN:]
        out.append(BmpMessage(msg_type, peer, body))
        pos += length
    return out, pos


def decode_tlvs(data: bytes) -> list[Tlv]:
    out: list[Tlv] = []
    pos = 0
    while pos + _TLV.size <= len(data):
        kind, length = _TLV.unpack_from(data, pos)
        out.append((kind, data[pos + 4:pos + 4 + length]))
        pos += 4 + length
    return out


__all__ = [
    "BMP_VERSION", "BmpError", "BmpMessage", "InfoTlv", "MessageType", "PeerDownReason", "PeerFlag", "PeerHeader",
    "PeerType", "StatType", "TerminationReason", "decode_peer_header", "decode_tlvs", "encode_initiation",
    "encode_peer_down", "encode_peer_header", "encode_peer_up", "encode_route_monitoring", "encode_statistics",
    "encode_termination", "encode_tlvs", "split_messages",
]
