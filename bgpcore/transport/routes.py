"""The speaker's route handler seam and its default: local routes out, received routes kept.

The speaker hands every Established session to a ``RouteHandler`` and asks it for the next
UPDATEs of a peer only while that peer's socket is writable. What is still to send is kept
as state (pending prefix keys per peer and family), never as encoded messages, so a slow
peer costs at most one entry per route. The RIB (``bgpcore.rib``) implements the same
Protocol to take this class's place.
"""
from __future__ import annotations

import ipaddress
import logging
from itertools import islice
from dataclasses import dataclass
from typing import Protocol

from bgpcore.constants import Afi, AsPathSegmentType, Origin, RefreshSubtype
from bgpcore.session.negotiate import SessionParams
from bgpcore.transport.config import NeighborConfig
from bgpcore.transport.neighbor import PeerKey
from bgpcore.wire.context import IPV4_UNICAST, Family
from bgpcore.wire.types import PathAttributes, Update
from bgpcore.wire import accel
from bgpcore.wire.refresh import RouteRefresh, encode_refresh
from bgpcore.wire.update import encode_end_of_rib

log = logging.getLogger("bgpcore.routes")

NextHop = tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """What a route handler needs to know about an Established peer."""

    peer_id: PeerKey
    params: SessionParams
    local_address: str
    remote_address: str
    next_hop_ipv4: str | None = None
    next_hop_ipv6: str | None = None
    description: str = ""
    config: NeighborConfig | None = None
    """The neighbor's configuration (route-reflector client, policies, limits...)."""

    def next_hop_self(self, family: Family) -> NextHop | None:
        """Our next hop for ``family`` on this session, or None when we have none to give."""
        local = ipaddress.ip_address(self.local_address) if self.local_address else None
        if family[0] == Afi.IPV4:
            if self.next_hop_ipv4:
                return (self.next_hop_ipv4,)
            if local is not None and local.version == 4:
                return (str(local),)
            if family in self.params.send_ctx.extended_nexthop and local is not None:
                if local.version == 6 and local.is_link_local:
                    # RFC 8950 as FRR sends it on unnumbered links: global (or link-local again), link-local
                    link_local = str(local).split("%", 1)[0]
                    return (self.next_hop_ipv6 or link_local, link_local)
                return (str(local),)
            return None
        if self.next_hop_ipv6:
            return (self.next_hop_ipv6,)
        if local is not None and local.version == 6:
            return (str(local),)
        return None


class RouteHandler(Protocol):
    """What the speaker calls; ``bgpcore.rib`` provides the full implementation."""

    def peer_up(self, peer: PeerKey, info: PeerInfo) -> None:
        """The session reached Established: start sending it routes."""

    def peer_down(self, peer: PeerKey, graceful: bool = False) -> None:
        """The session ended: forget what it sent us and what we owed it.

        ``graceful``: graceful restart was negotiated and the connection dropped without a
        NOTIFICATION; a handler that helps restarting peers keeps their routes, stale (RFC 4724).
        """

    def receive(self, peer: PeerKey, update: Update) -> None:
        """An UPDATE from the peer (RFC 7606 outcomes already applied)."""

    def resend(self, peer: PeerKey, family: Family) -> None:
        """Advertise every route of ``family`` to ``peer`` again (ROUTE-REFRESH, soft reset out)."""

    def pull(self, peer: PeerKey, max_messages: int) -> list[bytes]:
        """Up to about ``max_messages`` encoded messages for ``peer`` (UPDATEs, and the BoRR/EoRR
        ROUTE-REFRESH markers around a re-advertisement); [] when nothing is pending."""
        ...

    def announce(self, family: Family, key: bytes, attributes: PathAttributes, next_hop: NextHop | None) -> list[PeerKey]:
        """Originate a route; returns the peers that now have something to send."""
        ...

    def withdraw(self, family: Family, key: bytes) -> list[PeerKey]:
        """Stop originating a route; returns the peers that now have something to send."""
        ...

    def refresh_marker(self, peer: PeerKey, family: Family, subtype: int) -> None:
        """The peer's BoRR or EoRR (RFC 7313) around its re-advertisement of ``family``."""

    def prefix_count(self, peer: PeerKey) -> int | None:
        """Prefixes held from ``peer`` (None when it is not Established)."""
        ...


