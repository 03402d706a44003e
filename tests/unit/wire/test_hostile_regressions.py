"""UPDATEs a hostile or broken peer sends, and encoder limits, on both codec paths (``codec``)."""
from __future__ import annotations

import struct

import pytest
from conftest_codec import Codec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from wire_strategies import path_attributes, prefix_keys

from bgpcore.constants import UpdateSubcode
from bgpcore.errors import ErrorAction, UpdateMessageError, UsageError
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
from bgpcore.wire.update import AttributesTooLarge, decode_update, encode_update, encode_updates

CTX = CodecContext()
EXT_NH = CodecContext(extended_nexthop=frozenset({IPV4_UNICAST}))
WITHDRAW = ErrorAction.TREAT_AS_WITHDRAW
DISCARD = ErrorAction.ATTRIBUTE_DISCARD

# IPv4 unicast 198.19.7.0/24 in MP_REACH_NLRI over the 16-octet next hop 2001:db8::2
IPV4_OVER_IPV6 = bytes.fromhex(
    "ffffffffffffffffffffffffffffffff004002000000294001010040020602010000fde9800e190001011020010db800000000"
    "00000000000000020018c61307")
# ORIGIN 7 (treat-as-withdraw), MP_REACH_NLRI IPv6 2001:db8:a:1::/64, MP_UNREACH_NLRI IPv4 198.19.8.0/24
WITHDRAW_TWO_FAMILIES = bytes.fromhex(
    "ffffffffffffffffffffffffffffffff004f02000000384001010740020602010000fde9800e1e0002011020010db800000000"
    "00000000000000020040" "20010db8000a0001" "800f0700010118c61308")


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


ORIGIN = attr(0x40, 1, b"\0")
AS_PATH = attr(0x40, 2, bytes((2, 1)) + struct.pack("!I", 65001))
NEXT_HOP = attr(0x40, 3, bytes((192, 0, 2, 1)))
V4 = network_key("198.51.100.0/24")
V6 = network_key("2001:db8:1::/48")


def body(attrs: bytes, nlri: bytes = b"", withdrawn: bytes = b"") -> bytes:
    return struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri


def mp_reach(afi: int, safi: int, next_hop: bytes, nlri: bytes) -> bytes:
    return attr(0x80, 14, struct.pack("!HBB", afi, safi, len(next_hop)) + next_hop + b"\0" + nlri)


def mp_unreach(afi: int, safi: int, nlri: bytes) -> bytes:
    return attr(0x80, 15, struct.pack("!HB", afi, safi) + nlri)


# ---- 1. next hop length against what the session negotiated (RFC 8950, RFC 7606 §7.11) ----------


def test_ipv4_route_over_ipv6_next_hop_without_extended_next_hop_resets_the_session(codec: Codec) -> None:
    with pytest.raises(UpdateMessageError) as err:
        codec.decode_update(IPV4_OVER_IPV6[19:], CTX)
    assert err.value.subcode == UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR
    assert "extended next hop" in err.value.reason


def test_ipv4_route_over_ipv6_next_hop_is_accepted_with_extended_next_hop(codec: Codec) -> None:
    update = codec.decode_update(IPV4_OVER_IPV6[19:], EXT_NH)
    assert update.action == ErrorAction.NONE
    assert update.mp_reach == MpReach(1, 1, ("2001:db8::2",), [network_key("198.19.7.0/24")])


@pytest.mark.parametrize("nh_len", [16, 32])
def test_ipv4_multicast_over_ipv6_needs_its_own_family_negotiated(codec: Codec, nh_len: int) -> None:
    data = body(ORIGIN + AS_PATH + mp_reach(1, 2, bytes(range(1, nh_len + 1)), V4))
    with pytest.raises(UpdateMessageError):
        codec.decode_update(data, EXT_NH)  # extended next hop was negotiated for unicast only
    ctx = CodecContext(extended_nexthop=frozenset({(1, 2)}))
    assert codec.decode_update(data, ctx).mp_reach.nlri == [V4]  # type: ignore[union-attr]


@pytest.mark.parametrize("ctx", [CTX, EXT_NH, CodecContext(extended_nexthop=frozenset({IPV6_UNICAST}))])
def test_ipv6_route_over_4_octet_next_hop_resets_the_session(codec: Codec, ctx: CodecContext) -> None:
    data = body(ORIGIN + AS_PATH + mp_reach(2, 1, bytes((192, 0, 2, 1)), V6))
    with pytest.raises(UpdateMessageError) as err:
        codec.decode_update(data, ctx)
    assert err.value.subcode == UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR


