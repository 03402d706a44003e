"""The route-reflector program: a ``Speaker`` whose route handler is the ``Rib``, plus the control socket.

The speaker names peers by address text and asks for output in messages; the RIB names
peers by small integers and produces output by bytes. ``RibHandler`` translates between the
two and adds what the RIB needs per session from the program's configuration (RR client or
not). After an UPDATE has been applied, every peer with new output is pumped once per turn of
the event loop, so a burst of received UPDATEs costs one wake-up per client, not one per UPDATE.
"""
from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import os
import signal
import time
from typing import Any

from bgpcore.errors import BgpError
from bgpcore.program.config import ProgramConfig
from bgpcore.program.control import ControlServer
from bgpcore.rib.manager import PeerInfo as RibPeerInfo
from bgpcore.rib.manager import Rib
from bgpcore.route import Path
from bgpcore.transport.routes import NextHop, PeerId, PeerInfo
from bgpcore.transport.speaker import Speaker
from bgpcore.wire import accel
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family
from bgpcore.wire.nlri import key_to_network, network_key
from bgpcore.wire.types import PathAttributes, Update

log = logging.getLogger("bgpcore.rr")

_MESSAGE_BUDGET = 4096
"""Bytes asked of the RIB per message the speaker asks for."""


class RibHandler:
    """The speaker's ``RouteHandler`` backed by a ``Rib`` (route selection and reflection)."""

    def __init__(self, rib: Rib, rr_clients: frozenset[str] = frozenset(),
                 next_hop_self: frozenset[str] = frozenset()) -> None:
        self.rib = rib
        self.rr_clients = rr_clients
        self.next_hop_self = next_hop_self
        self.speaker: Speaker | None = None
        self._ids: dict[PeerId, int] = {}
        self._up: dict[PeerId, int] = {}
        self._pump_scheduled = False
        self._stale_timer: asyncio.TimerHandle | None = None

    def _id(self, peer: PeerId) -> int:
        number = self._ids.get(peer)
        if number is None:
            number = self._ids[peer] = len(self._ids)
        return number

    def peer_up(self, peer: PeerId, info: PeerInfo) -> None:
        params = info.params
        self.rib.peer_up(self._id(peer), RibPeerInfo(
            asn=params.remote_as, router_id=params.remote_id, address=info.remote_address or peer,
            local_address=info.next_hop_ipv4 or info.local_address, local_address6=info.next_hop_ipv6,
            rr_client=peer in self.rr_clients, send_ctx=params.send_ctx, recv_ctx=params.recv_ctx,
            families=frozenset(params.families), next_hop_self=peer in self.next_hop_self,
            restart_time_s=params.graceful_restart.restart_time_s if params.graceful_restart else None))
        self._up[peer] = self._ids[peer]
        self._schedule_pump()
        self._arm_stale_timer()  # a restarted peer's stale routes wait for End-of-RIB this long

    def peer_down(self, peer: PeerId, graceful: bool = False) -> None:
        number = self._up.pop(peer, None)
        if number is not None:
            self.rib.peer_down(number, graceful=graceful, now=time.monotonic())
            self._schedule_pump()
            self._arm_stale_timer()

    def _arm_stale_timer(self) -> None:
        """Run the RIB's stale-route timer (graceful restart) when it is next due."""
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None
        deadline = self.rib.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - time.monotonic())
            self._stale_timer = asyncio.get_running_loop().call_later(delay, self._stale_timer_fired)

    def _stale_timer_fired(self) -> None:
        self._stale_timer = None
        self.rib.handle_timer(time.monotonic())
        self._schedule_pump()
        self._arm_stale_timer()

    def receive(self, peer: PeerId, update: Update) -> None:
        number = self._up.get(peer)
        if number is not None:
            self.rib.receive(number, update)
            self._schedule_pump()

    def resend(self, peer: PeerId, family: Family) -> None:
        number = self._up.get(peer)
        if number is not None:
            self.rib.route_refresh(number)

    def pull(self, peer: PeerId, max_messages: int) -> list[bytes]:
        number = self._up.get(peer)
        if number is None:
            return []
        return self.rib.next_messages(number, max_messages * _MESSAGE_BUDGET)

    def announce(self, family: Family, key: bytes, attributes: PathAttributes, next_hop: NextHop | None) -> list[PeerId]:
        self.rib.originate(family, [key], attributes, next_hop or ())
        return self._pending()

    def withdraw(self, family: Family, key: bytes) -> list[PeerId]:
        self.rib.withdraw_originated(family, [key])
        return self._pending()

    def _pending(self) -> list[PeerId]:
        return [peer for peer, number in self._up.items() if self.rib.pending(number)]

    def _schedule_pump(self) -> None:
        if self._pump_scheduled or self.speaker is None:
            return
        self._pump_scheduled = True
        asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        if self.speaker is not None:
            # the speaker pumps a peer on writability and after announce(); this is the same
            # entry point for output that became pending because another peer sent an UPDATE
            self.speaker.pump(self._pending())

    def prefix_count(self, peer: PeerId) -> int | None:
        number = self._up.get(peer)
        return None if number is None else self.rib.prefix_count(number)


