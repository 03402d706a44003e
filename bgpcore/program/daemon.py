"""``bgpcore run``: a ``Router`` from the TOML configuration, with the control socket.

The same program runs a route reflector and a fabric node: what it does follows from the
configuration (route-reflector clients, a ``[fib]`` table, ``[[interfaces]]``...).
The control commands are listed in ``Daemon.commands`` and described in docs/operations.md.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import time
from dataclasses import asdict, is_dataclass, replace
from typing import Any

from bgpcore import __version__
from bgpcore.constants import Origin
from bgpcore.errors import BgpError, ConfigError, UsageError
from bgpcore.policy.builtins import parse_community
from bgpcore.program.config import ProgramConfig, load_config
from bgpcore.program.control import (PROTOCOL_VERSION, Arg, Command, ControlServer, choice, flag, non_negative_int,
                                     text, texts, u32)
from bgpcore.program.explain import explain_paths
from bgpcore.program.ops import Operations
from bgpcore.program.reload import apply_reload, plan_reload
from bgpcore.program.tuning import tune_gc, tune_malloc
from bgpcore.rib.decision import select_best
from bgpcore.route import Path
from bgpcore.router.core import Router
from bgpcore.session.events import SessionDown
from bgpcore.transport.neighbor import PeerEvent, PeerKey, family_key, neighbor_key_of, peer_key_of
from bgpcore.transport.sockopts import open_listener
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family
from bgpcore.wire.notification import Notification
from bgpcore.wire.types import PathAttributes

log = logging.getLogger("bgpcore.daemon")

_FAMILIES: dict[str, tuple[Family, ...]] = {
    "ipv4-unicast": (IPV4_UNICAST,), "ipv6-unicast": (IPV6_UNICAST,), "all": (IPV4_UNICAST, IPV6_UNICAST)}
_NEIGHBOR_ACTIONS = ("reset", "soft-in", "soft-out", "shutdown", "enable")
_LIMIT = Arg("limit", non_negative_int, 100)


def _as_path_text(attrs: PathAttributes) -> str:
    return " ".join(" ".join(map(str, asns)) if kind == 2 else "{" + ",".join(map(str, asns)) + "}"
                    for kind, asns in attrs.as_path)


def _path_json(path: Path, router: Router) -> dict[str, Any]:
    a = path.attrs
    return {
        "next_hop": list(path.next_hop), "from": "local" if path.source.local else path.source.address,
        "peer_router_id": path.source.router_id, "as_path": _as_path_text(a),
        "origin": a.origin, "local_pref": a.local_pref, "med": a.med,
        "communities": [f"{c >> 16}:{c & 0xFFFF}" for c in a.communities],
        "originator_id": a.originator_id, "cluster_list": list(a.cluster_list),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list, frozenset, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _capability(cap: Any) -> dict[str, Any]:
    fields = asdict(cap) if is_dataclass(cap) and not isinstance(cap, type) else {}
    return {"name": type(cap).__name__, **{k: _jsonable(v) for k, v in fields.items()}}


def _family_name(family: Family) -> str:
    return ("ipv4" if family[0] == 1 else "ipv6") + "-unicast"


def _notification_json(code: int, subcode: int, reason: str) -> dict[str, Any]:
    return {"code": code, "subcode": subcode, "name": Notification(code, subcode).name, "text": reason,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


class NeighborLog:
    """The last NOTIFICATION sent to and received from each neighbor, from the speaker's events."""

    def __init__(self) -> None:
        self.sent: dict[PeerKey, dict[str, Any]] = {}
        self.received: dict[PeerKey, dict[str, Any]] = {}

    def record(self, item: PeerEvent) -> None:
        event = item.event
        if not isinstance(event, SessionDown):
            return
        if event.sent is not None:
            self.sent[item.peer] = _notification_json(*event.sent, event.reason)
        if event.received is not None:
            self.received[item.peer] = _notification_json(*event.received, event.reason)


def check_listeners(addresses: tuple[tuple[str, int], ...]) -> None:
    """Bind each listening address once and close it, so a failure names the address.

    Raises:
        BgpError: ``cannot listen on ADDRESS:PORT: [Errno N] text``.
    """
    for address, port in addresses:
        if port == 0:
            continue
        try:
            open_listener(address, port).close()
        except OSError as exc:
            where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            raise BgpError(f"cannot listen on {where}: [Errno {exc.errno}] {exc.strerror}") from None


