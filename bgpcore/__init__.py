"""bgpcore: a BGP-4 speaker library.

The names below are the public API. They are loaded on first use, so importing one layer
(``bgpcore.wire`` for the codec alone, say) does not pull in asyncio, netlink or worker
processes.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # errors and wire values
    "BgpError": "bgpcore.errors", "ProtocolError": "bgpcore.errors", "UsageError": "bgpcore.errors",
    "ConfigError": "bgpcore.errors", "FibError": "bgpcore.errors", "ErrorAction": "bgpcore.errors",
    "CodecContext": "bgpcore.wire.context", "PathAttributes": "bgpcore.wire.types", "Update": "bgpcore.wire.types",
    "MpReach": "bgpcore.wire.types", "MpUnreach": "bgpcore.wire.types",
    "network_key": "bgpcore.wire.nlri", "key_to_network": "bgpcore.wire.nlri",
    "decode_update": "bgpcore.wire.accel", "encode_updates": "bgpcore.wire.accel", "ACCELERATED": "bgpcore.wire.accel",
    "MessageReader": "bgpcore.wire.framing", "decode_message": "bgpcore.wire.messages",
    "Open": "bgpcore.wire.open", "Notification": "bgpcore.wire.notification",
    # sessions and the speaker
    "Session": "bgpcore.session.session", "SessionParams": "bgpcore.session.negotiate",
    "OpenPolicy": "bgpcore.session.negotiate",
    "Speaker": "bgpcore.transport.speaker", "PeerEvent": "bgpcore.transport.speaker",
    "NeighborStatus": "bgpcore.transport.speaker",
    "SpeakerConfig": "bgpcore.transport.config", "NeighborConfig": "bgpcore.transport.config",
    "ListenRange": "bgpcore.transport.config",
    "RouteHandler": "bgpcore.transport.routes", "SimpleRoutes": "bgpcore.transport.routes",
    # RIB and policy
    "Rib": "bgpcore.rib", "RibConfig": "bgpcore.rib", "PeerInfo": "bgpcore.rib", "BestChange": "bgpcore.route",
    "Policy": "bgpcore.policy", "PrefixList": "bgpcore.policy", "Term": "bgpcore.policy",
    # FIB and unnumbered peering
    "Fib": "bgpcore.fib", "FibRoute": "bgpcore.fib", "NextHop": "bgpcore.fib", "PrefixFilter": "bgpcore.fib",
    "INSTALL_ALL": "bgpcore.fib", "INSTALL_NONE": "bgpcore.fib", "show_fib": "bgpcore.fib",
    "InterfacePeering": "bgpcore.discovery.unnumbered", "Unnumbered": "bgpcore.discovery.unnumbered",
    # the route-reflector program
    "RouteReflector": "bgpcore.program.rr", "load_config": "bgpcore.program.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bgpcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from bgpcore.discovery.unnumbered import InterfacePeering, Unnumbered
    from bgpcore.errors import BgpError, ConfigError, ErrorAction, FibError, ProtocolError, UsageError
    from bgpcore.fib import INSTALL_ALL, INSTALL_NONE, Fib, FibRoute, NextHop, PrefixFilter, show_fib
    from bgpcore.policy import Policy, PrefixList, Term
    from bgpcore.program.config import load_config
    from bgpcore.program.rr import RouteReflector
    from bgpcore.rib import PeerInfo, Rib, RibConfig
    from bgpcore.route import BestChange
    from bgpcore.session.negotiate import OpenPolicy, SessionParams
    from bgpcore.session.session import Session
    from bgpcore.transport.config import ListenRange, NeighborConfig, SpeakerConfig
    from bgpcore.transport.routes import RouteHandler, SimpleRoutes
    from bgpcore.transport.speaker import NeighborStatus, PeerEvent, Speaker
    from bgpcore.wire.accel import ACCELERATED, decode_update, encode_updates
    from bgpcore.wire.context import CodecContext
    from bgpcore.wire.framing import MessageReader
    from bgpcore.wire.messages import decode_message
    from bgpcore.wire.nlri import key_to_network, network_key
    from bgpcore.wire.notification import Notification
    from bgpcore.wire.open import Open
    from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