def export_attributes(attributes: PathAttributes, params: SessionParams) -> PathAttributes:
    """Our route as this peer must see it: AS prepended for eBGP, LOCAL_PREF only for iBGP."""
    origin = Origin.IGP if attributes.origin is None else attributes.origin
    if params.ibgp:
        return attributes._replace(origin=origin, local_pref=100 if attributes.local_pref is None else attributes.local_pref)
    path = attributes.as_path
    if path and path[0][0] == AsPathSegmentType.AS_SEQUENCE and len(path[0][1]) < 255:
        path = ((AsPathSegmentType.AS_SEQUENCE, (params.local_as, *path[0][1])), *path[1:])
    else:
        path = ((AsPathSegmentType.AS_SEQUENCE, (params.local_as,)), *path)
    return attributes._replace(origin=origin, as_path=path, local_pref=None)


class _PeerOut:
    __slots__ = ("info", "pending", "end_of_rib", "refreshing")

    def __init__(self, info: PeerInfo) -> None:
        self.info = info
        self.pending: dict[Family, dict[bytes, bool]] = {f: {} for f in info.params.families}
        self.end_of_rib: list[Family] = list(info.params.families)
        self.refreshing: dict[Family, bool] = {}
        """Families being re-advertised with Enhanced Route Refresh: BoRR sent yet?"""


