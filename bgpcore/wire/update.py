"""UPDATE messages (RFC 4271 §4.3) with RFC 7606 error handling.

::

    +-----------------------------------------------------+
    |   Withdrawn Routes Length (2 octets)                |
    |   Withdrawn Routes (variable)                       |
    |   Total Path Attribute Length (2 octets)            |
    |   Path Attributes (variable)                        |
    |   Network Layer Reachability Information (variable) |
    +-----------------------------------------------------+

Decoding applies the RFC 7606 outcome itself: treat-as-withdraw moves every announced prefix
into the withdrawals, attribute-discard drops the attribute; both are recorded in
``Update.action``/``Update.problems`` for the log. Only a session reset raises; a
treat-as-withdraw error in an UPDATE that announces no route is one (RFC 7606 §5.2).
Encoding packs as many prefixes under one attribute set as the message size allows, never
writing a message over the session's maximum (4096 octets, 65535 with RFC 8654) nor one
without prefixes; an attribute set too large to carry even one prefix raises
``AttributesTooLarge``.
"""
from __future__ import annotations

import struct
from typing import Final

from bgpcore.constants import HEADER_LEN, AttrCode, MsgType, UpdateSubcode
from bgpcore.errors import ErrorAction, UpdateMessageError, UsageError
from bgpcore.wire.attrs import OPTIONAL, decode_attributes, encode_attribute, encode_attribute_parts, encode_attributes
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, Family
from bgpcore.wire.mp import encode_next_hop, mp_reach_header, mp_unreach_header
from bgpcore.wire.nlri import decode_prefixes
from bgpcore.wire.types import AttributesTooLarge, MpReach, MpUnreach, PathAttributes, Update

_WITHDRAW: Final = ErrorAction.TREAT_AS_WITHDRAW
_HEADER_PREFIX: Final = b"\xff" * 16
_MP_CODES: Final = frozenset((AttrCode.MP_REACH_NLRI, AttrCode.MP_UNREACH_NLRI))
_MANDATORY: Final = ((AttrCode.ORIGIN, "ORIGIN"), (AttrCode.AS_PATH, "AS_PATH"))


def decode_update(body: bytes | bytearray | memoryview, ctx: CodecContext) -> Update:
    """Decode an UPDATE body (the message without its 19-octet header).

    Raises:
        UpdateMessageError: the RFC 7606 outcome is a session reset (lengths that do not add
            up, unparseable NLRI, malformed MP_REACH/MP_UNREACH, among them a next hop length
            the family does not take on this session (§7.11), unrecognized well-known
            attribute), a treat-as-withdraw error in an UPDATE without reachable NLRI
            (§5.2), or a treat-as-withdraw of two families besides IPv4 unicast at once.
    """
    data = bytes(body)
    n = len(data)
    if n < 4:
        raise UpdateMessageError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="UPDATE shorter than its length fields")
    wlen = (data[0] << 8) | data[1]
    aoff = 2 + wlen
    if aoff + 2 > n:
        raise UpdateMessageError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason=f"withdrawn routes length {wlen} overruns the UPDATE")
    alen = (data[aoff] << 8) | data[aoff + 1]
    noff = aoff + 2 + alen
    if noff > n:
        raise UpdateMessageError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason=f"path attribute length {alen} overruns the UPDATE")
    addpath = IPV4_UNICAST in ctx.addpath
    withdrawn = decode_prefixes(data[2:aoff], 1, addpath) if wlen else []
    nlri = decode_prefixes(data[noff:], 1, addpath) if noff < n else []
    if not alen:
        if nlri:
            return Update(withdrawn + nlri, None, [], None, None, _WITHDRAW, ("NLRI without path attributes: treat-as-withdraw",))
        return Update(withdrawn, None, [])
    attributes, mp_reach, mp_unreach, present, action, problems = decode_attributes(data, ctx, aoff + 2, noff, next_hop_ignored=not nlri)
    if action < _WITHDRAW and (nlri or (mp_reach is not None and mp_reach.nlri)):
        missing = [name for code, name in _MANDATORY if code not in present]
        if nlri and AttrCode.NEXT_HOP not in present:
            missing.append("NEXT_HOP")
        if missing:
            problems += (f"missing well-known attribute {', '.join(missing)}: treat-as-withdraw",)
            action = _WITHDRAW
    if action >= _WITHDRAW:
        if not nlri and (mp_reach is None or not mp_reach.nlri):
            # RFC 7606 §5.2: path attributes without reachable NLRI leave no confidence that the
            # NLRI were located right, so an error stronger than attribute discard resets
            raise UpdateMessageError(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="; ".join(problems)
                                     + " (in an UPDATE without reachable NLRI: session reset, RFC 7606 §5.2)")
        return _as_withdraw(withdrawn, nlri, mp_reach, mp_unreach, problems)
    if not action and not present.difference(_MP_CODES) and not attributes.unknown:
        # no path attribute at all; after a discard the empty set stays, so that the UPDATE
        # does not read as an End-of-RIB marker (RFC 4724 §2) it never was
        return Update(withdrawn, None, nlri, mp_reach, mp_unreach, action, problems)
    return Update(withdrawn, attributes, nlri, mp_reach, mp_unreach, action, problems)


