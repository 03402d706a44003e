"""Route values shared by policy and RIB: who sent a path, the path, and best-path deltas.

Everything here is a NamedTuple: a full table holds one ``Path`` per distinct attribute set
per peer (prefixes point at it), so values must be cheap to build, hashable and picklable
(shard workers exchange them). Peers are small non-negative ``int`` ids chosen by the speaker.
"""
from __future__ import annotations

import socket
from functools import lru_cache
from typing import NamedTuple

from bgpcore.wire.context import Family
from bgpcore.constants import AsPathSegmentType
from bgpcore.wire.types import AsPathSegment, PathAttributes

PeerId = int

_MAX_SEGMENT = 255

LOCAL_PEER: PeerId = -1
"""Peer id of routes this speaker originates itself."""


@lru_cache(maxsize=4096)
def address_key(address: str) -> tuple[int, int]:
    """A sort key for an IPv4 or IPv6 address text: (family width, integer value)."""
    if ":" in address:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
    return 4, int.from_bytes(socket.inet_aton(address), "big")


class Source(NamedTuple):
    """The peer a path came from, as the decision process and route reflection see it.

    Built once per peer session and shared by every path that peer sends.
    """

    peer_id: PeerId
    address: str
    router_id: str
    asn: int
    ebgp: bool
    rr_client: bool = False
    local: bool = False

    @property
    def address_key(self) -> tuple[int, int]:
        return address_key(self.address)


LOCAL_SOURCE = Source(LOCAL_PEER, "0.0.0.0", "0.0.0.0", 0, False, False, True)


class Path(NamedTuple):
    """One path to a set of prefixes: interned attributes, next hop and where it came from.

    ``path_id`` is the ADD-PATH identifier it was received with (0 without ADD-PATH); a
    destination holds at most one path per ``(source.peer_id, path_id)``.
    """

    attrs: PathAttributes
    next_hop: tuple[str, ...]
    source: Source
    path_id: int = 0


class BestChange(NamedTuple):
    """The best path(s) of ``keys`` changed: what the FIB and export consume.

    Prefixes whose new best path and multipath set are the same objects share one change;
    ``best`` is None when the prefixes were withdrawn (``paths`` is then empty). ``paths``
    is the multipath (ECMP) set, best first.
    """

    family: Family
    keys: list[bytes]
    best: Path | None
    paths: tuple[Path, ...]


@lru_cache(maxsize=65536)
def as_path_length(as_path: tuple[AsPathSegment, ...]) -> int:
    """AS_PATH length for the decision: an AS_SET counts 1, confederation segments 0."""
    length = 0
    for seg_type, asns in as_path:
        if seg_type == AsPathSegmentType.AS_SEQUENCE:
            length += len(asns)
        elif seg_type == AsPathSegmentType.AS_SET:
            length += 1
    return length


def prepend_as(as_path: tuple[AsPathSegment, ...], asn: int, count: int = 1) -> tuple[AsPathSegment, ...]:
    """``as_path`` with ``asn`` prepended ``count`` times (a new AS_SEQUENCE when the first
    segment is a set or full)."""
    segments = list(as_path)
    for _ in range(count):
        if segments and segments[0][0] == AsPathSegmentType.AS_SEQUENCE and len(segments[0][1]) < _MAX_SEGMENT:
            segments[0] = (AsPathSegmentType.AS_SEQUENCE, (asn, *segments[0][1]))
        else:
            segments.insert(0, (AsPathSegmentType.AS_SEQUENCE, (asn,)))
    return tuple(segments)