def _path_json(path: Path, family: Family) -> dict[str, Any]:
    a = path.attrs
    return {
        "next_hop": list(path.next_hop), "from": path.source.address, "peer_router_id": path.source.router_id,
        "as_path": " ".join(" ".join(map(str, asns)) if kind == 2 else "{" + ",".join(map(str, asns)) + "}"
                            for kind, asns in a.as_path),
        "origin": a.origin, "local_pref": a.local_pref, "med": a.med,
        "communities": [f"{c >> 16}:{c & 0xFFFF}" for c in a.communities],
        "originator_id": a.originator_id, "cluster_list": list(a.cluster_list),
    }


class RouteReflector:
    """A configured speaker + RIB + control socket, started and stopped together."""

    def __init__(self, config: ProgramConfig) -> None:
        self.config = config
        self.rib = Rib(config.rib)
        self.handler = RibHandler(self.rib, config.rr_clients, config.next_hop_self)
        self.speaker = Speaker(config.speaker, handler=self.handler)
        self.handler.speaker = self.speaker
        self.control = ControlServer(config.control_socket, {
            "show neighbors": lambda args: self.neighbors(),
            "show routes": lambda args: self.routes(args.get("prefix"), int(args.get("limit", 100))),
            "show fib": lambda args: self.fib(int(args.get("limit", 100))),
        })

    async def start(self) -> None:
        log.info("bgpcore route reflector: AS %s, router id %s, cluster id %s, %s shard(s); "
                 "UPDATE codec: %s", self.config.rib.local_asn, self.config.rib.router_id,
                 self.config.rib.cluster_id, self.config.rib.shards,
                 "Cython fast path (bgpcore_fast)" if accel.ACCELERATED else "pure Python (bgpcore_fast not loaded)")
        await self.control.start()
        await self.speaker.start()

    async def stop(self) -> None:
        await self.speaker.stop("route reflector shutting down")
        await self.control.stop()
        self.rib.close()

    def neighbors(self) -> list[dict[str, Any]]:
        """``show neighbors``: one object per configured neighbor."""
        out = []
        for s in self.speaker.neighbors():
            out.append({
                "peer": s.peer, "description": s.description, "remote_as": s.remote_as, "state": s.state,
                "router_id": s.peer_id, "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 1),
                "rr_client": s.peer in self.config.rr_clients, "prefixes_received": self.handler.prefix_count(s.peer),
                "messages_in": s.messages_in, "messages_out": s.messages_out, "last_error": s.last_error,
                "families": [("ipv4" if f[0] == 1 else "ipv6") + "-unicast" for f in s.families],
            })
        return out

    def routes(self, prefix: str | None = None, limit: int = 100) -> dict[str, Any]:
        """``show routes [prefix]``: the best path and alternatives of a prefix, or the first
        ``limit`` prefixes of the Loc-RIB and how many there are."""
        if prefix is not None:
            try:
                net = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise BgpError(f"{prefix!r} is not a prefix") from None
            family = IPV4_UNICAST if net.version == 4 else IPV6_UNICAST
            paths = self.rib.best_paths(family).get(network_key(net), ())
            return {"total": 1 if paths else 0,
                    "routes": [{"prefix": str(net), "paths": [_path_json(p, family) for p in paths]}] if paths else []}
        total = 0
        routes: list[dict[str, Any]] = []
        for family in (IPV4_UNICAST, IPV6_UNICAST):
            table = self.rib.best_paths(family)
            total += len(table)
            for key, paths in table.items():
                if len(routes) >= limit:
                    break
                routes.append({"prefix": str(key_to_network(key, family[0])),
                               "paths": [_path_json(p, family) for p in paths]})
        return {"total": total, "routes": routes}

    def fib(self, limit: int = 100) -> dict[str, Any]:
        """``show fib``: what a FIB would hold (prefix and next hops of the best path); a
        route reflector installs nothing in the kernel."""
        shown = self.routes(None, limit)
        return {"installed": False, "total": shown["total"],
                "routes": [{"prefix": r["prefix"], "next_hop": r["paths"][0]["next_hop"]} for r in shown["routes"]]}


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
    """Run a route reflector until SIGTERM or SIGINT."""
    rr = RouteReflector(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await rr.start()
    _tune_gc()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await rr.stop()


__all__ = ["RibHandler", "RouteReflector", "serve"]