def _as_withdraw(withdrawn: list[bytes], nlri: list[bytes], mp_reach: MpReach | None,
                 mp_unreach: MpUnreach | None, problems: tuple[str, ...]) -> Update:
    """RFC 7606 §2 treat-as-withdraw: every prefix the UPDATE announced is withdrawn instead.

    IPv4 unicast prefixes go to ``withdrawn`` whichever field carried them; the other family
    (of MP_REACH_NLRI or MP_UNREACH_NLRI) goes to ``mp_unreach``.

    Raises:
        UpdateMessageError: MP_REACH_NLRI and MP_UNREACH_NLRI carry two different families,
            neither IPv4 unicast (possible only against RFC 7606 §5.1): one ``Update`` cannot
            withdraw both, and keeping the announced routes would be wrong, so the session
            is reset, the stronger outcome (RFC 7606 §3 h).
    """
    withdrawn = withdrawn + nlri
    if mp_unreach is not None and (mp_unreach.afi, mp_unreach.safi) == IPV4_UNICAST:
        withdrawn += mp_unreach.nlri
        mp_unreach = None
    if mp_reach is not None and mp_reach.nlri:
        family = (mp_reach.afi, mp_reach.safi)
        if family == IPV4_UNICAST:
            withdrawn += mp_reach.nlri
        elif mp_unreach is None:
            mp_unreach = MpUnreach(mp_reach.afi, mp_reach.safi, list(mp_reach.nlri))
        elif (mp_unreach.afi, mp_unreach.safi) == family:
            mp_unreach = MpUnreach(mp_unreach.afi, mp_unreach.safi, mp_unreach.nlri + mp_reach.nlri)
        else:
            raise UpdateMessageError(
                UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
                reason=f"treat-as-withdraw of afi {family[0]} safi {family[1]} beside an MP_UNREACH_NLRI of "
                       f"afi {mp_unreach.afi} safi {mp_unreach.safi}: {'; '.join(problems)}")
    return Update(withdrawn, None, [], None, mp_unreach, _WITHDRAW, problems)


def _message(body: bytes) -> bytes:
    return _HEADER_PREFIX + struct.pack("!HB", HEADER_LEN + len(body), MsgType.UPDATE) + body


def encode_update(update: Update, ctx: CodecContext) -> bytes:
    """One UPDATE message (header included) holding exactly ``update``.

    Raises:
        UsageError: it does not fit in one message (``AttributesTooLarge`` for an attribute
            over 65535 octets), or a next hop the session cannot carry.
    """
    mp = b""
    if update.mp_reach is not None:
        r = update.mp_reach
        family = (r.afi, r.safi)
        mp += encode_attribute(OPTIONAL, AttrCode.MP_REACH_NLRI,
                               mp_reach_header(family, encode_next_hop(r.next_hop, family, ctx)) + b"".join(r.nlri))
    if update.mp_unreach is not None:
        u = update.mp_unreach
        mp += encode_attribute(OPTIONAL, AttrCode.MP_UNREACH_NLRI, mp_unreach_header((u.afi, u.safi)) + b"".join(u.nlri))
    attrs = encode_attributes(update.attributes, ctx, mp) if update.attributes is not None else mp
    withdrawn = b"".join(update.withdrawn)
    nlri = b"".join(update.nlri)
    length = HEADER_LEN + 4 + len(withdrawn) + len(attrs) + len(nlri)
    if length > ctx.max_message_len:
        raise UsageError(f"UPDATE of {length} octets exceeds the {ctx.max_message_len}-octet limit")
    return _message(struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri)


