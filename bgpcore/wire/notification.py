"""NOTIFICATION message (RFC 4271 §4.5)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | Error code    | Error subcode |   Data (variable)             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Two data layouts are interpreted: the Shutdown Communication of Cease/Administrative
Shutdown and Reset (RFC 9003 §2: ``Length (1) | UTF-8 message``), and Cease/Hard Reset
(RFC 8538 §3), whose data is a whole inner ``code | subcode | data`` that says why.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from bgpcore.constants import HEADER_LEN, MARKER, CeaseSubcode, ErrorCode, HeaderSubcode, MsgType, error_name
from bgpcore.errors import MessageHeaderError, ProtocolError

MAX_SHUTDOWN_OCTETS: Final = 255
_SHUTDOWN_SUBCODES: Final = (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)


@dataclass(frozen=True, slots=True)
class Notification:
    """A NOTIFICATION sent or received."""

    code: int
    subcode: int
    data: bytes = b""

    @property
    def name(self) -> str:
        """``CODE/SUBCODE`` by IANA name, e.g. ``CEASE/ADMINISTRATIVE_SHUTDOWN``."""
        return error_name(self.code, self.subcode)

    @property
    def hard_reset(self) -> bool:
        """Cease/Hard Reset (RFC 8538): graceful-restart state must be dropped too."""
        return self.code == ErrorCode.CEASE and self.subcode == CeaseSubcode.HARD_RESET

    @property
    def cause(self) -> Notification:
        """The NOTIFICATION a Hard Reset wraps (RFC 8538 §3), else this one.

        A Hard Reset whose data is shorter than code + subcode is its own cause.
        """
        if self.hard_reset and len(self.data) >= 2:
            return Notification(self.data[0], self.data[1], self.data[2:])
        return self

    @property
    def shutdown_message(self) -> str | None:
        """The RFC 9003 Shutdown Communication, looked up through a Hard Reset wrapper.

        None when the cause is not Cease/Administrative Shutdown or Reset, carries no
        data, or its length octet runs past the data. Invalid UTF-8 is replaced.
        """
        cause = self.cause
        if cause.code != ErrorCode.CEASE or cause.subcode not in _SHUTDOWN_SUBCODES or not cause.data:
            return None
        length = cause.data[0]
        if 1 + length > len(cause.data):
            return None
        return cause.data[1:1 + length].decode("utf-8", "replace")

    @classmethod
    def from_error(cls, error: ProtocolError) -> Notification:
        """The NOTIFICATION that reports ``error`` to the peer."""
        return cls(error.code, error.subcode, error.data)


def shutdown_data(message: str) -> bytes:
    """RFC 9003 data for Cease/Administrative Shutdown or Reset: ``length | UTF-8``.

    Text beyond 255 octets is cut at a character boundary, never inside one.
    """
    raw = message.encode("utf-8")[:MAX_SHUTDOWN_OCTETS].decode("utf-8", "ignore").encode("utf-8")
    return bytes((len(raw),)) + raw


def encode_notification(n: Notification) -> bytes:
    """The whole NOTIFICATION message, header included."""
    return MARKER + struct.pack("!HBBB", HEADER_LEN + 2 + len(n.data), MsgType.NOTIFICATION, n.code, n.subcode) + n.data


def decode_notification(body: bytes | memoryview) -> Notification:
    """Decode a NOTIFICATION body (message without header).

    Raises:
        MessageHeaderError: body shorter than code + subcode (Bad Message Length).
    """
    body = bytes(body)
    if len(body) < 2:
        raise MessageHeaderError(HeaderSubcode.BAD_MESSAGE_LENGTH, struct.pack("!H", HEADER_LEN + len(body)),
                                 reason=f"NOTIFICATION of {HEADER_LEN + len(body)} octets")
    return Notification(body[0], body[1], body[2:])
