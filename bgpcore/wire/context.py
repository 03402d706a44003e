"""What a session negotiated that changes the bytes: passed to every encode/decode call.

The codec keeps no session state. A session holds two contexts, one for what it receives
and one for what it sends, because ADD-PATH is negotiated per direction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from bgpcore.constants import MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, Afi, Safi

Family = tuple[int, int]
"""(AFI, SAFI)."""

IPV4_UNICAST: Final[Family] = (Afi.IPV4, Safi.UNICAST)
IPV6_UNICAST: Final[Family] = (Afi.IPV6, Safi.UNICAST)


@dataclass(frozen=True, slots=True)
class CodecContext:
    """Negotiated session parameters for one direction of one session.

    Attributes:
        asn4: both sides announced the 4-octet AS capability (RFC 6793).
        addpath: families whose NLRI carry a path identifier in this direction (RFC 7911).
        extended_nexthop: families whose NLRI may carry an IPv6 next hop (RFC 8950),
            e.g. ``{IPV4_UNICAST}`` for IPv4 routes over IPv6 next hops.
        extended_message: both sides announced extended messages (RFC 8654).
        families: the (AFI, SAFI) pairs negotiated (RFC 4760 §8); an MP_REACH_NLRI or
            MP_UNREACH_NLRI of any other family is ignored when decoding. ``None`` (the
            default, for MRT dumps and tests) accepts every family.
        reset_unnegotiated: an MP_REACH_NLRI or MP_UNREACH_NLRI of a family not in ``families``
            resets the session (UPDATE Message Error / Optional Attribute Error, RFC 4760 §7)
            instead of being ignored.
    """

    asn4: bool = True
    addpath: frozenset[Family] = field(default_factory=frozenset)
    extended_nexthop: frozenset[Family] = field(default_factory=frozenset)
    extended_message: bool = False
    families: frozenset[Family] | None = None
    reset_unnegotiated: bool = False

    @property
    def max_message_len(self) -> int:
        return MAX_EXTENDED_MESSAGE_LEN if self.extended_message else MAX_MESSAGE_LEN


DEFAULT_CONTEXT: Final = CodecContext()