def test_ipv4_vpn_over_ipv6_next_hop_needs_extended_next_hop() -> None:
    rd_nh = bytes(8) + bytes(range(1, 17))
    nlri = bytes((24 + 64 + 24,)) + b"\0\0\x11" + bytes(8) + bytes((198, 51, 100))
    data = body(ORIGIN + AS_PATH + mp_reach(1, 128, rd_nh, nlri))
    with pytest.raises(UpdateMessageError):
        decode_update(data, CTX)
    update = decode_update(data, CodecContext(extended_nexthop=frozenset({(1, 128)})))
    assert update.mp_reach is not None and update.mp_reach.nlri == [nlri]


def test_ipv4_next_hop_for_ipv6_routes_is_sent_ipv4_mapped(codec: Codec) -> None:
    (message,) = codec.encode_updates(PathAttributes(origin=0), IPV6_UNICAST, ("192.0.2.1",), [V6], CTX)
    update = codec.decode_update(message[19:], CTX)
    assert update.mp_reach == MpReach(2, 1, ("::ffff:192.0.2.1",), [V6])


# ---- 3. treat-as-withdraw withdraws every prefix of every family --------------------------------


def test_treat_as_withdraw_withdraws_mp_reach_beside_an_ipv4_mp_unreach(codec: Codec) -> None:
    update = codec.decode_update(WITHDRAW_TWO_FAMILIES[19:], CTX)
    assert update.action == WITHDRAW and update.attributes is None and update.mp_reach is None
    assert update.withdrawn == [network_key("198.19.8.0/24")]
    assert update.mp_unreach == MpUnreach(2, 1, [network_key("2001:db8:a:1::/64")])


def test_treat_as_withdraw_moves_ipv4_mp_reach_and_mp_unreach_to_withdrawn(codec: Codec) -> None:
    v4b = network_key("203.0.113.0/24")
    data = body(attr(0x40, 1, b"\7") + AS_PATH + NEXT_HOP + mp_unreach(1, 1, v4b) + mp_reach(2, 1, bytes(15) + b"\1", V6),
                nlri=V4)
    update = codec.decode_update(data, CTX)
    assert update.action == WITHDRAW
    assert sorted(update.withdrawn) == sorted([V4, v4b])
    assert update.mp_unreach == MpUnreach(2, 1, [V6])


def test_treat_as_withdraw_merges_mp_reach_into_an_mp_unreach_of_its_family(codec: Codec) -> None:
    gone = network_key("2001:db8:2::/48")
    data = body(attr(0x40, 1, b"\7") + AS_PATH + mp_unreach(2, 1, gone) + mp_reach(2, 1, bytes(15) + b"\1", V6))
    update = codec.decode_update(data, CTX)
    assert update.mp_unreach == MpUnreach(2, 1, [gone, V6]) and update.withdrawn == []


def test_treat_as_withdraw_of_two_other_families_at_once_resets_the_session(codec: Codec) -> None:
    data = body(attr(0x40, 1, b"\7") + AS_PATH + mp_unreach(1, 2, V4) + mp_reach(2, 1, bytes(15) + b"\1", V6))
    with pytest.raises(UpdateMessageError) as err:
        codec.decode_update(data, CTX)
    assert err.value.subcode == UpdateSubcode.MALFORMED_ATTRIBUTE_LIST


# ---- 4. attribute flags (RFC 7606 §3 c) and families not negotiated (RFC 4760 §8) ---------------

FLAG_ROWS = [
    ("atomic_aggregate optional", attr(0xC0, 6, b""), WITHDRAW),
    ("atomic_aggregate partial", attr(0x60, 6, b""), WITHDRAW),
    ("aggregator well-known", attr(0x40, 7, struct.pack("!I", 65001) + bytes((192, 0, 2, 9))), WITHDRAW),
    ("aggregator non-transitive", attr(0x80, 7, struct.pack("!I", 65001) + bytes((192, 0, 2, 9))), WITHDRAW),
    ("local_pref partial", attr(0x60, 5, bytes(4)), WITHDRAW),
    ("atomic_aggregate length", attr(0x40, 6, b"\1"), DISCARD),
    ("aggregator length", attr(0xC0, 7, bytes(7)), DISCARD),
    ("aggregator partial is fine", attr(0xE0, 7, struct.pack("!I", 65001) + bytes((192, 0, 2, 9))), ErrorAction.NONE),
]


