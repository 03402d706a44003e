"""Path attributes (RFC 4271 §4.3, §5) with RFC 7606 error handling.

Each attribute is one row of ``ATTRS``: its code, name, expected flags, the field of
``PathAttributes`` it fills, its decoder, and the RFC 7606 outcome when it is malformed.
::

    +---------------+---------------+-------------------------------+
    | Attr. Flags   |Attr. Type Code| Length (1 or 2 octets) | Value |
    +---------------+---------------+-------------------------------+
    flags: Optional 0x80, Transitive 0x40, Partial 0x20, Extended Length 0x10

Decoding keeps the strongest outcome met (``ErrorAction``); only SESSION_RESET raises.
Cross-attribute checks (mandatory attributes, AS4 reconciliation) run once at the end.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Callable, Final, NamedTuple

from bgpcore.constants import AS_TRANS, AttrCode, AttrFlag, AsPathSegmentType, UpdateSubcode
from bgpcore.errors import ErrorAction, Malformed, UpdateMessageError, UsageError
from bgpcore.wire.context import CodecContext
from bgpcore.wire.mp import decode_mp_reach, decode_mp_unreach
from bgpcore.wire.types import AttributesTooLarge, MpReach, MpUnreach, PathAttributes

_inet_ntoa = socket.inet_ntoa
_inet_aton = socket.inet_aton

WELL_KNOWN: Final = int(AttrFlag.TRANSITIVE)
OPTIONAL_TRANSITIVE: Final = int(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)
OPTIONAL: Final = int(AttrFlag.OPTIONAL)
_FLAG_BITS: Final = OPTIONAL_TRANSITIVE
_PARTIAL: Final = int(AttrFlag.PARTIAL)
_MP_CODES: Final = frozenset((AttrCode.MP_REACH_NLRI, AttrCode.MP_UNREACH_NLRI))

WITHDRAW: Final = ErrorAction.TREAT_AS_WITHDRAW
DISCARD: Final = ErrorAction.ATTRIBUTE_DISCARD
RESET: Final = ErrorAction.SESSION_RESET

# field positions in PathAttributes
F_ORIGIN, F_AS_PATH, F_NEXT_HOP, F_MED, F_LOCAL_PREF, F_ATOMIC, F_AGGREGATOR, F_COMMUNITIES, \
    F_ORIGINATOR, F_CLUSTER, F_EXT_COMMUNITIES, F_LARGE, F_UNKNOWN = range(13)
_EMPTY_FIELDS: Final = list(PathAttributes())


@dataclass(frozen=True, slots=True)
class AttrSpec:
    """One attribute type: how it is checked and decoded, and what a malformed one costs."""

    code: int
    name: str
    flags: int
    field: int | None
    decode: Callable[[bytes, CodecContext], Any]
    on_error: ErrorAction
    subcode: int = UpdateSubcode.MALFORMED_ATTRIBUTE_LIST


# ---- decoders: value bytes -> field value; raise Malformed ------------------------------


def decode_origin(v: bytes, ctx: CodecContext) -> int:
    if len(v) != 1:
        raise Malformed(f"ORIGIN length {len(v)} != 1")
    if v[0] > 2:
        raise Malformed(f"ORIGIN value {v[0]} undefined", subcode=UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE)
    return v[0]


def decode_as_path(v: bytes, ctx: CodecContext, asn4: bool | None = None) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """AS_PATH (RFC 4271 §4.3, RFC 5065): segments of (type, count, ASes of 2 or 4 octets)."""
    wide = ctx.asn4 if asn4 is None else asn4
    size = 4 if wide else 2
    fmt = "!%dI" if wide else "!%dH"
    if len(v) > 2 and 1 <= v[0] <= 2 and v[1] and len(v) == 2 + v[1] * size:  # the usual single segment
        return ((v[0], struct.unpack_from(fmt % v[1], v, 2)),)
    segments = []
    pos = 0
    end = len(v)
    while pos < end:
        if pos + 2 > end:
            raise Malformed("AS_PATH segment header truncated", subcode=UpdateSubcode.MALFORMED_AS_PATH)
        seg_type = v[pos]
        count = v[pos + 1]
        if seg_type < 1 or seg_type > 4:
            raise Malformed(f"AS_PATH segment type {seg_type} undefined", subcode=UpdateSubcode.MALFORMED_AS_PATH)
        if count == 0:
            raise Malformed("AS_PATH segment with no AS", subcode=UpdateSubcode.MALFORMED_AS_PATH)
        nxt = pos + 2 + count * size
        if nxt > end:
            raise Malformed("AS_PATH segment overruns the attribute", subcode=UpdateSubcode.MALFORMED_AS_PATH)
        segments.append((seg_type, struct.unpack_from(fmt % count, v, pos + 2)))
        pos = nxt
    return tuple(segments)


def decode_as4_path(v: bytes, ctx: CodecContext) -> tuple[tuple[int, tuple[int, ...]], ...]:
    segments = decode_as_path(v, ctx, asn4=True)
    for seg_type, _ in segments:
        if seg_type > 2:
            raise Malformed("AS4_PATH carries a confederation segment")
    return segments


def decode_next_hop(v: bytes, ctx: CodecContext) -> str:
    if len(v) != 4:
        raise Malformed(f"NEXT_HOP length {len(v)} != 4", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    if v == b"\0\0\0\0" or v[0] >= 224:
        raise Malformed(f"NEXT_HOP {_inet_ntoa(v)} is not a unicast address", subcode=UpdateSubcode.INVALID_NEXT_HOP_ATTRIBUTE)
    return _inet_ntoa(v)


def _decode_u32(name: str) -> Callable[[bytes, CodecContext], int]:
    def decode(v: bytes, ctx: CodecContext) -> int:
        if len(v) != 4:
            raise Malformed(f"{name} length {len(v)} != 4", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
        return int.from_bytes(v, "big")
    return decode


def decode_atomic_aggregate(v: bytes, ctx: CodecContext) -> bool:
    if v:
        raise Malformed(f"ATOMIC_AGGREGATE length {len(v)} != 0", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    return True


def decode_aggregator(v: bytes, ctx: CodecContext, asn4: bool | None = None) -> tuple[int, str]:
    wide = ctx.asn4 if asn4 is None else asn4
    if len(v) != (8 if wide else 6):
        raise Malformed(f"AGGREGATOR length {len(v)} wrong", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    if wide:
        return int.from_bytes(v[:4], "big"), _inet_ntoa(v[4:])
    return int.from_bytes(v[:2], "big"), _inet_ntoa(v[2:])


def decode_as4_aggregator(v: bytes, ctx: CodecContext) -> tuple[int, str]:
    return decode_aggregator(v, ctx, asn4=True)


def decode_communities(v: bytes, ctx: CodecContext) -> tuple[int, ...]:
    n = len(v)
    if n == 0 or n & 3:
        raise Malformed(f"COMMUNITIES length {n} not a positive multiple of 4", subcode=UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR)
    return struct.unpack("!%dI" % (n >> 2), v)


def decode_originator_id(v: bytes, ctx: CodecContext) -> str:
    if len(v) != 4:
        raise Malformed(f"ORIGINATOR_ID length {len(v)} != 4", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    return _inet_ntoa(v)


def decode_cluster_list(v: bytes, ctx: CodecContext) -> tuple[str, ...]:
    n = len(v)
    if n == 0 or n & 3:
        raise Malformed(f"CLUSTER_LIST length {n} not a positive multiple of 4", subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    return tuple(_inet_ntoa(v[i : i + 4]) for i in range(0, n, 4))


def decode_extended_communities(v: bytes, ctx: CodecContext) -> tuple[int, ...]:
    n = len(v)
    if n == 0 or n & 7:
        raise Malformed(f"EXTENDED_COMMUNITIES length {n} not a positive multiple of 8", subcode=UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR)
    return struct.unpack("!%dQ" % (n >> 3), v)


def decode_large_communities(v: bytes, ctx: CodecContext) -> tuple[tuple[int, int, int], ...]:
    n = len(v)
    if n == 0 or n % 12:
        raise Malformed(f"LARGE_COMMUNITY length {n} not a positive multiple of 12", subcode=UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR)
    flat = struct.unpack("!%dI" % (n >> 2), v)
    return tuple(zip(flat[0::3], flat[1::3], flat[2::3]))


def _no_decode(v: bytes, ctx: CodecContext) -> bytes:
    return v


ATTRS: Final[dict[int, AttrSpec]] = {
    spec.code: spec
    for spec in (
        AttrSpec(AttrCode.ORIGIN, "ORIGIN", WELL_KNOWN, F_ORIGIN, decode_origin, WITHDRAW),
        AttrSpec(AttrCode.AS_PATH, "AS_PATH", WELL_KNOWN, F_AS_PATH, decode_as_path, WITHDRAW),
        AttrSpec(AttrCode.NEXT_HOP, "NEXT_HOP", WELL_KNOWN, F_NEXT_HOP, decode_next_hop, WITHDRAW),
        AttrSpec(AttrCode.MULTI_EXIT_DISC, "MULTI_EXIT_DISC", OPTIONAL, F_MED, _decode_u32("MULTI_EXIT_DISC"), WITHDRAW),
        AttrSpec(AttrCode.LOCAL_PREF, "LOCAL_PREF", WELL_KNOWN, F_LOCAL_PREF, _decode_u32("LOCAL_PREF"), WITHDRAW),
        AttrSpec(AttrCode.ATOMIC_AGGREGATE, "ATOMIC_AGGREGATE", WELL_KNOWN, F_ATOMIC, decode_atomic_aggregate, DISCARD),
        AttrSpec(AttrCode.AGGREGATOR, "AGGREGATOR", OPTIONAL_TRANSITIVE, F_AGGREGATOR, decode_aggregator, DISCARD),
        AttrSpec(AttrCode.COMMUNITIES, "COMMUNITIES", OPTIONAL_TRANSITIVE, F_COMMUNITIES, decode_communities, WITHDRAW),
        AttrSpec(AttrCode.ORIGINATOR_ID, "ORIGINATOR_ID", OPTIONAL, F_ORIGINATOR, decode_originator_id, WITHDRAW),
        AttrSpec(AttrCode.CLUSTER_LIST, "CLUSTER_LIST", OPTIONAL, F_CLUSTER, decode_cluster_list, WITHDRAW),
        AttrSpec(AttrCode.MP_REACH_NLRI, "MP_REACH_NLRI", OPTIONAL, None, _no_decode, RESET, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR),
        AttrSpec(AttrCode.MP_UNREACH_NLRI, "MP_UNREACH_NLRI", OPTIONAL, None, _no_decode, RESET, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR),
        AttrSpec(AttrCode.EXTENDED_COMMUNITIES, "EXTENDED_COMMUNITIES", OPTIONAL_TRANSITIVE, F_EXT_COMMUNITIES, decode_extended_communities, WITHDRAW),
        AttrSpec(AttrCode.AS4_PATH, "AS4_PATH", OPTIONAL_TRANSITIVE, None, decode_as4_path, DISCARD),
        AttrSpec(AttrCode.AS4_AGGREGATOR, "AS4_AGGREGATOR", OPTIONAL_TRANSITIVE, None, decode_as4_aggregator, DISCARD),
        AttrSpec(AttrCode.LARGE_COMMUNITY, "LARGE_COMMUNITY", OPTIONAL_TRANSITIVE, F_LARGE, decode_large_communities, WITHDRAW),
    )
}


def _flags_error(spec: AttrSpec, flags: int) -> Malformed:
    """An Attribute Flags Error (RFC 4271 §6.3) and its RFC 7606 outcome.

    RFC 7606 §3 c: Optional or Transitive bits in conflict with the attribute's type make it
    malformed with the treat-as-withdraw outcome, "unless the specification for the attribute
    mandates different handling for incorrect Attribute Flags". ATOMIC_AGGREGATE (§7.6) and
    AGGREGATOR (§7.7) only mandate attribute discard for a wrong length, so a flags error on
    them is treat-as-withdraw too. The Partial bit set on a well-known or an optional
    non-transitive attribute (RFC 4271 §4.3: it MUST be 0; RFC 7606 names no other outcome) is
    the same error. MP_REACH_NLRI/MP_UNREACH_NLRI keep their session reset: without trusting
    the attribute the UPDATE's routes cannot be located.
    """
    if flags & _FLAG_BITS == spec.flags:
        kind = "a well-known" if spec.flags == WELL_KNOWN else "an optional non-transitive"
        reason = f"{spec.name} flags 0x{flags:02x}: Partial bit set on {kind} attribute"
    else:
        reason = f"{spec.name} flags 0x{flags:02x} wrong"
    action = None if spec.on_error == RESET else WITHDRAW
    return Malformed(reason, action=action, subcode=UpdateSubcode.ATTRIBUTE_FLAGS_ERROR)


def register_attribute(spec: AttrSpec) -> None:
    """Add an attribute type to the table; a code already present is refused."""
    if spec.code in ATTRS:
        raise UsageError(f"attribute code {spec.code} is already registered as {ATTRS[spec.code].name}")
    ATTRS[spec.code] = spec


class DecodedAttributes(NamedTuple):
    """What one attribute block held, with the strongest RFC 7606 outcome met."""

    attributes: PathAttributes
    mp_reach: MpReach | None
    mp_unreach: MpUnreach | None
    present: frozenset[int]
    action: ErrorAction
    problems: tuple[str, ...]


def decode_attributes(data: bytes, ctx: CodecContext, start: int = 0, end: int | None = None,
                      *, rib_entry: bool = False, next_hop_ignored: bool = False) -> DecodedAttributes:
    """Decode the path attributes in ``data[start:end]``.

    ``rib_entry`` accepts the abbreviated MP_REACH_NLRI of MRT RIB entries (RFC 6396 §4.3.4).
    ``next_hop_ignored``: the UPDATE has no IPv4 NLRI, so a NEXT_HOP is ignored, not judged
    (RFC 4760 §3, RFC 7606 §5.1).

    Raises:
        UpdateMessageError: an error whose RFC 7606 outcome is a session reset.
    """
    if end is None:
        end = len(data)
    fields = _EMPTY_FIELDS.copy()
    seen: set[int] = set()
    problems: list[str] = []
    action = ErrorAction.NONE
    unknown: list[tuple[int, int, bytes]] = []
    mp_reach = mp_unreach = None
    as4_path = as4_aggregator = None
    attrs_table = ATTRS
    pos = start
    while pos < end:
        if pos + 3 > end:
            problems.append("attribute header truncated")
            action = max(action, WITHDRAW)
            break
        flags = data[pos]
        code = data[pos + 1]
        if flags & 0x10:
            if pos + 4 > end:
                problems.append("attribute header truncated")
                action = max(action, WITHDRAW)
                break
            length = (data[pos + 2] << 8) | data[pos + 3]
            vstart = pos + 4
        else:
            length = data[pos + 2]
            vstart = pos + 3
        vend = vstart + length
        if vend > end:
            name = attrs_table[code].name if code in attrs_table else f"attribute {code}"
            if code in (AttrCode.MP_REACH_NLRI, AttrCode.MP_UNREACH_NLRI):
                raise UpdateMessageError(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, bytes(data[pos:end]), f"{name} overruns the attribute block")
            problems.append(f"{name} length {length} overruns the attribute block")
            action = max(action, WITHDRAW)
            break
        value = data[vstart:vend]
        spec = attrs_table.get(code)
        if spec is None:
            if not flags & 0x80:
                raise UpdateMessageError(UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, bytes(data[pos:vend]),
                                         f"unrecognized well-known attribute {code}")
            if flags & 0x40:
                unknown.append((flags & 0xE0, code, bytes(value)))
            pos = vend
            continue
        if code in seen:
            if code in (AttrCode.MP_REACH_NLRI, AttrCode.MP_UNREACH_NLRI):
                raise UpdateMessageError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason=f"{spec.name} appears twice")
            problems.append(f"duplicate {spec.name} discarded")
            action = max(action, DISCARD)
            pos = vend
            continue
        seen.add(code)
        try:
            if flags & _FLAG_BITS != spec.flags or (flags & _PARTIAL and spec.flags != OPTIONAL_TRANSITIVE):
                raise _flags_error(spec, flags)
            if spec.field is not None:
                fields[spec.field] = spec.decode(value, ctx)
            elif code == AttrCode.MP_REACH_NLRI:
                mp_reach = decode_mp_reach(value, ctx, rib_entry)
            elif code == AttrCode.MP_UNREACH_NLRI:
                mp_unreach = decode_mp_unreach(value, ctx)
            elif code == AttrCode.AS4_PATH:
                as4_path = spec.decode(value, ctx)
            elif code == AttrCode.AS4_AGGREGATOR:
                as4_aggregator = spec.decode(value, ctx)
        except Malformed as exc:
            if next_hop_ignored and code == AttrCode.NEXT_HOP:
                seen.discard(code)
                pos = vend
                continue
            outcome = exc.action or spec.on_error
            if outcome == RESET:
                subcode = spec.subcode if exc.subcode is None else exc.subcode
                raise UpdateMessageError(subcode, bytes(data[pos:vend]), exc.reason) from None
            problems.append(f"{exc.reason}: {'treat-as-withdraw' if outcome == WITHDRAW else 'attribute discarded'}")
            action = max(action, outcome)
            if code not in _MP_CODES:  # a second MP_REACH/MP_UNREACH still resets the session (RFC 7606 §3 g)
                seen.discard(code)
        pos = vend
    if unknown:
        fields[F_UNKNOWN] = tuple(unknown)
    if as4_path is not None or as4_aggregator is not None:
        _merge_as4(fields, as4_path, as4_aggregator, ctx, problems)
    return DecodedAttributes(tuple.__new__(PathAttributes, fields), mp_reach, mp_unreach, frozenset(seen),
                             action, tuple(problems))


def _path_length(segments: tuple[tuple[int, tuple[int, ...]], ...]) -> int:
    """Path length for RFC 6793 reconciliation: AS_SET counts 1, confederation segments 0."""
    total = 0
    for seg_type, ases in segments:
        if seg_type == AsPathSegmentType.AS_SEQUENCE:
            total += len(ases)
        elif seg_type == AsPathSegmentType.AS_SET:
            total += 1
    return total


def _merge_as4(fields: list[Any], as4_path: Any, as4_aggregator: Any, ctx: CodecContext, problems: list[str]) -> None:
    """RFC 6793 §4.2.3: rebuild the 4-octet path from AS_PATH + AS4_PATH (2-octet sessions only)."""
    if ctx.asn4:
        problems.append("AS4_PATH/AS4_AGGREGATOR from a 4-octet speaker discarded")
        return
    aggregator = fields[F_AGGREGATOR]
    if as4_aggregator is not None and aggregator is not None:
        if aggregator[0] != AS_TRANS:
            return  # the AGGREGATOR is newer than AS4_*: ignore both AS4 attributes
        fields[F_AGGREGATOR] = as4_aggregator
    if as4_path is None:
        return
    as_path = fields[F_AS_PATH]
    need = _path_length(as_path) - _path_length(as4_path)
    if need < 0:
        problems.append("AS4_PATH longer than AS_PATH: AS4_PATH ignored")
        return
    kept: list[tuple[int, tuple[int, ...]]] = []
    for seg_type, ases in as_path:
        if seg_type in (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET):
            kept.append((seg_type, ases))
            continue
        if need <= 0:
            break
        if seg_type == AsPathSegmentType.AS_SET:
            kept.append((seg_type, ases))
            need -= 1
        else:
            kept.append((seg_type, ases[:need]))
            need -= min(need, len(ases))
    fields[F_AS_PATH] = tuple(kept) + tuple(as4_path)


# ---- encoding -------------------------------------------------------------------------------


def encode_attribute(flags: int, code: int, value: bytes) -> bytes:
    """One attribute; the Extended Length flag is set exactly when the value needs it.

    Raises:
        AttributesTooLarge: the value is over 65535 octets.
    """
    n = len(value)
    if n > 255:
        if n > 0xFFFF:
            raise AttributesTooLarge(f"attribute {code} of {n} octets is longer than an attribute can be", 0xFFFF)
        return struct.pack("!BBH", flags | 0x10, code, n) + value
    return struct.pack("!BBB", flags & ~0x10, code, n) + value


def encode_as_path(segments: tuple[tuple[int, tuple[int, ...]], ...], asn4: bool) -> bytes:
    out = []
    for seg_type, ases in segments:
        for i in range(0, len(ases), 255):  # a segment holds at most 255 ASes
            chunk = ases[i : i + 255]
            if asn4:
                out.append(struct.pack("!BB%dI" % len(chunk), seg_type, len(chunk), *chunk))
            else:
                out.append(struct.pack("!BB%dH" % len(chunk), seg_type, len(chunk),
                                       *(a if a <= 0xFFFF else AS_TRANS for a in chunk)))
    return b"".join(out)


def encode_attributes(attrs: PathAttributes, ctx: CodecContext, mp: bytes = b"", *, with_next_hop: bool = True) -> bytes:
    """The attribute block for ``attrs``; ``mp`` (an encoded MP_REACH/MP_UNREACH) goes in code order."""
    head, tail = encode_attribute_parts(attrs, ctx, with_next_hop=with_next_hop)
    return head + mp + tail


def encode_attribute_parts(attrs: PathAttributes, ctx: CodecContext, *, with_next_hop: bool = True) -> tuple[bytes, bytes]:
    """The attributes that sort before MP_REACH_NLRI (codes < 14) and those after, encoded.

    The encoder packs many NLRI under one attribute set by splicing each MP_REACH between them.
    """
    out = []
    if attrs.origin is not None:
        out.append(bytes((WELL_KNOWN, AttrCode.ORIGIN, 1, attrs.origin)))
    asn4 = ctx.asn4
    out.append(encode_attribute(WELL_KNOWN, AttrCode.AS_PATH, encode_as_path(attrs.as_path, asn4)))
    if with_next_hop and attrs.next_hop is not None:
        out.append(bytes((WELL_KNOWN, AttrCode.NEXT_HOP, 4)) + _inet_aton(attrs.next_hop))
    if attrs.med is not None:
        out.append(struct.pack("!BBBI", OPTIONAL, AttrCode.MULTI_EXIT_DISC, 4, attrs.med))
    if attrs.local_pref is not None:
        out.append(struct.pack("!BBBI", WELL_KNOWN, AttrCode.LOCAL_PREF, 4, attrs.local_pref))
    if attrs.atomic_aggregate:
        out.append(bytes((WELL_KNOWN, AttrCode.ATOMIC_AGGREGATE, 0)))
    aggregator = attrs.aggregator
    if aggregator is not None:
        asn, addr = aggregator
        if asn4:
            value = struct.pack("!I", asn) + _inet_aton(addr)
        else:
            value = struct.pack("!H", asn if asn <= 0xFFFF else AS_TRANS) + _inet_aton(addr)
        out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.AGGREGATOR, value))
    if attrs.communities:
        out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.COMMUNITIES,
                                    struct.pack("!%dI" % len(attrs.communities), *attrs.communities)))
    if attrs.originator_id is not None:
        out.append(bytes((OPTIONAL, AttrCode.ORIGINATOR_ID, 4)) + _inet_aton(attrs.originator_id))
    if attrs.cluster_list:
        out.append(encode_attribute(OPTIONAL, AttrCode.CLUSTER_LIST, b"".join(map(_inet_aton, attrs.cluster_list))))
    head = b"".join(out)
    out = []
    if attrs.extended_communities:
        out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.EXTENDED_COMMUNITIES,
                                    struct.pack("!%dQ" % len(attrs.extended_communities), *attrs.extended_communities)))
    if not asn4:
        if any(a > 0xFFFF for seg_type, ases in attrs.as_path if seg_type <= 2 for a in ases):
            real = tuple(seg for seg in attrs.as_path if seg[0] <= 2)
            out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.AS4_PATH, encode_as_path(real, True)))
        if aggregator is not None and aggregator[0] > 0xFFFF:
            out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.AS4_AGGREGATOR,
                                        struct.pack("!I", aggregator[0]) + _inet_aton(aggregator[1])))
    if attrs.large_communities:
        flat = [n for lc in attrs.large_communities for n in lc]
        out.append(encode_attribute(OPTIONAL_TRANSITIVE, AttrCode.LARGE_COMMUNITY, struct.pack("!%dI" % len(flat), *flat)))
    for flags, code, value in attrs.unknown:
        # an optional transitive attribute we did not interpret is passed on marked Partial (RFC 4271 §5)
        out.append(encode_attribute((flags | AttrFlag.PARTIAL) if flags & 0x40 else flags, code, value))
    return head, b"".join(out)

