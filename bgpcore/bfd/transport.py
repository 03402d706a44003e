"""BFD over UDP for single-hop peers (RFC 5881) on asyncio: sockets and timers around ``BfdSession``.

``BfdEndpoint`` listens on UDP 3784 (IPv4 and IPv6), and gives every peer its own sending
socket bound to a source port in 49152-65535 with TTL / hop limit 255. Received packets must
arrive with TTL / hop limit 255 (§5, read from ``IP_RECVTTL`` / ``IPV6_RECVHOPLIMIT`` ancillary
data); they go to a session by Your Discriminator, or by (source address, interface) while
that is still zero. Each session has one timer, armed at its ``next_deadline()`` with
``loop.call_at``, so periodic transmission keeps to its schedule.

    async with BfdEndpoint() as bfd:
        unsubscribe = bfd.subscribe(lambda ev: print(ev.peer, ev.old.name, "->", ev.new.name))
        handle = bfd.add_peer("fe80::2", interface="eth1", interval_ms=300, multiplier=3)
        ...
        print(json.dumps([s.as_dict() for s in bfd.sessions()]))
"""
from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import logging
import random
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, NamedTuple

from bgpcore.bfd.packet import BfdPacketError, Diag, State, decode_control
from bgpcore.bfd.session import BfdSession, BfdSessionStatus, BfdStateChanged
from bgpcore.errors import UsageError

log = logging.getLogger("bgpcore.bfd")

BFD_CONTROL_PORT: Final = 3784
SOURCE_PORT_MIN: Final = 49152
SOURCE_PORT_MAX: Final = 65535
TTL: Final = 255
# Linux values; the socket module leaves some of them out
_IP_PKTINFO: Final = getattr(socket, "IP_PKTINFO", 8)
_IP_RECVTTL: Final = getattr(socket, "IP_RECVTTL", 12)
_IPV6_RECVHOPLIMIT: Final = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
_IPV6_HOPLIMIT: Final = getattr(socket, "IPV6_HOPLIMIT", 52)
_IPV6_RECVPKTINFO: Final = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IPV6_PKTINFO: Final = getattr(socket, "IPV6_PKTINFO", 50)
_SO_BINDTODEVICE: Final = getattr(socket, "SO_BINDTODEVICE", 25)
_ANCILLARY_SPACE: Final = 256
_MAX_PACKET: Final = 1500
DROP_LOG_INTERVAL_S: Final = 10.0
"""Dropped packets are logged at most once per this many seconds per reason (the rest counted)."""


class PeerKey(NamedTuple):
    """A peer: its address (compressed text) and, for link-local or interface-bound peers, the interface."""

    address: str
    interface: str | None = None

    def __str__(self) -> str:
        return f"{self.address}%{self.interface}" if self.interface else self.address


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdPeerEvent:
    """The BFD session with ``peer`` changed state; ``diag`` says why (ours after the change)."""

    peer: PeerKey
    old: State
    new: State
    diag: Diag | int
    remote_diag: Diag | int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdPeerHandle:
    """What ``add_peer`` returns: pass it to ``remove_peer``, ``status`` and the other per-peer calls."""

    peer: PeerKey
    local_discriminator: int


def _name(value: Any) -> Any:
    return value.name.lower() if isinstance(value, IntEnum) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdPeerStatus:
    """One row of ``show bfd``: which peer, from where, and its session's ``BfdSessionStatus``."""

    peer: PeerKey
    local_address: str | None
    source_port: int
    session: BfdSessionStatus

    def as_dict(self) -> dict[str, Any]:
        """A flat JSON-ready dict; enums as lower-case names, intervals in µs."""
        out: dict[str, Any] = {"peer": self.peer.address, "interface": self.peer.interface,
                               "local_address": self.local_address, "source_port": self.source_port}
        for field in dataclasses.fields(self.session):
            out[field.name] = _name(getattr(self.session, field.name))
        return out


class _Peer:
    __slots__ = ("key", "session", "sock", "dest", "local_address", "source_port", "timer", "armed_at")

    def __init__(self, key: PeerKey, session: BfdSession, sock: socket.socket, dest: tuple[Any, ...],
                 local_address: str | None, source_port: int) -> None:
        self.key, self.session, self.sock, self.dest = key, session, sock, dest
        self.local_address, self.source_port = local_address, source_port
        self.timer: asyncio.TimerHandle | None = None
        self.armed_at: float | None = None


