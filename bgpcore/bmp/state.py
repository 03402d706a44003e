"""What a BMP station is told, as state and bytes: no sockets, no clocks (time is an argument).

``BmpState`` mirrors what the monitored router holds, from the values the router core hands
it (it never imports the router):

* per Established peer, its Peer Up facts (``BmpPeer``) and its pre-policy Adj-RIB-In, built
  from the UPDATEs as received (RFC 7854 Route Monitoring, L flag clear);
* the Loc-RIB best path of every prefix (RFC 9069 Loc-RIB instance, peer type 3).

Each input returns the BMP messages it causes; ``snapshot`` returns everything a station
that has just connected needs (Initiation, Peer Ups, every route, End-of-RIB markers), so
a reconnect resynchronises it. Stations are ``exporter.BmpStation`` (the I/O adapter).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, TypeVar

from bgpcore.bmp.codec import (
    InfoTlv,
    PeerDownReason,
    PeerFlag,
    PeerHeader,
    PeerType,
    StatType,
    TerminationReason,
    encode_initiation,
    encode_peer_down,
    encode_peer_up,
    encode_route_monitoring,
    encode_statistics,
    encode_termination,
)
from bgpcore.constants import Afi, Safi
from bgpcore.route import Path
from bgpcore.wire.capabilities import AddPath, Capability, FourOctetAs, Multiprotocol
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, Family
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes, Update
from bgpcore.wire.update import encode_end_of_rib, encode_updates, encode_withdrawals

AS_TRANS: Final = 23456
_V4_FAMILIES: Final = frozenset((Afi.IPV4, s) for s in Safi)
_Value = tuple[PathAttributes, tuple[str, ...]]
V = TypeVar("V")
"""A received route: attributes and next hop (one tuple shared by the prefixes of an UPDATE)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BmpPeer:
    """What BMP says about an Established session (Peer Up, per-peer header).

    ``addpath``: families whose received NLRI carry path identifiers (RFC 7911); the
    fabricated OPENs of Peer Up announce it so the station decodes them.
    """

    address: str
    asn: int
    bgp_id: str
    local_address: str
    local_as: int
    local_id: str
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    hold_time_s: int = 90
    local_port: int = 0
    remote_port: int = 179
    addpath: frozenset[Family] = frozenset()
    up_since: float = 0.0


@dataclass(slots=True)
class _PeerRib:
    peer: BmpPeer
    header: PeerHeader
    ctx: CodecContext
    routes: dict[Family, dict[bytes, _Value]] = field(default_factory=dict)


def fabricate_open(asn: int, bgp_id: str, families: Iterable[Family], hold_time_s: int,
                   addpath: Iterable[Family] = (), addpath_mode: int = 1) -> bytes:
    """An OPEN (header included) with the capabilities that shape the peer's UPDATEs."""
    caps: list[Capability] = [Multiprotocol(afi, safi) for afi, safi in families]
    caps.append(FourOctetAs(asn))
    entries = tuple((afi, safi, addpath_mode) for afi, safi in addpath)
    if entries:
        caps.append(AddPath(entries))
    return encode_open(Open(my_as=asn if asn <= 0xFFFF else AS_TRANS, hold_time_s=hold_time_s, bgp_id=bgp_id,
                            capabilities=tuple(caps)))


def _flags_for(address: str) -> int:
    return PeerFlag.IPV6 if ":" in address else 0


def _unspecified_hop(family: Family) -> tuple[str, ...]:
    return ("::",) if family[0] == Afi.IPV6 else ("0.0.0.0",)


def split_update(update: Update) -> tuple[list[tuple[Family, list[bytes]]], list[tuple[Family, list[bytes], _Value]]]:
    """(withdrawals, announcements) of an UPDATE, per family."""
    withdrawn: list[tuple[Family, list[bytes]]] = []
    announced: list[tuple[Family, list[bytes], _Value]] = []
    if update.withdrawn:
        withdrawn.append((IPV4_UNICAST, update.withdrawn))
    if update.mp_unreach is not None and update.mp_unreach.nlri:
        withdrawn.append(((update.mp_unreach.afi, update.mp_unreach.safi), update.mp_unreach.nlri))
    attrs = update.attributes
    if attrs is not None:
        if update.nlri and attrs.next_hop is not None:
            announced.append((IPV4_UNICAST, update.nlri, (attrs._replace(next_hop=None), (attrs.next_hop,))))
        if update.mp_reach is not None and update.mp_reach.nlri:
            reach = update.mp_reach
            announced.append(((reach.afi, reach.safi), reach.nlri, (attrs._replace(next_hop=None), reach.next_hop)))
    return withdrawn, announced


