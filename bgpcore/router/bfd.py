"""BFD for the router's neighbors: one ``BfdEndpoint``, a BFD session per neighbor with ``bfd`` set.

The BFD session runs independently of the BGP session, as FRR's does: it is added when the
neighbor is configured (or discovered on an interface) and removed when the neighbor is. A
dynamic neighbor of a listen range gets its BFD session when its BGP session is Established
(its address is not known before) and loses it when that session goes down.

BFD Up -> Down closes the BGP session at once with Cease/10 (BFD Down, RFC 9384); its routes
leave the RIB and the kernel as for any peer down. Not on AdminDown: ours (we removed the
peer) or the peer's (diag 7: its BFD was deconfigured, which says nothing about the path,
RFC 5882 §3.2). Without ``strict`` the neighbor starts again when BFD is Up again, or after
``restart_after_s`` whatever BFD says; with ``strict`` it is held administratively down until
BFD reaches Up, from the start and after every BFD Down.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bgpcore.bfd.packet import Diag, State
from bgpcore.bfd.transport import BFD_CONTROL_PORT, BfdEndpoint, BfdPeerEvent, BfdPeerHandle, BfdPeerStatus
from bgpcore.bfd.transport import PeerKey as BfdKey
from bgpcore.constants import CeaseSubcode
from bgpcore.errors import UsageError
from bgpcore.transport.config import BfdSettings, NeighborConfig
from bgpcore.transport.neighbor import PeerKey
from bgpcore.transport.speaker import Speaker

log = logging.getLogger("bgpcore.router.bfd")

_WILDCARDS = ("0.0.0.0", "::")


def bfd_wanted(neighbors: Iterable[NeighborConfig], templates: Iterable[NeighborConfig],
               interface_options: Iterable[Any]) -> bool:
    """Whether any neighbor, listen-range template or interface peering asks for BFD."""
    return (any(n.bfd is not None for n in neighbors) or any(t.bfd is not None for t in templates)
            or any(options.get("bfd") is not None for options in interface_options))


def bfd_listen_addresses(bgp_listen: Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """Where BFD listens: where BGP does; everywhere when BGP listens on a wildcard or nowhere."""
    addresses = tuple(dict.fromkeys(address for address, _ in bgp_listen))
    if not addresses or any(a in _WILDCARDS for a in addresses):
        return _WILDCARDS
    return addresses


@dataclass(slots=True)
class _Tracked:
    """A neighbor with BFD: its BGP peer key, settings and BFD handle; ``held`` while we keep its
    BGP session down for BFD (strict, or ceased on BFD Down)."""

    peer: PeerKey
    settings: BfdSettings
    handle: BfdPeerHandle
    dynamic: bool
    held: bool = False


class BfdLink:
    """The router's BFD: sessions follow neighbors, BFD Down closes BGP sessions.

    Args:
        speaker: the router's speaker (neighbors are ceased, shut down and enabled on it).
        listen_addresses: local addresses BFD listens on (see ``bfd_listen_addresses``).
        listen_port / remote_port: UDP 3784 but in tests (two routers on one host); they may
            be set as attributes before ``start``.
        restart_after_s: without ``strict``, how long a neighbor closed by BFD Down waits
            before it starts again if BFD does not come Up first.
    """

    def __init__(self, speaker: Speaker, *, listen_addresses: Iterable[str] = _WILDCARDS,
                 listen_port: int = BFD_CONTROL_PORT, remote_port: int = BFD_CONTROL_PORT,
                 restart_after_s: float = 5.0) -> None:
        self.speaker = speaker
        self.listen_addresses = tuple(listen_addresses)
        self.listen_port = listen_port
        self.remote_port = remote_port
        self.restart_after_s = restart_after_s
        self.endpoint: BfdEndpoint | None = None
        self._tracked: dict[BfdKey, _Tracked] = {}
        self._by_peer: dict[PeerKey, BfdKey] = {}

    async def start(self) -> None:
        """Open the BFD sockets.

        Raises:
            OSError: a listening address cannot be bound.
        """
        endpoint = BfdEndpoint(listen_port=self.listen_port, listen_addresses=self.listen_addresses)
        await endpoint.start()
        endpoint.subscribe(self._on_event)
        self.endpoint = endpoint

    def close(self) -> None:
        """Tell every BFD peer we go AdminDown (their BGP stays up on that alone), then close."""
        if self.endpoint is None:
            return
        for tracked in list(self._tracked.values()):
            self.endpoint.remove_peer(tracked.handle)
        self._tracked.clear()
        self._by_peer.clear()
        self.endpoint.close()
        self.endpoint = None

    # -- neighbors ------------------------------------------------------------------------------

    def neighbor_added(self, peer: PeerKey, config: NeighborConfig, *, dynamic: bool = False,
                       _hold: bool = True) -> None:
        """Start BFD with a new neighbor (if its configuration asks); strict: hold BGP until Up."""
        if config.bfd is None or self.endpoint is None or peer in self._by_peer:
            return
        address, interface = config.key
        settings = config.bfd
        try:
            handle = self.endpoint.add_peer(address, interface, local_address=config.source_address,
                                            interval_ms=settings.interval_ms, multiplier=settings.multiplier,
                                            remote_port=self.remote_port)
        except (UsageError, OSError) as exc:
            log.warning("%s: BFD not started: %s", peer, exc)
            return
        tracked = _Tracked(peer=peer, settings=settings, handle=handle, dynamic=dynamic)
        self._tracked[handle.peer] = tracked
        self._by_peer[peer] = handle.peer
        if settings.strict and not dynamic and _hold:
            log.info("%s: BFD strict: BGP held down until BFD is Up", peer)
            tracked.held = True
            self.speaker.shutdown_neighbor(peer, "waiting for BFD")

    def neighbor_removed(self, peer: PeerKey) -> None:
        """Stop BFD with a neighbor that is gone (AdminDown tells the peer first)."""
        key = self._by_peer.pop(peer, None)
        if key is None:
            return
        tracked = self._tracked.pop(key)
        if self.endpoint is not None:
            self.endpoint.remove_peer(tracked.handle)

    def session_up(self, peer: PeerKey, config: NeighborConfig | None) -> None:
        """A BGP session is Established: a dynamic neighbor gets its BFD session now, and so does
        any other neighbor with ``bfd`` still without one (added while the router was starting,
        e.g. discovered on an interface then: ``Router.add_neighbor`` leaves BFD out before
        ``start`` has finished)."""
        if config is None or config.bfd is None or peer in self._by_peer:
            return
        try:
            dynamic = self.speaker.neighbor(peer).dynamic
        except UsageError:
            return
        self.neighbor_added(peer, config, dynamic=dynamic, _hold=False)

    def session_down(self, peer: PeerKey) -> None:
        """A BGP session went down: a dynamic neighbor's BFD session goes with it."""
        key = self._by_peer.get(peer)
        if key is not None and self._tracked[key].dynamic:
            self.neighbor_removed(peer)

    # -- observing ------------------------------------------------------------------------------

    def sessions(self) -> list[tuple[PeerKey, BfdSettings, BfdPeerStatus]]:
        """(BGP neighbor, its BFD settings, BFD status) for every BFD session, sorted by neighbor."""
        if self.endpoint is None:
            return []
        out = []
        for key, tracked in self._tracked.items():
            try:
                out.append((tracked.peer, tracked.settings, self.endpoint.status(key)))
            except UsageError:
                continue
        return sorted(out, key=lambda row: str(row[0]))

    def status_dicts(self) -> list[dict[str, Any]]:
        """``show bfd --json``: the BFD status of each session plus its neighbor and settings."""
        rows = []
        for peer, settings, status in self.sessions():
            row = status.as_dict()
            row.update({"neighbor": peer, "configured_interval_ms": settings.interval_ms,
                        "configured_multiplier": settings.multiplier, "strict": settings.strict,
                        "bgp_held": self._tracked[status.peer].held})
            rows.append(row)
        return rows

    # -- BFD events -----------------------------------------------------------------------------

    def _on_event(self, ev: BfdPeerEvent) -> None:
        tracked = self._tracked.get(ev.peer)
        if tracked is None:
            return
        peer = tracked.peer
        if ev.new is State.UP:
            if tracked.held:
                tracked.held = False
                if tracked.settings.strict or self._idle(peer):
                    log.info("%s: BFD Up: starting the BGP session", peer)
                    self._call(self.speaker.enable_neighbor, peer)
            return
        if ev.old is not State.UP:
            return
        if ev.new is State.ADMIN_DOWN:
            return  # we took it down ourselves
        if ev.remote_diag == Diag.ADMINISTRATIVELY_DOWN:
            log.info("%s: BFD peer went AdminDown; the BGP session stays (RFC 5882 §3.2)", peer)
            return
        diag = Diag(ev.diag).name.lower() if ev.diag in Diag._value2member_map_ else str(ev.diag)
        reason = f"BFD Down ({diag})"
        tracked.held = True
        if tracked.settings.strict:
            self._call(self.speaker.cease_neighbor, peer, CeaseSubcode.BFD_DOWN, b"", reason, None)
        else:
            self._call(self.speaker.cease_neighbor, peer, CeaseSubcode.BFD_DOWN, b"", reason, self.restart_after_s)

    def _idle(self, peer: PeerKey) -> bool:
        try:
            return self.speaker.neighbor(peer).state == "IDLE"
        except UsageError:
            return False

    def _call(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except UsageError as exc:  # the neighbor went away meanwhile (a dynamic one)
            log.debug("BFD: %s", exc)