@pytest.mark.parametrize("name, extra, action", FLAG_ROWS, ids=[r[0] for r in FLAG_ROWS])
def test_attribute_flags_errors_take_the_rfc7606_outcome(codec: Codec, name: str, extra: bytes, action: ErrorAction) -> None:
    update = codec.decode_update(body(ORIGIN + AS_PATH + NEXT_HOP + extra, nlri=V4), CTX)
    assert update.action == action, update.problems
    if action == WITHDRAW:
        assert update.withdrawn == [V4] and update.nlri == [] and "flags" in " ".join(update.problems)
    else:
        assert update.nlri == [V4]


def test_partial_bit_on_well_known_origin_is_treat_as_withdraw(codec: Codec) -> None:
    update = codec.decode_update(body(attr(0x60, 1, b"\0") + AS_PATH + NEXT_HOP, nlri=V4), CTX)
    assert update.action == WITHDRAW and update.withdrawn == [V4]
    assert any("Partial bit" in p for p in update.problems)


ONLY_V4 = CodecContext(families=frozenset({IPV4_UNICAST}))


def test_mp_reach_of_a_family_not_negotiated_is_ignored(codec: Codec) -> None:
    data = body(ORIGIN + AS_PATH + NEXT_HOP + mp_reach(2, 1, bytes(15) + b"\1", V6), nlri=V4)
    update = codec.decode_update(data, ONLY_V4)
    assert update.action == DISCARD and update.mp_reach is None and update.nlri == [V4]
    assert update.attributes is not None and update.attributes.origin == 0
    assert any("ipv6-unicast, a family not negotiated" in p for p in update.problems)
    assert codec.decode_update(data, CTX).mp_reach == MpReach(2, 1, ("::1",), [V6])  # families=None: no check


def test_mp_unreach_of_a_family_not_negotiated_is_ignored_and_is_no_end_of_rib(codec: Codec) -> None:
    update = codec.decode_update(body(mp_unreach(2, 1, b"")), ONLY_V4)
    assert update.action == DISCARD and update.mp_unreach is None
    assert update.end_of_rib() is None
    assert codec.decode_update(body(mp_unreach(2, 1, b"")), CTX).end_of_rib() == IPV6_UNICAST


def test_mp_reach_not_negotiated_is_not_judged_but_a_second_one_still_resets(codec: Codec) -> None:
    bad_nh = mp_reach(2, 1, bytes(4), V6)  # a wrong next hop length: not looked at, the family is ignored
    assert codec.decode_update(body(ORIGIN + AS_PATH + bad_nh), ONLY_V4).action == DISCARD
    with pytest.raises(UpdateMessageError) as err:
        codec.decode_update(body(ORIGIN + AS_PATH + bad_nh + bad_nh), ONLY_V4)
    assert err.value.subcode == UpdateSubcode.MALFORMED_ATTRIBUTE_LIST


# ---- 2. the encoder never writes an empty or oversized message ---------------------------------


def _big(value_len: int) -> PathAttributes:
    return PathAttributes(origin=0, as_path=((2, (65001,)),), unknown=((0xC0, 200, bytes(value_len)),))


def _padded(length: int, keys: list[bytes]) -> PathAttributes:
    """Attributes that make the IPv4 UPDATE announcing ``keys`` exactly ``length`` octets long."""
    base = len(encode_updates(_big(0), IPV4_UNICAST, ("192.0.2.1",), keys, CodecContext(extended_message=True))[0])
    pad = length - base - 1  # over 255 octets the unknown attribute takes a second length octet
    attrs = _big(pad)
    assert len(encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), keys, CodecContext(extended_message=True))[0]) == length
    return attrs


def test_attributes_leaving_too_little_room_raise_attributes_too_large(codec: Codec) -> None:
    slash24, slash32 = network_key("198.51.100.0/24"), network_key("198.51.100.1/32")
    attrs = _padded(4096, [slash24])  # 4 octets of room: a /24 fits, a /32 (5 octets) does not
    (one,) = codec.encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), [slash24], CTX)
    assert len(one) == 4096
    with pytest.raises(AttributesTooLarge) as err:
        codec.encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), [slash24, slash32], CTX)
    assert err.value.max_message_len == 4096 and isinstance(err.value, UsageError)


