"""The values the codec decodes to and encodes from.

They are NamedTuples, not dataclasses: a full table makes hundreds of thousands of them,
and a tuple is built several times faster while staying immutable, hashable (so attribute
sets can be interned) and comparable (so the Python and Cython paths can be checked equal).
Addresses are text (``"192.0.2.1"``, ``"fe80::1"``), prefixes are NLRI keys (see ``nlri``).
"""
from __future__ import annotations

from typing import NamedTuple

from bgpcore.errors import ErrorAction, UsageError

AsPathSegment = tuple[int, tuple[int, ...]]
"""(segment type, AS numbers); types are ``AsPathSegmentType`` values."""

LargeCommunity = tuple[int, int, int]
RawAttribute = tuple[int, int, bytes]
"""(flags, type code, value) of an attribute bgpcore does not interpret."""


class PathAttributes(NamedTuple):
    """One attribute set (RFC 4271 §5), MP_REACH/MP_UNREACH excluded.

    AS numbers are always 4-octet values here: on a 2-octet session the decoder merges
    AS4_PATH/AS4_AGGREGATOR into ``as_path``/``aggregator`` (RFC 6793 §4.2.3) and the
    encoder splits them again.
    """

    origin: int | None = None
    as_path: tuple[AsPathSegment, ...] = ()
    next_hop: str | None = None
    med: int | None = None
    local_pref: int | None = None
    atomic_aggregate: bool = False
    aggregator: tuple[int, str] | None = None
    communities: tuple[int, ...] = ()
    originator_id: str | None = None
    cluster_list: tuple[str, ...] = ()
    extended_communities: tuple[int, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    unknown: tuple[RawAttribute, ...] = ()


class MpReach(NamedTuple):
    """MP_REACH_NLRI (RFC 4760 §3): next hop is one address, or global + link-local."""

    afi: int
    safi: int
    next_hop: tuple[str, ...]
    nlri: list[bytes]


class MpUnreach(NamedTuple):
    """MP_UNREACH_NLRI (RFC 4760 §4); empty ``nlri`` with no other content is End-of-RIB."""

    afi: int
    safi: int
    nlri: list[bytes]


class Update(NamedTuple):
    """A decoded UPDATE.

    When RFC 7606 asks for treat-as-withdraw, the decoder has already moved every
    announced prefix into ``withdrawn``/``mp_unreach`` and dropped the attributes;
    ``action`` and ``problems`` say what happened so it can be logged.
    """

    withdrawn: list[bytes]
    attributes: PathAttributes | None
    nlri: list[bytes]
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    action: ErrorAction = ErrorAction.NONE
    problems: tuple[str, ...] = ()

    def end_of_rib(self) -> tuple[int, int] | None:
        """The (AFI, SAFI) this UPDATE marks End-of-RIB for (RFC 4724 §2), else None."""
        if self.withdrawn or self.nlri or self.mp_reach is not None:
            return None
        if self.mp_unreach is None:
            return (1, 1) if self.attributes is None else None
        if self.mp_unreach.nlri or (self.attributes is not None and self.attributes != PathAttributes()):
            return None
        return (self.mp_unreach.afi, self.mp_unreach.safi)


class AttributesTooLarge(UsageError):
    """An attribute set leaves no room for a prefix in one message of the session's size.

    Raised by ``encode_updates`` (the pure and the bgpcore_fast encoder alike, exported by
    ``bgpcore.wire.update``) before any message is written, when the encoded attributes
    with the next hop leave less room than one of the prefixes needs within
    ``CodecContext.max_message_len`` (4096 octets, 65535 with RFC 8654 extended messages),
    or when one attribute value is longer than an attribute can be (65535 octets).
    Nothing of that attribute set can go to that peer: the caller skips those prefixes for
    it (withdrawing what it sent before); other attribute sets are unaffected.
    ``max_message_len`` is the limit that was exceeded.
    """

    def __init__(self, message: str, max_message_len: int) -> None:
        super().__init__(message)
        self.max_message_len = max_message_len
