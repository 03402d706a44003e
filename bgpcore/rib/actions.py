"""What the RIB asks the speaker to do to a session: ``Rib.take_actions()`` returns these.

The RIB has no sockets: when a peer breaks a rule the RIB enforces (maximum-prefix), it
records a command here, and the speaker carries it out (sends the NOTIFICATION, closes
the session, re-establishes it later or not).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from bgpcore.route import PeerId


@dataclass(frozen=True, slots=True, kw_only=True)
class CeasePeer:
    """Close the session with a Cease NOTIFICATION (RFC 4486).

    Attributes:
        peer_id: the peer, as given to ``Rib.peer_up``.
        subcode: the Cease subcode (``CeaseSubcode.MAXIMUM_PREFIXES_REACHED`` for maximum-prefix).
        data: the NOTIFICATION data (maximum-prefix: AFI(2) SAFI(1) limit(4), RFC 4486 §4).
        reason: one line for the log and ``show`` commands.
        restart_after_s: re-establish the session after this many seconds; None: stay
            down until an operator clears it.
    """

    peer_id: PeerId
    subcode: int
    data: bytes
    reason: str
    restart_after_s: float | None


PeerAction: TypeAlias = CeasePeer
"""Every command ``Rib.take_actions`` can return (one kind so far)."""
