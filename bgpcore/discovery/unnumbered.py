"""Unnumbered BGP: one neighbor per interface, found by its Router Advertisements, not configured.

:class:`Unnumbered` watches the interfaces that match an :class:`InterfacePeering` (a name or a
pattern such as ``"swp*"``) and keeps exactly one neighbor per running interface:

- it advertises on each interface and learns the peer's link-local address from the peer's
  Router Advertisements (:class:`~bgpcore.discovery.listener.RaListener`), with the kernel's
  neighbour table (entries flagged ``router``) as a second source; an advertisement wins
  over the neighbour table;
- a peer that changes its address gets its session replaced;
- an interface that goes down (netlink RTNLGRP_LINK) drops its neighbor at once, and with it
  the routes learned there, instead of waiting for the hold timer; when it comes back up the
  peer is solicited again and the session re-established.

The neighbors are created in a :class:`NeighborTable` (``bgpcore.transport.speaker.Speaker``
is one) from ``make_config(address=..., interface=..., remote_as=..., **options)``, usually
``bgpcore.transport.config.NeighborConfig``. Extended next hop for IPv4 unicast (RFC 8950) is
on unless the options say otherwise.

:func:`fib_next_hop` turns a received RFC 8950 next hop into the (interface, link-local)
next hop the FIB installs; :func:`advertised_next_hop` is what to send: global and link-local,
or the link-local twice when the interface has no global address, as FRR does.
"""
from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Mapping, Protocol, Sequence

from bgpcore.discovery.listener import RaListener, RouterHeard
from bgpcore.discovery.sysctl import check_interfaces
from bgpcore.fib import kernel
from bgpcore.fib import netlink as nl
from bgpcore.fib.install import NextHop
from bgpcore.wire.context import IPV4_UNICAST

log = logging.getLogger(__name__)

UNNUMBERED_DEFAULTS: Final[Mapping[str, Any]] = {"extended_nexthop": (IPV4_UNICAST,)}
_USABLE_NUD: Final = ("REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP")
_IFA_F_TENTATIVE: Final = 0x40


