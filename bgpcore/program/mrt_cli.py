"""``bgpcore mrt FILE``: print an MRT file (RFC 6396) one route per line, as ``bgpdump -m`` does.

Lines are ``|``-separated::

    TABLE_DUMP2|time|B|peer|peer AS|prefix|AS path|origin|next hop|local pref|MED|communities|atomic|aggregator|
    BGP4MP|time|A|peer|peer AS|prefix|AS path|origin|next hop|local pref|MED|communities|atomic|aggregator|
    BGP4MP|time|W|peer|peer AS|prefix
    BGP4MP|time|STATE|peer|peer AS|old state|new state

``.gz`` and ``.bz2`` files are read too. What the reader could not use goes to stderr.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from bgpcore.constants import MsgType
from bgpcore.errors import BgpError, ProtocolError
from bgpcore.mrt import BgpMessage, MrtReader, PeerIndexTable, RibEntry, StateChange, decode_rib_attributes
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.nlri import key_to_network
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update

_ORIGINS = ("IGP", "EGP", "INCOMPLETE")


def _as_path(attrs: PathAttributes) -> str:
    return " ".join(" ".join(map(str, asns)) if kind == 2 else "{" + ",".join(map(str, asns)) + "}"
                    for kind, asns in attrs.as_path)


def _route_fields(attrs: PathAttributes, next_hop: str) -> str:
    origin = _ORIGINS[attrs.origin] if attrs.origin is not None and attrs.origin < 3 else ""
    communities = " ".join(f"{c >> 16}:{c & 0xFFFF}" for c in attrs.communities)
    aggregator = f"{attrs.aggregator[0]} {attrs.aggregator[1]}" if attrs.aggregator else ""
    return (f"{_as_path(attrs)}|{origin}|{next_hop}|{attrs.local_pref or 0}|{attrs.med or 0}|{communities}|"
            f"{'AG' if attrs.atomic_aggregate else 'NAG'}|{aggregator}|")


def _time(ts: float) -> str:
    return str(int(ts))


def mrt_lines(reader: MrtReader) -> Iterator[str]:
    """The lines of every record ``reader`` yields."""
    for record in reader:
        if isinstance(record, PeerIndexTable):
            continue
        if isinstance(record, RibEntry):
            decoded = decode_rib_attributes(record)
            attrs = decoded.attributes
            hop = attrs.next_hop or (decoded.mp_reach.next_hop[0] if decoded.mp_reach and decoded.mp_reach.next_hop
                                     else "")
            prefix = key_to_network(record.prefix, record.afi)
            yield (f"TABLE_DUMP2|{_time(record.timestamp)}|B|{record.peer.address}|{record.peer.asn}|{prefix}|"
                   + _route_fields(attrs, hop))
        elif isinstance(record, StateChange):
            yield (f"BGP4MP|{_time(record.timestamp)}|STATE|{record.peer_address}|{record.peer_as}|"
                   f"{record.old_state}|{record.new_state}")
        elif isinstance(record, BgpMessage):
            yield from _message_lines(record)


def _message_lines(record: BgpMessage) -> Iterator[str]:
    message = record.message
    if len(message) < 19 or message[18] != MsgType.UPDATE:
        return
    head = f"BGP4MP|{_time(record.timestamp)}"
    peer = f"{record.peer_address}|{record.peer_as}"
    try:
        update = decode_update(message[19:], record.ctx)
    except ProtocolError as exc:
        yield f"{head}|ERROR|{peer}|{exc}"
        return
    addpath = IPV4_UNICAST in record.ctx.addpath
    for key in update.withdrawn:
        yield f"{head}|W|{peer}|{key_to_network(key, 1, addpath)}"
    if update.mp_unreach is not None:
        afi = update.mp_unreach.afi
        for key in update.mp_unreach.nlri:
            yield f"{head}|W|{peer}|{key_to_network(key, afi, (afi, update.mp_unreach.safi) in record.ctx.addpath)}"
    attrs = update.attributes
    if attrs is None:
        return
    for key in update.nlri:
        yield f"{head}|A|{peer}|{key_to_network(key, 1, addpath)}|" + _route_fields(attrs, attrs.next_hop or "")
    if update.mp_reach is not None:
        reach = update.mp_reach
        hop = reach.next_hop[0] if reach.next_hop else ""
        for key in reach.nlri:
            network = key_to_network(key, reach.afi, (reach.afi, reach.safi) in record.ctx.addpath)
            yield f"{head}|A|{peer}|{network}|" + _route_fields(attrs, hop)


def add_mrt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="MRT file (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP; .gz/.bz2 read too)")


def run_mrt(args: argparse.Namespace) -> int:
    """Print the routes of an MRT file; problems go to stderr (status 1 when it stopped early)."""
    try:
        reader = MrtReader(args.file)
    except OSError as exc:
        raise BgpError(f"{args.file}: {exc.strerror or exc}") from None
    for line in mrt_lines(reader):
        print(line)
    for problem in reader.problems:
        print(f"bgpcore mrt: {problem}", file=sys.stderr)
    if reader.note:
        print(f"bgpcore mrt: {args.file}: {reader.note}", file=sys.stderr)
        return 1
    return 0


__all__ = ["add_mrt_arguments", "mrt_lines", "run_mrt"]
