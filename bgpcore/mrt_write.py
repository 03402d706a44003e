"""MRT writer (RFC 6396; ADD-PATH subtypes RFC 8050): records as bytes, no I/O.

The counterpart of :mod:`bgpcore.mrt`: what it writes, ``read_mrt`` and ``bgpdump`` read.

* ``encode_peer_index_table`` + ``encode_rib_records`` make a TABLE_DUMP_V2 RIB dump: the
  peer table first, then one RIB_IPV4_UNICAST / RIB_IPV6_UNICAST record per prefix (the
  ``_ADDPATH`` subtypes when a path carries an identifier), attributes with 4-octet AS
  numbers and the abbreviated MP_REACH_NLRI (next hop only, §4.3.4) for IPv6 next hops.
* ``encode_bgp4mp_message`` / ``encode_bgp4mp_state_change`` make the BGP4MP records of an
  update log (``MESSAGE_AS4``, ``MESSAGE_AS4_ADDPATH``, ``STATE_CHANGE_AS4``), with
  microsecond timestamps in the ``BGP4MP_ET`` type when asked.

``RibDumpBuilder`` turns Loc-RIB ``Path`` values into the peer table and entries. Writing
files (rotation, periodic dumps) is the program's (``bgpcore.program.ops``).
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

from bgpcore.constants import AttrCode, Afi, Safi
from bgpcore.mrt import Bgp4mpSubtype, MrtType, TableDumpV2Subtype
from bgpcore.route import Path
from bgpcore.wire.attrs import encode_attribute, encode_attributes
from bgpcore.wire.context import CodecContext, Family
from bgpcore.wire.types import PathAttributes

_HEADER: Final = struct.Struct("!IHHI")
_CTX: Final = CodecContext(asn4=True)
_OPTIONAL: Final = 0x80

ESTABLISHED: Final = 6
OPEN_CONFIRM: Final = 5
IDLE: Final = 1


class MrtPeer(NamedTuple):
    """One PEER_INDEX_TABLE entry."""

    bgp_id: str
    address: str
    asn: int


class RibRecordEntry(NamedTuple):
    """One route of a RIB record: the peer's index, when it was learnt, its attributes."""

    peer_index: int
    originated: int
    attributes: bytes
    path_id: int | None = None


def _ip(address: str) -> bytes:
    return ipaddress.ip_address(address.partition("%")[0]).packed


def encode_record(mrt_type: int, subtype: int, body: bytes, timestamp: float) -> bytes:
    """One MRT record; ``BGP4MP_ET`` gets the microseconds field (RFC 6396 §3)."""
    seconds = int(timestamp)
    if mrt_type == MrtType.BGP4MP_ET:
        body = struct.pack("!I", int((timestamp - seconds) * 1e6) % 1_000_000) + body
    return _HEADER.pack(seconds, mrt_type, subtype, len(body)) + body


def encode_peer_index_table(collector_id: str, view_name: str, peers: Iterable[MrtPeer], timestamp: float) -> bytes:
    """TABLE_DUMP_V2 PEER_INDEX_TABLE (§4.3.1); every AS is written as 4 octets."""
    name = view_name.encode()
    entries = []
    peers = list(peers)
    for peer in peers:
        address = _ip(peer.address)
        entries.append(struct.pack("!B4s", 2 | (1 if len(address) == 16 else 0), _ip(peer.bgp_id)) + address
                       + struct.pack("!I", peer.asn))
    body = _ip(collector_id) + struct.pack("!H", len(name)) + name + struct.pack("!H", len(peers)) + b"".join(entries)
    return encode_record(MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.PEER_INDEX_TABLE, body, timestamp)


def encode_rib_record(sequence: int, family: Family, key: bytes, entries: list[RibRecordEntry],
                      timestamp: float) -> bytes:
    """RIB_IPV4_UNICAST / RIB_IPV6_UNICAST (or their ADD-PATH forms, RFC 8050) for one
    prefix key (length octet + address octets, as ``wire.nlri``)."""
    addpath = any(e.path_id is not None for e in entries)
    if family == (Afi.IPV4, Safi.UNICAST):
        subtype = TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH if addpath else TableDumpV2Subtype.RIB_IPV4_UNICAST
    elif family == (Afi.IPV6, Safi.UNICAST):
        subtype = TableDumpV2Subtype.RIB_IPV6_UNICAST_ADDPATH if addpath else TableDumpV2Subtype.RIB_IPV6_UNICAST
    else:
        raise ValueError(f"no RIB subtype for family {family}")
    parts = [struct.pack("!I", sequence & 0xFFFFFFFF), key, struct.pack("!H", len(entries))]
    for e in entries:
        if addpath:
            parts.append(struct.pack("!HIIH", e.peer_index, e.originated, e.path_id or 0, len(e.attributes)))
        else:
            parts.append(struct.pack("!HIH", e.peer_index, e.originated, len(e.attributes)))
        parts.append(e.attributes)
    return encode_record(MrtType.TABLE_DUMP_V2, subtype, b"".join(parts), timestamp)


