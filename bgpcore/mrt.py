"""MRT routing information export format reader (RFC 6396, ADD-PATH subtypes RFC 8050).

Every record starts with the common header (RFC 6396 §2); ``_ET`` types add microseconds::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           Timestamp                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |             Type              |            Subtype            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                             Length                            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      Message... (variable)                    |

The reader is a generator of small NamedTuples so it can feed benchmarks: BGP4MP records
give the raw BGP message (header included) with the ``CodecContext`` its subtype implies;
table dumps give one ``RibEntry`` per route with the attribute block left raw, to be
decoded (or interned) by the caller, e.g. with :func:`decode_rib_attributes`.

Files ending in ``.gz`` or ``.bz2`` are decompressed with the standard library. A file that
ends inside a compressed stream or a record still yields every complete record; the
reader's ``note`` then says where and why it stopped.
"""
from __future__ import annotations

import bz2
import os
import socket
import struct
import zlib
from enum import IntEnum
from typing import BinaryIO, Final, Iterator, NamedTuple, Union

from bgpcore.constants import Afi, Safi
from bgpcore.wire.attrs import DecodedAttributes, decode_attributes
from bgpcore.wire.context import CodecContext


class MrtType(IntEnum):
    TABLE_DUMP = 12
    TABLE_DUMP_V2 = 13
    BGP4MP = 16
    BGP4MP_ET = 17


class TableDumpV2Subtype(IntEnum):
    PEER_INDEX_TABLE = 1
    RIB_IPV4_UNICAST = 2
    RIB_IPV4_MULTICAST = 3
    RIB_IPV6_UNICAST = 4
    RIB_IPV6_MULTICAST = 5
    RIB_GENERIC = 6
    RIB_IPV4_UNICAST_ADDPATH = 8
    RIB_IPV4_MULTICAST_ADDPATH = 9
    RIB_IPV6_UNICAST_ADDPATH = 10
    RIB_IPV6_MULTICAST_ADDPATH = 11
    RIB_GENERIC_ADDPATH = 12


class Bgp4mpSubtype(IntEnum):
    STATE_CHANGE = 0
    MESSAGE = 1
    MESSAGE_AS4 = 4
    STATE_CHANGE_AS4 = 5
    MESSAGE_LOCAL = 6
    MESSAGE_AS4_LOCAL = 7
    MESSAGE_ADDPATH = 8
    MESSAGE_AS4_ADDPATH = 9
    MESSAGE_LOCAL_ADDPATH = 10
    MESSAGE_AS4_LOCAL_ADDPATH = 11


class Peer(NamedTuple):
    """A peer of the collector: from PEER_INDEX_TABLE, or the TABLE_DUMP record itself."""

    bgp_id: str
    address: str
    asn: int


class PeerIndexTable(NamedTuple):
    """TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1); RIB entries index ``peers``."""

    timestamp: float
    collector_id: str
    view_name: str
    peers: tuple[Peer, ...]


class RibEntry(NamedTuple):
    """One route of a table dump.

    ``prefix`` is the NLRI key (length octet + address octets, see ``wire.nlri``), without
    the path identifier, which is ``path_id`` (RFC 8050 subtypes only). ``attributes`` is
    the raw attribute block; in TABLE_DUMP_V2 its MP_REACH_NLRI holds only the next hop
    (RFC 6396 §4.3.4).
    """

    timestamp: float
    afi: int
    safi: int
    prefix: bytes
    peer: Peer
    originated: int
    path_id: int | None
    attributes: bytes
    ctx: CodecContext


class BgpMessage(NamedTuple):
    """BGP4MP MESSAGE* (RFC 6396 §4.4.2): one whole BGP message as a peer sent it."""

    timestamp: float
    peer_as: int
    local_as: int
    peer_address: str
    local_address: str
    message: bytes
    ctx: CodecContext


class StateChange(NamedTuple):
    """BGP4MP STATE_CHANGE(_AS4) (RFC 6396 §4.4.1); states are RFC 4271 FSM numbers."""

    timestamp: float
    peer_as: int
    local_as: int
    peer_address: str
    local_address: str
    old_state: int
    new_state: int


Record = Union[PeerIndexTable, RibEntry, BgpMessage, StateChange]

_HEADER: Final = struct.Struct("!IHHI")
_ALL_FAMILIES: Final = frozenset((afi, safi) for afi in Afi for safi in Safi)
_IPV4_FAMILIES: Final = frozenset((Afi.IPV4, safi) for safi in Safi)


