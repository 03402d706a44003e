"""``bgpcore run``: a ``Router`` from the TOML configuration, with the control socket.

The same program runs a route reflector and a fabric node: what it does follows from the
configuration (route-reflector clients, a ``[fib]`` table, ``[[interfaces]]``...).
"""
from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import os
import signal
from collections.abc import Mapping
from typing import Any

from bgpcore.errors import UsageError
from bgpcore.program.config import ProgramConfig
from bgpcore.program.control import ControlServer
from bgpcore.route import Path
from bgpcore.router.core import Router
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family

log = logging.getLogger("bgpcore.daemon")


def _path_json(path: Path, router: Router) -> dict[str, Any]:
    a = path.attrs
    return {
        "next_hop": list(path.next_hop), "from": "local" if path.source.local else path.source.address,
        "peer_router_id": path.source.router_id,
        "as_path": " ".join(" ".join(map(str, asns)) if kind == 2 else "{" + ",".join(map(str, asns)) + "}"
                            for kind, asns in a.as_path),
        "origin": a.origin, "local_pref": a.local_pref, "med": a.med,
        "communities": [f"{c >> 16}:{c & 0xFFFF}" for c in a.communities],
        "originator_id": a.originator_id, "cluster_list": list(a.cluster_list),
    }


def _limit(args: Mapping[str, Any]) -> int:
    value = args.get("limit", 100)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"limit must be a non-negative integer, not {value!r}")
    return value


class Daemon:
    """A router and its control socket, started and stopped together."""

    def __init__(self, config: ProgramConfig) -> None:
        self.config = config
        self.router = Router(config.router)
        self.control = ControlServer(config.control_socket, {
            "show neighbors": lambda args: self.neighbors(),
            "show routes": lambda args: self.routes(args.get("prefix"), _limit(args)),
            "show fib": lambda args: self.fib(_limit(args)),
            "show bfd": lambda args: self.bfd(),
        })

    async def start(self) -> None:
        await self.control.start()
        try:
            await self.router.start()
        except BaseException:
            await self.control.stop()
            raise

    async def stop(self) -> None:
        await self.router.stop()
        await self.control.stop()

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
                "families": [("ipv4" if f[0] == 1 else "ipv6") + "-unicast" for f in s.families],
            })
        return out

    def bfd(self) -> list[dict[str, Any]]:
        """``show bfd``: one object per BFD session (state, discriminators, negotiated intervals
        in µs, detection time, uptime, counters, and the BGP neighbor it guards)."""
        return self.router.bfd.status_dicts() if self.router.bfd is not None else []

    def routes(self, prefix: str | None = None, limit: int = 100) -> dict[str, Any]:
        """``show routes [prefix|address]``: a prefix's paths (an address: longest match), or
        the first ``limit`` prefixes of the Loc-RIB and how many there are."""
        router = self.router
        if prefix is not None:
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
        total = 0
        routes: list[dict[str, Any]] = []
        families: tuple[Family, ...] = (IPV4_UNICAST, IPV6_UNICAST)
        for family in families:
            for net, paths in router.routes(family):
                total += 1
                if len(routes) < limit:
                    routes.append({"prefix": str(net), "paths": [_path_json(p, router) for p in paths]})
        return {"total": total, "routes": routes}

    def fib(self, limit: int = 100) -> dict[str, Any]:
        """``show fib``: the routes given to the kernel; without a FIB, what one would hold."""
        if self.router.fib is None:
            shown = self.routes(None, limit)
            return {"installed": False, "total": shown["total"],
                    "routes": [{"prefix": r["prefix"], "next_hop": r["paths"][0]["next_hop"]} for r in shown["routes"]]}
        routes = self.router.fib_routes()
        return {"installed": True, "total": len(routes), "routes": [
            {"prefix": str(r.prefix), "next_hop": [f"{h.gateway or ''}{'%' + h.ifname if h.ifname else ''}"
                                                   for h in r.nexthops]} for r in routes[:limit]]}


def _tune_gc() -> None:
    """A full table is millions of long-lived tuples: move what start-up made out of the
    collector's sight and collect the young generation less often, so a table load does not
    spend its time re-scanning the RIB (route values hold no reference cycles)."""
    if os.environ.get("BGPCORE_DEFAULT_GC"):
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def serve(config: ProgramConfig, ready: asyncio.Event | None = None) -> None:
    """Run the router of ``config`` until SIGTERM or SIGINT."""
    daemon = Daemon(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await daemon.start()
    _tune_gc()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await daemon.stop()


__all__ = ["Daemon", "serve"]