class BmpState:
    """The monitored router's peers and routes, and the BMP messages that describe them.

    Args:
        local_as, router_id: the router's; the Loc-RIB instance is named by them.
        sys_name, sys_descr: Initiation's information TLVs.
        table_name: the Loc-RIB's VRF/Table Name TLV (RFC 9069 §5.3).
        loc_rib: monitor the Loc-RIB (RFC 9069) as well as the pre-policy Adj-RIBs-In.
    """

    def __init__(self, *, local_as: int, router_id: str, sys_name: str, sys_descr: str,
                 table_name: str = "global", loc_rib: bool = True,
                 families: tuple[Family, ...] = (IPV4_UNICAST, (Afi.IPV6, Safi.UNICAST))) -> None:
        self.local_as = local_as
        self.router_id = router_id
        self.sys_name = sys_name
        self.sys_descr = sys_descr
        self.table_name = table_name
        self.loc_rib_enabled = loc_rib
        self.families = families
        self.peers: dict[str, _PeerRib] = {}
        self.loc_rib: dict[Family, dict[bytes, Path]] = {f: {} for f in families}
        self.loc_rib_since = 0.0
        self._loc_ctx = CodecContext(asn4=True, extended_nexthop=_V4_FAMILIES)

    # -- inputs -------------------------------------------------------------------------------

    def peer_up(self, key: str, peer: BmpPeer, now: float) -> list[bytes]:
        """A session reached Established: Peer Up (its Adj-RIB-In starts empty)."""
        header = PeerHeader(PeerType.GLOBAL, _flags_for(peer.address), peer.address, peer.asn, peer.bgp_id, now)
        ctx = CodecContext(asn4=True, addpath=peer.addpath, extended_nexthop=_V4_FAMILIES)
        self.peers[key] = _PeerRib(peer, header, ctx)
        return [self._peer_up_message(self.peers[key], now)]

    def peer_down(self, key: str, reason: str, now: float) -> list[bytes]:
        """A session left Established (or was removed): Peer Down, its routes forgotten."""
        rib = self.peers.pop(key, None)
        if rib is None:
            return []
        if reason == "neighbor removed":
            code, data = PeerDownReason.DECONFIGURED, b""
        elif "sent" in reason.lower() or "hold timer" in reason.lower():
            code, data = PeerDownReason.LOCAL_NO_NOTIFICATION, b"\0\0"
        else:
            code, data = PeerDownReason.REMOTE_NO_DATA, b""
        return [encode_peer_down(rib.header._replace(timestamp=now), code, data)]

    def route_received(self, key: str, update: Update, now: float) -> list[bytes]:
        """An UPDATE as the peer sent it: pre-policy Route Monitoring; kept for resyncs."""
        rib = self.peers.get(key)
        if rib is None:
            return []
        header = rib.header._replace(timestamp=now)
        out: list[bytes] = []
        eor = update.end_of_rib()
        if eor is not None:
            return [encode_route_monitoring(header, encode_end_of_rib(eor, rib.ctx))]
        withdrawn, announced = split_update(update)
        for family, keys in withdrawn:
            table = rib.routes.get(family)
            if table is not None:
                for k in keys:
                    table.pop(k, None)
            out += [encode_route_monitoring(header, m) for m in encode_withdrawals(family, keys, rib.ctx)]
        for family, keys, value in announced:
            table = rib.routes.setdefault(family, {})
            for k in keys:
                table[k] = value
            out += [encode_route_monitoring(header, m) for m in encode_updates(value[0], family, value[1], keys, rib.ctx)]
        return out

    def best_changed(self, family: Family, key: bytes, best: Path | None, now: float) -> list[bytes]:
        """The Loc-RIB best path of one prefix changed (``None``: withdrawn)."""
        if not self.loc_rib_enabled:
            return []
        table = self.loc_rib.setdefault(family, {})
        header = self._loc_header(now)
        if best is None:
            if table.pop(key, None) is None:
                return []
            return [encode_route_monitoring(header, m) for m in encode_withdrawals(family, [key], self._loc_ctx)]
        if table.get(key) is best:
            return []
        table[key] = best
        return [encode_route_monitoring(header, m)
                for m in encode_updates(best.attrs, family, best.next_hop or _unspecified_hop(family), [key],
                                        self._loc_ctx)]

    def sync_loc_rib(self, family: Family, current: dict[bytes, tuple[Path, ...]], now: float) -> list[bytes]:
        """Bring the Loc-RIB mirror of ``family`` to ``current`` (after lost events): the
        messages of the differences."""
        out: list[bytes] = []
        table = self.loc_rib.setdefault(family, {})
        for key in [k for k in table if k not in current]:
            out += self.best_changed(family, key, None, now)
        for key, paths in current.items():
            if paths and table.get(key) is not paths[0]:
                out += self.best_changed(family, key, paths[0], now)
        return out

    # -- periodic and whole-state output ------------------------------------------------------

    def statistics(self, now: float) -> list[bytes]:
        """Statistics Reports: routes per Adj-RIB-In (types 7, 8) and in the Loc-RIB (9, 10)."""
        out = []
        for rib in self.peers.values():
            per_family = [(StatType.PER_FAMILY_ADJ_RIB_IN_ROUTES, f, len(t)) for f, t in sorted(rib.routes.items())]
            total = sum(v for _, _, v in per_family)
            out.append(encode_statistics(rib.header._replace(timestamp=now),
                                         [(StatType.ADJ_RIB_IN_ROUTES, total)], per_family))
        if self.loc_rib_enabled:
            per_family = [(StatType.PER_FAMILY_LOC_RIB_ROUTES, f, len(t)) for f, t in sorted(self.loc_rib.items())]
            out.append(encode_statistics(self._loc_header(now), [(StatType.LOC_RIB_ROUTES,
                                                                  sum(v for _, _, v in per_family))], per_family))
        return out

    def initiation(self) -> bytes:
        return encode_initiation(self.sys_name, self.sys_descr)

    def termination(self, text: str = "bgpcore stopping") -> bytes:
        return encode_termination(TerminationReason.ADMIN_CLOSE, text)

    def snapshot(self, now: float, chunk: int = 2048) -> Iterator[list[bytes]]:
        """Everything a newly connected station needs, in lists of about ``chunk`` messages.

        The routes are copied when this is called, so the state may change while the
        chunks are sent: messages for later changes follow the snapshot and supersede it.
        """
        peers = [(rib, {f: list(t.items()) for f, t in rib.routes.items()}) for rib in self.peers.values()]
        loc = {f: list(t.items()) for f, t in self.loc_rib.items()} if self.loc_rib_enabled else {}
        return self._snapshot(now, peers, loc, chunk)

    def _snapshot(self, now: float, peers: list[tuple[_PeerRib, dict[Family, list[tuple[bytes, _Value]]]]],
                  loc: dict[Family, list[tuple[bytes, Path]]], chunk: int) -> Iterator[list[bytes]]:
        head = [self.initiation()]
        if self.loc_rib_enabled:
            head.append(self._loc_peer_up(now))
        head += [self._peer_up_message(rib, now) for rib, _ in peers]
        yield head
        for rib, tables in peers:
            header = rib.header._replace(timestamp=now)
            for family, items in tables.items():
                yield from _chunks((encode_route_monitoring(header, m) for m in
                                    _grouped_updates(family, items, rib.ctx, lambda v: v)), chunk)
            families = set(rib.peer.families) | set(tables)
            yield [encode_route_monitoring(header, encode_end_of_rib(f, rib.ctx)) for f in sorted(families)]
        if self.loc_rib_enabled:
            header = self._loc_header(now)
            for family, loc_items in loc.items():
                yield from _chunks((encode_route_monitoring(header, m) for m in _grouped_updates(
                    family, loc_items, self._loc_ctx, lambda p: (p.attrs, p.next_hop or _unspecified_hop(family)))),
                    chunk)
            yield [encode_route_monitoring(header, encode_end_of_rib(f, self._loc_ctx)) for f in sorted(loc)]

    # -- helpers ------------------------------------------------------------------------------

    def _peer_up_message(self, rib: _PeerRib, now: float) -> bytes:
        p = rib.peer
        sent = fabricate_open(p.local_as, p.local_id, p.families, p.hold_time_s, p.addpath, 1)
        received = fabricate_open(p.asn, p.bgp_id, p.families, p.hold_time_s, p.addpath, 2)
        local = p.local_address or ("::" if ":" in p.address else "0.0.0.0")
        return encode_peer_up(rib.header._replace(timestamp=p.up_since or now), local, p.local_port, p.remote_port,
                              sent, received)

    def _loc_header(self, now: float) -> PeerHeader:
        return PeerHeader(PeerType.LOC_RIB, 0, "0.0.0.0", self.local_as, self.router_id, now)

    def _loc_peer_up(self, now: float) -> bytes:
        own = fabricate_open(self.local_as, self.router_id, self.families, 90)
        return encode_peer_up(self._loc_header(self.loc_rib_since or now), "0.0.0.0", 0, 0, own, own,
                              [(InfoTlv.VRF_TABLE_NAME, self.table_name.encode())])


def _grouped_updates(family: Family, items: list[tuple[bytes, V]], ctx: CodecContext,
                     value_of: Callable[[V], _Value]) -> Iterator[bytes]:
    """UPDATEs for (key, value) items, prefixes of one value (the same object) packed together."""
    groups: dict[int, tuple[V, list[bytes]]] = {}
    for key, value in items:
        entry = groups.get(id(value))
        if entry is None:
            groups[id(value)] = (value, [key])
        else:
            entry[1].append(key)
    for value, keys in groups.values():
        attrs, next_hop = value_of(value)
        yield from encode_updates(attrs, family, next_hop, keys, ctx)


def _chunks(messages: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for m in messages:
        batch.append(m)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["BmpPeer", "BmpState", "fabricate_open", "split_update"]
