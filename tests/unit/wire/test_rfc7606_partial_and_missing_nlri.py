"""RFC 4271 §4.3 Partial bit, RFC 7606 §5.2 (errors in an UPDATE without reachable NLRI) and
RFC 4760 §7 (a family not negotiated: ignored, or a session reset when so configured), on both
codec paths (``codec``)."""
from __future__ import annotations

import struct

import pytest
from conftest_codec import Codec

from bgpcore.constants import UpdateSubcode
from bgpcore.errors import ErrorAction, UpdateMessageError
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key

CTX = CodecContext()
WITHDRAW = ErrorAction.TREAT_AS_WITHDRAW
DISCARD = ErrorAction.ATTRIBUTE_DISCARD
V4 = network_key("198.51.100.0/24")
V4_OLD = network_key("203.0.113.0/24")
V6 = network_key("2001:db8:1::/48")


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def body(attrs: bytes, nlri: bytes = b"", withdrawn: bytes = b"") -> bytes:
    return struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri


def mp_reach(afi: int, safi: int, next_hop: bytes, nlri: bytes, flags: int = 0x80) -> bytes:
    return attr(flags, 14, struct.pack("!HBB", afi, safi, len(next_hop)) + next_hop + b"\0" + nlri)


def mp_unreach(afi: int, safi: int, nlri: bytes) -> bytes:
    return attr(0x80, 15, struct.pack("!HB", afi, safi) + nlri)


ORIGIN = attr(0x40, 1, b"\0")
AS_PATH = attr(0x40, 2, bytes((2, 1)) + struct.pack("!I", 65001))
NEXT_HOP = attr(0x40, 3, bytes((192, 0, 2, 1)))
BASE = ORIGIN + AS_PATH + NEXT_HOP
V6_NH = bytes.fromhex("20010db8000000000000000000000001")
BAD_ORIGIN = attr(0x40, 1, b"\7")  # treat-as-withdraw (RFC 7606 §7.1)


# ---- RFC 4271 §4.3: the Partial bit MUST be 0 on well-known and optional non-transitive attributes ----

PARTIAL_ROWS = [
    ("med", attr(0xA0, 4, bytes(4))),
    ("originator_id", attr(0xA0, 9, bytes((192, 0, 2, 7)))),
    ("cluster_list", attr(0xA0, 10, bytes((192, 0, 2, 8)))),
]


@pytest.mark.parametrize("name, extra", PARTIAL_ROWS, ids=[r[0] for r in PARTIAL_ROWS])
def test_partial_bit_on_an_optional_non_transitive_attribute_is_treat_as_withdraw(codec: Codec, name: str,
                                                                                 extra: bytes) -> None:
    update = codec.decode_update(body(BASE + extra, nlri=V4), CTX)
    assert update.action == WITHDRAW and update.withdrawn == [V4] and update.nlri == []
    assert any("Partial bit set on an optional non-transitive attribute" in p for p in update.problems)
    clean = codec.decode_update(body(BASE + bytes((0x80,)) + extra[1:], nlri=V4), CTX)
    assert clean.action == ErrorAction.NONE and clean.nlri == [V4]


def test_partial_bit_on_mp_reach_resets_with_attribute_flags_error(codec: Codec) -> None:
    with pytest.raises(UpdateMessageError) as err:
        codec.decode_update(body(ORIGIN + AS_PATH + mp_reach(2, 1, V6_NH, V6, flags=0xA0)), CTX)
    assert err.value.subcode == UpdateSubcode.ATTRIBUTE_FLAGS_ERROR


def test_partial_bit_on_optional_transitive_attributes_is_fine(codec: Codec) -> None:
    update = codec.decode_update(body(BASE + attr(0xE0, 8, struct.pack("!I", 0xFDE80001)), nlri=V4), CTX)
    assert update.action == ErrorAction.NONE and update.nlri == [V4]
    assert update.attributes is not None and update.attributes.communities == (0xFDE80001,)


