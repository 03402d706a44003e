"""One entry point from a framed message to its value and back (RFC 4271 §4.1).

Every message starts with the common header; framing strips it and hands over
``(type, body)``::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           Marker (16)                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Length (2)           |    Type (1)   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A KEEPALIVE is the header alone (RFC 4271 §4.4). UPDATEs are decoded by whichever codec
``wire.accel`` selected.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Union

from bgpcore.constants import HEADER_LEN, MARKER, HeaderSubcode, MsgType
from bgpcore.errors import MessageHeaderError
from bgpcore.wire.context import CodecContext
from bgpcore.wire.notification import Notification, decode_notification, encode_notification
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.refresh import RouteRefresh, decode_refresh, encode_refresh
from bgpcore.wire.accel import decode_update
from bgpcore.wire.types import Update
from bgpcore.wire.update import encode_update

KEEPALIVE: Final = MARKER + struct.pack("!HB", HEADER_LEN, MsgType.KEEPALIVE)


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A KEEPALIVE: no content beyond its type."""


Message = Union[Open, Update, Notification, Keepalive, RouteRefresh]


def decode_message(msg_type: int, body: bytes | memoryview, ctx: CodecContext) -> Message:
    """Decode one framed message body by its header type.

    Raises:
        MessageHeaderError: unknown type (Bad Message Type, data = the type octet) or a
            KEEPALIVE with a body (Bad Message Length, data = the length field).
        ProtocolError: whatever the type's own decoder raises.
    """
    if msg_type == MsgType.UPDATE:
        return decode_update(body, ctx)
    if msg_type == MsgType.KEEPALIVE:
        if len(body):
            raise MessageHeaderError(HeaderSubcode.BAD_MESSAGE_LENGTH, struct.pack("!H", HEADER_LEN + len(body)),
                                     reason=f"KEEPALIVE of {HEADER_LEN + len(body)} octets")
        return Keepalive()
    if msg_type == MsgType.OPEN:
        return decode_open(body)
    if msg_type == MsgType.NOTIFICATION:
        return decode_notification(body)
    if msg_type == MsgType.ROUTE_REFRESH:
        return decode_refresh(body)
    raise MessageHeaderError(HeaderSubcode.BAD_MESSAGE_TYPE, bytes((msg_type,)), reason=f"message type {msg_type}")


def encode_message(msg: Message, ctx: CodecContext) -> bytes:
    """The whole message (header included) for any message value."""
    if isinstance(msg, Keepalive):
        return KEEPALIVE
    if isinstance(msg, Open):
        return encode_open(msg)
    if isinstance(msg, Notification):
        return encode_notification(msg)
    if isinstance(msg, RouteRefresh):
        return encode_refresh(msg)
    return encode_update(msg, ctx)