def encode_rib_attributes(attrs: PathAttributes, family: Family, next_hop: tuple[str, ...]) -> bytes:
    """A RIB entry's attribute block: NEXT_HOP for an IPv4 next hop of IPv4 unicast, else the
    abbreviated MP_REACH_NLRI (next-hop length and addresses only, RFC 6396 §4.3.4)."""
    if not next_hop:
        next_hop = ("::",) if family[0] == Afi.IPV6 else ("0.0.0.0",)
    if family == (Afi.IPV4, Safi.UNICAST) and ":" not in next_hop[0]:
        return encode_attributes(attrs._replace(next_hop=next_hop[0]), _CTX)
    hop = b"".join(_ip(h) if ":" in h or family[0] != Afi.IPV6 else b"\0" * 10 + b"\xff\xff" + _ip(h)
                   for h in next_hop)  # an IPv4 next hop of IPv6 routes: IPv4-mapped
    mp = encode_attribute(_OPTIONAL, AttrCode.MP_REACH_NLRI, bytes((len(hop),)) + hop)
    return encode_attributes(attrs._replace(next_hop=None), _CTX, mp)


class RibDumpBuilder:
    """Loc-RIB paths into a TABLE_DUMP_V2 dump: peers are numbered as they are first met.

    Example::

        builder = RibDumpBuilder("192.0.2.1", 65000)
        body = b"".join(builder.records(IPV4_UNICAST, router.rib.best_paths(IPV4_UNICAST).items(), now))
        dump = builder.peer_index_table(now) + body

    Args:
        router_id, local_as: name the collector, and the peer entry of routes originated
            locally (address 0.0.0.0 or ::).
        view_name: the PEER_INDEX_TABLE's view name.
    """

    def __init__(self, router_id: str, local_as: int, view_name: str = "") -> None:
        self.router_id = router_id
        self.local_as = local_as
        self.view_name = view_name
        self.peers: list[MrtPeer] = []
        self._index: dict[tuple[object, ...], int] = {}
        self._attrs: dict[tuple[int, int], bytes] = {}
        self.sequence = 0

    def peer_index(self, path: Path) -> int:
        src = path.source
        ident = ("local",) if src.local else (src.address, src.router_id, src.asn)
        index = self._index.get(ident)
        if index is None:
            peer = (MrtPeer(self.router_id, "0.0.0.0", self.local_as) if src.local
                    else MrtPeer(src.router_id, src.address.partition("%")[0], src.asn))
            index = self._index[ident] = len(self.peers)
            self.peers.append(peer)
        return index

    def peer_index_table(self, timestamp: float) -> bytes:
        return encode_peer_index_table(self.router_id, self.view_name, self.peers, timestamp)

    def records(self, family: Family, routes: Iterable[tuple[bytes, tuple[Path, ...]]], timestamp: float,
                originated: int | None = None) -> Iterator[bytes]:
        """One RIB record per (prefix key, paths), paths in order (best first)."""
        when = int(timestamp) if originated is None else originated
        cache = self._attrs
        for key, paths in routes:
            entries = []
            for path in paths:
                attrs = cache.get((id(path), family[0]))
                if attrs is None:
                    attrs = cache[(id(path), family[0])] = encode_rib_attributes(path.attrs, family, path.next_hop)
                entries.append(RibRecordEntry(self.peer_index(path), when, attrs, path.path_id or None))
            if entries:
                yield encode_rib_record(self.sequence, family, key, entries, timestamp)
                self.sequence += 1


def encode_bgp4mp_message(message: bytes, *, peer_as: int, local_as: int, peer_address: str, local_address: str,
                          timestamp: float, addpath: bool = False, extended_time: bool = False) -> bytes:
    """BGP4MP(_ET) MESSAGE_AS4 (§4.4.3), or MESSAGE_AS4_ADDPATH (RFC 8050) when the
    message's NLRI carry path identifiers: one whole BGP message, header included."""
    subtype = Bgp4mpSubtype.MESSAGE_AS4_ADDPATH if addpath else Bgp4mpSubtype.MESSAGE_AS4
    return encode_record(MrtType.BGP4MP_ET if extended_time else MrtType.BGP4MP, subtype,
                         _bgp4mp_head(peer_as, local_as, peer_address, local_address) + message, timestamp)


def encode_bgp4mp_state_change(old_state: int, new_state: int, *, peer_as: int, local_as: int, peer_address: str,
                               local_address: str, timestamp: float, extended_time: bool = False) -> bytes:
    """BGP4MP(_ET) STATE_CHANGE_AS4 (§4.4.4); states are RFC 4271 FSM numbers (1 Idle ... 6 Established)."""
    return encode_record(MrtType.BGP4MP_ET if extended_time else MrtType.BGP4MP, Bgp4mpSubtype.STATE_CHANGE_AS4,
                         _bgp4mp_head(peer_as, local_as, peer_address, local_address)
                         + struct.pack("!HH", old_state, new_state), timestamp)


def _bgp4mp_head(peer_as: int, local_as: int, peer_address: str, local_address: str) -> bytes:
    peer, local = _ip(peer_address), _ip(local_address) if local_address else b""
    if len(local) != len(peer):  # unknown or other-family local address: the unspecified one
        local = bytes(len(peer))
    return struct.pack("!IIHH", peer_as, local_as, 0, Afi.IPV6 if len(peer) == 16 else Afi.IPV4) + peer + local


__all__ = [
    "ESTABLISHED", "IDLE", "MrtPeer", "OPEN_CONFIRM", "RibDumpBuilder", "RibRecordEntry", "encode_bgp4mp_message",
    "encode_bgp4mp_state_change", "encode_peer_index_table", "encode_record", "encode_rib_attributes",
    "encode_rib_record",
]
