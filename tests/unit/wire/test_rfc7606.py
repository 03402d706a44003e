"""RFC 7606 error handling: one row per malformed input, asserting the exact outcome."""
from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from bgpcore.errors import ErrorAction, MessageHeaderError, UpdateMessageError
from bgpcore.wire.context import IPV4_UNICAST, CodecContext
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update, encode_updates

CTX = CodecContext()
CTX2 = CodecContext(asn4=False)
NLRI = network_key("192.0.2.0/24")


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


ORIGIN = attr(0x40, 1, b"\0")
AS_PATH = attr(0x40, 2, bytes((2, 2)) + struct.pack("!II", 65001, 65002))
NEXT_HOP = attr(0x40, 3, bytes((192, 0, 2, 1)))
BASE = ORIGIN + AS_PATH + NEXT_HOP
V6_REACH = attr(0x80, 14, struct.pack("!HBB", 2, 1, 16) + bytes(16 * [0x20]) + b"\0" + bytes((32, 0x20, 0x01, 0x0D, 0xB8)))


def update(attrs: bytes, nlri: bytes = NLRI, withdrawn: bytes = b"") -> bytes:
    return struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri


WITHDRAW = ErrorAction.TREAT_AS_WITHDRAW
DISCARD = ErrorAction.ATTRIBUTE_DISCARD

SOFT_ROWS = [
    ("origin value undefined", ORIGIN.replace(b"\0", b"\3") + AS_PATH + NEXT_HOP, WITHDRAW, "ORIGIN value 3"),
    ("origin length", attr(0x40, 1, b"\0\0") + AS_PATH + NEXT_HOP, WITHDRAW, "ORIGIN length 2"),
    ("origin flags", attr(0xC0, 1, b"\0") + AS_PATH + NEXT_HOP, WITHDRAW, "ORIGIN flags"),
    ("as_path segment type", ORIGIN + attr(0x40, 2, bytes((5, 1)) + bytes(4)) + NEXT_HOP, WITHDRAW, "segment type 5"),
    ("as_path overrun", ORIGIN + attr(0x40, 2, bytes((2, 3)) + bytes(8)) + NEXT_HOP, WITHDRAW, "overruns"),
    ("as_path empty segment", ORIGIN + attr(0x40, 2, bytes((2, 0))) + NEXT_HOP, WITHDRAW, "no AS"),
    ("next_hop length", ORIGIN + AS_PATH + attr(0x40, 3, bytes(5)), WITHDRAW, "NEXT_HOP length 5"),
    ("next_hop zero", ORIGIN + AS_PATH + attr(0x40, 3, bytes(4)), WITHDRAW, "not a unicast"),
    ("next_hop multicast", ORIGIN + AS_PATH + attr(0x40, 3, bytes((224, 0, 0, 1))), WITHDRAW, "not a unicast"),
    ("med length", BASE + attr(0x80, 4, bytes(3)), WITHDRAW, "MULTI_EXIT_DISC length 3"),
    ("local_pref length", BASE + attr(0x40, 5, bytes(5)), WITHDRAW, "LOCAL_PREF length 5"),
    ("atomic_aggregate length", BASE + attr(0x40, 6, b"\1"), DISCARD, "ATOMIC_AGGREGATE length 1"),
    ("aggregator length", BASE + attr(0xC0, 7, bytes(7)), DISCARD, "AGGREGATOR length 7"),
    ("communities length", BASE + attr(0xC0, 8, bytes(5)), WITHDRAW, "COMMUNITIES length 5"),
    ("communities empty", BASE + attr(0xC0, 8, b""), WITHDRAW, "COMMUNITIES length 0"),
    ("originator_id length", BASE + attr(0x80, 9, bytes(3)), WITHDRAW, "ORIGINATOR_ID length 3"),
    ("cluster_list length", BASE + attr(0x80, 10, bytes(6)), WITHDRAW, "CLUSTER_LIST length 6"),
    ("extended communities length", BASE + attr(0xC0, 16, bytes(9)), WITHDRAW, "EXTENDED_COMMUNITIES length 9"),
    ("large community length", BASE + attr(0xC0, 32, bytes(13)), WITHDRAW, "LARGE_COMMUNITY length 13"),
    ("missing origin", AS_PATH + NEXT_HOP, WITHDRAW, "missing well-known attribute ORIGIN"),
    ("missing as_path", ORIGIN + NEXT_HOP, WITHDRAW, "missing well-known attribute AS_PATH"),
    ("missing next_hop", ORIGIN + AS_PATH, WITHDRAW, "missing well-known attribute NEXT_HOP"),
    ("duplicate med", BASE + attr(0x80, 4, bytes(4)) + attr(0x80, 4, b"\0\0\0\1"), DISCARD, "duplicate MULTI_EXIT_DISC"),
    ("attribute overruns block", BASE + bytes((0x80, 4, 200)) + bytes(4), WITHDRAW, "overruns the attribute block"),
    ("truncated attribute header", BASE + bytes((0x80,)), WITHDRAW, "header truncated"),
]


