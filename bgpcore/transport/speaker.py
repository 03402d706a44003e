"""The asyncio BGP speaker: listeners, neighbors, sessions, and the route handler they feed.

``Speaker`` is where sockets, sessions and routes meet. Each neighbor has one sans-IO
``Session`` run by a ``SessionDriver``; a second connection from the same neighbor (both
sides connecting at once) gets a session of its own until RFC 4271 §6.8 collision
resolution keeps one of them.

The route seam is a ``RouteHandler`` (``transport/routes.py``):

* ``peer_up(peer, PeerInfo)`` when a session reaches Established, ``peer_down(peer)`` when it ends;
* ``receive(peer, update)`` for every UPDATE received;
* ``resend(peer, family)`` on a ROUTE-REFRESH from the peer or a soft reset out;
* ``pull(peer, max_messages) -> list[bytes]`` whenever that peer's socket is writable;
* ``announce``/``withdraw`` for routes originated through this API;
* ``refresh_marker(peer, family, subtype)`` for the peer's Enhanced Route Refresh BoRR/EoRR
  (RFC 7313), so routes it did not send again can be purged, and
  ``prefix_count(peer) -> int | None`` for ``NeighborStatus.prefixes_received``.

The default ``SimpleRoutes`` sends announced routes to every Established neighbor and keeps
received routes per neighbor. ``bgpcore.Router`` composes a speaker with the RIB (best path,
route reflection, update groups), the FIB and unnumbered discovery; use it for a full router.

Output has one scheduler: ``pump(peers)`` (or ``pump(None)`` for every Established
neighbor) asks, once per turn of the event loop, each named peer's handler for UPDATEs
while its socket takes them; a socket that drains asks again by itself.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from bgpcore.constants import CeaseSubcode, Origin, RefreshSubtype
from bgpcore.errors import UsageError
from bgpcore.session.events import (
    ConnectRequested,
    DisconnectRequested,
    DumpCollision,
    Event,
    OpenReceived,
    RequestRefresh,
    Reset,
    RouteRefreshReceived,
    SendUpdates,
    SessionDown,
    SessionEstablished,
    StateChanged,
    Start,
    Stop,
    UpdateReceived,
)
from bgpcore.session.fsm import State
from bgpcore.session.session import Session, keeps_outgoing
from bgpcore.transport.accept import Acceptor, Admission, connect
from bgpcore.transport.config import NeighborConfig, NeighborKey, SpeakerConfig, neighbor_key
from bgpcore.transport.neighbor import (
    EventStream,
    Neighbor,
    NeighborStatus,
    PeerEvent,
    PeerKey,
    family_key,
    interface_name,
    neighbor_key_of,
    peer_key_of,
)
from bgpcore.transport.protocol import InputGate, SessionDriver, SessionProtocol
from bgpcore.transport.routes import NextHop, PeerInfo, RouteHandler, SimpleRoutes
from bgpcore.transport.sockopts import (
    open_listener,
    set_listeners_md5,
    set_listeners_ttl,
)
from bgpcore.wire import accel
from bgpcore.wire.types import PathAttributes

log = logging.getLogger("bgpcore.speaker")

PULL_BATCH = 32
"""UPDATE messages asked of the route handler per writable turn."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Speaker:
    """A BGP speaker on asyncio.

    Args:
        config: our AS, router id, listeners and neighbors.
        handler: where routes go; defaults to ``SimpleRoutes``.
        rng: source of timer jitter for every session.
    """

    def __init__(self, config: SpeakerConfig, *, handler: RouteHandler | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.handler: RouteHandler = handler if handler is not None else SimpleRoutes()
        self._rng = rng or random.Random()
        self._neighbors: dict[NeighborKey, Neighbor] = {}
        self._listeners: list[socket.socket] = []
        self._servers: list[Acceptor] = []
        self._streams: set[EventStream] = set()
        self._pumping: set[PeerKey] = set()
        self._pump_soon: set[PeerKey] = set()
        self._pump_all = False
        self._pump_scheduled = False
        self._started = False
        self.input = InputGate()
        """Holds every session's reading while a consumer downstream catches up."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the listeners and start every configured neighbor.

        Raises:
            OSError: a listening address cannot be bound.
        """
        limits = self.config.limits
        admission = Admission(self._neighbors, self.config.listen_ranges, limits)
        for address, port in self.config.listen:
            sock = open_listener(address, port)
            self._listeners.append(sock)
            self._servers.append(Acceptor([sock], admission.admit, lambda: SessionProtocol(
                self._accept, outgoing=False, limits=limits, gate=self.input), limits))
            admission.acceptor = self._servers[-1]  # one pending count per address is enough
        self._started = True
        for n in list(self._neighbors.values()):  # added before start: keys and TTL now, then go
            if n.config.password:
                set_listeners_md5(self._listeners, n.config.address, n.config.password, None, n.config.interface)
            if n.config.ttl_security_hops:
                set_listeners_ttl(self._listeners)
            n.main.command(Start(passive=n.config.passive))
        for cfg in self.config.neighbors:
            self.add_neighbor(cfg)
        for r in self.config.listen_ranges:
            if r.template.ttl_security_hops:
                set_listeners_ttl(self._listeners)
            if r.template.password:
                set_listeners_md5(self._listeners, r.prefix.split("/")[0], r.template.password, int(r.prefix.split("/")[1]))
        log.info("speaker AS %s id %s listening on %s; UPDATE codec: %s", self.config.local_as, self.config.router_id,
                 self.listening, "bgpcore_fast (Cython)" if accel.ACCELERATED else "pure Python")

    async def stop(self, message: str = "") -> None:
        """Send Cease/Administrative Shutdown to every neighbor and close everything."""
        for n in list(self._neighbors.values()):
            self._stop_neighbor(n, message, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
        await asyncio.sleep(0.05)  # let the NOTIFICATIONs leave
        for n in list(self._neighbors.values()):
            self._discard(n)
        self._neighbors.clear()
        for server in self._servers:
            server.close()
        self._servers.clear()
        self._listeners.clear()
        self._started = False

    @property
    def listening(self) -> list[tuple[str, int]]:
        """(address, port) of every listener, with the port actually bound."""
        return [(s.getsockname()[0], s.getsockname()[1]) for s in self._listeners if s.fileno() >= 0]

    # ------------------------------------------------------------------ neighbors

    def add_neighbor(self, config: NeighborConfig, *, dynamic: bool = False) -> PeerKey:
        """Configure a neighbor at run time and start it; returns its peer id.

        Raises:
            UsageError: the neighbor is already configured.
        """
        key = config.key
        if key in self._neighbors:
            raise UsageError(f"neighbor {peer_key_of(key)} already configured")
        session = self._new_session(config, passive=config.passive or dynamic, auto_restart=not dynamic)
        driver = SessionDriver(session, self._events_of(key), self._writable_of(key))
        n = Neighbor(config, driver, dynamic)
        self._neighbors[key] = n
        if config.password and not dynamic:
            set_listeners_md5(self._listeners, config.address, config.password, None, config.interface)
        if config.ttl_security_hops:
            set_listeners_ttl(self._listeners)
        if self._started and not dynamic:
            driver.command(Start(passive=config.passive))
        return n.peer

    def remove_neighbor(self, peer: PeerKey, message: str = "") -> None:
        """Cease/Peer De-configured to the neighbor, then forget it."""
        n = self._find(peer)
        self._stop_neighbor(n, message, CeaseSubcode.PEER_DECONFIGURED)
        self._discard(n)
        self._neighbors.pop(n.key, None)  # a dynamic neighbor may already be gone
        if n.config.password and not n.dynamic:
            set_listeners_md5(self._listeners, n.config.address, None, None, n.config.interface)

    def shutdown_neighbor(self, peer: PeerKey, message: str = "") -> None:
        """Administrative shutdown (RFC 8203/9003 message); stays down until ``enable_neighbor``."""
        self._stop_neighbor(self._find(peer), message, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)

    def enable_neighbor(self, peer: PeerKey) -> None:
        """Start a neighbor again after ``shutdown_neighbor`` or ``cease_neighbor``."""
        n = self._find(peer)
        if n.restart_timer is not None:
            n.restart_timer.cancel()
            n.restart_timer = None
        n.main.command(Start(passive=n.config.passive or n.dynamic))

    def cease_neighbor(self, peer: PeerKey, subcode: int, data: bytes, reason: str,
                       restart_after_s: float | None = None) -> None:
        """Close the neighbor's session with a Cease NOTIFICATION carrying ``data`` (RFC 4486),
        as maximum-prefix does; it stays down until ``enable_neighbor``, or for
        ``restart_after_s`` seconds when given."""
        n = self._find(peer)
        log.warning("%s: %s: closing the session%s", peer, reason,
                    "" if restart_after_s is None else f", restart in {restart_after_s:g} s")
        for d in n.drivers():
            d.command(Stop(message=reason, subcode=subcode, data=data))
        if restart_after_s is not None:
            if n.restart_timer is not None:
                n.restart_timer.cancel()
            n.restart_timer = asyncio.get_running_loop().call_later(restart_after_s, self._restart_after_cease, n)

    def _restart_after_cease(self, n: Neighbor) -> None:
        n.restart_timer = None
        if self._neighbors.get(n.key) is n:
            log.info("%s: restarting after maximum-prefix", n.peer)
            n.main.command(Start(passive=n.config.passive or n.dynamic))

    def reset_neighbor(self, peer: PeerKey, *, soft_in: bool = False, soft_out: bool = False, message: str = "") -> None:
        """``clear bgp``: hard reset by default; soft in asks for a ROUTE-REFRESH, soft out resends."""
        n = self._find(peer)
        driver = n.up_driver
        if not (soft_in or soft_out):
            for d in n.drivers():
                d.command(Reset(message=message))
            return
        if driver is None or driver.session.params is None:
            raise UsageError(f"neighbor {peer} is not Established")
        for family in driver.session.params.families:
            if soft_in:
                driver.command(RequestRefresh(afi=family[0], safi=family[1]))
            if soft_out:
                self._guard(self.handler.resend, n.peer, family)
        self._pump(n)

    def neighbors(self) -> list[NeighborStatus]:
        """State and counters of every neighbor."""
        return [n.status(self._guard(self.handler.prefix_count, n.peer)) for n in self._neighbors.values()]

    def neighbor(self, peer: PeerKey) -> NeighborStatus:
        """State and counters of one neighbor.

        Raises:
            UsageError: no such neighbor.
        """
        n = self._find(peer)
        return n.status(self._guard(self.handler.prefix_count, n.peer))

    def neighbor_config(self, peer: PeerKey) -> NeighborConfig:
        """The configuration of a neighbor (a dynamic one's: its listen range's template).

        Raises:
            UsageError: no such neighbor.
        """
        return self._find(peer).config

    def set_neighbor_config(self, peer: PeerKey, config: NeighborConfig) -> None:
        """Replace a neighbor's configuration and leave its session alone: the route handler
        gets it when a session (next) comes up, and ``neighbor_config`` returns it. Settings
        the OPEN carries (AS, timers, families...) take effect only with a new neighbor.

        Raises:
            UsageError: no such neighbor, or ``config`` is another neighbor's.
        """
        n = self._find(peer)
        if config.key != n.key:
            raise UsageError(f"configuration of {peer_key_of(config.key)} given for neighbor {peer}")
        n.config = config

    def neighbor_session(self, peer: PeerKey) -> Session:
        """The neighbor's session: the Established one, else the main one (to read, for ``show``).

        Raises:
            UsageError: no such neighbor.
        """
        n = self._find(peer)
        return (n.up_driver or n.main).session

    def _find(self, peer: PeerKey) -> Neighbor:
        n = self._neighbors.get(neighbor_key_of(peer))
        if n is None:
            raise UsageError(f"no neighbor {peer}")
        return n

    # ------------------------------------------------------------------ routes

    def announce(self, prefix: str, *, next_hop: str | tuple[str, ...] | None = None,
                 attributes: PathAttributes | None = None) -> None:
        """Originate ``prefix`` (e.g. ``"198.51.100.0/24"``) to every Established neighbor.

        Without ``next_hop`` each session uses its own local address (next hop self).
        """
        family, key = family_key(prefix)
        hop: NextHop | None = (next_hop,) if isinstance(next_hop, str) else next_hop
        attrs = attributes or PathAttributes()
        if attrs.origin is None:  # ORIGIN is mandatory: a route we originate is IGP unless told otherwise
            attrs = attrs._replace(origin=Origin.IGP)
        self.pump(self._guard(self.handler.announce, family, key, attrs, hop))

    def pump(self, peers: list[PeerKey] | None) -> None:
        """Send what the route handler has pending for ``peers`` (None: every neighbor) on the
        next loop turn, so output made together leaves together.

        The speaker pumps a peer by itself when its socket drains and after ``announce``; a
        handler whose output grows for other reasons (an UPDATE from another peer) calls this.
        """
        if self._pump_all:
            return
        if not self._pump_soon and not self._pump_scheduled:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump_pending)
        if peers is None:
            self._pump_all = True
        else:
            self._pump_soon.update(peers)

    def withdraw(self, prefix: str) -> None:
        """Stop originating ``prefix``."""
        family, key = family_key(prefix)
        self.pump(self._guard(self.handler.withdraw, family, key))

    def events(self, *, updates: bool = True) -> EventStream:
        """Subscribe to every session's events from now on.

        Args:
            updates: include ``UpdateReceived`` (one per UPDATE: a table load is hundreds of
                thousands); a subscriber that only follows sessions leaves them out.
        """
        stream = EventStream(self.config.event_queue_size, self._streams.discard, updates=updates)
        self._streams.add(stream)
        return stream

    # ------------------------------------------------------------------ internals: sessions

    def _new_session(self, config: NeighborConfig, passive: bool, auto_restart: bool, suffix: str = "") -> Session:
        policy = config.open_policy(self.config.local_as, self.config.router_id)
        label = peer_key_of(config.key) + suffix
        return Session(policy, timers=config.timers, rng=self._rng, label=label, passive=passive, auto_restart=auto_restart)

    def _events_of(self, key: NeighborKey) -> Any:
        def on_events(driver: SessionDriver, events: list[Event]) -> None:
            n = self._neighbors.get(key)
            if n is not None:
                self._on_events(n, driver, events)
        return on_events

    def _writable_of(self, key: NeighborKey) -> Any:
        def on_writable(driver: SessionDriver) -> None:
            n = self._neighbors.get(key)
            if n is not None and driver is n.up_driver:
                self._pump(n)
        return on_writable

    def _on_events(self, n: Neighbor, driver: SessionDriver, events: list[Event]) -> None:
        for event in events:
            try:
                self._on_event(n, driver, event)
            except Exception:  # noqa: BLE001 - a handler bug must not take other sessions down
                log.exception("%s: handling %s failed", n.peer, type(event).__name__)
            if self._streams and not isinstance(event, (ConnectRequested, DisconnectRequested)):
                item = PeerEvent(peer=n.peer, event=event)
                update = isinstance(event, UpdateReceived)
                for stream in list(self._streams):
                    if stream.updates or not update:
                        stream.put(item)

    def _on_event(self, n: Neighbor, driver: SessionDriver, event: Event) -> None:
        match event:
            case UpdateReceived():
                if driver is n.up_driver:
                    self.handler.receive(n.peer, event.update)
            case ConnectRequested():
                if driver is n.main:
                    self._start_connect(n)
            case OpenReceived():
                # events come in batches: skip those of a connection an earlier event already closed
                if driver.session.connected and driver.session.state >= State.OPENCONFIRM:
                    self._resolve_collision(n, driver)
            case SessionEstablished():
                if driver.session.state is State.ESTABLISHED:
                    self._established(n, driver, event)
            case SessionDown():
                if driver is n.up_driver:
                    n.up_driver = None
                    # RFC 4724: a connection that just drops (no NOTIFICATION either way) may be
                    # the peer restarting; its routes stay, stale, for its restart time
                    graceful = n.graceful and event.sent is None and event.received is None
                    if graceful:
                        log.info("%s: connection lost without NOTIFICATION; keeping its routes for graceful restart",
                                 n.peer)
                    self.handler.peer_down(n.peer, graceful=graceful)
            case RouteRefreshReceived():
                if event.subtype == RefreshSubtype.NORMAL:
                    self.handler.resend(n.peer, (event.afi, event.safi))
                    self._pump(n)
                else:  # BoRR/EoRR bracket the peer's own resend; handlers may purge what it left out
                    self.handler.refresh_marker(n.peer, (event.afi, event.safi), event.subtype)
            case StateChanged() if event.new is State.IDLE:
                self._went_idle(n, driver)

    def _established(self, n: Neighbor, driver: SessionDriver, event: SessionEstablished) -> None:
        if n.up_driver is not None and n.up_driver is not driver and n.up_driver.session.state is State.ESTABLISHED:
            # both connections of a collision got to Established: the one already up wins (RFC 4271 §6.8)
            log.info("%s: second connection reached Established; keeping the first", n.peer)
            driver.command(DumpCollision())
            return
        protocol = driver.protocol
        local = protocol.sockname[0] if protocol else ""
        remote = protocol.peername[0] if protocol else ""
        n.up_driver = driver
        n.established_count += 1
        n.graceful = event.params.graceful_restart is not None and n.config.graceful_restart_time_s is not None
        info = PeerInfo(peer_id=n.peer, params=event.params, local_address=local, remote_address=remote,
                        next_hop_ipv4=n.config.next_hop_ipv4, next_hop_ipv6=n.config.next_hop_ipv6,
                        description=n.config.description, config=n.config)
        log.info("%s: Established (AS %s, id %s, hold %s s)", n.peer, event.params.remote_as,
                 event.params.remote_id, event.params.hold_time_s)
        self.handler.peer_up(n.peer, info)
        self._pump(n)

    def _went_idle(self, n: Neighbor, driver: SessionDriver) -> None:
        if driver is n.main:
            if n.connect_task is not None:
                n.connect_task.cancel()
                n.connect_task = None
            if n.dynamic and not any(d.session.connected for d in n.drivers()):
                self._discard(n)
                self._neighbors.pop(n.key, None)
        elif driver in n.extras:
            n.extras.remove(driver)
            driver.close()

    def _resolve_collision(self, n: Neighbor, driver: SessionDriver) -> None:
        """RFC 4271 §6.8: two connections with the same peer; keep one of them."""
        remote = driver.session.remote_open
        assert remote is not None
        for other in n.drivers():
            if other is driver or not other.session.connected or other.session.state < State.OPENSENT:
                continue
            if other.session.state is State.ESTABLISHED:
                loser, winner = driver, other
            else:
                mine_out = driver.protocol is not None and driver.protocol.outgoing
                other_out = other.protocol is not None and other.protocol.outgoing
                if mine_out == other_out:
                    loser, winner = other, driver
                else:
                    outgoing, incoming = (driver, other) if mine_out else (other, driver)
                    keep_out = keeps_outgoing(driver.session.policy.router_id, remote.bgp_id)
                    winner, loser = (outgoing, incoming) if keep_out else (incoming, outgoing)
            log.info("%s: connection collision, keeping the %s connection", n.peer,
                     "outgoing" if winner.protocol is not None and winner.protocol.outgoing else "incoming")
            if loser is n.main:
                n.extras.remove(winner)
                n.main, old = winner, loser
                winner.session.auto_restart = not n.dynamic
                winner.session.passive = n.config.passive or n.dynamic
                if n.connect_task is not None:
                    n.connect_task.cancel()
                    n.connect_task = None
                n.extras.append(old)
            loser.command(DumpCollision())
            return

    def _discard(self, n: Neighbor) -> None:
        if n.restart_timer is not None:
            n.restart_timer.cancel()
            n.restart_timer = None
        if n.connect_task is not None:
            n.connect_task.cancel()
            n.connect_task = None
        if n.up_driver is not None:
            n.up_driver = None
            self._guard(self.handler.peer_down, n.peer)
        for d in n.drivers():
            d.close()

    def _stop_neighbor(self, n: Neighbor, message: str, subcode: int) -> None:
        for d in n.drivers():
            d.command(Stop(message=message, subcode=subcode))

    def _guard(self, call: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        """Call the route handler; a handler bug is logged and must not stop the speaker."""
        try:
            return call(*args, **kwargs)
        except Exception:  # noqa: BLE001 - keep the speaker running; the log says what broke
            log.exception("route handler call %r failed", call)
            return None

    # ------------------------------------------------------------------ internals: output

    def _pump_pending(self) -> None:
        self._pump_scheduled = False
        if self._pump_all:
            self._pump_all, self._pump_soon = False, set()
            targets = list(self._neighbors.values())
        else:
            peers, self._pump_soon = self._pump_soon, set()
            targets = [n for n in map(self._neighbors.get, map(neighbor_key_of, peers)) if n is not None]
        for n in targets:
            self._pump(n)

    def _pump(self, n: Neighbor) -> None:
        """Move UPDATEs from the handler to the socket while it takes them."""
        driver = n.up_driver
        if driver is None or n.peer in self._pumping:
            return
        self._pumping.add(n.peer)
        try:
            while driver.can_write and driver.session.state is State.ESTABLISHED:
                messages = self._guard(self.handler.pull, n.peer, PULL_BATCH)
                if not messages:
                    break
                driver.command(SendUpdates(messages=tuple(messages)))
        finally:
            self._pumping.discard(n.peer)

    # ------------------------------------------------------------------ internals: connections

    def _accept(self, protocol: SessionProtocol) -> None:
        address, _, scope = protocol.peername
        interface = interface_name(scope)
        n = self._neighbors.get(neighbor_key(address, interface))
        if n is None:
            n = self._from_listen_range(address, interface)
        if n is None:
            log.warning("connection from %s refused: not a configured neighbor", address)
            protocol.close()
            return
        self._attach(n, protocol)

    def _from_listen_range(self, address: str, interface: str | None) -> Neighbor | None:
        for r in self.config.listen_ranges:
            if r.matches(address):
                cfg = replace(r.template, address=address, interface=interface, passive=True)
                self.add_neighbor(cfg, dynamic=True)
                n = self._neighbors[cfg.key]
                n.main.command(Start(passive=True))
                log.info("%s: dynamic neighbor from listen range %s", n.peer, r.prefix)
                return n
        return None

    def _attach(self, n: Neighbor, protocol: SessionProtocol) -> None:
        main = n.main
        if not main.session.connected and main.session.state in (State.CONNECT, State.ACTIVE):
            main.attach(protocol)
            return
        if main.session.state is State.IDLE:
            if main.session.admin_down:
                log.info("%s: connection refused: the neighbor is shut down", n.peer)
                protocol.close()
                return
            # the peer connects while we wait to retry (it may have won a collision against our
            # last attempt): its connection becomes the neighbor's main one
            session = self._new_session(n.config, passive=n.config.passive or n.dynamic, auto_restart=not n.dynamic)
            driver = SessionDriver(session, self._events_of(n.key), self._writable_of(n.key))
            if n.connect_task is not None:
                n.connect_task.cancel()
                n.connect_task = None
            n.main, old = driver, main
            old.close()
            driver.command(Start(passive=True))
            driver.attach(protocol)
            return
        session = self._new_session(n.config, passive=True, auto_restart=False, suffix=" (second connection)")
        extra = SessionDriver(session, self._events_of(n.key), self._writable_of(n.key))
        n.extras.append(extra)
        extra.command(Start(passive=True))
        extra.attach(protocol)

    def _start_connect(self, n: Neighbor) -> None:
        if n.connect_task is not None and not n.connect_task.done():
            n.connect_task.cancel()
        n.connect_task = asyncio.get_running_loop().create_task(self._connect(n))

    async def _connect(self, n: Neighbor) -> None:
        await connect(n, self.config.limits, self._attach, self.input)