class BfdEventStream:
    """State changes of every peer, as an async iterator; subscribed from creation until ``close``."""

    def __init__(self, endpoint: BfdEndpoint) -> None:
        self._queue: asyncio.Queue[BfdPeerEvent] = asyncio.Queue()
        self._unsubscribe = endpoint.subscribe(self._queue.put_nowait)

    def __aiter__(self) -> AsyncIterator[BfdPeerEvent]:
        return self

    async def __anext__(self) -> BfdPeerEvent:
        return await self._queue.get()

    def close(self) -> None:
        self._unsubscribe()


class BfdEndpoint:
    """BFD for a set of single-hop peers: the listening sockets, one session and socket per peer.

    Args:
        listen_port: where peers send to (3784; tests may use another, or 0 for any free one).
        listen_addresses: local addresses to listen on, one socket each.
        rng: discriminators, source ports and jitter; pass a seeded ``random.Random`` for tests.
    """

    def __init__(self, *, listen_port: int = BFD_CONTROL_PORT,
                 listen_addresses: Sequence[str] = ("0.0.0.0", "::"), rng: random.Random | None = None) -> None:
        self._listen_port = listen_port
        self._listen_addresses = tuple(listen_addresses)
        self._rng = rng or random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[socket.socket] = []
        self._peers: dict[PeerKey, _Peer] = {}
        self._by_discr: dict[int, _Peer] = {}
        self._subscribers: list[Callable[[BfdPeerEvent], None]] = []
        self.ports: dict[str, int] = {}
        """Port bound per listen address (useful with ``listen_port=0``)."""
        self.dropped: dict[str, int] = {"ttl": 0, "malformed": 0, "no_session": 0}
        self._drop_logged: dict[str, float] = {}
        self._drop_unlogged: dict[str, int] = {}

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Open the listening sockets.

        Raises:
            OSError: an address could not be bound (port taken, address missing).
        """
        self._loop = asyncio.get_running_loop()
        for address in self._listen_addresses:
            sock = _listener(address, self._listen_port)
            self._listeners.append(sock)
            self.ports[address] = sock.getsockname()[1]
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)

    def close(self) -> None:
        """Stop at once: no AdminDown is sent, so peers see the session time out."""
        for peer in list(self._peers.values()):
            self._drop(peer)
        for sock in self._listeners:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._listeners.clear()

    async def __aenter__(self) -> BfdEndpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ peers

    def add_peer(self, address: str, interface: str | None = None, local_address: str | None = None,
                 interval_ms: int = 300, multiplier: int = 3, *, min_rx_ms: int | None = None,
                 remote_port: int = BFD_CONTROL_PORT) -> BfdPeerHandle:
        """Start a BFD session with a single-hop peer.

        Args:
            address: the peer's IPv4 or IPv6 address (link-local needs ``interface``).
            interface: the interface the peer is on; packets are sent and accepted only there.
            local_address: source address of our packets (the kernel picks one when None).
            interval_ms: our desired min TX (and, without ``min_rx_ms``, required min RX).
            multiplier: our Detect Mult.
            min_rx_ms: our required min RX when it differs from ``interval_ms``.
            remote_port: the peer's BFD port (3784 but in tests).

        Returns:
            The handle naming this peer in the other calls.

        Raises:
            UsageError: not started, a duplicate peer, a link-local address without interface,
                or bad intervals.
        """
        loop = self._require_loop()
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.version == 6 and ip.is_link_local and not interface:
            raise UsageError(f"link-local peer {address} needs an interface")
        key = PeerKey(ip.compressed, interface)
        if key in self._peers:
            raise UsageError(f"BFD peer {key} already exists")
        rx_ms = interval_ms if min_rx_ms is None else min_rx_ms
        discr = self._new_discriminator()
        session = BfdSession(now=loop.time(), desired_min_tx_us=interval_ms * 1000, required_min_rx_us=rx_ms * 1000,
                             detect_mult=multiplier, local_discriminator=discr, rng=self._rng, label=str(key))
        ifindex = socket.if_nametoindex(interface) if interface else 0
        sock, port = _sender(ip, interface, ifindex, local_address, self._rng)
        dest: tuple[Any, ...] = ((key.address, remote_port) if ip.version == 4
                                 else (key.address, remote_port, 0, ifindex if ip.is_link_local else 0))
        peer = _Peer(key, session, sock, dest, local_address, port)
        self._peers[key] = peer
        self._by_discr[discr] = peer
        log.info("BFD peer %s: discriminator %d, source port %d, %d ms x %d", key, discr, port, interval_ms, multiplier)
        self._after(peer, [])
        return BfdPeerHandle(peer=key, local_discriminator=discr)

    def remove_peer(self, handle: BfdPeerHandle | PeerKey, *, admin_down: bool = True) -> None:
        """End a session; by default the peer is told first (AdminDown, diag 7) so it does not wait
        out its detection time."""
        peer = self._peers.get(handle.peer if isinstance(handle, BfdPeerHandle) else handle)
        if peer is None:
            return
        if admin_down and self._loop is not None:
            peer.session.admin_down(self._loop.time())
            self._transmit(peer)
        self._drop(peer)

    def admin_down(self, handle: BfdPeerHandle) -> None:
        """Hold the session in AdminDown; the peer is told (diag 7)."""
        peer = self._peer(handle)
        self._after(peer, peer.session.admin_down(self._require_loop().time()))

    def enable(self, handle: BfdPeerHandle) -> None:
        """Leave AdminDown."""
        peer = self._peer(handle)
        self._after(peer, peer.session.enable(self._require_loop().time()))

    def set_intervals(self, handle: BfdPeerHandle, interval_ms: int, multiplier: int,
                      min_rx_ms: int | None = None) -> None:
        """Change a session's timers (a Poll Sequence while Up)."""
        peer = self._peer(handle)
        rx_ms = interval_ms if min_rx_ms is None else min_rx_ms
        events = peer.session.set_intervals(interval_ms * 1000, rx_ms * 1000, multiplier, self._require_loop().time())
        self._after(peer, events)

    # ------------------------------------------------------------------ observing

    def subscribe(self, callback: Callable[[BfdPeerEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on every state change of every peer; returns the unsubscribe function.

        Callbacks run on the event loop, after the packets of the change were sent; an exception
        in one is logged and does not reach the endpoint.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)
        return unsubscribe

    def events(self) -> BfdEventStream:
        """An async iterator of every state change from now on (``close()`` it when done)."""
        return BfdEventStream(self)

    def state(self, handle: BfdPeerHandle | PeerKey) -> State:
        return self._peer(handle).session.state

    def status(self, handle: BfdPeerHandle | PeerKey) -> BfdPeerStatus:
        peer = self._peer(handle)
        return BfdPeerStatus(peer=peer.key, local_address=peer.local_address, source_port=peer.source_port,
                             session=peer.session.status(self._require_loop().time()))

    def sessions(self) -> list[BfdPeerStatus]:
        """A status record per session, sorted by peer (``show bfd``)."""
        return [self.status(key) for key in sorted(self._peers, key=str)]

    # ------------------------------------------------------------------ internals

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise UsageError("BfdEndpoint not started")
        return self._loop

    def _peer(self, handle: BfdPeerHandle | PeerKey) -> _Peer:
        key = handle.peer if isinstance(handle, BfdPeerHandle) else handle
        try:
            return self._peers[key]
        except KeyError:
            raise UsageError(f"no BFD peer {key}") from None

    def _new_discriminator(self) -> int:
        while True:
            discr = self._rng.randrange(1, 1 << 32)
            if discr not in self._by_discr:
                return discr

    def _drop(self, peer: _Peer) -> None:
        if peer.timer is not None:
            peer.timer.cancel()
        self._peers.pop(peer.key, None)
        self._by_discr.pop(peer.session.local_discriminator, None)
        peer.sock.close()

    def _transmit(self, peer: _Peer) -> None:
        for data in peer.session.packets_to_send():
            try:
                peer.sock.sendto(data, peer.dest)
            except OSError as exc:  # unreachable, no buffer: BFD retries on its own schedule
                log.debug("BFD peer %s: send failed: %s", peer.key, exc)

    def _after(self, peer: _Peer, events: list[BfdStateChanged]) -> None:
        """After any input: send what is queued, re-arm the one timer, tell subscribers."""
        self._transmit(peer)
        deadline = peer.session.next_deadline()
        if deadline != peer.armed_at:
            if peer.timer is not None:
                peer.timer.cancel()
            peer.armed_at = deadline
            peer.timer = None if deadline is None else self._require_loop().call_at(deadline, self._on_timer, peer)
        for ev in events:
            log.info("BFD peer %s: %s -> %s (diag %s)", peer.key, ev.old.name, ev.new.name, _name(ev.diag))
            out = BfdPeerEvent(peer=peer.key, old=ev.old, new=ev.new, diag=ev.diag, remote_diag=ev.remote_diag,
                               at=ev.at)
            for callback in list(self._subscribers):
                try:
                    callback(out)
                except Exception:  # noqa: BLE001 - a subscriber's bug must not stop BFD
                    log.exception("BFD subscriber failed on %s", out)

    def _on_timer(self, peer: _Peer) -> None:
        if self._peers.get(peer.key) is not peer:
            return
        # asyncio may run a timer up to its clock resolution early: never pass a time before the deadline
        now = max(self._require_loop().time(), peer.armed_at or 0.0)
        peer.timer, peer.armed_at = None, None
        self._after(peer, peer.session.handle_timer(now))

    def _on_readable(self, sock: socket.socket) -> None:
        while True:
            try:
                data, ancdata, _flags, source = sock.recvmsg(_MAX_PACKET, _ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP errors reported on the socket
                log.debug("BFD receive error: %s", exc)
                return
            self._receive(data, ancdata, source)

    def _receive(self, data: bytes, ancdata: list[tuple[int, int, bytes]], source: tuple[Any, ...]) -> None:
        ttl, ifindex = _parse_ancillary(ancdata)
        host = str(source[0]).split("%")[0]
        if ttl != TTL:
            self._dropped("ttl", "BFD packet from %s dropped: TTL/hop limit %s, not %d", host, ttl, TTL)
            return
        try:
            packet = decode_control(data)
        except BfdPacketError as exc:
            self._dropped("malformed", "BFD packet from %s dropped: %s", host, exc)
            return
        address = ipaddress.ip_address(host).compressed
        if not ifindex and len(source) == 4:
            ifindex = int(source[3])
        interface = _ifname(ifindex)
        if packet.your_discriminator:
            peer = self._by_discr.get(packet.your_discriminator)
            if peer is not None and (peer.key.address != address
                                     or (peer.key.interface is not None and peer.key.interface != interface)):
                peer = None
        else:
            peer = self._peers.get(PeerKey(address, interface)) or self._peers.get(PeerKey(address, None))
        if peer is None:
            self._dropped("no_session", "BFD packet from %s%%%s dropped: no session (your discriminator %d)",
                          address, interface, packet.your_discriminator)
            return
        self._after(peer, peer.session.receive(packet, self._require_loop().time()))

    def _dropped(self, reason: str, message: str, *args: Any) -> None:
        """Count a dropped packet; log it, at most once per ``DROP_LOG_INTERVAL_S`` per reason."""
        self.dropped[reason] += 1
        now = time.monotonic()
        last = self._drop_logged.get(reason)
        if last is not None and now - last < DROP_LOG_INTERVAL_S:
            self._drop_unlogged[reason] = self._drop_unlogged.get(reason, 0) + 1
            return
        self._drop_logged[reason] = now
        unlogged = self._drop_unlogged.pop(reason, 0)
        if unlogged:
            message += f" (and {unlogged} more dropped for {reason.replace('_', ' ')} in the last %.0f s unlogged)"
            args = (*args, now - last if last is not None else 0.0)
        log.warning(message, *args)


def _ifname(ifindex: int) -> str | None:
    if not ifindex:
        return None
    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return None


def _parse_ancillary(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, int]:
    """(TTL or hop limit, ifindex) from ``recvmsg`` ancillary data; None/0 when absent."""
    ttl: int | None = None
    ifindex = 0
    for level, kind, payload in ancdata:
        if level == socket.IPPROTO_IP and kind == socket.IP_TTL and len(payload) >= 1:
            ttl = int.from_bytes(payload[:4], "little") if len(payload) >= 4 else payload[0]
        elif level == socket.IPPROTO_IPV6 and kind == _IPV6_HOPLIMIT and len(payload) >= 4:
            ttl = struct.unpack("=i", payload[:4])[0]
        elif level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(payload) >= 4:
            ifindex = struct.unpack("=i", payload[:4])[0]
        elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO and len(payload) >= 20:
            ifindex = struct.unpack("=I", payload[16:20])[0]
    return ttl, ifindex


def _listener(address: str, port: int) -> socket.socket:
    ip = ipaddress.ip_address(address.split("%")[0])
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
            sock.bind((ip.compressed, port))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
            sock.bind((ip.compressed, port, 0, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _sender(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, interface: str | None, ifindex: int,
            local_address: str | None, rng: random.Random) -> tuple[socket.socket, int]:
    """A socket for one session: TTL 255, bound to a free source port in 49152-65535 (RFC 5881 §4)."""
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
        if interface:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, interface.encode())
            except PermissionError:  # needs CAP_NET_RAW; link-local scope still picks the interface
                log.debug("BFD: cannot bind to device %s without privileges", interface)
        local = local_address.split("%")[0] if local_address else ("0.0.0.0" if family == socket.AF_INET else "::")
        for _ in range(64):
            port = rng.randint(SOURCE_PORT_MIN, SOURCE_PORT_MAX)
            try:
                sock.bind((local, port) if family == socket.AF_INET else (local, port, 0, ifindex))
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        else:
            raise OSError(errno.EADDRINUSE, "no free BFD source port in 49152-65535")
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock, port
