"""Exceptions and RFC 7606 outcomes.

A ``ProtocolError`` carries the NOTIFICATION it becomes: the code is a class attribute, the
subcode and data are instance values. Only ``Session.receive_data`` turns one into a
NOTIFICATION. Softer RFC 7606 outcomes are not exceptions: they are ``ErrorAction`` values
carried in the decoded UPDATE.
"""
from __future__ import annotations

import struct
from enum import IntEnum
from typing import ClassVar

from bgpcore.constants import HEADER_LEN, MARKER, ErrorCode, MsgType, error_name


class ErrorAction(IntEnum):
    """RFC 7606 outcomes, ordered from mildest to strongest; decode keeps the strongest."""

    NONE = 0
    ATTRIBUTE_DISCARD = 1
    TREAT_AS_WITHDRAW = 2
    AFISAFI_DISABLE = 3
    SESSION_RESET = 4


class BgpError(Exception):
    """Root of every exception bgpcore raises on purpose."""


class UsageError(BgpError):
    """The caller misused the API or gave a bad configuration; never sent to a peer."""


class ConfigError(UsageError):
    """A configuration value is wrong; the message names the file, line and key when known."""


class FibError(BgpError):
    """The kernel refused a route; the session that produced it is untouched.

    ``extack`` is the kernel's own explanation (netlink extended ACK), when it gave one.
    """

    def __init__(self, errno: int, message: str, extack: str = "") -> None:
        super().__init__(message)
        self.errno = errno
        self.extack = extack


class ProtocolError(BgpError):
    """A protocol violation that ends the session with a NOTIFICATION (code, subcode, data)."""

    CODE: ClassVar[int] = 0

    def __init__(self, subcode: int = 0, data: bytes = b"", reason: str = "") -> None:
        self.subcode = int(subcode)
        self.data = bytes(data)
        self.reason = reason or error_name(self.CODE, self.subcode)
        super().__init__(self.reason)

    @property
    def code(self) -> int:
        return self.CODE

    def notification(self) -> bytes:
        """The NOTIFICATION message (header included) that reports this error."""
        length = HEADER_LEN + 2 + len(self.data)
        return MARKER + struct.pack("!HBBB", length, MsgType.NOTIFICATION, self.CODE, self.subcode) + self.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({error_name(self.CODE, self.subcode)}, data={self.data.hex()}, reason={self.reason!r})"


class MessageHeaderError(ProtocolError):
    CODE = ErrorCode.MESSAGE_HEADER


class OpenMessageError(ProtocolError):
    CODE = ErrorCode.OPEN_MESSAGE


class UpdateMessageError(ProtocolError):
    CODE = ErrorCode.UPDATE_MESSAGE


class HoldTimerExpired(ProtocolError):
    CODE = ErrorCode.HOLD_TIMER_EXPIRED


class FsmError(ProtocolError):
    CODE = ErrorCode.FSM


class Cease(ProtocolError):
    CODE = ErrorCode.CEASE


class RouteRefreshError(ProtocolError):
    CODE = ErrorCode.ROUTE_REFRESH_MESSAGE


PROTOCOL_ERRORS: dict[int, type[ProtocolError]] = {
    cls.CODE: cls
    for cls in (MessageHeaderError, OpenMessageError, UpdateMessageError, HoldTimerExpired, FsmError, Cease, RouteRefreshError)
}


def protocol_error(code: int, subcode: int, data: bytes = b"", reason: str = "") -> ProtocolError:
    """The ProtocolError subclass instance for a NOTIFICATION code received or to send."""
    cls = PROTOCOL_ERRORS.get(code)
    if cls is None:
        err = ProtocolError(subcode, data, reason or f"code {code} subcode {subcode}")
        err.CODE = code  # type: ignore[misc]
        return err
    return cls(subcode, data, reason)


class Malformed(Exception):
    """Inside the codec: one attribute is malformed; ``action`` overrides its RFC 7606 outcome.

    Never leaves the codec: the attribute table turns it into an ``ErrorAction`` or, for a
    session reset, an ``UpdateMessageError``.
    """

    def __init__(self, reason: str, action: ErrorAction | None = None, subcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.subcode = subcode