class NeighborTable(Protocol):
    """Where discovered neighbors go: ``Speaker`` has these two methods."""

    def add_neighbor(self, config: Any) -> str:
        """Configure and start a neighbor; returns its peer id."""
        ...

    def remove_neighbor(self, peer: str, message: str = "") -> None:
        """Stop the neighbor and forget it (its routes go with it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfacePeering:
    """Peer with whatever BGP speaker is at the other end of each matching interface.

    Attributes:
        interfaces: interface names or shell patterns (``"eth1"``, ``"swp*"``, ``"vA?"``).
        remote_as: an AS number, ``"internal"`` or ``"external"``.
        options: further neighbor settings, passed to ``make_config`` (hold_time_s, families...).
    """

    interfaces: tuple[str, ...]
    remote_as: int | str
    options: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.interfaces)


@dataclass(slots=True)
class _Link:
    ifindex: int
    name: str
    peering: InterfacePeering
    running: bool = False
    peer: ipaddress.IPv6Address | None = None
    peer_id: str | None = None
    source: str = ""
    settling: asyncio.TimerHandle | None = None
    heard: ipaddress.IPv6Address | None = None


@dataclass(frozen=True, slots=True)
class UnnumberedPeer:
    """One interface and the neighbor on it, for ``show`` output."""

    interface: str
    ifindex: int
    running: bool
    address: str | None
    peer_id: str | None
    learned_from: str


class Unnumbered:
    """Keep one neighbor per matching, running interface, found by discovery.

    Args:
        table: where neighbors are added and removed (a ``Speaker``).
        peerings: which interfaces to peer on, and how.
        make_config: builds a neighbor configuration from keyword arguments.
        ra_interval_s: seconds between our Router Advertisements.
        link_up_settle_s: after a link comes back up, wait a random time up to this long before
            soliciting and peering, so the router at the other end has finished handling the
            flap too (FRR 8.4 can wedge a neighbor that reconnects within its own flap handling).
        transit: the node forwards IPv4 between its links (checked in the sysctls).
        check_settings: check the kernel settings at start (:mod:`bgpcore.discovery.sysctl`).
        namespace: run in this named network namespace (sockets are opened there).
        rng: source of the settle delays (tests pass a seeded one).
    """

    def __init__(self, table: NeighborTable, peerings: Sequence[InterfacePeering], *,
                 make_config: Callable[..., Any], ra_interval_s: float = 3.0, link_up_settle_s: float = 0.5,
                 transit: bool = False, check_settings: bool = True, namespace: str | None = None,
                 rng: random.Random | None = None) -> None:
        self.table = table
        self.peerings = tuple(peerings)
        self.make_config = make_config
        self.transit = transit
        self.check_settings = check_settings
        self.namespace = namespace
        self.link_up_settle_s = link_up_settle_s
        self._rng = rng or random.Random()
        self._starting = True
        self.listener = RaListener(self._router_heard, interval_s=ra_interval_s)
        self._links: dict[int, _Link] = {}
        self._monitor: kernel.LinkMonitor | None = None
        self._own_monitor = True
        self.on_change: Callable[[UnnumberedPeer], None] | None = None
        """Called after a neighbor is added or removed (for logs, tests and ``show``)."""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, links: kernel.LinkMonitor | None = None) -> None:
        """Check settings, then advertise on and peer over every matching interface.

        Args:
            links: a link monitor with neighbours and addresses shared with other consumers
                (a router's FIB); by default discovery opens its own.

        Raises:
            ConfigError: a kernel setting is wrong (the message names the sysctl).
        """
        self._own_monitor = links is None
        monitor = links or kernel.LinkMonitor(neighbours=True, addresses=True, namespace=self.namespace)
        now = monitor.snapshot()  # events from here on wait in the monitor's socket
        if self.check_settings:
            names = [link.name for link in now if self._peering_for(link.name) is not None]
            try:
                with kernel.netns(self.namespace):
                    check_interfaces(names, transit=self.transit)
            except Exception:
                if self._own_monitor:
                    monitor.close()
                raise
        self._monitor = monitor
        monitor.subscribe(self._events)
        for link in now:
            self._link_event(link)
        self._starting = False

    def _resync(self) -> None:
        """Apply the links as they are now (when the kernel dropped events)."""
        if self._monitor is not None:
            for link in self._monitor.snapshot():
                self._link_event(link)

    async def stop(self) -> None:
        """Stop advertising and remove every neighbor this object added."""
        if self._monitor is not None:
            self._monitor.unsubscribe(self._events)
        for link in self._links.values():
            self._settled(link, cancel=True)
            self._drop(link, "unnumbered peering stopped")
        self.listener.close()
        self._links.clear()
        if self._monitor is not None and self._own_monitor:
            self._monitor.close()
        self._monitor = None

    def peers(self) -> list[UnnumberedPeer]:
        return [self._view(link) for link in sorted(self._links.values(), key=lambda link: link.name)]

    # -- events ----------------------------------------------------------------------------------

    def _events(self, events: list[kernel.LinkEvent], overrun: bool) -> None:
        if overrun:
            log.warning("unnumbered: the kernel dropped link events; re-reading the links")
            self._resync()
        for event in events:
            try:
                if isinstance(event, nl.LinkMessage):
                    self._link_event(event)
                elif isinstance(event, nl.NeighbourMessage):
                    self._neighbour_event(event)
                else:
                    self._address_event(event)
            except Exception:  # noqa: BLE001 - one bad event must not end discovery
                log.exception("unnumbered: handling %s failed", event)

    def _peering_for(self, name: str) -> InterfacePeering | None:
        return next((p for p in self.peerings if p.matches(name)), None)

    def _link_event(self, msg: nl.LinkMessage) -> None:
        link = self._links.get(msg.ifindex)
        if msg.deleted:
            if link is not None:
                self._settled(link, cancel=True)
                self._drop(link, "interface removed")
                self.listener.remove_interface(link.ifindex)
                del self._links[link.ifindex]
            return
        if link is None:
            peering = self._peering_for(msg.name)
            if peering is None or not msg.name:
                return
            link = _Link(msg.ifindex, msg.name, peering)
            self._links[msg.ifindex] = link
            with kernel.netns(self.namespace):
                self.listener.add_interface(msg.ifindex, msg.name, msg.mac)
        was_running, link.running = link.running, msg.running
        if was_running and not link.running:
            log.info("%s: link down", link.name)
            self._settled(link, cancel=True)
            self._drop(link, f"interface {link.name} down")
        elif link.running and not was_running:
            delay = 0.0 if self._starting else self._rng.uniform(0.5, 1.0) * self.link_up_settle_s
            log.info("%s: link up; soliciting the peer in %.0f ms", link.name, delay * 1000)
            if delay > 0:
                link.settling = asyncio.get_running_loop().call_later(delay, self._settled, link)
            else:
                self._settled(link)

    def _settled(self, link: _Link, cancel: bool = False) -> None:
        """The link has been up long enough: solicit, advertise and peer (or forget, on ``cancel``)."""
        if link.settling is not None:
            link.settling.cancel()
            link.settling = None
        heard, link.heard = link.heard, None
        if cancel or not link.running:
            return
        self.listener.restart(link.ifindex)
        if heard is not None:
            self._consider(link, heard, "router advertisement")
        self._scan_neighbours(link)

    def _address_event(self, msg: nl.AddressMessage) -> None:
        """Our link-local address became usable: advertise now rather than at the next retry."""
        link = self._links.get(msg.ifindex)
        raw = msg.local or msg.address
        if (link is None or link.peer is not None or link.settling is not None or msg.family != socket.AF_INET6
                or raw is None or msg.flags & _IFA_F_TENTATIVE):
            return
        if ipaddress.IPv6Address(raw).is_link_local:
            self.listener.restart(link.ifindex)

    def _scan_neighbours(self, link: _Link) -> None:
        for entry in kernel.list_neighbours(link.ifindex, socket.AF_INET6, namespace=self.namespace):
            if entry.router and entry.address.is_link_local and entry.state.split("|")[0] in _USABLE_NUD:
                self._consider(link, ipaddress.IPv6Address(entry.address), "neighbour table")

    def _neighbour_event(self, msg: nl.NeighbourMessage) -> None:
        link = self._links.get(msg.ifindex)
        if link is None or msg.family != socket.AF_INET6 or msg.dst is None or not msg.router:
            return
        address = ipaddress.IPv6Address(msg.dst)
        if address.is_link_local and msg.state_name.split("|")[0] in _USABLE_NUD:
            self._consider(link, address, "neighbour table")

    def _router_heard(self, heard: RouterHeard) -> None:
        link = self._links.get(heard.ifindex)
        if link is not None:
            self._consider(link, heard.address, "router advertisement")

    # -- neighbors -------------------------------------------------------------------------------

    def _consider(self, link: _Link, address: ipaddress.IPv6Address, source: str) -> None:
        """A router at ``address`` on ``link``: make it the interface's neighbor if it should be."""
        if not link.running or link.peer == address:
            return
        if link.settling is not None:
            if source == "router advertisement":
                link.heard = address
            return
        if link.peer is not None:
            if source != "router advertisement":
                return  # the neighbour table never overrides what an advertisement said
            self._drop(link, f"peer on {link.name} moved from {link.peer} to {address}")
        options = {**UNNUMBERED_DEFAULTS, **link.peering.options}
        config = self.make_config(address=str(address), interface=link.name, remote_as=link.peering.remote_as,
                                  **options)
        link.peer_id = self.table.add_neighbor(config)
        link.peer, link.source = address, source
        log.info("%s: neighbor %s from the %s", link.name, address, source)
        self._changed(link)

    def _drop(self, link: _Link, reason: str) -> None:
        if link.peer_id is None:
            link.peer = None
            return
        peer_id, link.peer_id, link.peer = link.peer_id, None, None
        log.info("%s: removing neighbor %s: %s", link.name, peer_id, reason)
        try:
            self.table.remove_neighbor(peer_id, reason)
        except Exception:  # noqa: BLE001 - already gone is fine; anything else is logged
            log.exception("%s: removing neighbor %s failed", link.name, peer_id)
        self._changed(link)

    def _changed(self, link: _Link) -> None:
        if self.on_change is not None:
            self.on_change(self._view(link))

    @staticmethod
    def _view(link: _Link) -> UnnumberedPeer:
        return UnnumberedPeer(link.name, link.ifindex, link.running, str(link.peer) if link.peer else None,
                              link.peer_id, link.source)


# -- next hops ------------------------------------------------------------------------------------

def fib_next_hop(next_hop: Sequence[str], interface: str) -> NextHop:
    """The FIB next hop for a route received over the session on ``interface``.

    An RFC 8950 next hop is one IPv6 address or two (global, link-local). Over an unnumbered
    session the link-local one is used with the session's interface; a lone global address
    is installed on that interface too, where the peer is directly reachable.
    """
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in next_hop if a]
    link_local = [a for a in addresses if a.version == 6 and a.is_link_local]
    chosen = link_local[-1] if link_local else (addresses[0] if addresses else None)
    return NextHop(gateway=str(chosen) if chosen is not None else None, ifname=interface)


def advertised_next_hop(link_local: str, global_address: str | None = None) -> tuple[str, str]:
    """The 32-octet RFC 8950 next hop to send on an unnumbered session, as FRR sends it."""
    ll = str(ipaddress.IPv6Address(link_local.split("%", 1)[0]))
    return (global_address or ll, ll)


__all__ = ["InterfacePeering", "NeighborTable", "UNNUMBERED_DEFAULTS", "Unnumbered", "UnnumberedPeer",
           "advertised_next_hop", "fib_next_hop"]
