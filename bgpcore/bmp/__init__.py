"""BGP Monitoring Protocol (RFC 7854, Loc-RIB RFC 9069): the codec, the monitored state and
the asyncio exporter that sends it to collectors. Nothing here imports the router: the
program hands router events to a ``BmpExporter``.
"""
from __future__ import annotations

from bgpcore.bmp.exporter import BmpExporter, BmpStation, parse_station
from bgpcore.bmp.state import BmpPeer, BmpState

__all__ = ["BmpExporter", "BmpPeer", "BmpState", "BmpStation", "parse_station"]
