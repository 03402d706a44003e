"""ROUTE-REFRESH message (RFC 2918 §3, subtypes from RFC 7313 §3.2)::

     0       7      15      23      31
    +-------+-------+-------+-------+
    |      AFI      | Subtype | SAFI |
    +-------+-------+-------+-------+

Subtype 0 asks for a refresh, 1 (BoRR) and 2 (EoRR) bracket one in Enhanced Route Refresh.
Unknown subtypes decode as they are; RFC 7313 §5 has the session ignore them. Octets after
the four of a subtype-0 request are Outbound Route Filtering entries (RFC 5291 §4), which
bgpcore does not negotiate: the request is honoured as a plain refresh.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from bgpcore.constants import HEADER_LEN, MARKER, MsgType, RefreshSubtype, RouteRefreshSubcode
from bgpcore.errors import RouteRefreshError

_BODY: Final = struct.Struct("!HBB")


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """A refresh request (subtype 0) or an Enhanced Route Refresh marker (BoRR/EoRR)."""

    afi: int
    safi: int
    subtype: int = RefreshSubtype.NORMAL


def encode_refresh(r: RouteRefresh) -> bytes:
    """The whole ROUTE-REFRESH message, header included."""
    return MARKER + struct.pack("!HB", HEADER_LEN + _BODY.size, MsgType.ROUTE_REFRESH) + _BODY.pack(r.afi, r.subtype, r.safi)


def decode_refresh(body: bytes | memoryview) -> RouteRefresh:
    """Decode a ROUTE-REFRESH body (message without header).

    Raises:
        RouteRefreshError: shorter than 4 octets, or a BoRR/EoRR of any length but 4
            (RFC 7313 §5: subcode Invalid Message Length, data = the whole message).
    """
    body = bytes(body)
    if len(body) < _BODY.size or (len(body) > _BODY.size and body[2] in (RefreshSubtype.BORR, RefreshSubtype.EORR)):
        message = MARKER + struct.pack("!HB", HEADER_LEN + len(body), MsgType.ROUTE_REFRESH) + body
        raise RouteRefreshError(RouteRefreshSubcode.INVALID_MESSAGE_LENGTH, message,
                                reason=f"ROUTE-REFRESH body of {len(body)} octets")
    afi, subtype, safi = _BODY.unpack_from(body)
    return RouteRefresh(afi, safi, subtype)
