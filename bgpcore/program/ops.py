"""Operations around a running router: BMP to collectors, MRT dumps, the metrics endpoint.

``Operations`` is what ``bgpcore run`` starts next to the router when the configuration has
``[bmp]``, ``[mrt]`` or ``[metrics]``. It subscribes once to the router's events and hands
each to its consumers, which are plain objects:

* PeerUp / PeerDown / RouteReceived / BestPathChanged / BestPathWithdrawn →
  ``BmpExporter`` (pre-policy Adj-RIB-In and Loc-RIB monitoring);
* PeerUp / PeerDown / RouteReceived → ``MrtUpdateLog`` (BGP4MP records);
* the Loc-RIB itself, read every ``rib_interval`` → ``MrtRibDumper`` (TABLE_DUMP_V2).

When the subscription loses events (its queue overflowed during a burst), the BMP Loc-RIB
mirror is brought back in line by comparing it with the Loc-RIB.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, BinaryIO

from bgpcore.bmp.exporter import BmpExporter
from bgpcore.bmp.state import BmpPeer, BmpState
from bgpcore.errors import UsageError
from bgpcore.mrt_write import (
    ESTABLISHED,
    IDLE,
    OPEN_CONFIRM,
    RibDumpBuilder,
    encode_bgp4mp_message,
    encode_bgp4mp_state_change,
)
from bgpcore.program.ops_config import MrtConfig, OpsConfig
from bgpcore.router.core import Router
from bgpcore.router.events import BestPathChanged, BestPathWithdrawn, PeerDown, PeerUp, RouteReceived, RouterEvents
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext, Family
from bgpcore.wire.nlri import network_key
from bgpcore.wire.update import encode_update

if TYPE_CHECKING:
    from bgpcore.program.metrics import MetricsServer

log = logging.getLogger("bgpcore.ops")
FAMILIES: tuple[Family, ...] = (IPV4_UNICAST, IPV6_UNICAST)
EVENT_QUEUE_SIZE = 1 << 22
"""Events the BMP/MRT subscription may hold: a full table's best-path changes arrive in bursts
that the default queue (``RouterConfig.event_queue_size``) would cut; a lost RouteReceived
cannot be recovered (the pre-policy UPDATE is gone)."""
_V4 = frozenset({IPV4_UNICAST})


def bmp_peer(router: Router, peer: str, event: PeerUp) -> BmpPeer:
    """The Peer Up facts of ``peer`` from the router's neighbor status and configuration."""
    address = peer.partition("%")[0]
    local_address, hold, addpath = "", 90, frozenset[Family]()
    try:
        status = router.neighbor(peer)
        local_address = (status.local_address or "").partition("%")[0]
        hold = status.hold_time_s or 0
        if "AddPath" in status.peer_capabilities:
            config = router.speaker.neighbor_config(peer)
            addpath = frozenset((afi, safi) for afi, safi, mode in config.addpath if mode & 1)
    except (UsageError, KeyError, AttributeError):
        pass
    return BmpPeer(address=address, asn=event.remote_as, bgp_id=event.router_id, local_address=local_address,
                   local_as=router.config.local_as, local_id=router.config.router_id, families=event.families,
                   hold_time_s=hold, addpath=addpath, up_since=time.time())