def test_a_4085_octet_update_reflected_raises_instead_of_4094_plus_4099_octets(codec: Codec) -> None:
    keys = [network_key("198.51.100.128/25")]
    (message,) = codec.encode_updates(_padded(4085, keys), IPV4_UNICAST, ("192.0.2.1",), keys, CTX)
    assert len(message) == 4085
    update = codec.decode_update(message[19:], CTX)
    assert update.action == ErrorAction.NONE and update.nlri == keys and update.attributes is not None
    reflected = update.attributes._replace(next_hop=None, originator_id="192.0.2.7", cluster_list=("192.0.2.8",))
    with pytest.raises(AttributesTooLarge):
        codec.encode_updates(reflected, IPV4_UNICAST, ("192.0.2.1",), keys, CTX)
    (again,) = codec.encode_updates(reflected, IPV4_UNICAST, ("192.0.2.1",), keys, CodecContext(extended_message=True))
    assert len(again) == 4085 + 14


def test_mp_attributes_too_large_raise_for_ipv6_as_well(codec: Codec) -> None:
    with pytest.raises(AttributesTooLarge):
        codec.encode_updates(_big(4060), IPV6_UNICAST, ("2001:db8::1",), [V6], CTX)
    assert len(codec.encode_updates(_big(4060), IPV6_UNICAST, ("2001:db8::1",), [V6], CodecContext(extended_message=True))) == 1


FAMILIES = [IPV4_UNICAST, IPV6_UNICAST, (1, 2), (2, 2)]


@st.composite
def encodings(draw: st.DrawFn) -> tuple[PathAttributes, tuple[int, int], tuple[str, ...], list[bytes], CodecContext]:
    family = draw(st.sampled_from(FAMILIES))
    extended_message = draw(st.booleans())
    addpath = draw(st.booleans())
    ctx = CodecContext(extended_message=extended_message, addpath=frozenset({family}) if addpath else frozenset(),
                       extended_nexthop=frozenset({family}) if family[0] == 1 else frozenset())
    attrs = draw(path_attributes())
    limit = ctx.max_message_len
    # pad with an unknown attribute to bring the room for NLRI near zero, where packing goes wrong
    pad = draw(st.integers(0, 300) | st.integers(limit - 700, limit))
    attrs = attrs._replace(unknown=attrs.unknown + ((0xC0, 250, bytes(pad)),))
    if family[0] == 1 and draw(st.booleans()):
        next_hop: tuple[str, ...] = ("192.0.2.1",)
    else:
        next_hop = ("2001:db8::1", "fe80::1")[: draw(st.integers(1, 2))]
    keys = draw(prefix_keys(family[0], addpath, max_size=draw(st.sampled_from([5, 60, 1500]))))
    return attrs, family, next_hop, keys, ctx


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=encodings())
def test_every_encoded_message_fits_and_decodes_to_exactly_the_prefixes(codec: Codec, case: tuple) -> None:
    attrs, family, next_hop, keys, ctx = case
    assume(keys)
    try:
        messages = codec.encode_updates(attrs, family, next_hop, keys, ctx)
    except AttributesTooLarge:
        # then even the longest prefix alone in one message is over the limit
        longest = max(keys, key=len)
        if family == IPV4_UNICAST and ":" not in next_hop[0]:
            alone = Update([], attrs._replace(next_hop=next_hop[0]), [longest])
        else:
            alone = Update([], attrs, [], MpReach(*family, next_hop, [longest]))
        with pytest.raises(UsageError):  # over the limit, or one attribute over 65535 octets
            encode_update(alone, ctx)
        return
    decoded: list[bytes] = []
    for message in messages:
        assert 23 <= len(message) <= ctx.max_message_len
        assert int.from_bytes(message[16:18], "big") == len(message)
        update = codec.decode_update(message[19:], ctx)
        assert update.action == ErrorAction.NONE, update.problems
        got = update.nlri + (update.mp_reach.nlri if update.mp_reach else [])
        assert got, "an UPDATE without prefixes"
        decoded += got
    assert decoded == keys


def test_an_attribute_over_65535_octets_raises_attributes_too_large(codec: Codec) -> None:
    big = CodecContext(extended_message=True)
    with pytest.raises(AttributesTooLarge):
        codec.encode_updates(_big(70000), IPV4_UNICAST, ("192.0.2.1",), [V4], big)
    with pytest.raises(AttributesTooLarge):
        encode_update(Update([], _big(70000)._replace(next_hop="192.0.2.1"), [V4]), big)


def test_a_withdrawal_key_longer_than_a_message_is_a_usage_error_not_attributes_too_large(codec: Codec) -> None:
    with pytest.raises(UsageError) as err:
        codec.encode_withdrawals(IPV4_UNICAST, [bytes(5000)], CTX)
    assert not isinstance(err.value, AttributesTooLarge)