class Daemon:
    """A router and its control socket, started and stopped together.

    Args:
        config: the configuration to run.
        config_path: the file ``reload`` (and SIGHUP) reads again; None: reload is refused.
    """

    def __init__(self, config: ProgramConfig, config_path: str | None = None) -> None:
        self.config = config
        self.ops: Operations | None = None
        self.config_path = config_path
        self.router = Router(config.router)
        self.neighbor_log = NeighborLog()
        self._events_task: asyncio.Task[None] | None = None
        self.control = ControlServer(config.control_socket, self.commands())

    def commands(self) -> list[Command]:
        """The control commands (docs/operations.md describes each)."""
        neighbor = Arg("neighbor", text)
        prefix = Arg("prefix", text)
        family = Arg("family", choice(*_FAMILIES), "all")
        return [
            Command("show version", self.version),
            Command("show neighbors", self.neighbors),
            Command("show neighbor", self.neighbor_detail, (neighbor,)),
            Command("show routes", self.routes, (Arg("prefix", text, None), Arg("longer", flag, False),
                                                 Arg("shorter", flag, False), _LIMIT)),
            Command("show route explain", self.explain, (prefix,)),
            Command("show adj-rib-in", self.adj_rib_in, (neighbor, family, Arg("received", flag, False), _LIMIT)),
            Command("show adj-rib-out", self.adj_rib_out, (neighbor, family, _LIMIT)),
            Command("show fib", self.fib, (_LIMIT,)),
            Command("show bfd", self.bfd),
            Command("announce", self.announce, (prefix, Arg("next_hop", text, None), Arg("communities", texts, ()),
                                                Arg("local_pref", u32, None), Arg("med", u32, None),
                                                Arg("as_path", texts, ()),
                                                Arg("origin", choice("igp", "egp", "incomplete"), "igp"))),
            Command("withdraw", self.withdraw, (prefix,)),
            Command("neighbor", self.neighbor_action, (neighbor, Arg("action", choice(*_NEIGHBOR_ACTIONS)),
                                                       Arg("message", text, ""))),
            Command("reload", self.reload),
        ]

    async def start(self) -> None:
        """Open the control socket, then start the router.

        Raises:
            BgpError: the control socket or a listener cannot be opened (one line naming it).
            OSError: the router could not start for another reason.
        """
        await self.control.start()
        try:
            check_listeners(self.config.router.listen)
            self.ops = Operations(self.router, self.config.ops)  # BMP, MRT, metrics: before sessions come up
            await self.ops.start()
            stream = self.router.speaker.events(updates=False)  # sessions only: not one item per UPDATE
            self._events_task = asyncio.get_running_loop().create_task(self._record(stream))
            await self.router.start()
        except BaseException:
            await self._stop_router()
            await self.control.stop()
            raise

    async def stop(self) -> None:
        """Stop the router (Cease to every neighbor), then remove the control socket."""
        try:
            await self._stop_router()
        finally:
            await self.control.stop()

    async def _stop_router(self) -> None:
        if self._events_task is not None:
            self._events_task.cancel()
            self._events_task = None
        await self.router.stop()
        if self.ops is not None:  # after the router: the last Peer Downs reach BMP and MRT
            await self.ops.stop()
            self.ops = None

    async def _record(self, stream: Any) -> None:
        try:
            async for item in stream:
                self.neighbor_log.record(item)
        finally:
            stream.close()

    # -- neighbors ------------------------------------------------------------------------------

    def _peer(self, name: str) -> PeerKey:
        """A neighbor by address (``fe80::1%eth0`` too) or by the interface of unnumbered peering."""
        for p in self.router.unnumbered_peers():
            if p.interface == name:
                if not p.peer_id:
                    raise UsageError(f"no neighbor found on interface {name} yet")
                return p.peer_id
        try:
            peer = peer_key_of(neighbor_key_of(name))
        except UsageError:
            raise UsageError(f"{name!r} is neither a neighbor address nor an interface of unnumbered peering") from None
        self.router.neighbor(peer)  # UsageError: no such neighbor
        return peer

    def neighbors(self) -> list[dict[str, Any]]:
        """``show neighbors``: one object per neighbor (configured, dynamic or unnumbered)."""
        out = []
        interfaces = {p.peer_id: p.interface for p in self.router.unnumbered_peers() if p.peer_id}
        for s in self.router.neighbors():
            config_of = self.router.speaker
            out.append({
                "peer": s.peer, "description": s.description, "remote_as": s.remote_as, "state": s.state,
                "router_id": s.peer_id, "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 1),
                "interface": interfaces.get(s.peer),
                "rr_client": config_of.neighbor_config(s.peer).rr_client,
                "prefixes_received": s.prefixes_received,
                "messages_in": s.messages_in, "messages_out": s.messages_out, "last_error": s.last_error,
                "families": [_family_name(f) for f in s.families],
            })
        return out

    def neighbor_detail(self, neighbor: str) -> dict[str, Any]:
        """``show neighbor ADDR|IFACE``: state, timers, capabilities, counters, last errors."""
        peer = self._peer(neighbor)
        s = self.router.neighbor(peer)
        session, config = self.router.neighbor_session(peer)
        params = session.params if s.state == "ESTABLISHED" else None
        remote_open = session.remote_open
        advertised: int | None = None
        received_before_policy: int | None = None
        if params is not None:
            advertised = sum(len(self.router.advertised_routes(peer, f)) for f in params.families)
            if config.soft_reconfiguration:
                received_before_policy = sum(len(self.router.received_routes(peer, f, before_policy=True))
                                             for f in params.families)
        interface = next((p.interface for p in self.router.unnumbered_peers() if p.peer_id == peer), None)
        negotiated = None
        if params is not None:
            negotiated = {
                "families": [_family_name(f) for f in params.families],
                "four_octet_as": params.send_ctx.asn4,
                "route_refresh": params.route_refresh, "enhanced_route_refresh": params.enhanced_route_refresh,
                "extended_message": params.send_ctx.extended_message,
                "add_path_receive": sorted(_family_name(f) for f in params.recv_ctx.addpath),
                "add_path_send": sorted(_family_name(f) for f in params.send_ctx.addpath),
                "extended_nexthop": sorted(_family_name(f) for f in params.send_ctx.extended_nexthop),
                "graceful_restart": (None if params.graceful_restart is None
                                     else {"restart_time_s": params.graceful_restart.restart_time_s}),
                "peer_hostname": params.peer_hostname,
            }
        timers = config.timers
        return {
            "peer": s.peer, "interface": interface, "description": s.description, "remote_as": s.remote_as,
            "peer_as": s.peer_as, "router_id": s.peer_id, "state": s.state,
            "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 3),
            "established_count": s.established_count, "dynamic": s.dynamic,
            "local_address": s.local_address, "remote_address": s.remote_address,
            "rr_client": config.rr_client, "next_hop_self": config.next_hop_self,
            "soft_reconfiguration": config.soft_reconfiguration,
            "import_policy": config.import_policy is not None, "export_policy": config.export_policy is not None,
            "timers": {
                "hold_time_configured_s": config.hold_time_s, "hold_time_s": params.hold_time_s if params else None,
                "keepalive_s": params.keepalive_s if params else None,
                "peer_hold_time_s": remote_open.hold_time_s if remote_open else None,
                "connect_retry_s": timers.connect_retry_s, "idle_hold_s": timers.idle_hold_s,
            },
            "capabilities": {
                "sent": [_capability(c) for c in session.local_open.capabilities],
                "received": [_capability(c) for c in remote_open.capabilities] if remote_open else [],
                "negotiated": negotiated,
            },
            "messages": {"in": s.messages_in, "out": s.messages_out},
            "prefixes": {"accepted": s.prefixes_received, "received": received_before_policy,
                         "advertised": advertised, "max_prefix": config.max_prefix},
            "last_error": s.last_error,
            "last_notification_sent": self.neighbor_log.sent.get(peer),
            "last_notification_received": self.neighbor_log.received.get(peer),
        }

    def neighbor_action(self, neighbor: str, action: str, message: str = "") -> dict[str, Any]:
        """``neighbor ADDR reset|soft-in|soft-out|shutdown [message]|enable``."""
        peer = self._peer(neighbor)
        if len(message.encode()) > 255:
            raise UsageError("message: a shutdown communication is at most 255 octets (RFC 9003)")
        speaker = self.router.speaker
        if action == "reset":
            speaker.reset_neighbor(peer, message=message)
        elif action == "soft-in":
            speaker.reset_neighbor(peer, soft_in=True)
        elif action == "soft-out":
            speaker.reset_neighbor(peer, soft_out=True)
        elif action == "shutdown":
            speaker.shutdown_neighbor(peer, message)
        else:
            speaker.enable_neighbor(peer)
        log.info("%s: %s%s (control socket)", peer, action, f' "{message}"' if message else "")
        return {"peer": peer, "action": action}

    def bfd(self) -> list[dict[str, Any]]:
        """``show bfd``: one object per BFD session (state, discriminators, negotiated intervals
        in µs, detection time, uptime, counters, and the BGP neighbor it guards)."""
        return self.router.bfd.status_dicts() if self.router.bfd is not None else []

    def version(self) -> dict[str, Any]:
        """``show version``: bgpcore's version and the control protocol's."""
        return {"bgpcore": __version__, "protocol": PROTOCOL_VERSION, "config": self.config_path}

    # -- routes ---------------------------------------------------------------------------------

    def routes(self, prefix: str | None = None, longer: bool = False, shorter: bool = False,
               limit: int = 100) -> dict[str, Any]:
        """``show routes [PREFIX|ADDRESS] [--longer|--shorter]``: a prefix's paths (an address:
        longest match; ``longer``: the prefix and every more specific one; ``shorter``: the
        prefix and every less specific one), or the first ``limit`` prefixes of the Loc-RIB
        and how many there are."""
        router = self.router
        if longer and shorter:
            raise UsageError("show routes: longer and shorter exclude each other")
        if (longer or shorter) and prefix is None:
            raise UsageError("show routes: longer and shorter need a prefix")
        if prefix is not None and not (longer or shorter):
            if "/" in prefix:
                try:
                    net = ipaddress.ip_network(prefix, strict=False)
                except ValueError:
                    raise UsageError(f"{prefix!r} is not a prefix") from None
                paths = router.route(str(net))
                found = (net, paths) if paths else None
            else:
                try:
                    found = router.lookup(prefix)
                except UsageError:
                    raise UsageError(f"{prefix!r} is not a prefix or an address") from None
            if found is None:
                return {"total": 0, "routes": []}
            return {"total": 1, "routes": [{"prefix": str(found[0]), "paths": [_path_json(p, router) for p in found[1]]}]}
        within = None
        families: tuple[Family, ...] = (IPV4_UNICAST, IPV6_UNICAST)
        if prefix is not None:
            try:
                within = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise UsageError(f"{prefix!r} is not a prefix or an address") from None
            families = (IPV4_UNICAST,) if within.version == 4 else (IPV6_UNICAST,)
        total = 0
        routes: list[dict[str, Any]] = []
        for family in families:
            for net, paths in sorted(router.routes(family), key=lambda item: item[0]):
                if within is not None and not (net.subnet_of(within) if longer else within.subnet_of(net)):  # type: ignore[arg-type]
                    continue
                total += 1
                if len(routes) < limit:
                    routes.append({"prefix": str(net), "paths": [_path_json(p, router) for p in paths]})
        return {"total": total, "routes": routes}

    def explain(self, prefix: str) -> dict[str, Any]:
        """``show route PREFIX explain``: every path of the prefix, best first, and for each
        losing path the path that eliminated it and the decision step it lost on
        (bgpcore.program.explain defines it)."""
        family, key = family_key(prefix)
        options = self.router.config.decision
        paths = self.router.rib.candidates(family, key)
        if not paths:
            return {"prefix": prefix, "paths": [], "best": None}
        verdicts = explain_paths(paths, options)
        number = {id(v.path): v.rank for v in verdicts}

        def vs(pair: tuple[int, Any] | None) -> dict[str, Any] | None:
            return None if pair is None else {"step": pair[1].name, "prefers": "other" if pair[0] < 0 else "this"}

        out = []
        for v in verdicts:
            entry = {"rank": v.rank, **_path_json(v.path, self.router), "best": v.lost_to is None,
                     "step": v.step.name}
            if v.lost_to is not None:
                entry["lost_to"] = number[id(v.lost_to)]
                entry["vs_best"] = vs(v.vs_best)
                entry["vs_previous"] = vs(v.vs_previous)
            out.append(entry)
        assert verdicts[0].path is select_best(paths, options)
        return {"prefix": prefix, "options": asdict(options), "paths": out}

    def adj_rib_in(self, neighbor: str, family: str = "all", received: bool = False,
                   limit: int = 100) -> dict[str, Any]:
        """``show adj-rib-in NEIGHBOR``: its routes after import policy (``received``: as
        received, before it; needs soft reconfiguration)."""
        peer = self._peer(neighbor)
        if received and not self.router.speaker.neighbor_config(peer).soft_reconfiguration:
            raise UsageError(f"neighbor {peer}: routes as received are kept only with soft_reconfiguration")
        routes: list[dict[str, Any]] = []
        total = 0
        for f in _FAMILIES[family]:
            table = self.router.received_routes(peer, f, before_policy=received)
            for net in sorted(table):
                total += 1
                if len(routes) < limit:
                    routes.append({"prefix": str(net), **_path_json(table[net], self.router)})
        return {"peer": peer, "total": total, "routes": routes}

    def adj_rib_out(self, neighbor: str, family: str = "all", limit: int = 100) -> dict[str, Any]:
        """``show adj-rib-out NEIGHBOR``: what has been sent to it (prefix and next hop)."""
        peer = self._peer(neighbor)
        routes: list[dict[str, Any]] = []
        total = 0
        for f in _FAMILIES[family]:
            table = self.router.advertised_routes(peer, f)
            for net in sorted(table):
                total += 1
                if len(routes) < limit:
                    routes.append({"prefix": str(net), "next_hop": list(table[net])})
        return {"peer": peer, "total": total, "routes": routes}

    def fib(self, limit: int = 100) -> dict[str, Any]:
        """``show fib``: the routes given to the kernel; without a FIB, what one would hold."""
        if self.router.fib is None:
            shown = self.routes(None, limit=limit)
            return {"installed": False, "total": shown["total"],
                    "routes": [{"prefix": r["prefix"], "next_hop": r["paths"][0]["next_hop"]} for r in shown["routes"]]}
        routes = self.router.fib_routes()
        return {"installed": True, "total": len(routes), "routes": [
            {"prefix": str(r.prefix), "next_hop": [f"{h.gateway or ''}{'%' + h.ifname if h.ifname else ''}"
                                                   for h in r.nexthops]} for r in routes[:limit]]}

    # -- our own routes ---------------------------------------------------------------------------

    def announce(self, prefix: str, next_hop: str | None = None, communities: tuple[str, ...] = (),
                 local_pref: int | None = None, med: int | None = None, as_path: tuple[str, ...] = (),
                 origin: str = "igp") -> dict[str, Any]:
        """``announce PREFIX [next-hop X] [communities ...] [local-pref N] [med N] [as-path ...]``."""
        family_key(prefix)  # UsageError: not a prefix
        if next_hop is not None:
            try:
                ipaddress.ip_address(next_hop)
            except ValueError:
                raise UsageError(f"announce: next_hop: {next_hop!r} is not an address") from None
        try:
            parsed = tuple(parse_community(c) for c in communities)
        except (BgpError, ValueError) as exc:
            raise UsageError(f"announce: communities: {exc}") from None
        asns = []
        for a in as_path:
            if not a.isdigit() or not 0 < int(a) < 2**32:
                raise UsageError(f"announce: as_path: {a!r} is not an AS number")
            asns.append(int(a))
        attrs = PathAttributes(origin=Origin[origin.upper()], as_path=((2, tuple(asns)),) if asns else (),
                               communities=parsed, local_pref=local_pref, med=med)
        self.router.announce(prefix, next_hop=next_hop, attributes=attrs)
        log.info("announce %s (control socket)", prefix)
        return {"prefix": prefix, "announced": True}

    def withdraw(self, prefix: str) -> dict[str, Any]:
        """``withdraw PREFIX``: stop originating it."""
        self.router.withdraw(prefix)
        log.info("withdraw %s (control socket)", prefix)
        return {"prefix": prefix, "withdrawn": True}

    # -- reload -----------------------------------------------------------------------------------

    def reload(self) -> dict[str, Any]:
        """Read the configuration file again and apply the difference (bgpcore.program.reload).

        Raises:
            BgpError: no file to read, or it does not load (nothing is changed then).
        """
        if self.config_path is None:
            raise UsageError("reload: this instance was not started from a configuration file")
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, running configuration kept: %s", exc)
            raise ConfigError(f"reload refused, running configuration kept: {exc}") from None
        result = apply_reload(self.router, plan_reload(self.config, new))
        # what runs now: the new neighbors and networks, the rest as it was started
        self.config = replace(self.config, router=replace(self.config.router, neighbors=new.router.neighbors,
                                                          networks=new.router.networks))
        return result

    def reload_logged(self) -> None:
        """SIGHUP: reload, with the outcome in the log only."""
        log.info("SIGHUP: reloading %s", self.config_path)
        try:
            self.reload()
        except BgpError as exc:
            if not isinstance(exc, ConfigError):
                log.error("reload failed: %s", exc)
        except Exception:  # noqa: BLE001 - a failed reload must not stop the router
            log.exception("reload failed")


async def serve(config: ProgramConfig, ready: asyncio.Event | None = None, config_path: str | None = None) -> None:
    """Run the router of ``config`` until SIGTERM or SIGINT; SIGHUP reloads ``config_path``.

    The control socket is removed however this returns.

    Raises:
        BgpError: start-up failed (one line naming the address, port or path).
    """
    daemon = Daemon(config, config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload_logged)
    try:
        await daemon.start()
        tune_gc()
        tune_malloc()
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            await daemon.stop()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)


__all__ = ["Daemon", "check_listeners", "serve"]
