"""The speaker's route handler inside a router: sessions in, RIB results out.

``RibRoutes`` names peers by small integers for the RIB and by ``PeerKey`` for everything
else, turns a session's ``PeerInfo`` and ``NeighborConfig`` into the RIB's ``RibPeer``, and
hands every result the RIB returns (best-path changes, peer actions, new output) to the
router that owns it, which routes them to the FIB, subscribers, sessions and sockets.

A peer that goes down leaves the RIB in slices, one per loop turn (``Rib.drain``), so a full
table being withdrawn never holds up the other sessions' timers; the slices wait while the
router says a consumer is full (``hold_removals``).
"""
from __future__ import annotations

import asyncio
import ipaddress
from time import monotonic as _now
from typing import Protocol

from bgpcore.rib.manager import Rib, RibPeer
from bgpcore.route import BestChange, PeerId
from bgpcore.transport.config import NeighborConfig
from bgpcore.transport.neighbor import PeerKey
from bgpcore.transport.routes import NextHop, PeerInfo
from bgpcore.wire.context import IPV4_UNICAST, Family
from bgpcore.wire.types import PathAttributes, Update

_MESSAGE_BUDGET = 4096
"""Bytes asked of the RIB per message the speaker asks for."""


class RibResults(Protocol):
    """Where ``RibRoutes`` hands what the RIB returns (the router)."""

    def routed(self, changes: list[BestChange]) -> None:
        """The RIB changed: best-path changes (maybe none), peer actions and output to route."""

    def session_up(self, peer: PeerKey, info: PeerInfo) -> None:
        """A session reached Established and the RIB knows it."""

    def session_down(self, peer: PeerKey, graceful: bool) -> None:
        """A session ended and the RIB has dropped (or kept, stale) its routes."""

    def update_received(self, peer: PeerKey, update: Update) -> None:
        """An UPDATE arrived (before the RIB applies it)."""


def rib_peer(peer: PeerKey, info: PeerInfo) -> RibPeer:
    """The RIB's view of an Established session and its neighbor's configuration."""
    params = info.params
    config = info.config if info.config is not None else NeighborConfig(address=peer, remote_as=params.remote_as)
    local = info.next_hop_ipv4 or info.local_address
    local_next_hop: tuple[str, ...] = ()
    address = info.local_address.split("%", 1)[0]
    if address and ipaddress.ip_address(address).version == 6 and ipaddress.ip_address(address).is_link_local:
        # unnumbered: link-local next hops (RFC 8950 for IPv4), as FRR sends them
        local_next_hop = info.next_hop_self(IPV4_UNICAST) or (address,)
    restart = params.graceful_restart.restart_time_s if params.graceful_restart else None
    return RibPeer(
        asn=params.remote_as, router_id=params.remote_id, address=info.remote_address or peer,
        local_address=local, local_address6=info.next_hop_ipv6, local_next_hop=local_next_hop,
        send_ctx=params.send_ctx, recv_ctx=params.recv_ctx, families=frozenset(params.families),
        restart_time_s=restart,
        rr_client=config.rr_client,
        next_hop_self=config.next_hop_self,
        import_policy=config.import_policy,
        export_policy=config.export_policy,
        soft_reconfiguration=config.soft_reconfiguration,
        max_prefix=config.max_prefix,
        max_prefix_action=config.max_prefix_action, max_prefix_restart_s=config.max_prefix_restart_s,
    )


class RibRoutes:
    """A ``RouteHandler`` over a ``Rib``; results go to ``results``."""

    def __init__(self, rib: Rib, results: RibResults) -> None:
        self.rib = rib
        self.results = results
        self._ids: dict[PeerKey, PeerId] = {}
        self._keys: dict[PeerId, PeerKey] = {}
        self._up: dict[PeerKey, PeerId] = {}
        self._draining: asyncio.Handle | None = None
        self._removals_held = False

    def peer_key(self, number: PeerId) -> PeerKey | None:
        """The ``PeerKey`` of a RIB peer id."""
        return self._keys.get(number)

    def peer_number(self, peer: PeerKey) -> PeerId | None:
        """The RIB peer id of an Established peer."""
        return self._up.get(peer)

    def _id(self, peer: PeerKey) -> PeerId:
        number = self._ids.get(peer)
        if number is None:
            number = self._ids[peer] = len(self._ids)
            self._keys[number] = peer
        return number

    # -- RouteHandler -------------------------------------------------------------------------

    def peer_up(self, peer: PeerKey, info: PeerInfo) -> None:
        number = self._id(peer)
        self.rib.peer_up(number, rib_peer(peer, info), now=_now())
        self._up[peer] = number
        self.results.session_up(peer, info)
        self.results.routed(self.rib.flush())  # with the end of its earlier removal, if any

    def peer_down(self, peer: PeerKey, graceful: bool = False) -> None:
        number = self._up.pop(peer, None)
        if number is None:
            return
        changes = self.rib.peer_down(number, graceful=graceful, now=_now(), stream=True)
        self.results.session_down(peer, graceful)
        self.results.routed(changes)
        self.drain_later()

    def hold_removals(self, hold: bool) -> None:
        """Hold the slices of removals (a consumer of their changes is full), or go on."""
        self._removals_held = hold
        if not hold:
            self.drain_later()

    def drain_later(self) -> None:
        """Schedule the next slice of a removal (all of it at once without a running loop)."""
        if self._draining is not None or self._removals_held or not self.rib.draining:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.finish()
            return
        self._draining = loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._draining = None
        self.results.routed(self.rib.drain())
        self.drain_later()

    def finish(self) -> None:
        """Apply what is left of every removal now (the router is stopping)."""
        if self._draining is not None:
            self._draining.cancel()
            self._draining = None
        while self.rib.draining:
            self.results.routed(self.rib.drain())

    def receive(self, peer: PeerKey, update: Update) -> None:
        number = self._up.get(peer)
        if number is None:
            return
        self.results.update_received(peer, update)
        self.results.routed(self.rib.receive(number, update))

    def resend(self, peer: PeerKey, family: Family) -> None:
        number = self._up.get(peer)
        if number is not None:
            self.rib.route_refresh(number)
            self.results.routed(self.rib.poll())  # with what waiting for the shards took in

    def pull(self, peer: PeerKey, max_messages: int) -> list[bytes]:
        number = self._up.get(peer)
        if number is None:
            return []
        messages = self.rib.next_messages(number, max_messages * _MESSAGE_BUDGET)
        changes = self.rib.poll()  # shard results that call took in: changes, other groups' rounds
        if changes or self.rib.take_rounds_back():
            self.results.routed(changes)
        return messages

    def announce(self, family: Family, key: bytes, attributes: PathAttributes, next_hop: NextHop | None) -> list[PeerKey]:
        self.results.routed(self.rib.originate(family, [key], attributes, next_hop or ()))
        return []

    def withdraw(self, family: Family, key: bytes) -> list[PeerKey]:
        self.results.routed(self.rib.withdraw_originated(family, [key]))
        return []

    def refresh_marker(self, peer: PeerKey, family: Family, subtype: int) -> None:
        """BoRR/EoRR: the RIB replaces routes as they come again; nothing to purge here."""

    def prefix_count(self, peer: PeerKey) -> int | None:
        number = self._up.get(peer)
        return None if number is None else self.rib.prefix_count(number)

