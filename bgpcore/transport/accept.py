"""The speaker's connections: the accept loop, admission, and outgoing ``connect``.

Connections are admitted or closed before any byte is read.

asyncio's own server logs a traceback for every failed ``accept`` (EMFILE under a flood of
connections) and builds a transport for every connection before anyone may refuse it. Here
each listener is read by ``Acceptor``: ``admit`` sees the raw socket and the peer's address
first (configured neighbor? connections of that address within
``SpeakerLimits.connections_per_neighbor``? GTSM: did the SYN arrive with enough TTL?), and only
an admitted socket becomes a ``SessionProtocol``. Accept errors pause the listeners for
``accept_backoff_s`` and are logged once per ``log_interval_s``.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any

from bgpcore.session.events import ConnectionFailed
from bgpcore.session.fsm import State
from bgpcore.transport.config import ListenRange, NeighborKey, neighbor_key
from bgpcore.transport.limits import RateLimitedLog, SpeakerLimits
from bgpcore.transport.neighbor import Neighbor, interface_name
from bgpcore.transport.protocol import InputGate, SessionProtocol
from bgpcore.transport.sockopts import set_md5, set_ttl_security, socket_family, syn_ttl

log = logging.getLogger("bgpcore.speaker")

_RESOURCE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
_ACCEPTS_PER_WAKEUP = 64

Admit = Callable[[socket.socket, str, int], bool]
"""``admit(sock, address, scope_id)``: keep the connection (True) or close it (False)."""


class Acceptor:
    """Accepts on ``listeners``; admitted sockets become protocols made by ``factory``."""

    def __init__(self, listeners: list[socket.socket], admit: Admit, factory: Callable[[], SessionProtocol],
                 limits: SpeakerLimits) -> None:
        self.listeners = listeners
        self.admit = admit
        self.factory = factory
        self.limits = limits
        self.refusals = RateLimitedLog(log, limits.log_interval_s)
        self.accepted = 0
        self.refused = 0
        self.errors = 0
        self.pending: dict[str, int] = {}
        """Admitted connections per address whose transport is still being made."""
        self._loop = asyncio.get_running_loop()
        self._paused: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._resume()

    def _resume(self) -> None:
        self._paused = None
        if self._closed:
            return
        for sock in self.listeners:
            if sock.fileno() >= 0:
                self._loop.add_reader(sock, self._readable, sock)

    def _pause(self) -> None:
        for sock in self.listeners:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock)
        if self._paused is None and not self._closed:
            self._paused = self._loop.call_later(self.limits.accept_backoff_s, self._resume)

    def _readable(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self.errors += 1
                if exc.errno in _RESOURCE_ERRNOS:
                    self.refusals.warning("accept", "accept on %s failed: %s; listeners pause for %g s",
                                          listener.getsockname()[:2], exc, self.limits.accept_backoff_s)
                    self._pause()
                else:
                    self.refusals.warning("accept", "accept on %s failed: %s", listener.getsockname()[:2], exc)
                return
            self._take(sock, peer)

    def _take(self, sock: socket.socket, peer: tuple[object, ...]) -> None:
        address = str(peer[0]).split("%", 1)[0]
        if address.startswith("::ffff:") and "." in address:
            address = address[7:]
        scope = int(peer[3]) if len(peer) > 3 else 0  # type: ignore[call-overload]
        try:
            admitted = self.admit(sock, address, scope)
        except Exception:  # noqa: BLE001 - a bug here must not stop the accept loop
            log.exception("admitting a connection from %s failed", address)
            admitted = False
        if not admitted:
            self.refused += 1
            sock.close()
            return
        self.accepted += 1
        sock.setblocking(False)
        self.pending[address] = self.pending.get(address, 0) + 1
        task = self._loop.create_task(self._connect(sock, address))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, sock: socket.socket, address: str) -> None:
        try:
            await self._loop.connect_accepted_socket(self.factory, sock)
        except OSError as exc:
            log.info("connection from %s lost while being set up: %s", address, exc)
            sock.close()
        finally:
            left = self.pending.get(address, 1) - 1
            if left:
                self.pending[address] = left
            else:
                self.pending.pop(address, None)

    def close(self) -> None:
        self._closed = True
        if self._paused is not None:
            self._paused.cancel()
            self._paused = None
        for sock in self.listeners:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock)
                sock.close()
        for task in list(self._tasks):
            task.cancel()


class Admission:
    """Who may connect: a configured neighbor (or one in a listen range) within its
    connection quota, whose SYN passed its GTSM check."""

    def __init__(self, neighbors: Mapping[NeighborKey, Neighbor], ranges: tuple[ListenRange, ...],
                 limits: SpeakerLimits) -> None:
        self.neighbors = neighbors
        self.ranges = ranges
        self.limits = limits
        self.refusals = RateLimitedLog(log, limits.log_interval_s)
        self.acceptor: Acceptor | None = None

    def admit(self, sock: socket.socket, address: str, scope: int) -> bool:
        n = self.neighbors.get(neighbor_key(address, interface_name(scope)))
        config = n.config if n is not None else next((r.template for r in self.ranges if r.matches(address)), None)
        if config is None:
            self.refusals.warning("unconfigured", "connection from %s refused: not a configured neighbor", address)
            return False
        if n is not None:
            held = sum(1 for d in n.drivers() if d.protocol is not None)
            held += self.acceptor.pending.get(address, 0) if self.acceptor is not None else 0
            if held >= self.limits.connections_per_neighbor:
                self.refusals.warning(address, "%s: connection refused: %d connections already (limit %d)",
                                      n.peer, held, self.limits.connections_per_neighbor)
                return False
        hops = config.ttl_security_hops
        if hops:
            ttl = syn_ttl(sock)
            if ttl is not None and ttl < 256 - hops:
                self.refusals.warning("gtsm " + address, "connection from %s refused: GTSM: its SYN came with TTL %d,"
                                      " %d hop(s) allowed", address, ttl, hops)
                return False
            try:
                set_ttl_security(sock, hops)
            except OSError as exc:
                log.warning("GTSM not applied to the connection from %s: %s", address, exc)
        return True


async def connect(n: Neighbor, limits: SpeakerLimits, attach: Callable[[Neighbor, SessionProtocol], None],
                  gate: InputGate | None = None) -> None:
    """Open the neighbor's outgoing connection (TCP-MD5, GTSM, source address set before
    ``connect``); a failure goes to its main session as ``ConnectionFailed``."""
    cfg = n.config
    loop = asyncio.get_running_loop()
    scope = socket.if_nametoindex(cfg.interface) if cfg.interface else 0
    family = socket_family(cfg.address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    driver = n.main
    try:
        if cfg.password:
            set_md5(sock, cfg.address, cfg.password, scope_id=scope)
        if cfg.ttl_security_hops:
            set_ttl_security(sock, cfg.ttl_security_hops)
        if cfg.source_address:
            sock.bind((cfg.source_address, 0))
        target: tuple[Any, ...] = (cfg.address, cfg.port, 0, scope) if family == socket.AF_INET6 else (cfg.address, cfg.port)
        await asyncio.wait_for(loop.sock_connect(sock, target), timeout=max(1.0, cfg.timers.connect_retry_s))
        await loop.create_connection(lambda: SessionProtocol(lambda p: attach(n, p), outgoing=True,
                                                             limits=limits, gate=gate), sock=sock)
    except asyncio.CancelledError:
        sock.close()
        raise
    except (OSError, asyncio.TimeoutError) as exc:
        sock.close()
        reason = f"connect failed: {exc or type(exc).__name__}"
        log.info("%s: %s", n.peer, reason)
        if driver is n.main and not driver.session.connected and driver.session.state is State.CONNECT:
            driver.command(ConnectionFailed(reason=reason))
