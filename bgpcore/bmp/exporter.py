"""The BMP exporter on asyncio: a thin adapter between ``BmpState`` and TCP connections.

Each station (collector) gets its own connection that retries with exponential backoff and
jitter. On every (re)connect the station receives ``BmpState.snapshot`` (Initiation, Peer
Ups, all routes, End-of-RIB); messages for changes made while the snapshot is being sent are
queued and follow it. A station that falls more than ``max_queue_bytes`` behind is
disconnected and resynchronised by the next snapshot rather than buffered without bound.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable

from bgpcore.bmp.state import BmpPeer, BmpState
from bgpcore.route import Path
from bgpcore.wire.context import Family
from bgpcore.wire.types import Update

log = logging.getLogger("bgpcore.bmp")


def parse_station(text: str) -> tuple[str, int]:
    """``"192.0.2.9:1790"``, ``"[2001:db8::9]:1790"`` or ``"collector.example:1790"``.

    Raises:
        ValueError: no port, or a port out of range.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not address:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 station as [address]:port")
    return host, int(port)


class BmpStation:
    """One collector connection (see the module docstring)."""

    def __init__(self, host: str, port: int, state: BmpState, *, clock: Callable[[], float] = time.time,
                 backoff_s: tuple[float, float] = (1.0, 30.0), max_queue_bytes: int = 64 << 20,
                 rng: random.Random | None = None) -> None:
        self.host, self.port = host, port
        self.state = state
        self.clock = clock
        self.backoff_s = backoff_s
        self.max_queue_bytes = max_queue_bytes
        self.rng = rng or random.Random()
        self.connected = False
        self.connects = 0
        self.messages_sent = 0
        self.last_error: str | None = None
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._accepting = False
        self._wake = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bmp {self.name}")

    async def stop(self, termination: bytes | None, timeout_s: float = 2.0) -> None:
        """Send what is queued and Termination (when connected), close, stop reconnecting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self._accepting and termination is not None:
            self.send([termination])
            while self._accepting and loop.time() < deadline and (
                    self._queue or (self._writer is not None and self._writer.transport.get_write_buffer_size())):
                await asyncio.sleep(0.01)
        self._accepting = False
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._drop_queue()
        self.connected = False

    def send(self, messages: list[bytes]) -> None:
        """Queue live messages (dropped while disconnected: the next snapshot covers them)."""
        if not self._accepting or not messages:
            return
        self._queue.extend(messages)
        self._queued_bytes += sum(map(len, messages))
        if self._queued_bytes > self.max_queue_bytes:
            log.warning("BMP station %s is %d octets behind: reconnecting to resynchronise", self.name,
                        self._queued_bytes)
            self._accepting = False
            self._drop_queue()
            if self._writer is not None:
                self._writer.transport.abort()
        self._wake.set()

    def _drop_queue(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0

    async def _run(self) -> None:
        delay = self.backoff_s[0]
        while True:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                self.last_error = str(exc)
                wait = delay * (0.75 + 0.5 * self.rng.random())
                log.debug("BMP station %s: %s; retrying in %.1f s", self.name, exc, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            delay = self.backoff_s[0]
            self.connects += 1
            self._writer = writer
            watcher = asyncio.get_running_loop().create_task(self._watch(reader))
            try:
                await self._session(writer, watcher)
            except (OSError, ConnectionError) as exc:
                self.last_error = str(exc) or type(exc).__name__
            finally:
                self._accepting = False
                self.connected = False
                self._writer = None
                self._drop_queue()
                watcher.cancel()
                writer.transport.abort()
            log.warning("BMP station %s: connection lost (%s); reconnecting", self.name, self.last_error)
            await asyncio.sleep(self.backoff_s[0] * (0.75 + 0.5 * self.rng.random()))

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """A station sends nothing (RFC 7854 §3.2): reading only tells us when it closes."""
        try:
            while await reader.read(4096):
                pass
        except OSError:
            pass
        self._wake.set()

    async def _session(self, writer: asyncio.StreamWriter, watcher: asyncio.Task[None]) -> None:
        self.connected = True
        self._accepting = True
        log.info("BMP station %s connected: sending the current state", self.name)
        for batch in self.state.snapshot(self.clock()):
            for message in batch:
                writer.write(message)
            self.messages_sent += len(batch)
            await writer.drain()
            if watcher.done():
                raise ConnectionError("station closed the connection")
        while True:
            while self._queue:
                n = 0
                while self._queue and n < 1024:
                    message = self._queue.popleft()
                    self._queued_bytes -= len(message)
                    writer.write(message)
                    n += 1
                self.messages_sent += n
                await writer.drain()
            if watcher.done() or not self._accepting:
                raise ConnectionError("station closed the connection")
            self._wake.clear()
            await self._wake.wait()


class BmpExporter:
    """``BmpState`` fed by the router's events and copied to every station.

    The program wires it (``bgpcore.program.ops``): the router's PeerUp, PeerDown,
    RouteReceived and best-path events become ``peer_up``, ``peer_down``,
    ``route_received`` and ``best_changed`` calls.

    Args:
        state: the mirror and encoder.
        stations: (host, port) of each collector.
        statistics_interval_s: period of Statistics Reports (0: none).
    """

    def __init__(self, state: BmpState, stations: list[tuple[str, int]], *, statistics_interval_s: float = 60.0,
                 clock: Callable[[], float] = time.time, backoff_s: tuple[float, float] = (1.0, 30.0)) -> None:
        self.state = state
        self.clock = clock
        self.stations = [BmpStation(h, p, state, clock=clock, backoff_s=backoff_s) for h, p in stations]
        self.statistics_interval_s = statistics_interval_s
        self._stats_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.state.loc_rib_since = self.clock()
        for station in self.stations:
            station.start()
        if self.statistics_interval_s > 0:
            self._stats_task = asyncio.get_running_loop().create_task(self._statistics(), name="bmp statistics")

    async def stop(self) -> None:
        if self._stats_task is not None:
            self._stats_task.cancel()
            self._stats_task = None
        termination = self.state.termination()
        await asyncio.gather(*(s.stop(termination) for s in self.stations))

    def _send(self, messages: list[bytes]) -> None:
        if messages:
            for station in self.stations:
                station.send(messages)

    def peer_up(self, key: str, peer: BmpPeer) -> None:
        self._send(self.state.peer_up(key, peer, self.clock()))

    def peer_down(self, key: str, reason: str) -> None:
        self._send(self.state.peer_down(key, reason, self.clock()))

    def route_received(self, key: str, update: Update) -> None:
        self._send(self.state.route_received(key, update, self.clock()))

    def best_changed(self, family: Family, key: bytes, best: Path | None) -> None:
        self._send(self.state.best_changed(family, key, best, self.clock()))

    def sync_loc_rib(self, family: Family, current: dict[bytes, tuple[Path, ...]]) -> None:
        self._send(self.state.sync_loc_rib(family, current, self.clock()))

    def send_statistics(self) -> None:
        self._send(self.state.statistics(self.clock()))

    async def _statistics(self) -> None:
        while True:
            await asyncio.sleep(self.statistics_interval_s)
            self.send_statistics()


__all__ = ["BmpExporter", "BmpStation", "parse_station"]
