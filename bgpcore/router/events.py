"""What a router tells its subscribers: sessions coming and going, routes received, best
paths changing. Values are built only while someone subscribes, so a router nobody
watches pays nothing for them.
"""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bgpcore.rib.decision import Reason
from bgpcore.route import Path
from bgpcore.transport.neighbor import PeerKey
from bgpcore.wire.context import Family
from bgpcore.wire.types import Update

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerUp:
    """A session reached Established."""

    peer: PeerKey
    remote_as: int
    router_id: str
    families: tuple[Family, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDown:
    """A session left Established; ``graceful``: its routes stay, stale (RFC 4724)."""

    peer: PeerKey
    reason: str
    graceful: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteReceived:
    """An UPDATE arrived from ``peer`` (RFC 7606 outcomes already applied)."""

    peer: PeerKey
    update: Update


@dataclass(frozen=True, slots=True, kw_only=True)
class BestPathChanged:
    """``prefix`` has a new best path; ``paths`` is the multipath set, best first, and
    ``reason`` the decision step that put ``best`` ahead of the next candidate."""

    family: Family
    prefix: IPNetwork
    best: Path
    paths: tuple[Path, ...]
    reason: Reason


@dataclass(frozen=True, slots=True, kw_only=True)
class BestPathWithdrawn:
    """``prefix`` has no path left."""

    family: Family
    prefix: IPNetwork


RouterEvent = PeerUp | PeerDown | RouteReceived | BestPathChanged | BestPathWithdrawn


class RouterEvents:
    """A subscription: ``async for event in router.events()``; the loop ends when the router
    stops or ``close()`` is called.

    The queue is bounded: a subscriber that stops reading loses events (counted in
    ``dropped``) instead of growing the router's memory.
    """

    def __init__(self, size: int, on_close: Callable[[RouterEvents], None]) -> None:
        self._queue: asyncio.Queue[RouterEvent | None] = asyncio.Queue(max(1, size))
        self._on_close = on_close
        self._finished = False
        self.dropped = 0

    def put(self, event: RouterEvent) -> None:
        if self._finished:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    def finish(self) -> None:
        """End the iteration once the events already queued are read."""
        if self._finished:
            return
        self._finished = True
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(None)

    def close(self) -> None:
        """Unsubscribe; iteration ends."""
        self._on_close(self)
        self.finish()

    def __aiter__(self) -> AsyncIterator[RouterEvent]:
        return self

    async def __anext__(self) -> RouterEvent:
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)  # every later __anext__ ends too
            raise StopAsyncIteration
        return event