@pytest.mark.parametrize("name, attrs, action, reason", SOFT_ROWS, ids=[r[0] for r in SOFT_ROWS])
def test_soft_errors_take_the_rfc7606_outcome(name: str, attrs: bytes, action: ErrorAction, reason: str) -> None:
    withdrawn = network_key("203.0.113.0/24")
    u = decode_update(update(attrs, withdrawn=withdrawn), CTX)
    assert u.action == action
    assert any(reason in p for p in u.problems), u.problems
    if action == WITHDRAW:
        assert u.nlri == [] and u.attributes is None and u.withdrawn == [withdrawn, NLRI]
    else:
        assert u.nlri == [NLRI] and u.attributes is not None and u.attributes.origin == 0


def test_discarded_attribute_is_dropped_and_first_duplicate_kept() -> None:
    u = decode_update(update(BASE + attr(0x80, 4, b"\0\0\0\7") + attr(0x80, 4, b"\0\0\0\1") + attr(0x40, 6, b"\1")), CTX)
    assert u.attributes is not None
    assert (u.attributes.med, u.attributes.atomic_aggregate) == (7, False)


def test_treat_as_withdraw_moves_mp_reach_prefixes_into_mp_unreach() -> None:
    u = decode_update(update(attr(0x40, 1, b"\7") + AS_PATH + V6_REACH, nlri=b""), CTX)
    assert u.action == WITHDRAW and u.mp_reach is None
    assert u.mp_unreach is not None and (u.mp_unreach.afi, u.mp_unreach.nlri) == (2, [bytes((32, 0x20, 0x01, 0x0D, 0xB8))])


def test_mp_reach_alone_needs_no_next_hop_attribute() -> None:
    u = decode_update(update(ORIGIN + AS_PATH + V6_REACH, nlri=b""), CTX)
    assert u.action == ErrorAction.NONE and u.mp_reach is not None and u.mp_reach.next_hop == ("2020:2020:2020:2020:2020:2020:2020:2020",)


def test_next_hop_is_ignored_when_only_mp_reach_carries_nlri() -> None:
    u = decode_update(update(ORIGIN + AS_PATH + attr(0x40, 3, bytes(4)) + V6_REACH, nlri=b""), CTX)
    assert u.action == ErrorAction.NONE and u.attributes is not None and u.attributes.next_hop is None
    assert u.mp_reach is not None and len(u.mp_reach.nlri) == 1


def test_nlri_trailing_bits_are_cleared() -> None:
    u = decode_update(update(BASE, nlri=bytes((23, 192, 0, 3))), CTX)
    assert u.nlri == [bytes((23, 192, 0, 2))]


def test_unknown_optional_non_transitive_is_ignored_and_transitive_kept() -> None:
    u = decode_update(update(BASE + attr(0x80, 99, b"x") + attr(0xC0, 98, b"yz")), CTX)
    assert u.action == ErrorAction.NONE and u.attributes is not None
    assert u.attributes.unknown == ((0xC0, 98, b"yz"),)
    out = encode_updates(u.attributes, IPV4_UNICAST, ("192.0.2.1",), u.nlri, CTX)[0]
    assert attr(0xE0, 98, b"yz") in out  # passed on with the Partial bit


def test_malformed_as4_path_is_discarded_and_as_path_kept() -> None:
    as_path2 = attr(0x40, 2, bytes((2, 2)) + struct.pack("!HH", 65001, 23456))
    u = decode_update(update(ORIGIN + as_path2 + NEXT_HOP + attr(0xC0, 17, bytes((2, 5)) + bytes(4))), CTX2)
    assert u.action == DISCARD and u.attributes is not None
    assert u.attributes.as_path == ((2, (65001, 23456)),)


