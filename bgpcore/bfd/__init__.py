"""Bidirectional Forwarding Detection: asynchronous mode, single hop (RFC 5880, RFC 5881).

``packet`` is the Control packet codec, ``fsm`` the state table, ``session`` the sans-IO
``BfdSession`` and ``transport`` the asyncio ``BfdEndpoint`` that owns the sockets.
"""
from bgpcore.bfd.fsm import TRANSITIONS, Input
from bgpcore.bfd.packet import BfdPacketError, ControlPacket, Diag, State, decode_control, encode_control
from bgpcore.bfd.session import BfdSession, BfdSessionStatus, BfdStateChanged
from bgpcore.bfd.transport import (
    BFD_CONTROL_PORT,
    BfdEndpoint,
    BfdEventStream,
    BfdPeerEvent,
    BfdPeerHandle,
    BfdPeerStatus,
    PeerKey,
)

BfdState = State
"""``State`` under the name the top-level ``bgpcore`` package exports (the BGP FSM has a ``State`` too)."""

__all__ = [
    "BFD_CONTROL_PORT", "BfdState", "BfdEndpoint", "BfdEventStream", "BfdPacketError", "BfdPeerEvent", "BfdPeerHandle",
    "BfdPeerStatus", "BfdSession", "BfdSessionStatus", "BfdStateChanged", "ControlPacket", "Diag", "Input",
    "PeerKey", "State", "TRANSITIONS", "decode_control", "encode_control",
]
