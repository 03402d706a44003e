"""bgpcore: a BGP-4 speaker library.

The names below are the public API; ``docs/api.md`` describes each. They are loaded on first
use, so importing one layer (``bgpcore.wire`` for the codec alone, say) does not pull in
asyncio, netlink or worker processes. Everything a program needs is importable from here::

    from bgpcore import Router, RouterConfig, NeighborConfig
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    # bgpcore.errors
    "BgpError": "bgpcore.errors",
    "Cease": "bgpcore.errors",
    "ConfigError": "bgpcore.errors",
    "ErrorAction": "bgpcore.errors",
    "FibError": "bgpcore.errors",
    "ProtocolError": "bgpcore.errors",
    "UsageError": "bgpcore.errors",
    # bgpcore.constants
    "Afi": "bgpcore.constants",
    "AttrCode": "bgpcore.constants",
    "CapCode": "bgpcore.constants",
    "CeaseSubcode": "bgpcore.constants",
    "ErrorCode": "bgpcore.constants",
    "MsgType": "bgpcore.constants",
    "Origin": "bgpcore.constants",
    "Safi": "bgpcore.constants",
    # bgpcore.wire.context
    "CodecContext": "bgpcore.wire.context",
    "DEFAULT_CONTEXT": "bgpcore.wire.context",
    "Family": "bgpcore.wire.context",
    "IPV4_UNICAST": "bgpcore.wire.context",
    "IPV6_UNICAST": "bgpcore.wire.context",
    # bgpcore.wire.types
    "MpReach": "bgpcore.wire.types",
    "MpUnreach": "bgpcore.wire.types",
    "PathAttributes": "bgpcore.wire.types",
    "Update": "bgpcore.wire.types",
    "BfdEndpoint": "bgpcore.bfd",
    "BfdPeerEvent": "bgpcore.bfd",
    "BfdPeerStatus": "bgpcore.bfd",
    "BfdState": "bgpcore.bfd",
    "BfdSettings": "bgpcore.transport.config",
    "AttributesTooLarge": "bgpcore.wire.types",
    # bgpcore.wire.nlri
    "key_to_network": "bgpcore.wire.nlri",
    "network_key": "bgpcore.wire.nlri",
    # bgpcore.wire.accel
    "ACCELERATED": "bgpcore.wire.accel",
    "decode_update": "bgpcore.wire.accel",
    "encode_updates": "bgpcore.wire.accel",
    # bgpcore.wire.framing
    "MessageReader": "bgpcore.wire.framing",
    # bgpcore.wire.messages
    "decode_message": "bgpcore.wire.messages",
    # bgpcore.wire.open
    "Open": "bgpcore.wire.open",
    "decode_open": "bgpcore.wire.open",
    "encode_open": "bgpcore.wire.open",
    # bgpcore.wire.notification
    "Notification": "bgpcore.wire.notification",
    # bgpcore.wire.capabilities
    "AddPath": "bgpcore.wire.capabilities",
    "EnhancedRouteRefresh": "bgpcore.wire.capabilities",
    "ExtendedMessage": "bgpcore.wire.capabilities",
    "ExtendedNextHop": "bgpcore.wire.capabilities",
    "FourOctetAs": "bgpcore.wire.capabilities",
    "Fqdn": "bgpcore.wire.capabilities",
    "GracefulRestart": "bgpcore.wire.capabilities",
    "Multiprotocol": "bgpcore.wire.capabilities",
    "RouteRefresh": "bgpcore.wire.capabilities",
    "UnknownCapability": "bgpcore.wire.capabilities",
    # bgpcore.mrt
    "BgpMessage": "bgpcore.mrt",
    "MrtReader": "bgpcore.mrt",
    "PeerIndexTable": "bgpcore.mrt",
    "RibEntry": "bgpcore.mrt",
    "StateChange": "bgpcore.mrt",
    "read_mrt": "bgpcore.mrt",
    "decode_rib_attributes": "bgpcore.mrt",
    # bgpcore.mrt_write
    "RibDumpBuilder": "bgpcore.mrt_write",
    "encode_bgp4mp_message": "bgpcore.mrt_write",
    "encode_bgp4mp_state_change": "bgpcore.mrt_write",
    # bgpcore.bmp
    "BmpExporter": "bgpcore.bmp",
    "BmpPeer": "bgpcore.bmp",
    "BmpState": "bgpcore.bmp",
    # bgpcore.session.session
    "Session": "bgpcore.session.session",
    # bgpcore.session.fsm
    "State": "bgpcore.session.fsm",
    # bgpcore.session.negotiate
    "OpenPolicy": "bgpcore.session.negotiate",
    "SessionParams": "bgpcore.session.negotiate",
    "build_open": "bgpcore.session.negotiate",
    "negotiate": "bgpcore.session.negotiate",
    # bgpcore.session.timers
    "TimerSettings": "bgpcore.session.timers",
    # bgpcore.session.events
    "Event": "bgpcore.session.events",
    "NotificationReceived": "bgpcore.session.events",
    "OpenReceived": "bgpcore.session.events",
    "RouteRefreshReceived": "bgpcore.session.events",
    "SessionDown": "bgpcore.session.events",
    "SessionEstablished": "bgpcore.session.events",
    "StateChanged": "bgpcore.session.events",
    "UpdateReceived": "bgpcore.session.events",
    # bgpcore.route
    "BestChange": "bgpcore.route",
    "Path": "bgpcore.route",
    "Source": "bgpcore.route",
    # bgpcore.policy
    "AddCommunities": "bgpcore.policy",
    "AsPathContains": "bgpcore.policy",
    "AsPathLength": "bgpcore.policy",
    "AsPathRegex": "bgpcore.policy",
    "Chain": "bgpcore.policy",
    "CommunityMatch": "bgpcore.policy",
    "FamilyMatch": "bgpcore.policy",
    "Policy": "bgpcore.policy",
    "PrefixEntry": "bgpcore.policy",
    "PrefixList": "bgpcore.policy",
    "PrependAsPath": "bgpcore.policy",
    "RejectAll": "bgpcore.policy",
    "RemoveCommunities": "bgpcore.policy",
    "SetCommunities": "bgpcore.policy",
    "SetLocalPref": "bgpcore.policy",
    "SetMed": "bgpcore.policy",
    "SetNextHop": "bgpcore.policy",
    "Term": "bgpcore.policy",
    "parse_community": "bgpcore.policy",
    "RoutePolicy": "bgpcore.policy",
    "Verdict": "bgpcore.policy",
    # bgpcore.rib
    "AddPathSelect": "bgpcore.rib",
    "CeasePeer": "bgpcore.rib",
    "DecisionOptions": "bgpcore.rib",
    "MaxPrefixAction": "bgpcore.rib",
    "PeerAction": "bgpcore.rib",
    "Reason": "bgpcore.rib",
    "Rib": "bgpcore.rib",
    "RibConfig": "bgpcore.rib",
    "RibPeer": "bgpcore.rib",
    # bgpcore.fib
    "Fib": "bgpcore.fib",
    "FibRoute": "bgpcore.fib",
    "NextHop": "bgpcore.fib",
    "PrefixFilter": "bgpcore.fib",
    "INSTALL_ALL": "bgpcore.fib",
    "INSTALL_NONE": "bgpcore.fib",
    "show_fib": "bgpcore.fib",
    # bgpcore.discovery.unnumbered
    "InterfacePeering": "bgpcore.discovery.unnumbered",
    "Unnumbered": "bgpcore.discovery.unnumbered",
    "UnnumberedPeer": "bgpcore.discovery.unnumbered",
    # bgpcore.transport.config
    "ListenRange": "bgpcore.transport.config",
    "NeighborConfig": "bgpcore.transport.config",
    "SpeakerConfig": "bgpcore.transport.config",
    # bgpcore.transport.neighbor
    "NeighborStatus": "bgpcore.transport.neighbor",
    "PeerEvent": "bgpcore.transport.neighbor",
    "PeerKey": "bgpcore.transport.neighbor",
    # bgpcore.transport.routes
    "PeerInfo": "bgpcore.transport.routes",
    "RouteHandler": "bgpcore.transport.routes",
    "SimpleRoutes": "bgpcore.transport.routes",
    # bgpcore.transport.speaker
    "Speaker": "bgpcore.transport.speaker",
    # bgpcore.router
    "BestPathChanged": "bgpcore.router",
    "BestPathWithdrawn": "bgpcore.router",
    "FibConfig": "bgpcore.router",
    "Network": "bgpcore.router",
    "PeerDown": "bgpcore.router",
    "PeerUp": "bgpcore.router",
    "RouteReceived": "bgpcore.router",
    "Router": "bgpcore.router",
    "RouterConfig": "bgpcore.router",
    "RouterEvent": "bgpcore.router",
    "RouterEvents": "bgpcore.router",
    # bgpcore.program.config
    "ProgramConfig": "bgpcore.program.config",
    "load_config": "bgpcore.program.config",
    "parse_config": "bgpcore.program.config",
}

__all__ = [
    "ACCELERATED", "AddCommunities", "AddPath", "AddPathSelect", "Afi", "AsPathContains", "AsPathLength",
    "AsPathRegex", "AttrCode", "AttributesTooLarge", "BestChange", "BestPathChanged", "BestPathWithdrawn",
    "BfdEndpoint", "BfdPeerEvent", "BfdPeerStatus", "BfdSettings", "BfdState", "BgpError", "BgpMessage",
    "BmpExporter", "BmpPeer", "BmpState", "CapCode", "Cease", "CeasePeer", "CeaseSubcode", "Chain",
    "CodecContext", "CommunityMatch", "ConfigError", "DEFAULT_CONTEXT", "DecisionOptions",
    "EnhancedRouteRefresh", "ErrorAction", "ErrorCode", "Event", "ExtendedMessage", "ExtendedNextHop",
    "Family", "FamilyMatch", "Fib", "FibConfig", "FibError", "FibRoute", "FourOctetAs", "Fqdn",
    "GracefulRestart", "INSTALL_ALL", "INSTALL_NONE", "IPV4_UNICAST", "IPV6_UNICAST", "InterfacePeering",
    "ListenRange", "MaxPrefixAction", "MessageReader", "MpReach", "MpUnreach", "MrtReader", "MsgType",
    "Multiprotocol", "NeighborConfig", "NeighborStatus", "Network", "NextHop", "Notification",
    "NotificationReceived", "Open", "OpenPolicy", "OpenReceived", "Origin", "Path", "PathAttributes",
    "PeerAction", "PeerDown", "PeerEvent", "PeerIndexTable", "PeerInfo", "PeerKey", "PeerUp", "Policy",
    "PrefixEntry", "PrefixFilter", "PrefixList", "PrependAsPath", "ProgramConfig", "ProtocolError", "Reason",
    "RejectAll", "RemoveCommunities", "Rib", "RibConfig", "RibDumpBuilder", "RibEntry", "RibPeer",
    "RouteHandler", "RoutePolicy", "RouteReceived", "RouteRefresh", "RouteRefreshReceived", "Router",
    "RouterConfig", "RouterEvent", "RouterEvents", "Safi", "Session", "SessionDown", "SessionEstablished",
    "SessionParams", "SetCommunities", "SetLocalPref", "SetMed", "SetNextHop", "SimpleRoutes", "Source",
    "Speaker", "SpeakerConfig", "State", "StateChange", "StateChanged", "Term", "TimerSettings",
    "UnknownCapability", "Unnumbered", "UnnumberedPeer", "Update", "UpdateReceived", "UsageError", "Verdict",
    "build_open", "decode_message", "decode_open", "decode_rib_attributes", "decode_update",
    "encode_bgp4mp_message", "encode_bgp4mp_state_change", "encode_open", "encode_updates", "key_to_network",
    "load_config", "negotiate", "network_key", "parse_community", "parse_config", "read_mrt", "show_fib",
]



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
    from bgpcore.errors import (BgpError as BgpError, Cease as Cease, ConfigError as ConfigError, ErrorAction as ErrorAction, FibError as FibError, ProtocolError as ProtocolError, UsageError as UsageError)
    from bgpcore.constants import (Afi as Afi, AttrCode as AttrCode, CapCode as CapCode, CeaseSubcode as CeaseSubcode, ErrorCode as ErrorCode, MsgType as MsgType, Origin as Origin, Safi as Safi)
    from bgpcore.wire.context import (CodecContext as CodecContext, DEFAULT_CONTEXT as DEFAULT_CONTEXT, Family as Family, IPV4_UNICAST as IPV4_UNICAST, IPV6_UNICAST as IPV6_UNICAST)
    from bgpcore.bfd import (BfdEndpoint as BfdEndpoint, BfdPeerEvent as BfdPeerEvent, BfdPeerStatus as BfdPeerStatus,
                             BfdState as BfdState)
    from bgpcore.transport.config import BfdSettings as BfdSettings
    from bgpcore.wire.types import (AttributesTooLarge as AttributesTooLarge, MpReach as MpReach, MpUnreach as MpUnreach, PathAttributes as PathAttributes, Update as Update)
    from bgpcore.wire.nlri import (key_to_network as key_to_network, network_key as network_key)
    from bgpcore.wire.accel import (ACCELERATED as ACCELERATED, decode_update as decode_update, encode_updates as encode_updates)
    from bgpcore.wire.framing import (MessageReader as MessageReader)
    from bgpcore.wire.messages import (decode_message as decode_message)
    from bgpcore.wire.open import (Open as Open, decode_open as decode_open, encode_open as encode_open)
    from bgpcore.wire.notification import (Notification as Notification)
    from bgpcore.wire.capabilities import (AddPath as AddPath, EnhancedRouteRefresh as EnhancedRouteRefresh, ExtendedMessage as ExtendedMessage, ExtendedNextHop as ExtendedNextHop, FourOctetAs as FourOctetAs, Fqdn as Fqdn, GracefulRestart as GracefulRestart, Multiprotocol as Multiprotocol, RouteRefresh as RouteRefresh, UnknownCapability as UnknownCapability)
    from bgpcore.mrt import (BgpMessage as BgpMessage, MrtReader as MrtReader, PeerIndexTable as PeerIndexTable, RibEntry as RibEntry, StateChange as StateChange, read_mrt as read_mrt, decode_rib_attributes as decode_rib_attributes)
    from bgpcore.mrt_write import (RibDumpBuilder as RibDumpBuilder, encode_bgp4mp_message as encode_bgp4mp_message, encode_bgp4mp_state_change as encode_bgp4mp_state_change)
    from bgpcore.bmp import (BmpExporter as BmpExporter, BmpPeer as BmpPeer, BmpState as BmpState)
    from bgpcore.session.session import (Session as Session)
    from bgpcore.session.fsm import (State as State)
    from bgpcore.session.negotiate import (OpenPolicy as OpenPolicy, SessionParams as SessionParams, build_open as build_open, negotiate as negotiate)
    from bgpcore.session.timers import (TimerSettings as TimerSettings)
    from bgpcore.session.events import (Event as Event, NotificationReceived as NotificationReceived, OpenReceived as OpenReceived, RouteRefreshReceived as RouteRefreshReceived, SessionDown as SessionDown, SessionEstablished as SessionEstablished, StateChanged as StateChanged, UpdateReceived as UpdateReceived)
    from bgpcore.route import (BestChange as BestChange, Path as Path, Source as Source)
    from bgpcore.policy import (AddCommunities as AddCommunities, AsPathContains as AsPathContains, AsPathLength as AsPathLength, AsPathRegex as AsPathRegex, Chain as Chain, CommunityMatch as CommunityMatch, FamilyMatch as FamilyMatch, Policy as Policy, PrefixEntry as PrefixEntry, PrefixList as PrefixList, PrependAsPath as PrependAsPath, RejectAll as RejectAll, RemoveCommunities as RemoveCommunities, SetCommunities as SetCommunities, SetLocalPref as SetLocalPref, SetMed as SetMed, SetNextHop as SetNextHop, Term as Term, parse_community as parse_community, RoutePolicy as RoutePolicy, Verdict as Verdict)
    from bgpcore.rib import (AddPathSelect as AddPathSelect, CeasePeer as CeasePeer, DecisionOptions as DecisionOptions, MaxPrefixAction as MaxPrefixAction, PeerAction as PeerAction, Reason as Reason, Rib as Rib, RibConfig as RibConfig, RibPeer as RibPeer)
    from bgpcore.fib import (Fib as Fib, FibRoute as FibRoute, NextHop as NextHop, PrefixFilter as PrefixFilter, INSTALL_ALL as INSTALL_ALL, INSTALL_NONE as INSTALL_NONE, show_fib as show_fib)
    from bgpcore.discovery.unnumbered import (InterfacePeering as InterfacePeering, Unnumbered as Unnumbered, UnnumberedPeer as UnnumberedPeer)
    from bgpcore.transport.config import (ListenRange as ListenRange, NeighborConfig as NeighborConfig, SpeakerConfig as SpeakerConfig)
    from bgpcore.transport.neighbor import (NeighborStatus as NeighborStatus, PeerEvent as PeerEvent, PeerKey as PeerKey)
    from bgpcore.transport.routes import (PeerInfo as PeerInfo, RouteHandler as RouteHandler, SimpleRoutes as SimpleRoutes)
    from bgpcore.transport.speaker import (Speaker as Speaker)
    from bgpcore.router import (BestPathChanged as BestPathChanged, BestPathWithdrawn as BestPathWithdrawn, FibConfig as FibConfig, Network as Network, PeerDown as PeerDown, PeerUp as PeerUp, RouteReceived as RouteReceived, Router as Router, RouterConfig as RouterConfig, RouterEvent as RouterEvent, RouterEvents as RouterEvents)
    from bgpcore.program.config import (ProgramConfig as ProgramConfig, load_config as load_config, parse_config as parse_config)