def _message_context(asn4: bool, addpath: bool) -> CodecContext:
    """What a BGP4MP subtype says about the session; IPv6 next hops for IPv4 are accepted."""
    return CodecContext(asn4=asn4, addpath=_ALL_FAMILIES if addpath else frozenset(),
                        extended_nexthop=_IPV4_FAMILIES, extended_message=True)


_MESSAGE_CONTEXTS: Final[dict[int, CodecContext]] = {
    Bgp4mpSubtype.MESSAGE: _message_context(False, False),
    Bgp4mpSubtype.MESSAGE_LOCAL: _message_context(False, False),
    Bgp4mpSubtype.MESSAGE_AS4: _message_context(True, False),
    Bgp4mpSubtype.MESSAGE_AS4_LOCAL: _message_context(True, False),
    Bgp4mpSubtype.MESSAGE_ADDPATH: _message_context(False, True),
    Bgp4mpSubtype.MESSAGE_LOCAL_ADDPATH: _message_context(False, True),
    Bgp4mpSubtype.MESSAGE_AS4_ADDPATH: _message_context(True, True),
    Bgp4mpSubtype.MESSAGE_AS4_LOCAL_ADDPATH: _message_context(True, True),
}
_STATE_CHANGE_ASN4: Final[dict[int, bool]] = {Bgp4mpSubtype.STATE_CHANGE: False, Bgp4mpSubtype.STATE_CHANGE_AS4: True}
TABLE_DUMP_CONTEXT: Final = CodecContext(asn4=False, extended_nexthop=_IPV4_FAMILIES)
"""TABLE_DUMP (v1) attributes carry 2-octet AS numbers."""
TABLE_DUMP_V2_CONTEXT: Final = CodecContext(asn4=True, extended_nexthop=_IPV4_FAMILIES)
"""TABLE_DUMP_V2 attributes always carry 4-octet AS numbers (RFC 6396 §4.3.4)."""

# RIB subtype -> (AFI, SAFI, ADD-PATH); RIB_GENERIC reads its family from the record.
_RIB_FAMILIES: Final[dict[int, tuple[int, int, bool]]] = {
    TableDumpV2Subtype.RIB_IPV4_UNICAST: (Afi.IPV4, Safi.UNICAST, False),
    TableDumpV2Subtype.RIB_IPV4_MULTICAST: (Afi.IPV4, Safi.MULTICAST, False),
    TableDumpV2Subtype.RIB_IPV6_UNICAST: (Afi.IPV6, Safi.UNICAST, False),
    TableDumpV2Subtype.RIB_IPV6_MULTICAST: (Afi.IPV6, Safi.MULTICAST, False),
    TableDumpV2Subtype.RIB_GENERIC: (0, 0, False),
    TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH: (Afi.IPV4, Safi.UNICAST, True),
    TableDumpV2Subtype.RIB_IPV4_MULTICAST_ADDPATH: (Afi.IPV4, Safi.MULTICAST, True),
    TableDumpV2Subtype.RIB_IPV6_UNICAST_ADDPATH: (Afi.IPV6, Safi.UNICAST, True),
    TableDumpV2Subtype.RIB_IPV6_MULTICAST_ADDPATH: (Afi.IPV6, Safi.MULTICAST, True),
    TableDumpV2Subtype.RIB_GENERIC_ADDPATH: (0, 0, True),
}
_CHUNK: Final = 1 << 20


def _decompress(raw: BinaryIO, bzip2: bool) -> tuple[bytes, str | None]:
    """All bytes of a (possibly multi-member) gzip or bzip2 stream, and a note if it is cut."""
    def fresh() -> bz2.BZ2Decompressor | zlib._Decompress:
        return bz2.BZ2Decompressor() if bzip2 else zlib.decompressobj(wbits=47)

    out = bytearray()
    decomp = fresh()
    pending = False  # the current member has started but not ended
    try:
        while chunk := raw.read(_CHUNK):
            while chunk:
                out += decomp.decompress(chunk)
                pending = not decomp.eof
                chunk = b""
                if decomp.eof:
                    chunk = decomp.unused_data
                    decomp = fresh()
    except (OSError, EOFError, zlib.error) as exc:
        return bytes(out), f"compressed data corrupt after {len(out)} octets: {exc}"
    if pending:
        return bytes(out), f"compressed stream ends early, after {len(out)} octets"
    return bytes(out), None