def test_as4_path_from_a_four_octet_speaker_is_ignored() -> None:
    as4 = attr(0xC0, 17, bytes((2, 1)) + struct.pack("!I", 4200000000))
    u = decode_update(update(BASE + as4), CTX)
    assert u.attributes is not None and u.attributes.as_path == ((2, (65001, 65002)),)
    assert any("AS4_PATH" in p for p in u.problems)


RESET_ROWS = [
    ("withdrawn length overrun", b"\x00\x09\x00", 1, b""),
    ("attribute length overrun", b"\x00\x00\x00\x09" + ORIGIN, 1, b""),
    ("nlri prefix too long", update(BASE, nlri=bytes((33,)) + bytes(5)), 10, b""),
    ("nlri runs past", update(BASE, nlri=bytes((24, 1))), 10, b""),
    ("withdrawn prefix too long", update(BASE, withdrawn=bytes((40, 1, 2, 3, 4, 5))), 10, b""),
    ("unrecognized well-known", update(BASE + attr(0x40, 99, b"ab")), 2, attr(0x40, 99, b"ab")),
    ("duplicate mp_reach", update(ORIGIN + AS_PATH + V6_REACH + V6_REACH, nlri=b""), 1, b""),
    ("mp_reach next hop length", update(ORIGIN + AS_PATH + attr(0x80, 14, struct.pack("!HBB", 2, 1, 5) + bytes(6)), nlri=b""), 9,
     attr(0x80, 14, struct.pack("!HBB", 2, 1, 5) + bytes(6))),
    ("mp_reach nlri too long", update(ORIGIN + AS_PATH + attr(0x80, 14, struct.pack("!HBB", 2, 1, 16) + bytes(17) + bytes((129,)) + bytes(17)), nlri=b""), 9,
     attr(0x80, 14, struct.pack("!HBB", 2, 1, 16) + bytes(17) + bytes((129,)) + bytes(17))),
    ("mp_unreach truncated", update(attr(0x80, 15, b"\0\2"), nlri=b""), 9, attr(0x80, 15, b"\0\2")),
    ("mp_reach overruns block", update(ORIGIN + AS_PATH + bytes((0x80, 14, 100)) + bytes(10), nlri=b""), 5, bytes((0x80, 14, 100)) + bytes(10)),
]


@pytest.mark.parametrize("name, body, subcode, data", RESET_ROWS, ids=[r[0] for r in RESET_ROWS])
def test_session_reset_errors_raise_update_message_error(name: str, body: bytes, subcode: int, data: bytes) -> None:
    with pytest.raises(UpdateMessageError) as exc:
        decode_update(body, CTX)
    assert (exc.value.code, exc.value.subcode, exc.value.data) == (3, subcode, data)


def _valid_messages() -> list[bytes]:
    attrs = PathAttributes(origin=0, as_path=((2, (65001, 65002)),), med=10, communities=(1, 2), large_communities=((1, 2, 3),),
                           cluster_list=("192.0.2.1",), originator_id="192.0.2.2")
    keys4 = [network_key(f"198.51.{i}.0/24") for i in range(20)]
    keys6 = [network_key(f"2001:db8:{i:x}::/48") for i in range(20)]
    return (encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), keys4, CTX)
            + encode_updates(attrs, (2, 1), ("2001:db8::1", "fe80::1"), keys6, CTX))


@settings(max_examples=400)
@given(st.integers(0, 2**32), st.integers(1, 8))
def test_mutated_updates_never_escape_the_codec_errors(seed: int, flips: int) -> None:
    rnd = random.Random(seed)
    for msg in _valid_messages():
        body = bytearray(msg[19:])
        for _ in range(flips):
            op = rnd.randrange(3)
            pos = rnd.randrange(len(body) + 1)
            if op == 0:
                body[pos:pos + 1] = bytes((rnd.randrange(256),))
            elif op == 1:
                del body[pos:]
            else:
                body[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 6)))
        for ctx in (CTX, CTX2, CodecContext(addpath=frozenset({IPV4_UNICAST, (2, 1)}))):
            try:
                decode_update(bytes(body), ctx)
            except UpdateMessageError:
                pass


@given(st.binary(max_size=600))
def test_random_bytes_never_escape_the_codec_errors(data: bytes) -> None:
    try:
        decode_update(data, CTX)
    except UpdateMessageError:
        pass
    try:
        MessageReader().feed(b"\xff" * 16 + data)
    except MessageHeaderError:
        pass