# ---- RFC 7606 §5.2: attributes without reachable NLRI -------------------------------------------

def test_treat_as_withdraw_error_without_reachable_nlri_resets(codec: Codec) -> None:
    """Only withdrawals, and a malformed ORIGIN: the NLRI cannot be trusted to have been found."""
    for data in (body(BAD_ORIGIN + AS_PATH + NEXT_HOP, withdrawn=V4_OLD),
                 body(BAD_ORIGIN + AS_PATH),
                 body(BAD_ORIGIN + AS_PATH + mp_unreach(2, 1, V6)),
                 body(BAD_ORIGIN + AS_PATH + mp_reach(2, 1, V6_NH, b"")),  # MP_REACH_NLRI with no NLRI
                 body(BASE + attr(0xA0, 4, bytes(4)), withdrawn=V4_OLD)):
        with pytest.raises(UpdateMessageError) as err:
            codec.decode_update(data, CTX)
        assert err.value.subcode == UpdateSubcode.MALFORMED_ATTRIBUTE_LIST
        assert "RFC 7606 §5.2" in err.value.reason


def test_treat_as_withdraw_with_reachable_nlri_stays_treat_as_withdraw(codec: Codec) -> None:
    update = codec.decode_update(body(BAD_ORIGIN + AS_PATH + NEXT_HOP, nlri=V4, withdrawn=V4_OLD), CTX)
    assert update.action == WITHDRAW and sorted(update.withdrawn) == sorted([V4_OLD, V4])
    update = codec.decode_update(body(BAD_ORIGIN + AS_PATH + mp_reach(2, 1, V6_NH, V6)), CTX)
    assert update.action == WITHDRAW and update.mp_unreach is not None and update.mp_unreach.nlri == [V6]


def test_attribute_discard_without_reachable_nlri_is_no_reset(codec: Codec) -> None:
    """§5.2 escalates only errors stronger than attribute discard; a bad ATOMIC_AGGREGATE is discarded."""
    update = codec.decode_update(body(BASE + attr(0x40, 6, b"\1"), withdrawn=V4_OLD), CTX)
    assert update.action == DISCARD and update.withdrawn == [V4_OLD]


def test_end_of_rib_markers_are_unchanged(codec: Codec) -> None:
    assert codec.decode_update(body(b""), CTX).end_of_rib() == IPV4_UNICAST
    assert codec.decode_update(body(mp_unreach(2, 1, b"")), CTX).end_of_rib() == IPV6_UNICAST


# ---- RFC 4760 §7: a family not negotiated, ignored (default) or a session reset --------------------

ONLY_V4 = CodecContext(families=frozenset({IPV4_UNICAST}))
ONLY_V4_RESET = CodecContext(families=frozenset({IPV4_UNICAST}), reset_unnegotiated=True)


def test_family_not_negotiated_resets_when_configured(codec: Codec) -> None:
    for attrs, nlri in ((BASE + mp_reach(2, 1, V6_NH, V6), V4), (mp_unreach(2, 1, V6), b""),
                        (mp_unreach(2, 1, b""), b"")):
        data = body(attrs, nlri=nlri)
        assert codec.decode_update(data, ONLY_V4).action == DISCARD  # the default: ignored, with a problem line
        with pytest.raises(UpdateMessageError) as err:
            codec.decode_update(data, ONLY_V4_RESET)
        assert err.value.subcode == UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR
        assert "ipv6-unicast, a family not negotiated" in err.value.reason


def test_negotiated_families_decode_alike_with_either_setting(codec: Codec) -> None:
    data = body(BASE + mp_reach(2, 1, V6_NH, V6), nlri=V4)
    both = frozenset({IPV4_UNICAST, IPV6_UNICAST})
    assert (codec.decode_update(data, CodecContext(families=both, reset_unnegotiated=True))
            == codec.decode_update(data, CodecContext(families=both)))
