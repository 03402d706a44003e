"""A configured neighbor as the speaker keeps it, and the views of it that leave the speaker.

``Neighbor`` holds the sessions of one neighbor (the main one and, during a collision, the
others); ``NeighborStatus`` is its ``show bgp neighbors`` view; ``PeerEvent`` and
``EventStream`` carry its session events to subscribers. Peers are named at this edge by a
``PeerKey``: the address, with ``%interface`` for a link-local one.
"""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bgpcore.constants import MsgType
from bgpcore.errors import UsageError
from bgpcore.session.events import Event
from bgpcore.session.fsm import State
from bgpcore.transport.config import NeighborConfig, NeighborKey, neighbor_key
from bgpcore.transport.protocol import SessionDriver
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family

PeerKey = str
"""A neighbor at the API edge: its address, with ``%interface`` appended for a link-local one."""


def peer_key_of(key: NeighborKey) -> PeerKey:
    """The ``PeerKey`` of a neighbor identity."""
    address, interface = key
    return f"{address}%{interface}" if interface else address


def neighbor_key_of(peer: PeerKey) -> NeighborKey:
    """The neighbor identity of a ``PeerKey``.

    Raises:
        UsageError: ``peer`` is not an address (with an optional ``%interface``).
    """
    address, _, interface = peer.partition("%")
    try:
        return neighbor_key(address, interface or None)
    except ValueError:
        raise UsageError(f"not a neighbor address: {peer!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerEvent:
    """A session event, with the neighbor it came from."""

    peer: PeerKey
    event: Event


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborStatus:
    """One line of ``show bgp summary`` plus what ``show bgp neighbors`` adds."""

    peer: PeerKey
    description: str
    remote_as: int | str
    peer_as: int | None
    peer_id: str | None
    state: str
    uptime_s: float | None
    established_count: int
    messages_in: dict[str, int]
    messages_out: dict[str, int]
    prefixes_received: int | None
    last_error: str | None
    local_address: str | None
    remote_address: str | None
    hold_time_s: int | None
    families: tuple[Family, ...]
    peer_capabilities: tuple[str, ...]
    dynamic: bool


class Neighbor:
    """One configured (or dynamic) neighbor and its sessions."""

    __slots__ = ("config", "key", "peer", "main", "extras", "connect_task", "dynamic", "up_driver", "graceful",
                 "restart_timer", "established_count")

    def __init__(self, config: NeighborConfig, main: SessionDriver, dynamic: bool) -> None:
        self.config = config
        self.key = config.key
        self.peer = peer_key_of(self.key)
        self.main = main
        self.extras: list[SessionDriver] = []
        self.connect_task: asyncio.Task[None] | None = None
        self.dynamic = dynamic
        self.up_driver: SessionDriver | None = None
        self.graceful = False  # both sides announced graceful restart on the session that is up
        self.restart_timer: asyncio.TimerHandle | None = None  # maximum-prefix restart
        self.established_count = 0  # sessions that reached Established, whichever connection carried them

    def drivers(self) -> list[SessionDriver]:
        return [self.main, *self.extras]

    def status(self, prefixes_received: int | None) -> NeighborStatus:
        """The ``show`` view of this neighbor."""
        driver = self.up_driver or self.main
        s = driver.session
        params = s.params if s.state is State.ESTABLISHED else None
        protocol = driver.protocol
        return NeighborStatus(
            peer=self.peer, description=self.config.description, remote_as=self.config.remote_as,
            peer_as=params.remote_as if params else None, peer_id=params.remote_id if params else None,
            state=s.state.name,
            uptime_s=(time.monotonic() - s.established_at) if s.established_at is not None and params else None,
            established_count=self.established_count,
            messages_in={MsgType(t).name: c for t, c in s.messages_in.items()},
            messages_out={MsgType(t).name: c for t, c in s.messages_out.items()},
            prefixes_received=prefixes_received, last_error=s.last_error,
            local_address=protocol.sockname[0] if protocol else None,
            remote_address=protocol.peername[0] if protocol else None,
            hold_time_s=params.hold_time_s if params else None,
            families=params.families if params else (),
            peer_capabilities=tuple(type(c).__name__ for c in params.peer_capabilities) if params else (),
            dynamic=self.dynamic,
        )


class EventStream:
    """Events of a speaker from the moment of subscription; ``async for`` over it.

    The queue is bounded: a subscriber that stops reading loses events (counted in
    ``dropped``) rather than making the speaker's memory grow.
    """

    def __init__(self, size: int, on_close: Callable[[EventStream], None], *, updates: bool = True) -> None:
        self.queue: asyncio.Queue[PeerEvent] = asyncio.Queue(size)
        self.dropped = 0
        self.updates = updates
        """Whether ``UpdateReceived`` events are delivered."""
        self._on_close = on_close

    def put(self, item: PeerEvent) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        """Unsubscribe."""
        self._on_close(self)

    def __aiter__(self) -> AsyncIterator[PeerEvent]:
        return self

    async def __anext__(self) -> PeerEvent:
        return await self.queue.get()


def family_key(prefix: str) -> tuple[Family, bytes]:
    """(family, NLRI key) of ``"198.51.100.0/24"``; inet_pton keeps this off the ipaddress slow path.

    Raises:
        UsageError: not a prefix, or host bits set.
    """
    address, _, length = prefix.partition("/")
    six = ":" in address
    max_len = 128 if six else 32
    try:
        packed = socket.inet_pton(socket.AF_INET6 if six else socket.AF_INET, address)
        plen = int(length) if length else max_len
    except (OSError, ValueError):
        raise UsageError(f"not a prefix: {prefix!r}") from None
    if not 0 <= plen <= max_len or int.from_bytes(packed, "big") & ((1 << (max_len - plen)) - 1):
        raise UsageError(f"not a prefix (length or host bits): {prefix!r}")
    return (IPV6_UNICAST if six else IPV4_UNICAST), bytes((plen,)) + packed[: (plen + 7) >> 3]


def interface_name(scope: int) -> str | None:
    """The name of interface ``scope`` (a link-local address's scope id), or None."""
    if not scope:
        return None
    try:
        return socket.if_indextoname(scope)
    except OSError:
        return None