def _ntop(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


class MrtReader:
    """Iterate over the records of one MRT file.

    Args:
        source: a path (``.gz``/``.bz2`` decompressed by suffix), an open binary file,
            or the bytes of an uncompressed dump.

    After iteration ``note`` is None for a clean end, else why the reader stopped early;
    ``problems`` lists records that were skipped (unknown type, malformed body).
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO | bytes) -> None:
        self.note: str | None = None
        self.problems: list[str] = []
        self.peers: tuple[Peer, ...] = ()
        if isinstance(source, (bytes, bytearray)):
            self._data = bytes(source)
            return
        if isinstance(source, (str, os.PathLike)):
            name = os.fspath(source)
            with open(name, "rb") as f:
                self._load(f, name)
        else:
            self._load(source, getattr(source, "name", ""))

    def _load(self, f: BinaryIO, name: str) -> None:
        if str(name).endswith(".gz"):
            self._data, self.note = _decompress(f, False)
        elif str(name).endswith(".bz2"):
            self._data, self.note = _decompress(f, True)
        else:
            self._data = f.read()

    def __iter__(self) -> Iterator[Record]:
        data = self._data
        end = len(data)
        pos = 0
        unpack_header = _HEADER.unpack_from
        while pos < end:
            if pos + 12 > end:
                self._stop(f"record header cut at offset {pos}")
                return
            timestamp, mrt_type, subtype, length = unpack_header(data, pos)
            body = pos + 12
            nxt = body + length
            if nxt > end:
                self._stop(f"record at offset {pos} (type {mrt_type}, {length} octets) runs past the end of the data")
                return
            ts: float = timestamp
            try:
                if mrt_type == MrtType.BGP4MP_ET:
                    ts = timestamp + struct.unpack_from("!I", data, body)[0] / 1e6
                    yield from self._bgp4mp(data, body + 4, nxt, ts, subtype)
                elif mrt_type == MrtType.BGP4MP:
                    yield from self._bgp4mp(data, body, nxt, ts, subtype)
                elif mrt_type == MrtType.TABLE_DUMP_V2:
                    yield from self._table_dump_v2(data, body, nxt, ts, subtype)
                elif mrt_type == MrtType.TABLE_DUMP:
                    yield from self._table_dump(data, body, nxt, ts, subtype)
                else:
                    self.problems.append(f"offset {pos}: MRT type {mrt_type}/{subtype} skipped")
            except (struct.error, IndexError, ValueError, KeyError) as exc:
                self.problems.append(f"offset {pos}: malformed MRT type {mrt_type}/{subtype} record: {exc}")
            pos = nxt

    def _stop(self, why: str) -> None:
        self.note = f"{self.note}; {why}" if self.note else why

    def _bgp4mp(self, data: bytes, pos: int, end: int, ts: float, subtype: int) -> Iterator[Record]:
        ctx = _MESSAGE_CONTEXTS.get(subtype)
        asn4 = ctx.asn4 if ctx is not None else _STATE_CHANGE_ASN4.get(subtype)
        if asn4 is None:
            self.problems.append(f"BGP4MP subtype {subtype} skipped")
            return
        if asn4:
            peer_as, local_as, _ifindex, afi = struct.unpack_from("!IIHH", data, pos)
            pos += 12
        else:
            peer_as, local_as, _ifindex, afi = struct.unpack_from("!HHHH", data, pos)
            pos += 8
        alen = 4 if afi == Afi.IPV4 else 16
        if pos + 2 * alen > end:
            raise ValueError("BGP4MP addresses run past the record")
        peer_address = _ntop(data[pos:pos + alen])
        local_address = _ntop(data[pos + alen:pos + 2 * alen])
        pos += 2 * alen
        if ctx is not None:
            yield BgpMessage(ts, peer_as, local_as, peer_address, local_address, data[pos:end], ctx)
        else:
            old_state, new_state = struct.unpack_from("!HH", data, pos)
            yield StateChange(ts, peer_as, local_as, peer_address, local_address, old_state, new_state)

    def _table_dump_v2(self, data: bytes, pos: int, end: int, ts: float, subtype: int) -> Iterator[Record]:
        if subtype == TableDumpV2Subtype.PEER_INDEX_TABLE:
            yield self._peer_index(data, pos, ts)
            return
        family = _RIB_FAMILIES.get(subtype)
        if family is None:
            self.problems.append(f"TABLE_DUMP_V2 subtype {subtype} skipped")
            return
        afi, safi, addpath = family
        pos += 4  # sequence number
        if afi == 0:
            afi, safi = struct.unpack_from("!HB", data, pos)
            pos += 3
        nxt = pos + 1 + ((data[pos] + 7) >> 3)
        if nxt > end:
            raise ValueError("prefix runs past the record")
        prefix = _clear_trailing_bits(data[pos:nxt])
        (count,) = struct.unpack_from("!H", data, nxt)
        pos = nxt + 2
        peers = self.peers
        unpack_entry = struct.unpack_from
        for _ in range(count):
            path_id: int | None = None
            if addpath:
                index, originated, path_id, alen = unpack_entry("!HIIH", data, pos)
                pos += 12
            else:
                index, originated, alen = unpack_entry("!HIH", data, pos)
                pos += 8
            if pos + alen > end:
                raise ValueError("RIB entry attributes run past the record")
            yield RibEntry(ts, afi, safi, prefix, peers[index], originated, path_id, data[pos:pos + alen],
                           TABLE_DUMP_V2_CONTEXT)
            pos += alen

    def _peer_index(self, data: bytes, pos: int, ts: float) -> PeerIndexTable:
        collector = _ntop(data[pos:pos + 4])
        (name_len,) = struct.unpack_from("!H", data, pos + 4)
        view_name = data[pos + 6:pos + 6 + name_len].decode("utf-8", "replace")
        pos += 6 + name_len
        (count,) = struct.unpack_from("!H", data, pos)
        pos += 2
        peers = []
        for _ in range(count):
            peer_type = data[pos]
            bgp_id = _ntop(data[pos + 1:pos + 5])
            alen = 16 if peer_type & 1 else 4
            address = _ntop(data[pos + 5:pos + 5 + alen])
            pos += 5 + alen
            if peer_type & 2:
                (asn,) = struct.unpack_from("!I", data, pos)
                pos += 4
            else:
                (asn,) = struct.unpack_from("!H", data, pos)
                pos += 2
            peers.append(Peer(bgp_id, address, asn))
        self.peers = tuple(peers)
        return PeerIndexTable(ts, collector, view_name, self.peers)

    def _table_dump(self, data: bytes, pos: int, end: int, ts: float, subtype: int) -> Iterator[Record]:
        if subtype == Afi.IPV4:
            alen, afi = 4, Afi.IPV4
        elif subtype == Afi.IPV6:
            alen, afi = 16, Afi.IPV6
        else:
            self.problems.append(f"TABLE_DUMP subtype {subtype} skipped")
            return
        pos += 4  # view number, sequence number
        address = data[pos:pos + alen]
        plen = data[pos + alen]
        if plen > alen * 8:
            raise ValueError(f"prefix length {plen}")
        prefix = _clear_trailing_bits(bytes((plen,)) + address[:(plen + 7) >> 3])
        pos += alen + 2  # prefix length, status
        (originated,) = struct.unpack_from("!I", data, pos)
        peer_address = _ntop(data[pos + 4:pos + 4 + alen])
        peer_as, attr_len = struct.unpack_from("!HH", data, pos + 4 + alen)
        pos += 8 + alen
        if pos + attr_len > end:
            raise ValueError("attributes run past the record")
        peer = Peer("0.0.0.0", peer_address, peer_as)
        yield RibEntry(ts, afi, Safi.UNICAST, prefix, peer, originated, None, data[pos:pos + attr_len], TABLE_DUMP_CONTEXT)


def _clear_trailing_bits(key: bytes) -> bytes:
    """A prefix key with the bits past its length zeroed, as ``wire.nlri`` makes them."""
    rest = key[0] & 7
    if rest and key[-1] & (0xFF >> rest):
        return key[:-1] + bytes((key[-1] & (0xFF << (8 - rest)) & 0xFF,))
    return key


def read_mrt(source: str | os.PathLike[str] | BinaryIO | bytes) -> Iterator[Record]:
    """Iterate the records of an MRT dump (see :class:`MrtReader` for the stop note)."""
    return iter(MrtReader(source))


def decode_rib_attributes(entry: RibEntry) -> DecodedAttributes:
    """Decode a table-dump entry's attribute block, abbreviated MP_REACH_NLRI included."""
    return decode_attributes(entry.attributes, entry.ctx, rib_entry=True)