class SimpleRoutes:
    """Default handler: routes announced through the API go to every Established peer;
    routes received are kept per peer and dropped when that peer goes down.
    """

    def __init__(self) -> None:
        self.local: dict[Family, dict[bytes, tuple[PathAttributes, NextHop | None]]] = {}
        self.received: dict[PeerKey, dict[Family, dict[bytes, tuple[PathAttributes, NextHop]]]] = {}
        self._out: dict[PeerKey, _PeerOut] = {}
        self._local_as: dict[PeerKey, int] = {}
        self._stale: dict[tuple[PeerKey, Family], set[bytes]] = {}

    def peer_up(self, peer: PeerKey, info: PeerInfo) -> None:
        out = _PeerOut(info)
        for family, pending in out.pending.items():
            pending.update(dict.fromkeys(self.local.get(family, ()), True))
        self._out[peer] = out
        self.received[peer] = {}
        self._local_as[peer] = info.params.local_as

    def peer_down(self, peer: PeerKey, graceful: bool = False) -> None:
        # the simple handler does not help restarting peers: their routes go at once
        self._out.pop(peer, None)
        self.received.pop(peer, None)
        self._local_as.pop(peer, None)
        for key in [k for k in self._stale if k[0] == peer]:
            del self._stale[key]

    def receive(self, peer: PeerKey, update: Update) -> None:
        table = self.received.setdefault(peer, {})
        v4 = table.setdefault(IPV4_UNICAST, {})
        for key in update.withdrawn:
            v4.pop(key, None)
        if update.mp_unreach is not None:
            fam = table.setdefault((update.mp_unreach.afi, update.mp_unreach.safi), {})
            for key in update.mp_unreach.nlri:
                fam.pop(key, None)
        attrs = update.attributes
        if attrs is None:
            return
        if any(self._local_as.get(peer) in asns for _, asns in attrs.as_path):
            # RFC 4271 §9.1.2: a route with our own AS in its path is not used (and replaces nothing)
            for key in update.nlri:
                v4.pop(key, None)
            if update.mp_reach is not None:
                fam = table.setdefault((update.mp_reach.afi, update.mp_reach.safi), {})
                for key in update.mp_reach.nlri:
                    fam.pop(key, None)
            return
        stale_v4 = self._stale.get((peer, IPV4_UNICAST))
        if stale_v4:
            stale_v4.difference_update(update.nlri)
        if update.mp_reach is not None:
            stale = self._stale.get((peer, (update.mp_reach.afi, update.mp_reach.safi)))
            if stale:
                stale.difference_update(update.mp_reach.nlri)
        if update.nlri:
            v4_route: tuple[PathAttributes, NextHop] = (attrs, (attrs.next_hop or "",))
            for key in update.nlri:
                v4[key] = v4_route
        if update.mp_reach is not None:
            fam = table.setdefault((update.mp_reach.afi, update.mp_reach.safi), {})
            route = (attrs, update.mp_reach.next_hop)
            for key in update.mp_reach.nlri:
                fam[key] = route

    def prefix_count(self, peer: PeerKey) -> int | None:
        """Prefixes held from ``peer`` (None when it is not Established)."""
        table = self.received.get(peer)
        return None if table is None else sum(len(t) for t in table.values())

    def refresh_marker(self, peer: PeerKey, family: Family, subtype: int) -> None:
        """RFC 7313 §4: routes present at BoRR and not sent again by EoRR are withdrawn."""
        table = self.received.get(peer, {}).get(family, {})
        if subtype == RefreshSubtype.BORR:
            self._stale[(peer, family)] = set(table)
        elif subtype == RefreshSubtype.EORR:
            for key in self._stale.pop((peer, family), ()):
                table.pop(key, None)

    def resend(self, peer: PeerKey, family: Family) -> None:
        out = self._out.get(peer)
        if out is not None and family in out.pending:
            out.pending[family].update(dict.fromkeys(self.local.get(family, ()), True))
            if out.info.params.enhanced_route_refresh:
                out.refreshing[family] = False  # RFC 7313 §4: BoRR, the routes, then EoRR

    def announce(self, family: Family, key: bytes, attributes: PathAttributes, next_hop: NextHop | None) -> list[PeerKey]:
        self.local.setdefault(family, {})[key] = (attributes, next_hop)
        return self._mark(family, key, True)

    def withdraw(self, family: Family, key: bytes) -> list[PeerKey]:
        if self.local.get(family, {}).pop(key, None) is None:
            return []
        return self._mark(family, key, False)

    def _mark(self, family: Family, key: bytes, announce: bool) -> list[PeerKey]:
        peers = []
        for peer, out in self._out.items():
            if family in out.pending:
                out.pending[family][key] = announce
                peers.append(peer)
        return peers

    def pull(self, peer: PeerKey, max_messages: int) -> list[bytes]:
        out = self._out.get(peer)
        if out is None:
            return []
        params = out.info.params
        messages: list[bytes] = []
        for family, pending in out.pending.items():
            if out.refreshing.get(family) is False:
                messages.append(encode_refresh(RouteRefresh(family[0], family[1], RefreshSubtype.BORR)))
                out.refreshing[family] = True
            while pending and len(messages) < max_messages:
                messages += self._encode_some(out, family, pending, max_messages - len(messages))
            if pending:
                return messages
            if out.refreshing.pop(family, None):
                messages.append(encode_refresh(RouteRefresh(family[0], family[1], RefreshSubtype.EORR)))
        while out.end_of_rib and len(messages) < max_messages:
            messages.append(encode_end_of_rib(out.end_of_rib.pop(0), params.send_ctx))
        return messages

    def _encode_some(self, out: _PeerOut, family: Family, pending: dict[bytes, bool], budget: int) -> list[bytes]:
        """Encode a slice of ``pending``: withdrawals first, then announcements grouped by attribute set."""
        params = out.info.params
        local = self.local.get(family, {})
        chunk = list(islice(pending.items(), max(1, budget) * 64))
        messages: list[bytes] = []
        withdrawn = [k for k, up in chunk if not up or k not in local]
        if withdrawn:
            for key in withdrawn:
                del pending[key]
            messages += accel.encode_withdrawals(family, withdrawn, params.send_ctx)
        groups: dict[tuple[PathAttributes, NextHop | None], list[bytes]] = {}
        for key, up in chunk:
            if up and key in local:
                route = local[key]
                keys = groups.get(route)
                if keys is None:
                    if len(groups) >= budget:
                        break
                    groups[route] = keys = []
                keys.append(key)
        for (attributes, next_hop), keys in groups.items():
            if len(messages) >= budget:
                break
            for key in keys:
                del pending[key]
            hop = next_hop or out.info.next_hop_self(family)
            if hop is None:
                log.warning("%s: no next hop for %d routes of %s; not sent", out.info.peer_id, len(keys), family)
                continue
            messages += accel.encode_updates(export_attributes(attributes, params), family, hop, keys, params.send_ctx)
        return messages