class MrtUpdateLog:
    """BGP4MP update log: one file per ``interval_s`` (aligned to UTC multiples of it),
    named by ``pattern`` (``time.strftime``) in ``directory``."""

    def __init__(self, directory: str, interval_s: float, pattern: str, local_as: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = FilePath(directory)
        self.interval_s = interval_s
        self.pattern = pattern
        self.local_as = local_as
        self.clock = clock
        self._file: BinaryIO | None = None
        self._file_end = 0.0
        self.peers: dict[str, tuple[int, str, frozenset[Family]]] = {}
        self.records = 0
        self.files: list[str] = []

    def _out(self, now: float) -> BinaryIO:
        if self._file is None or now >= self._file_end:
            self.close()
            start = now - now % self.interval_s
            self._file_end = start + self.interval_s
            name = self.directory / time.strftime(self.pattern, time.gmtime(start))
            self._file = open(name, "ab")
            self.files.append(str(name))
        return self._file

    def write(self, record: bytes) -> None:
        self._out(self.clock()).write(record)
        self.records += 1

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def peer_up(self, peer: str, info: BmpPeer) -> None:
        self.peers[peer] = (info.asn, info.local_address, info.addpath)
        self.write(encode_bgp4mp_state_change(OPEN_CONFIRM, ESTABLISHED, peer_as=info.asn, local_as=self.local_as,
                                              peer_address=info.address, local_address=info.local_address,
                                              timestamp=self.clock(), extended_time=True))

    def peer_down(self, peer: str) -> None:
        known = self.peers.pop(peer, None)
        if known is not None:
            self.write(encode_bgp4mp_state_change(ESTABLISHED, IDLE, peer_as=known[0], local_as=self.local_as,
                                                  peer_address=peer.partition("%")[0], local_address=known[1],
                                                  timestamp=self.clock(), extended_time=True))

    def update(self, peer: str, event: RouteReceived) -> None:
        known = self.peers.get(peer)
        if known is None:
            return
        asn, local, addpath = known
        ctx = CodecContext(asn4=True, addpath=addpath, extended_nexthop=_V4, extended_message=True)
        try:
            message = encode_update(event.update, ctx)
        except UsageError as exc:
            log.warning("MRT update log: UPDATE from %s not recorded: %s", peer, exc)
            return
        self.write(encode_bgp4mp_message(message, peer_as=asn, local_as=self.local_as,
                                         peer_address=peer.partition("%")[0], local_address=local,
                                         timestamp=self.clock(), addpath=bool(addpath), extended_time=True))


async def write_rib_dump(router: Router, path: str | os.PathLike[str], now: float | None = None,
                         chunk: int = 5000) -> int:
    """Write the Loc-RIB of ``router`` as a TABLE_DUMP_V2 file at ``path`` (via a temporary
    name, renamed when complete); returns the number of prefixes. The table is copied first,
    then encoded in chunks between which the event loop runs."""
    now = time.time() if now is None else now
    config = router.config
    builder = RibDumpBuilder(config.router_id, config.local_as)
    tables = [(family, list(router.rib.best_paths(family).items())) for family in FAMILIES]
    tmp = f"{os.fspath(path)}.tmp"
    count = 0
    body = open(tmp + ".body", "wb")
    try:
        for family, items in tables:
            for start in range(0, len(items), chunk):
                body.write(b"".join(builder.records(family, items[start:start + chunk], now)))
                count += min(chunk, len(items) - start)
                await asyncio.sleep(0)
        body.close()
        with open(tmp, "wb") as out, open(tmp + ".body", "rb") as part:
            out.write(builder.peer_index_table(now))
            while block := part.read(1 << 20):
                out.write(block)
        os.replace(tmp, path)
    finally:
        body.close()
        for leftover in (tmp, tmp + ".body"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return count


class Operations:
    """BMP, MRT and metrics of one router (see the module docstring).

    Args:
        router: the router, subscribed to at construction (before it starts).
        config: the ``[bmp]``, ``[mrt]`` and ``[metrics]`` tables.
    """

    def __init__(self, router: Router, config: OpsConfig) -> None:
        self.router = router
        self.config = config
        self.bmp: BmpExporter | None = None
        self.update_log: MrtUpdateLog | None = None
        self.metrics: MetricsServer | None = None
        self.rib_dumps = 0
        self.last_rib_dump: str | None = None
        self._events: RouterEvents | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._peers: dict[str, BmpPeer] = {}
        self._dropped = 0
        rc = router.config
        if config.bmp is not None:
            state = BmpState(local_as=rc.local_as, router_id=rc.router_id,
                             sys_name=config.bmp.sys_name or socket.gethostname(),
                             sys_descr=f"bgpcore {_version()}", loc_rib=config.bmp.loc_rib)
            self.bmp = BmpExporter(state, list(config.bmp.stations),
                                   statistics_interval_s=config.bmp.statistics_interval_s)
        mrt = config.mrt
        if mrt is not None and mrt.updates_interval_s:
            self.update_log = MrtUpdateLog(mrt.dump_dir, mrt.updates_interval_s, mrt.updates_file, rc.local_as)
        if self.bmp is not None or self.update_log is not None:
            if router.config.event_queue_size < EVENT_QUEUE_SIZE:  # a table load is one burst of events
                router.config = replace(router.config, event_queue_size=EVENT_QUEUE_SIZE)
            self._events = router.events()

    @property
    def active(self) -> bool:
        return self.bmp is not None or self.config.mrt is not None or self.config.metrics is not None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.config.mrt is not None:
            FilePath(self.config.mrt.dump_dir).mkdir(parents=True, exist_ok=True)
        if self.config.metrics is not None:
            from bgpcore.program.metrics import MetricsServer

            server = MetricsServer(self.router, self.config.metrics.listen, ops=self)
            await server.start()
            self.metrics = server
        if self.bmp is not None:
            await self.bmp.start()
            if not self.router.config.track_changes and self.config.bmp and self.config.bmp.loc_rib:
                self._tasks.append(loop.create_task(self._sync_loc_rib_every(2.0)))
        if self._events is not None:
            self._tasks.append(loop.create_task(self._consume(self._events), name="ops events"))
        if self.config.mrt is not None and self.config.mrt.rib_interval_s:
            self._tasks.append(loop.create_task(self._rib_dumps(self.config.mrt)))

    async def stop(self) -> None:
        """After the router stopped: the event stream is drained, then BMP says Termination."""
        for task in self._tasks:
            if task.get_name() == "ops events":
                try:
                    await asyncio.wait_for(asyncio.shield(task), 2.0)
                except (asyncio.TimeoutError, Exception):
                    pass
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self._events is not None:
            self._events.close()
        if self.bmp is not None:
            await self.bmp.stop()
        if self.update_log is not None:
            self.update_log.close()
        if self.metrics is not None:
            await self.metrics.stop()
            self.metrics = None

    # -- the event consumer -----------------------------------------------------------------------

    async def _consume(self, events: RouterEvents) -> None:
        bmp, mrt = self.bmp, self.update_log
        n = 0
        async for event in events:
            if isinstance(event, RouteReceived):
                if bmp is not None:
                    bmp.route_received(event.peer, event.update)
                if mrt is not None:
                    mrt.update(event.peer, event)
            elif isinstance(event, BestPathChanged):
                if bmp is not None:
                    bmp.best_changed(event.family, network_key(event.prefix), event.best)
            elif isinstance(event, BestPathWithdrawn):
                if bmp is not None:
                    bmp.best_changed(event.family, network_key(event.prefix), None)
            elif isinstance(event, PeerUp):
                info = bmp_peer(self.router, event.peer, event)
                if bmp is not None:
                    bmp.peer_up(event.peer, info)
                if mrt is not None:
                    mrt.peer_up(event.peer, info)
            elif isinstance(event, PeerDown):
                if bmp is not None:
                    bmp.peer_down(event.peer, event.reason)
                if mrt is not None:
                    mrt.peer_down(event.peer)
            n += 1
            if n % 4096 == 0:
                if mrt is not None:
                    mrt.flush()
            if events.dropped != self._dropped:
                self._dropped = events.dropped
                self._resync_after_loss()
        if mrt is not None:
            mrt.flush()

    def _resync_after_loss(self) -> None:
        log.warning("operations: %d router events lost so far (burst larger than the event queue)", self._dropped)
        if self.bmp is not None and self.bmp.state.loc_rib_enabled:
            for family in FAMILIES:
                self.bmp.sync_loc_rib(family, self.router.rib.best_paths(family))

    async def _sync_loc_rib_every(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            if self.bmp is not None:
                for family in FAMILIES:
                    self.bmp.sync_loc_rib(family, self.router.rib.best_paths(family))

    # -- periodic RIB dumps -------------------------------------------------------------------------

    async def dump_rib(self, now: float | None = None) -> str:
        """Write one RIB dump now (``[mrt] rib_file`` in ``dump_dir``); returns its path."""
        mrt = self.config.mrt
        if mrt is None:
            raise UsageError("no [mrt] table in the configuration")
        now = time.time() if now is None else now
        path = os.path.join(mrt.dump_dir, time.strftime(mrt.rib_file, time.gmtime(now)))
        count = await write_rib_dump(self.router, path, now)
        self.rib_dumps += 1
        self.last_rib_dump = path
        log.info("MRT RIB dump %s: %d prefixes", path, count)
        return path

    async def _rib_dumps(self, mrt: MrtConfig) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(mrt.rib_interval_s - now % mrt.rib_interval_s)
            try:
                await self.dump_rib()
            except OSError as exc:
                log.error("MRT RIB dump failed: %s", exc)


def _version() -> str:
    from bgpcore import __version__

    return __version__


__all__ = ["MrtUpdateLog", "Operations", "bmp_peer", "write_rib_dump"]
