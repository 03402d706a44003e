from __future__ import annotations

from typing import Any

from bgpcore.constants import AsPathSegmentType
from bgpcore.route import Path, Source
from bgpcore.wire.types import PathAttributes

SEQ = AsPathSegmentType.AS_SEQUENCE


def source(n: int, *, asn: int = 65000, ebgp: bool = False, client: bool = False,
           router_id: str | None = None, address: str | None = None) -> Source:
    return Source(n, address or f"10.0.0.{n}", router_id or f"1.1.1.{n}", asn, ebgp, client)


def make_path(n: int = 1, *, as_path: tuple[int, ...] = (65001,), path_id: int = 0, next_hop: str | None = None,
              src: Source | None = None, **attrs: Any) -> Path:
    attrs.setdefault("origin", 0)
    segments = ((SEQ, as_path),) if as_path else ()
    nh = next_hop or f"192.0.2.{n}"
    return Path(PathAttributes(as_path=segments, next_hop=nh, **attrs), (nh,), src or source(n), path_id)
