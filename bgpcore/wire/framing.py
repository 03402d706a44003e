"""Message framing (RFC 4271 §4.1): cut a TCP byte stream into whole BGP messages.

::

    0                   1                   2                   3
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                        Marker (16 octets of 0xff)             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Length               |      Type     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Length is 19..4096, or up to 65535 once extended messages are negotiated (RFC 8654).
"""
from __future__ import annotations

import struct
from typing import Final

from bgpcore.constants import HEADER_LEN, MARKER, MAX_MESSAGE_LEN, HeaderSubcode, MsgType
from bgpcore.errors import MessageHeaderError

# Smallest legal length per type; KEEPALIVE and ROUTE-REFRESH lengths are exact (RFC 4271 §6.1).
_MIN_LEN: Final[dict[int, int]] = {
    MsgType.OPEN: 29,
    MsgType.UPDATE: 23,
    MsgType.NOTIFICATION: 21,
    MsgType.KEEPALIVE: 19,
    MsgType.ROUTE_REFRESH: 23,
}
_EXACT_LEN: Final[dict[int, int]] = {MsgType.KEEPALIVE: 19}
_HEADER: Final = struct.Struct("!16sHB")


def check_header(marker: bytes, length: int, msg_type: int, max_len: int) -> None:
    """Raise the RFC 4271 §6.1 Message Header Error for a bad header, else return."""
    if marker != MARKER:
        raise MessageHeaderError(HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, reason="marker is not all ones")
    min_len = _MIN_LEN.get(msg_type)
    if min_len is None:
        raise MessageHeaderError(HeaderSubcode.BAD_MESSAGE_TYPE, bytes((msg_type,)), f"unknown message type {msg_type}")
    exact = _EXACT_LEN.get(msg_type)
    # OPEN is never longer than 4096 (RFC 8654 §4: extended length only after OPEN)
    limit = MAX_MESSAGE_LEN if msg_type == MsgType.OPEN else max_len
    if length < min_len or length > limit or (exact is not None and length != exact):
        raise MessageHeaderError(
            HeaderSubcode.BAD_MESSAGE_LENGTH, struct.pack("!H", length),
            f"bad length {length} for {MsgType(msg_type).name}",
        )


class MessageReader:
    """Accumulates received bytes and hands out whole messages.

    ``max_message_len`` may be raised to 65535 after extended messages are negotiated.
    """

    __slots__ = ("_buf", "_split", "max_message_len")

    def __init__(self, max_message_len: int = MAX_MESSAGE_LEN) -> None:
        from bgpcore.wire import accel  # accel imports this module; the fast splitter when built

        self._buf = bytearray()
        self._split = accel.split_messages
        self.max_message_len = max_message_len

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add ``data`` and return every whole message now available as (type, body).

        Raises:
            MessageHeaderError: the stream is not BGP (marker, length or type).
        """
        buf = self._buf
        buf += data
        messages, used = self._split(buf, self.max_message_len)
        if used:
            del buf[:used]
        return messages


def split_messages(buf: bytes | bytearray, max_len: int = MAX_MESSAGE_LEN) -> tuple[list[tuple[int, bytes]], int]:
    """Whole messages at the start of ``buf`` as (type, body), and how many bytes they took."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    end = len(buf)
    unpack = _HEADER.unpack_from
    while end - pos >= HEADER_LEN:
        marker, length, msg_type = unpack(buf, pos)
        if msg_type != MsgType.UPDATE or marker != MARKER or length < 23 or length > max_len:
            check_header(marker, length, msg_type, max_len)  # the full check, off the UPDATE fast path
        if end - pos < length:
            break
        out.append((msg_type, bytes(buf[pos + HEADER_LEN : pos + length])))
        pos += length
    return out, pos


def frame(msg_type: int, body: bytes) -> bytes:
    """A whole message: header plus ``body``."""
    return MARKER + struct.pack("!HB", HEADER_LEN + len(body), msg_type) + body
