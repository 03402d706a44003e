"""The UPDATE hot path, run on both implementations through the ``codec`` fixture, and its selection."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from conftest_codec import FAST, NOT_BUILT, REQUIRE_EXTENSIONS, Codec

from bgpcore.constants import HeaderSubcode, UpdateSubcode
from bgpcore.errors import ErrorAction, MessageHeaderError, UpdateMessageError, UsageError
from bgpcore.wire import accel
from bgpcore.wire.attrs import ATTRS, WITHDRAW, AttrSpec
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
from bgpcore.wire.update import encode_update

CTX = CodecContext()
FULL = PathAttributes(
    origin=2, as_path=((2, (65001, 4200000000, 3356)), (1, (7, 8))), next_hop="192.0.2.1", med=10, local_pref=200,
    atomic_aggregate=True, aggregator=(4200000001, "198.51.100.7"), communities=(0xFFFF029A, 65001 << 16 | 7),
    originator_id="10.0.0.1", cluster_list=("10.0.0.2", "10.0.0.3"), extended_communities=(0x0002FDE800000001,),
    large_communities=((4200000000, 1, 2), (65001, 3, 4)), unknown=((0xE0, 99, b"\x01\x02"),),
)


def body(update: Update, ctx: CodecContext = CTX) -> bytes:
    return encode_update(update, ctx)[19:]


def attr(flags: int, code: int, value: bytes) -> bytes:
    return bytes((flags, code, len(value))) + value


def raw_update(attributes: bytes, nlri: bytes = b"", withdrawn: bytes = b"") -> bytes:
    return struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attributes)) + attributes + nlri


BASIC = attr(0x40, 1, b"\0") + attr(0x40, 2, b"\x02\x01\0\0\xfd\xe9") + attr(0x40, 3, bytes((192, 0, 2, 1)))


# ---- selection -----------------------------------------------------------------------------


def test_extension_is_loaded_when_required() -> None:
    if accel.NO_EXTENSIONS:
        pytest.skip("BGPCORE_NO_EXTENSIONS is set: this run is the pure-Python pass")
    if not REQUIRE_EXTENSIONS and FAST is None:
        pytest.skip(NOT_BUILT + "; set BGPCORE_REQUIRE_EXTENSIONS=1 to make this a failure")
    assert accel.ACCELERATED, "bgpcore_fast did not load although it is required"
    assert accel.decode_update.__module__ == "bgpcore_fast._update"


def test_no_extensions_variable_selects_pure_python() -> None:
    code = ("import bgpcore.wire.accel as a, bgpcore.wire.update as u, bgpcore.wire.framing as f;"
            "print(a.ACCELERATED, a.decode_update is u.decode_update, a.split_messages is f.split_messages)")
    env = dict(os.environ, BGPCORE_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]


# ---- well-formed UPDATEs -------------------------------------------------------------------


def test_every_decoded_attribute_comes_back(codec: Codec) -> None:
    keys = [network_key("198.51.100.0/24"), network_key("10.0.0.0/8"), network_key("0.0.0.0/0")]
    withdrawn = [network_key("203.0.113.128/25")]
    got = codec.decode_update(body(Update(withdrawn, FULL, keys)), CTX)
    assert got == Update(withdrawn, FULL, keys)
    assert hash(got.attributes) == hash(FULL)  # attribute sets intern the same on both paths


def test_ipv6_routes_with_global_and_link_local_next_hop(codec: Codec) -> None:
    keys = [network_key("2001:db8:1::/48"), network_key("2001:db8::/32")]
    attrs = PathAttributes(origin=0, as_path=((2, (65001,)),), local_pref=100)
    mp_unreach = MpUnreach(2, 1, [network_key("2001:db8:ff::/64")])
    sent = Update([], attrs, [], MpReach(2, 1, ("2001:db8::1", "fe80::1"), keys), mp_unreach)
    assert codec.decode_update(body(sent), CTX) == sent


def test_add_path_keys_keep_their_path_identifier(codec: Codec) -> None:
    ctx = CodecContext(addpath=frozenset({IPV4_UNICAST, IPV6_UNICAST}))
    v4 = [network_key("192.0.2.0/24", 7), network_key("192.0.2.0/24", 8)]
    v6 = [network_key("2001:db8::/32", 1)]
    sent = Update([network_key("10.0.0.0/8", 3)], PathAttributes(0, ((2, (65001,)),), "192.0.2.1"), v4)
    assert codec.decode_update(body(sent, ctx), ctx) == sent
    sent6 = Update([], PathAttributes(0, ((2, (65001,)),)), [], MpReach(2, 1, ("2001:db8::1",), v6))
    assert codec.decode_update(body(sent6, ctx), ctx) == sent6


def test_two_octet_session_reads_two_octet_as_numbers(codec: Codec) -> None:
    ctx = CodecContext(asn4=False)
    attrs = PathAttributes(1, ((2, (65001, 3356)),), "192.0.2.1", aggregator=(64512, "192.0.2.9"))
    sent = Update([], attrs, [network_key("192.0.2.0/24")])
    assert codec.decode_update(body(sent, ctx), ctx) == sent


def test_four_octet_path_is_rebuilt_from_as4_path_on_a_two_octet_session(codec: Codec) -> None:
    ctx = CodecContext(asn4=False)
    attrs = PathAttributes(0, ((2, (65001, 4200000000)),), "192.0.2.1")
    got = codec.decode_update(body(Update([], attrs, [network_key("192.0.2.0/24")]), ctx), ctx)
    assert got.attributes == attrs and got.action == ErrorAction.NONE


def test_ipv4_routes_over_an_ipv6_next_hop(codec: Codec) -> None:
    ctx = CodecContext(extended_nexthop=frozenset({IPV4_UNICAST}))
    sent = Update([], PathAttributes(0, ((2, (65001,)),)), [], MpReach(1, 1, ("2001:db8::1",), [network_key("192.0.2.0/24")]))
    assert codec.decode_update(body(sent, ctx), ctx) == sent


def test_trailing_bits_past_the_prefix_length_are_cleared(codec: Codec) -> None:
    got = codec.decode_update(raw_update(BASIC, nlri=b"\x17\xc0\x00\x03"), CTX)
    assert got.nlri == [b"\x17\xc0\x00\x02"]


def test_unknown_optional_transitive_is_kept_and_non_transitive_dropped(codec: Codec) -> None:
    attrs = BASIC + attr(0x80, 200, b"xx") + attr(0xF0 & ~0x10, 201, b"yy")
    got = codec.decode_update(raw_update(attrs, nlri=b"\x08\x0a"), CTX)
    assert got.attributes is not None and got.attributes.unknown == ((0xE0, 201, b"yy"),)


def test_only_non_transitive_unknowns_beside_mp_unreach_give_no_attributes(codec: Codec) -> None:
    attrs = attr(0x80, 15, b"\x00\x02\x01\x20\x20\x01\x0d\xb8") + attr(0x80, 200, b"z")
    got = codec.decode_update(raw_update(attrs), CTX)
    assert got == Update([], None, [], None, MpUnreach(2, 1, [b"\x20\x20\x01\x0d\xb8"]))


def test_end_of_rib_for_ipv4_and_ipv6(codec: Codec) -> None:
    assert codec.decode_update(b"\0\0\0\0", CTX).end_of_rib() == (1, 1)
    assert codec.decode_update(raw_update(attr(0x80, 15, b"\x00\x02\x01")), CTX).end_of_rib() == (2, 1)


def test_body_may_be_a_bytearray_or_memoryview(codec: Codec) -> None:
    raw = raw_update(BASIC, nlri=b"\x08\x0a")
    expected = codec.decode_update(raw, CTX)
    assert codec.decode_update(bytearray(raw), CTX) == expected == codec.decode_update(memoryview(raw), CTX)
    assert expected.nlri == [b"\x08\x0a"]


def test_attribute_registered_at_run_time_is_decoded_by_its_spec(codec: Codec) -> None:
    ATTRS[240] = AttrSpec(240, "TEST_ONLY", 0xC0, None, lambda v, ctx: v, WITHDRAW)
    try:
        got = codec.decode_update(raw_update(BASIC + attr(0xC0, 240, b"q"), nlri=b"\x08\x0a"), CTX)
    finally:
        del ATTRS[240]
    assert got.attributes is not None and got.attributes.unknown == ()


# ---- RFC 7606 outcomes ---------------------------------------------------------------------


def test_bad_origin_is_treated_as_withdraw(codec: Codec) -> None:
    attrs = attr(0x40, 1, b"\x05") + BASIC[4:]
    got = codec.decode_update(raw_update(attrs, nlri=b"\x08\x0a"), CTX)
    assert got.action == ErrorAction.TREAT_AS_WITHDRAW and got.withdrawn == [b"\x08\x0a"] and got.nlri == []
    assert got.problems and "ORIGIN value 5" in got.problems[0]


def test_missing_next_hop_is_treated_as_withdraw(codec: Codec) -> None:
    got = codec.decode_update(raw_update(BASIC[:-7], nlri=b"\x08\x0a"), CTX)
    assert got.action == ErrorAction.TREAT_AS_WITHDRAW and "NEXT_HOP" in got.problems[-1]


def test_duplicate_attribute_is_discarded(codec: Codec) -> None:
    got = codec.decode_update(raw_update(BASIC + attr(0x40, 1, b"\x02"), nlri=b"\x08\x0a"), CTX)
    assert got.action == ErrorAction.ATTRIBUTE_DISCARD and got.attributes is not None and got.attributes.origin == 0


@pytest.mark.parametrize(("raw", "subcode", "data"), [
    (raw_update(BASIC, nlri=b"\x18\x0a\x00"), UpdateSubcode.INVALID_NETWORK_FIELD, b""),
    (raw_update(BASIC, nlri=b"\x21" + b"\0" * 5), UpdateSubcode.INVALID_NETWORK_FIELD, b""),
    (raw_update(BASIC + attr(0x40, 77, b"w"), nlri=b"\x08\x0a"), UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, b"\x40\x4d\x01w"),
    (raw_update(attr(0x80, 15, b"\0\2\1") * 2), UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b""),
    (raw_update(attr(0x80, 14, b"\0\2\1\x10" + b"\0" * 16)), UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, b"\x80\x0e\x14\0\2\1\x10" + b"\0" * 16),
    (b"\0\x05\0\0", UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b""),
    (b"\0", UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, b""),
], ids=["nlri-overrun", "nlri-too-long", "unknown-well-known", "mp-unreach-twice", "mp-reach-no-reserved",
        "withdrawn-overrun", "too-short"])
def test_session_reset_errors_carry_code_subcode_and_data(codec: Codec, raw: bytes, subcode: int, data: bytes) -> None:
    with pytest.raises(UpdateMessageError) as info:
        codec.decode_update(raw, CTX)
    assert (info.value.code, info.value.subcode, info.value.data) == (3, subcode, data)


# ---- framing and prefixes ------------------------------------------------------------------


def message(msg_type: int, payload: bytes, length: int | None = None) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(payload) if length is None else length, msg_type) + payload


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_split_messages_returns_whole_messages_and_bytes_used(codec: Codec, kind: type) -> None:
    update = raw_update(BASIC, nlri=b"\x08\x0a")
    stream = message(4, b"") + message(2, update) + message(2, update)[:30]
    assert codec.split_messages(kind(stream), 4096) == ([(4, b""), (2, update)], 19 + 19 + len(update))


def test_an_open_may_exceed_a_short_limit_up_to_4096(codec: Codec) -> None:
    open_msg = message(1, b"\x04" + b"\0" * 200)
    assert codec.split_messages(open_msg, 100) == ([(1, open_msg[19:])], len(open_msg))


@pytest.mark.parametrize(("raw", "subcode", "data"), [
    (b"\xfe" + message(4, b"")[1:], HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b""),
    (message(4, b"\0", 20), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14"),
    (message(2, b"", 5000), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x13\x88"),
    (message(9, b""), HeaderSubcode.BAD_MESSAGE_TYPE, b"\x09"),
])
def test_bad_headers_raise_message_header_errors(codec: Codec, raw: bytes, subcode: int, data: bytes) -> None:
    with pytest.raises(MessageHeaderError) as info:
        codec.split_messages(message(4, b"") + raw, 4096)
    assert (info.value.subcode, info.value.data) == (subcode, data)


def test_prefixes_of_longer_families_are_split_by_their_bit_limit(codec: Codec) -> None:
    vpn = bytes((24 + 64 + 24,)) + b"\0\0\x11" + b"\0" * 8 + b"\xc0\x00\x02"
    assert codec.decode_prefixes(vpn * 2, 1, False, 32 + 24 + 64) == [vpn, vpn]
    with pytest.raises(UpdateMessageError):
        codec.decode_prefixes(vpn, 1, False)


# ---- encoding ------------------------------------------------------------------------------


def test_announcements_decode_back_to_what_was_encoded(codec: Codec) -> None:
    keys = [network_key(f"10.{i >> 8}.{i & 255}.0/24") for i in range(3000)]
    messages = codec.encode_updates(FULL, IPV4_UNICAST, ("192.0.2.1",), keys, CTX)
    assert len(messages) > 1 and all(len(m) <= 4096 for m in messages)
    decoded = [codec.decode_update(m[19:], CTX) for m in messages]
    assert all(u.attributes == FULL for u in decoded)
    assert [k for u in decoded for k in u.nlri] == keys


def test_ipv6_announcements_and_withdrawals_use_the_mp_attributes(codec: Codec) -> None:
    keys = [network_key(f"2001:db8:{i:x}::/48") for i in range(500)]
    attrs = FULL._replace(next_hop=None)
    ctx = CodecContext(extended_message=True)
    (message,) = codec.encode_updates(attrs, IPV6_UNICAST, ("2001:db8::1", "fe80::1"), keys, ctx)
    assert codec.decode_update(message[19:], ctx) == Update([], attrs, [], MpReach(2, 1, ("2001:db8::1", "fe80::1"), keys))
    (gone,) = codec.encode_withdrawals(IPV6_UNICAST, keys, ctx)
    assert codec.decode_update(gone[19:], ctx) == Update([], None, [], None, MpUnreach(2, 1, keys))


def test_two_octet_sessions_get_as_trans_and_as4_path(codec: Codec) -> None:
    ctx = CodecContext(asn4=False)
    attrs = PathAttributes(0, ((2, (65001, 4200000000)),), aggregator=(4200000001, "192.0.2.9"))
    (message,) = codec.encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), [network_key("192.0.2.0/24")], ctx)
    assert b"\x40\x02\x06\x02\x02\xfd\xe9\x5b\xa0" in message  # AS_PATH with AS_TRANS (23456)
    assert b"\xc0\x11\x0a\x02\x02\x00\x00\xfd\xe9\xfa\x56\xea\x00" in message  # AS4_PATH with the real ASN
    assert codec.decode_update(message[19:], ctx).attributes == attrs._replace(next_hop="192.0.2.1")


@pytest.mark.parametrize(("family", "next_hop", "error"), [
    (IPV4_UNICAST, ("2001:db8::1",), "extended next hop"),
    (IPV4_UNICAST, ("192.0.2.1", "192.0.2.2"), "one address"),
])
def test_next_hops_the_session_cannot_carry_are_refused(codec: Codec, family: tuple[int, int], next_hop: tuple[str, ...],
                                                       error: str) -> None:
    with pytest.raises(UsageError, match=error):
        codec.encode_updates(FULL, family, next_hop, [network_key("192.0.2.0/24")], CTX)


def test_values_out_of_range_raise_as_the_pure_encoder_does(codec: Codec) -> None:
    with pytest.raises(struct.error):
        codec.encode_updates(FULL._replace(med=2**32), IPV4_UNICAST, ("192.0.2.1",), [b"\x08\x0a"], CTX)
    with pytest.raises(OSError):
        codec.encode_updates(FULL._replace(originator_id="not an address"), IPV4_UNICAST, ("192.0.2.1",), [b"\x08\x0a"], CTX)


# ---- the fast path really runs -------------------------------------------------------------


@pytest.fixture
def fast_only(monkeypatch: pytest.MonkeyPatch) -> Codec:
    """The fast codec with its pure-Python fallbacks replaced by a failure."""
    if FAST is None:
        pytest.skip(NOT_BUILT)
    from bgpcore_fast import _encode, _update

    def fell_back(*args: object) -> None:
        raise AssertionError("the fast path handed a common message to the pure-Python codec")

    for module, name in ((_update, "_py_decode_update"), (_update, "_py_split_messages"),
                         (_encode, "_py_encode_updates"), (_encode, "_py_encode_withdrawals")):
        monkeypatch.setattr(module, name, fell_back)
    return FAST


@pytest.mark.parametrize("ctx", [CTX, CodecContext(asn4=False), CodecContext(addpath=frozenset({IPV4_UNICAST, IPV6_UNICAST}))],
                         ids=["asn4", "asn2", "addpath"])
def test_common_updates_never_leave_the_fast_path(fast_only: Codec, ctx: CodecContext) -> None:
    addpath = bool(ctx.addpath)
    v4 = [network_key("198.51.100.0/24", 1 if addpath else None), network_key("10.0.0.0/8", 2 if addpath else None)]
    v6 = [network_key("2001:db8::/32", 3 if addpath else None)]
    attrs = FULL._replace(as_path=((2, (65001, 3356)), (1, (7, 8)))) if not ctx.asn4 else FULL
    attrs = attrs._replace(aggregator=(64512, "192.0.2.9"))
    messages = fast_only.encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), v4, ctx)
    messages += fast_only.encode_updates(attrs, IPV6_UNICAST, ("2001:db8::1", "fe80::1"), v6, ctx)
    messages += fast_only.encode_withdrawals(IPV4_UNICAST, v4, ctx) + fast_only.encode_withdrawals(IPV6_UNICAST, v6, ctx)
    framed, used = fast_only.split_messages(b"".join(messages), 4096)
    assert used == sum(map(len, messages))
    decoded = [fast_only.decode_update(body, ctx) for _, body in framed]
    assert [k for u in decoded for k in u.nlri] == v4 and decoded[1].mp_reach == MpReach(2, 1, ("2001:db8::1", "fe80::1"), v6)
    assert decoded[2].withdrawn == v4 and decoded[3].mp_unreach == MpUnreach(2, 1, v6)


def test_accelerated_functions_take_the_pure_parameters() -> None:
    if FAST is None:
        pytest.skip(NOT_BUILT)
    import inspect

    from conftest_codec import PY
    for name in ("decode_update", "split_messages", "decode_prefixes", "encode_updates", "encode_withdrawals"):
        pure, fast = inspect.signature(getattr(PY, name)), inspect.signature(getattr(FAST, name))
        assert [(p.name, p.default is p.empty) for p in fast.parameters.values()] == \
               [(p.name, p.default is p.empty) for p in pure.parameters.values()], name
