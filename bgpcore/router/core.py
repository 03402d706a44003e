"""The router: one composition root for sessions, RIB, FIB, unnumbered discovery and events.

Sessions hand their events to the ``Speaker``; the speaker hands routes to ``RibRoutes``;
the RIB returns what changed as data, and the router routes each result to its consumer:

* best-path changes to the FIB (``FibFeed``) and to event subscribers;
* peer actions (Cease this peer: maximum-prefix) to the speaker;
* new output to the speaker's one output scheduler;
* the RIB's graceful-restart deadline to one timer.

A route reflector and a fabric node are two configurations of this one class.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

from bgpcore.discovery.unnumbered import Unnumbered, UnnumberedPeer
from bgpcore.errors import UsageError
from bgpcore.fib.install import Fib
from bgpcore.fib.kernel import LinkMonitor
from bgpcore.fib.routes import FibRoute
from bgpcore.rib.decision import Reason, explain
from bgpcore.rib.actions import CeasePeer
from bgpcore.rib.manager import Rib, RibConfig
from bgpcore.rib.shard import ShardFailure
from bgpcore.route import BestChange, Path, PeerId
from bgpcore.session.session import Session
from bgpcore.router.bfd import BfdLink, bfd_listen_addresses, bfd_wanted
from bgpcore.router.config import RouterConfig
from bgpcore.router.events import (
    BestPathChanged,
    BestPathWithdrawn,
    IPNetwork,
    PeerDown,
    PeerUp,
    RouteReceived,
    RouterEvent,
    RouterEvents,
)
from bgpcore.router.fib_feed import FibFeed
from bgpcore.router.routes import RibRoutes, rib_peer
from bgpcore.transport.config import NeighborConfig
from bgpcore.transport.neighbor import NeighborStatus, PeerKey, family_key, peer_key_of
from bgpcore.transport.routes import PeerInfo
from bgpcore.transport.speaker import Speaker
from bgpcore.wire import accel
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family
from bgpcore.wire.nlri import key_to_network, network_key
from bgpcore.wire.types import PathAttributes, Update

log = logging.getLogger("bgpcore.router")


def _in_place(config: NeighborConfig) -> dict[str, object]:
    """The NeighborConfig fields ``update_neighbor`` applies to a running session."""
    return {"description": config.description, "import_policy": config.import_policy,
            "export_policy": config.export_policy, "rr_client": config.rr_client,
            "next_hop_self": config.next_hop_self, "max_prefix": config.max_prefix,
            "max_prefix_action": config.max_prefix_action, "max_prefix_restart_s": config.max_prefix_restart_s}


def _with_settings_of(old: NeighborConfig, new: NeighborConfig) -> NeighborConfig:
    """``old`` with the fields of ``_in_place`` taken from ``new``."""
    return replace(old, description=new.description, import_policy=new.import_policy,
                   export_policy=new.export_policy, rr_client=new.rr_client, next_hop_self=new.next_hop_self,
                   max_prefix=new.max_prefix, max_prefix_action=new.max_prefix_action,
                   max_prefix_restart_s=new.max_prefix_restart_s)


class Router:
    """A BGP router on asyncio.

    Example::

        router = Router(RouterConfig(local_as=65000, router_id="192.0.2.1", neighbors=(...)))
        await router.start()
        async for event in router.events():
            print(event)

    Args:
        config: the whole router (see ``RouterConfig``).
    """

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.rib = Rib(RibConfig(
            local_asn=config.local_as, router_id=config.router_id, cluster_id=config.cluster_id,
            decision=config.decision, shards=config.shards, track_changes=config.track_changes,
            stale_path_time_s=config.stale_path_time_s, rounds_in_background=True))
        self._routes = RibRoutes(self.rib, self)
        self._hostname = socket.gethostname()
        speaker_config = config.speaker_config()
        speaker_config = replace(
            speaker_config, neighbors=tuple(self._named(n) for n in speaker_config.neighbors),
            listen_ranges=tuple(replace(r, template=self._named(r.template)) for r in speaker_config.listen_ranges))
        self.speaker = Speaker(speaker_config, handler=self._routes)
        self.bfd: BfdLink | None = None
        """BFD with the neighbors that ask for it (None when none does); tests may set its
        ``listen_port`` / ``remote_port`` before ``start``."""
        if bfd_wanted(config.neighbors, (r.template for r in config.listen_ranges),
                      (p.options for p in config.interfaces)):
            self.bfd = BfdLink(self.speaker, listen_addresses=bfd_listen_addresses(config.listen))
        self.fib: Fib | None = None
        self.unnumbered: Unnumbered | None = None
        self._links: LinkMonitor | None = None
        self._fib_feed: FibFeed | None = None
        self._subscribers: set[RouterEvents] = set()
        self._stale_timer: asyncio.TimerHandle | None = None
        self._sessions: dict[PeerKey, PeerInfo] = {}
        self._started = False
        self._bfd_following = False
        self._shard_readers: list[int] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the FIB, the listeners and the sessions, start discovery, originate networks.

        Raises:
            OSError: a listening address cannot be bound.
            ConfigError: a kernel setting unnumbered peering needs is wrong.
            FibError: netlink cannot be opened.
        """
        config = self.config
        log.info("bgpcore router: AS %s, router id %s, cluster id %s, %s shard(s), FIB %s; UPDATE codec: %s",
                 config.local_as, config.router_id, config.cluster_id or config.router_id, config.shards,
                 f"table {config.fib.table}" if config.fib else "off",
                 "Cython fast path (bgpcore_fast)" if accel.ACCELERATED else "pure Python (bgpcore_fast not loaded)")
        if config.fib is not None or config.interfaces:  # one link monitor for the FIB and discovery
            self._links = LinkMonitor(neighbours=bool(config.interfaces), addresses=True)
        if config.fib is not None:
            self.fib = Fib(table=config.fib.table, metric=config.fib.metric, policy=config.fib.policy,
                           keep_on_stop=config.fib.keep_on_stop)
            self.fib.start(links=self._links)
            self.fib.attach()
            self._fib_feed = FibFeed(self.fib, self._interface_of, on_full=self._fib_full)
        if self.bfd is not None:
            await self.bfd.start()
        loop = asyncio.get_running_loop()
        for fd in self.rib.shard_fds():  # update-group rounds come back from the workers here
            loop.add_reader(fd, self._shard_results)
            self._shard_readers.append(fd)
        await self.speaker.start()
        if self.bfd is not None:
            for status in self.speaker.neighbors():
                self.bfd.neighbor_added(status.peer, self.speaker.neighbor_config(status.peer))
        self._bfd_following = True  # from here on, every neighbor added gets its BFD session at once
        if config.interfaces:
            self.unnumbered = Unnumbered(self, config.interfaces, make_config=NeighborConfig,
                                         ra_interval_s=config.ra_interval_s, transit=config.transit)
            await self.unnumbered.start(links=self._links)
        self._started = True
        for network in config.networks:
            self.announce(network.prefix, next_hop=network.next_hop, attributes=network.attributes)

    async def stop(self, message: str = "") -> None:
        """Cease every session, stop discovery, flush and close the FIB; event streams end."""
        if self.unnumbered is not None:
            await self.unnumbered.stop()
            self.unnumbered = None
        await self.speaker.stop(message or "router shutting down")
        self._routes.finish()
        if self.bfd is not None:
            self.bfd.close()
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None
        if self._fib_feed is not None:
            self._fib_feed.flush()
            self._fib_feed.close()
            self._fib_feed = None
        if self.fib is not None:
            self.fib.stop()
            self.fib = None
        if self._links is not None:
            self._links.close()
            self._links = None
        self._stop_shard_readers()
        self.rib.close()
        for stream in list(self._subscribers):
            stream.finish()
        self._subscribers.clear()
        self._started = False
        self._bfd_following = False

    async def __aenter__(self) -> Router:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def listening(self) -> list[tuple[str, int]]:
        """(address, port) of every listener, with the port actually bound (port 0 picks one)."""
        return self.speaker.listening

    # -- events -------------------------------------------------------------------------------

    def events(self) -> RouterEvents:
        """Subscribe to the router's events from now on: ``async for event in router.events()``.

        Best-path events need ``RouterConfig.track_changes`` (the default).
        """
        stream = RouterEvents(self.config.event_queue_size, self._subscribers.discard)
        self._subscribers.add(stream)
        return stream

    def _publish(self, event: RouterEvent) -> None:
        for stream in self._subscribers:
            stream.put(event)

    # -- routes of our own ----------------------------------------------------------------------

    def announce(self, prefix: str, *, next_hop: str | None = None, attributes: PathAttributes | None = None) -> None:
        """Originate ``prefix`` (``"198.51.100.0/24"``) to every neighbor export policy allows.

        Without ``next_hop`` each session sends our own address.

        Raises:
            UsageError: not a prefix.
        """
        self.speaker.announce(prefix, next_hop=next_hop, attributes=attributes)

    def withdraw(self, prefix: str) -> None:
        """Stop originating ``prefix``.

        Raises:
            UsageError: not a prefix.
        """
        self.speaker.withdraw(prefix)

    # -- neighbors ----------------------------------------------------------------------------

    def add_neighbor(self, config: NeighborConfig) -> PeerKey:
        """Configure and start a neighbor at run time; returns its key.

        Without ``hostname`` the neighbor is sent the system's host name (FQDN capability)."""
        config = self._named(config)
        peer = self.speaker.add_neighbor(config)
        if self.bfd is not None and self._bfd_following:
            self.bfd.neighbor_added(peer, config)
        return peer

    def remove_neighbor(self, peer: PeerKey, message: str = "") -> None:
        """Cease/Peer De-configured, then forget the neighbor."""
        self.speaker.remove_neighbor(peer, message)
        if self.bfd is not None:
            self.bfd.neighbor_removed(peer)

    def update_neighbor(self, config: NeighborConfig) -> frozenset[str]:
        """Apply a configured neighbor's new configuration, keeping its session when it can.

        Policy settings are applied to the running session: a new import policy (or RR-client
        flag) by soft reconfiguration inbound, from the stored Adj-RIB-In when
        ``soft_reconfiguration`` is on, else by a ROUTE-REFRESH to the peer; a new export
        policy, RR-client flag, next-hop-self or limit by sending the peer its routes again.
        Any other change (AS, timers, families, password, BFD...) restarts the neighbor:
        Cease/Peer De-configured, then a new session.

        Returns:
            what was done: ``"soft-in"``, ``"soft-out"``, ``"restart"``, ``"stored"`` (not
            Established: the next session uses it); empty when nothing changed.

        Raises:
            UsageError: no such neighbor.
        """
        config = self._named(config)
        peer = peer_key_of(config.key)
        old = self.speaker.neighbor_config(peer)
        settings, old_settings = _in_place(config), _in_place(old)
        changed = {name for name, value in settings.items() if old_settings[name] != value}
        if _with_settings_of(old, config) != config:
            log.info("%s: session settings changed: restarting the neighbor", peer)
            self.remove_neighbor(peer, "configuration changed")
            self.add_neighbor(config)
            return frozenset({"restart"})
        if not changed:
            return frozenset()
        self.speaker.set_neighbor_config(peer, config)
        info = self._sessions.get(peer)
        number = self._routes.peer_number(peer)
        if info is None or number is None or not changed - {"description"}:
            return frozenset({"stored"})
        # new RIB settings (import policy for what comes next, export settings); the peer
        # is sent its routes again, then its routes already here go through the new import
        info = self._sessions[peer] = replace(info, config=config)
        self.rib.peer_up(number, rib_peer(peer, info), now=time.monotonic())
        self.routed([])
        done = {"soft-out"}
        if changed & {"import_policy", "rr_client"}:
            if config.soft_reconfiguration:
                self.routed(self.rib.soft_reset_in(number, config.import_policy))
            else:
                try:
                    self.speaker.reset_neighbor(peer, soft_in=True)
                except UsageError as exc:  # no ROUTE-REFRESH: the new policy meets what comes next
                    log.warning("%s: new import policy not applied to routes already received: %s", peer, exc)
            done.add("soft-in")
        log.info("%s: new configuration (%s) applied by %s", peer, ", ".join(sorted(changed)), ", ".join(sorted(done)))
        return frozenset(done)

    def neighbor_session(self, peer: PeerKey) -> tuple[Session, NeighborConfig]:
        """A neighbor's session (the Established one, else the main one) and configuration, for
        ``show neighbor`` details (capabilities, timers, NOTIFICATIONs); read, do not drive.

        Raises:
            UsageError: no such neighbor.
        """
        return self.speaker.neighbor_session(peer), self.speaker.neighbor_config(peer)

    def _named(self, config: NeighborConfig) -> NeighborConfig:
        """``config`` with our host name for the FQDN capability unless it names one ("" sends none)."""
        return config if config.hostname is not None else replace(config, hostname=self._hostname)

    def neighbors(self) -> list[NeighborStatus]:
        """State and counters of every neighbor."""
        return self.speaker.neighbors()

    def neighbor(self, peer: PeerKey) -> NeighborStatus:
        """State and counters of one neighbor.

        Raises:
            UsageError: no such neighbor.
        """
        return self.speaker.neighbor(peer)

    def unnumbered_peers(self) -> list[UnnumberedPeer]:
        """Interfaces of unnumbered peering and the neighbor found on each."""
        return self.unnumbered.peers() if self.unnumbered is not None else []

    # -- queries ------------------------------------------------------------------------------

    def route(self, prefix: str) -> tuple[Path, ...]:
        """The multipath set of ``prefix`` (exact match), best first; () when absent.

        Raises:
            UsageError: not a prefix.
        """
        family, key = family_key(prefix)
        return self.rib.best_paths(family).get(key, ())

    def lookup(self, address: str) -> tuple[IPNetwork, tuple[Path, ...]] | None:
        """Longest-prefix match of ``address`` in the Loc-RIB: (prefix, paths) or None.

        Raises:
            UsageError: not an address.
        """
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(f"not an address: {address!r}") from None
        table = self.rib.best_paths(IPV4_UNICAST if ip.version == 4 else IPV6_UNICAST)
        for length in range(ip.max_prefixlen, -1, -1):
            net = ipaddress.ip_network(f"{ip}/{length}", strict=False)
            paths = table.get(network_key(net))
            if paths:
                return net, paths
        return None

    def routes(self, family: Family = IPV4_UNICAST) -> Iterator[tuple[IPNetwork, tuple[Path, ...]]]:
        """Every prefix of ``family`` in the Loc-RIB with its multipath set, best first."""
        for key, paths in self.rib.best_paths(family).items():
            yield key_to_network(key, family[0]), paths

    def route_count(self, family: Family | None = None) -> int:
        """Prefixes in the Loc-RIB (of one family, or of all)."""
        if family is None:
            return len(self.rib)
        return len(self.rib.best_paths(family))

    def received_routes(self, peer: PeerKey, family: Family = IPV4_UNICAST, *,
                        before_policy: bool = False) -> dict[IPNetwork, Path]:
        """A neighbor's Adj-RIB-In after import policy, or as received before it
        (``before_policy``; kept only with ``soft_reconfiguration``)."""
        number = self._routes.peer_number(peer)
        if number is None:
            raise UsageError(f"neighbor {peer} is not Established")
        table = self.rib.adj_rib_in(number, family, received=before_policy)
        return {key_to_network(k, family[0]): p for k, p in table.items()}

    def advertised_routes(self, peer: PeerKey, family: Family = IPV4_UNICAST) -> dict[IPNetwork, tuple[str, ...]]:
        """What has been sent to a neighbor: prefix -> next hop."""
        number = self._routes.peer_number(peer)
        if number is None:
            raise UsageError(f"neighbor {peer} is not Established")
        return {key_to_network(k, family[0]): hop for k, (_, hop) in self.rib.advertised(number, family).items()}

    def fib_routes(self) -> list[FibRoute]:
        """What the router has asked the kernel to hold ([] without a FIB)."""
        if self._fib_feed is not None:
            self._fib_feed.flush()
        return self.fib.routes() if self.fib is not None else []

    def _fib_full(self, full: bool) -> None:
        """The FIB's backlog is full: hold reading from peers (see ``routed``), and the removal
        of peers that went down, until it has eased."""
        if not full:
            self.speaker.input.release()
        self._routes.hold_removals(full)

    def _shard_results(self) -> None:
        """A RIB shard worker has results back: route them (output rounds wake the sessions)."""
        try:
            changes = self.rib.poll()
        except ShardFailure as exc:
            log.error("RIB shard worker failed, the router cannot go on: %s", str(exc).splitlines()[0])
            self._stop_shard_readers()
            return
        self.rib.take_rounds_back()
        self.routed(changes)

    def _stop_shard_readers(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in self._shard_readers:
            loop.remove_reader(fd)
        self._shard_readers.clear()

    # -- RibResults: where the RIB's results go --------------------------------------------------

    def routed(self, changes: list[BestChange]) -> None:
        """Route what the RIB returned: actions to sessions, changes to the FIB and
        subscribers, output to the speaker's scheduler."""
        for action in self.rib.take_actions():
            match action:
                case CeasePeer():
                    peer = self._routes.peer_key(action.peer_id)
                    if peer is not None:
                        self.speaker.cease_neighbor(peer, action.subcode, action.data, action.reason,
                                                    action.restart_after_s)
        if changes:
            if self._fib_feed is not None:
                self._fib_feed.changes(changes)
                if self._fib_feed.full and not self.speaker.input.held:
                    self.speaker.input.hold()  # again, if it let itself go to read KEEPALIVEs
            if self._subscribers:
                self._publish_changes(changes)
        self.speaker.pump(None)

    def session_up(self, peer: PeerKey, info: PeerInfo) -> None:
        self._sessions[peer] = info
        self._arm_stale_timer()
        if self.bfd is not None:
            self.bfd.session_up(peer, info.config)
        if self._subscribers:
            self._publish(PeerUp(peer=peer, remote_as=info.params.remote_as, router_id=info.params.remote_id,
                                 families=tuple(info.params.families)))

    def session_down(self, peer: PeerKey, graceful: bool) -> None:
        self._sessions.pop(peer, None)
        self._arm_stale_timer()
        if self.bfd is not None:
            self.bfd.session_down(peer)
        if self._subscribers:
            try:
                reason = self.speaker.neighbor(peer).last_error or "session closed"
            except UsageError:
                reason = "neighbor removed"
            self._publish(PeerDown(peer=peer, reason=reason, graceful=graceful))

    def update_received(self, peer: PeerKey, update: Update) -> None:
        if self._subscribers:
            self._publish(RouteReceived(peer=peer, update=update))

    def _publish_changes(self, changes: list[BestChange]) -> None:
        options = self.config.decision
        for change in changes:
            afi = change.family[0]
            best = change.best
            if best is None:
                for key in change.keys:
                    self._publish(BestPathWithdrawn(family=change.family, prefix=key_to_network(key, afi)))
                continue
            for key in change.keys:
                candidates = self.rib.candidates(change.family, key)
                reason = explain(best, candidates, options) if len(candidates) > 1 else Reason.ONLY_PATH
                self._publish(BestPathChanged(family=change.family, prefix=key_to_network(key, afi), best=best,
                                              paths=change.paths, reason=reason))

    # -- graceful restart timer -------------------------------------------------------------------

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
        self.routed(self.rib.handle_timer(time.monotonic(), stream=True))
        self._routes.drain_later()
        self._arm_stale_timer()

    def _interface_of(self, number: PeerId) -> str | None:
        peer = self._routes.peer_key(number)
        if peer is None or "%" not in peer:
            return None
        return peer.partition("%")[2]
