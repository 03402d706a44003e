"""What a session reports (events, past tense) and what it is told to do (commands, imperative).

Events come out of ``Session.receive_data``, ``Session.send`` and ``Session.handle_timer``;
commands go into ``Session.send``. They are plain values: the transport acts on
``ConnectRequested``/``DisconnectRequested``, everything else is for the speaker and the RIB.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bgpcore.constants import CeaseSubcode, RefreshSubtype
from bgpcore.wire.types import Update

if TYPE_CHECKING:
    from bgpcore.session.fsm import State
    from bgpcore.session.negotiate import SessionParams



# ---------------------------------------------------------------- events (past tense)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of everything a session reports."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """The FSM moved from ``old`` to ``new`` (RFC 4271 §8.2.2)."""

    old: State
    new: State


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRequested(Event):
    """The session wants an outgoing TCP connection to the peer (Connect state)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectRequested(Event):
    """The session is done with its TCP connection: send ``data_to_send()`` then close it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenReceived(Event):
    """The peer's OPEN passed every check; collision detection may now run (RFC 4271 §6.8)."""

    open: Any
    """The decoded ``bgpcore.wire.open.Open``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEstablished(Event):
    """The session reached Established with these negotiated parameters."""

    params: SessionParams


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDown(Event):
    """An Established session (or one in OpenConfirm) ended; the peer's routes are gone.

    Attributes:
        reason: one line saying why, for logs and ``show`` output.
        sent: the NOTIFICATION we sent as (code, subcode), if any.
        received: the NOTIFICATION the peer sent as (code, subcode), if any.
        was_established: the session had reached Established, so routes must be flushed.
    """

    reason: str
    sent: tuple[int, int] | None = None
    received: tuple[int, int] | None = None
    was_established: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateReceived(Event):
    """A decoded UPDATE; RFC 7606 outcomes are already applied (see ``update.action``)."""

    update: Update


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationReceived(Event):
    """The peer sent a NOTIFICATION; ``notification`` is the decoded message."""

    notification: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRefreshReceived(Event):
    """The peer asks us to send our routes of ``(afi, safi)`` again (RFC 2918, RFC 7313)."""

    afi: int
    safi: int
    subtype: int = RefreshSubtype.NORMAL


# ---------------------------------------------------------------- commands (imperative)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of everything ``Session.send`` accepts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Start(Command):
    """Administrative start (RFC 4271 events 1 and 4); ``passive`` waits for the peer to connect."""

    passive: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop(Command):
    """Administrative stop: Cease with an RFC 8203/9003 shutdown message; no automatic restart."""

    message: str = ""
    subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
    data: bytes | None = None
    """NOTIFICATION data instead of the shutdown message (Cease/1 carries AFI, SAFI, limit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reset(Command):
    """Hard reset: Cease/Administrative Reset, then start again (``clear bgp``)."""

    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendUpdates(Command):
    """Send encoded UPDATEs (and BoRR/EoRR ROUTE-REFRESH markers), headers included, on an Established session."""

    messages: tuple[bytes, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRefresh(Command):
    """Soft reset inbound: ask the peer for its routes of ``(afi, safi)`` again (ROUTE-REFRESH)."""

    afi: int
    safi: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionMade(Command):
    """The transport has a TCP connection for this session (RFC 4271 events 16/17)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFailed(Command):
    """The TCP connection failed or was closed by the peer (RFC 4271 event 18)."""

    reason: str = "connection closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DumpCollision(Command):
    """This connection lost collision resolution (RFC 4271 §6.8, event 23)."""