def _pack(keys: list[bytes], room: int, limit: int, announce: bool = True) -> list[list[bytes]]:
    """Split ``keys`` into non-empty runs whose total length fits in ``room`` octets.

    Raises:
        AttributesTooLarge: (``announce``) a key longer than the ``room`` the attributes
            leave in a message of ``limit`` octets.
        UsageError: (withdrawals) a key longer than any message can carry.
    """
    longest = max(map(len, keys), default=0)
    if longest > room:
        if not announce:
            raise UsageError(f"a {longest}-octet prefix key does not fit in a {limit}-octet message")
        raise AttributesTooLarge(f"path attributes leave {max(room, 0)} octets for NLRI in a {limit}-octet message, "
                                 f"a {longest}-octet prefix does not fit", limit)
    chunks: list[list[bytes]] = []
    chunk: list[bytes] = []
    size = 0
    for key in keys:
        klen = len(key)
        if size + klen > room:
            chunks.append(chunk)
            chunk = []
            size = 0
        chunk.append(key)
        size += klen
    if chunk:
        chunks.append(chunk)
    return chunks


def encode_updates(attributes: PathAttributes, family: Family, next_hop: tuple[str, ...], keys: list[bytes],
                   ctx: CodecContext) -> list[bytes]:
    """UPDATE messages announcing every prefix key in ``keys`` with one attribute set.

    IPv4 unicast with an IPv4 next hop goes in NEXT_HOP + NLRI; everything else (IPv6, and
    IPv4 over an IPv6 next hop, RFC 8950) in MP_REACH_NLRI. ``keys`` carry path
    identifiers exactly when ``family`` is in ``ctx.addpath``.

    Every message holds at least one prefix and at most ``ctx.max_message_len`` octets
    (RFC 4271 §4: 4096; RFC 8654: 65535 with extended messages).

    Raises:
        AttributesTooLarge: the encoded attribute set (with the next hop) leaves no room for
            one of the prefixes within ``ctx.max_message_len``; nothing is returned for the
            set, so the caller skips these prefixes for this peer.
        UsageError: a next hop the family or the session cannot carry.
    """
    if not keys:
        return []
    max_body = ctx.max_message_len - HEADER_LEN
    if family == IPV4_UNICAST and ":" not in next_hop[0]:
        if len(next_hop) != 1:
            raise UsageError(f"an IPv4 next hop is one address, got {next_hop}")
        attrs = encode_attributes(attributes._replace(next_hop=next_hop[0]), ctx)
        chunks = _pack(keys, max_body - 4 - len(attrs), ctx.max_message_len)
        head = b"\0\0" + struct.pack("!H", len(attrs)) + attrs
        return [_message(head + b"".join(chunk)) for chunk in chunks]
    before, after = encode_attribute_parts(attributes, ctx, with_next_hop=False)
    mp_head = mp_reach_header(family, encode_next_hop(next_hop, family, ctx))
    room = max_body - 4 - len(before) - len(after) - 4 - len(mp_head)
    if room + 1 + len(mp_head) <= 255:  # every MP_REACH_NLRI fits in a 3-octet attribute header
        room += 1
    out = []
    for chunk in _pack(keys, room, ctx.max_message_len):
        mp = encode_attribute(OPTIONAL, AttrCode.MP_REACH_NLRI, mp_head + b"".join(chunk))
        attrs_len = len(before) + len(mp) + len(after)
        out.append(_message(b"\0\0" + struct.pack("!H", attrs_len) + before + mp + after))
    return out


def encode_withdrawals(family: Family, keys: list[bytes], ctx: CodecContext) -> list[bytes]:
    """UPDATE messages withdrawing every prefix key in ``keys`` (IPv4 unicast in the classic field)."""
    if not keys:
        return []
    max_body = ctx.max_message_len - HEADER_LEN
    if family == IPV4_UNICAST:
        out = []
        for chunk in _pack(keys, max_body - 4, ctx.max_message_len, announce=False):
            w = b"".join(chunk)
            out.append(_message(struct.pack("!H", len(w)) + w + b"\0\0"))
        return out
    head = mp_unreach_header(family)
    out = []
    for chunk in _pack(keys, max_body - 4 - 4 - len(head), ctx.max_message_len, announce=False):
        mp = encode_attribute(OPTIONAL, AttrCode.MP_UNREACH_NLRI, head + b"".join(chunk))
        out.append(_message(b"\0\0" + struct.pack("!H", len(mp)) + mp))
    return out


def encode_end_of_rib(family: Family, ctx: CodecContext) -> bytes:
    """The End-of-RIB marker for ``family`` (RFC 4724 §2)."""
    if family == IPV4_UNICAST:
        return _message(b"\0\0\0\0")
    mp = encode_attribute(OPTIONAL, AttrCode.MP_UNREACH_NLRI, mp_unreach_header(family))
    return _message(b"\0\0" + struct.pack("!H", len(mp)) + mp)


__all__ = ["AttributesTooLarge", "decode_update", "encode_end_of_rib", "encode_update", "encode_updates", "encode_withdrawals"]
