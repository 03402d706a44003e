"""BFD Control packets (RFC 5880 §4.1): a frozen value, its encoder and a checking decoder.

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       My Discriminator                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      Your Discriminator                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Desired Min TX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Required Min RX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Required Min Echo RX Interval                 |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Intervals are in microseconds. Authentication is not supported, so a packet with the A bit is
refused like any other packet that fails the RFC 5880 §6.8.6 checks about the packet itself.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from bgpcore.errors import BgpError

BFD_VERSION: Final = 1
CONTROL_LEN: Final = 24
"""Length of a Control packet without an authentication section."""
AUTH_MIN_LEN: Final = 26
"""Shortest Control packet that may carry the A bit (§6.8.6)."""
_HEADER: Final = struct.Struct("!BBBBIIIII")
_MAX_U32: Final = 0xFFFFFFFF

_POLL: Final = 0x20
_FINAL: Final = 0x10
_CPI: Final = 0x08
_AUTH: Final = 0x04
_DEMAND: Final = 0x02
_MULTIPOINT: Final = 0x01


class State(IntEnum):
    """Session states of RFC 5880 §4.1 (the Sta field)."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diag(IntEnum):
    """Diagnostic codes of RFC 5880 §4.1: why the sender's session last changed state."""

    NONE = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


class BfdPacketError(BgpError):
    """A received Control packet that RFC 5880 §6.8.6 says to discard; the message is one line."""


def _diag(code: int) -> Diag | int:
    try:
        return Diag(code)
    except ValueError:
        return code  # reserved codes (9-31) are kept as numbers, not refused


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPacket:
    """One BFD Control packet (RFC 5880 §4.1) without authentication section."""

    state: State
    my_discriminator: int
    your_discriminator: int = 0
    diag: Diag | int = Diag.NONE
    detect_mult: int = 3
    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    authentication_present: bool = False
    demand: bool = False
    multipoint: bool = False
    version: int = BFD_VERSION
    length: int = CONTROL_LEN


def encode_control(pkt: ControlPacket) -> bytes:
    """The 24 bytes of ``pkt`` (RFC 5880 §4.1); ``pkt.length`` is written as given.

    Raises:
        ValueError: a field does not fit its width.
    """
    flags = ((_POLL if pkt.poll else 0) | (_FINAL if pkt.final else 0)
             | (_CPI if pkt.control_plane_independent else 0) | (_AUTH if pkt.authentication_present else 0)
             | (_DEMAND if pkt.demand else 0) | (_MULTIPOINT if pkt.multipoint else 0))
    if not (0 <= pkt.version <= 7 and 0 <= int(pkt.diag) <= 31 and 0 <= pkt.detect_mult <= 255
            and 0 <= pkt.length <= 255):
        raise ValueError(f"BFD field out of range in {pkt!r}")
    try:
        return _HEADER.pack((pkt.version << 5) | int(pkt.diag), (int(pkt.state) << 6) | flags, pkt.detect_mult,
                            pkt.length, pkt.my_discriminator, pkt.your_discriminator, pkt.desired_min_tx_us,
                            pkt.required_min_rx_us, pkt.required_min_echo_rx_us)
    except struct.error as exc:
        raise ValueError(f"BFD field out of range: {exc}") from None


def decode_control(data: bytes | bytearray | memoryview) -> ControlPacket:
    """Decode a Control packet and run the §6.8.6 checks that concern the packet alone.

    Checks, in the RFC's order: version 1; Length at least 24 (26 with the A bit) and no more
    than the bytes received; Detect Mult non-zero; Multipoint clear; My Discriminator non-zero;
    Your Discriminator zero only in state Down or AdminDown; and, since no authentication is
    configured, the A bit clear. Matching Your Discriminator to a session is the caller's part.

    Raises:
        BfdPacketError: the packet must be discarded; the message says why.
    """
    if len(data) < CONTROL_LEN:
        raise BfdPacketError(f"packet of {len(data)} bytes is shorter than {CONTROL_LEN}")
    vers_diag, sta_flags, mult, length, my_d, your_d, tx, rx, echo = _HEADER.unpack_from(data)
    version = vers_diag >> 5
    if version != BFD_VERSION:
        raise BfdPacketError(f"version {version}, not {BFD_VERSION}")
    auth = bool(sta_flags & _AUTH)
    if length < (AUTH_MIN_LEN if auth else CONTROL_LEN):
        raise BfdPacketError(f"length field {length} too short")
    if length > len(data):
        raise BfdPacketError(f"length field {length} exceeds the {len(data)} bytes received")
    if mult == 0:
        raise BfdPacketError("detect multiplier is zero")
    if sta_flags & _MULTIPOINT:
        raise BfdPacketError("multipoint bit set")
    if my_d == 0:
        raise BfdPacketError("my discriminator is zero")
    state = State(sta_flags >> 6)
    if your_d == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise BfdPacketError(f"your discriminator is zero in state {state.name}")
    if auth:
        raise BfdPacketError("authentication present but not configured")
    return ControlPacket(
        version=version, diag=_diag(vers_diag & 0x1F), state=state, poll=bool(sta_flags & _POLL),
        final=bool(sta_flags & _FINAL), control_plane_independent=bool(sta_flags & _CPI),
        authentication_present=auth, demand=bool(sta_flags & _DEMAND), multipoint=False, detect_mult=mult,
        length=length, my_discriminator=my_d, your_discriminator=your_d, desired_min_tx_us=tx,
        required_min_rx_us=rx, required_min_echo_rx_us=echo)
