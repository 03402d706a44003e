"""Round trips of the control messages: decode(encode(x)) == x for every value hypothesis builds."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bgpcore.constants import HEADER_LEN, MAX_MESSAGE_LEN, SUBCODES, HeaderSubcode, MsgType, AddPathMode, CeaseSubcode, ErrorCode, RefreshSubtype, error_name
from bgpcore.wire.capabilities import (
    AddPath, Capability, EnhancedRouteRefresh, ExtendedMessage, ExtendedNextHop, FourOctetAs, Fqdn,
    GracefulRestart, Multiprotocol, RouteRefresh, UnknownCapability, decode_capabilities, encode_capabilities,
)
from bgpcore.errors import MessageHeaderError
from bgpcore.wire.context import DEFAULT_CONTEXT
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE, Keepalive, Message, decode_message, encode_message
from bgpcore.wire.notification import Notification, decode_notification, encode_notification, shutdown_data
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.refresh import RouteRefresh as RefreshMessage, decode_refresh, encode_refresh
from bgpcore.wire.types import Update

u8, u16, u32 = (st.integers(0, 2**n - 1) for n in (8, 16, 32))
label = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), max_size=40).filter(
    lambda s: len(s.encode()) <= 255)
known_codes = {1, 2, 5, 6, 64, 65, 69, 70, 73}

capabilities: st.SearchStrategy[Capability] = st.one_of(
    st.builds(Multiprotocol, u16, u8),
    st.just(RouteRefresh()),
    st.builds(ExtendedNextHop, st.lists(st.tuples(u16, u16, u16), min_size=1, max_size=8).map(tuple)),
    st.just(ExtendedMessage()),
    st.builds(GracefulRestart, st.integers(0, 15), st.integers(0, 4095), st.lists(st.tuples(u16, u8, u8), max_size=8).map(tuple)),
    st.builds(FourOctetAs, u32),
    st.builds(AddPath, st.lists(st.tuples(u16, u8, st.sampled_from(list(AddPathMode))), min_size=1, max_size=8).map(tuple)),
    st.just(EnhancedRouteRefresh()),
    st.builds(Fqdn, label, label),
    st.builds(UnknownCapability, u8.filter(lambda c: c not in known_codes), st.binary(max_size=255)),
)
ipv4 = u32.filter(bool).map(lambda n: ".".join(str(b) for b in n.to_bytes(4, "big")))
hold_time = u16.filter(lambda h: h not in (1, 2))


@given(st.lists(capabilities, max_size=12))
def test_capabilities_round_trip(caps: list[Capability]) -> None:
    assert decode_capabilities(encode_capabilities(caps)) == caps


@given(u16, hold_time, ipv4, st.lists(capabilities.filter(lambda c: not isinstance(c, FourOctetAs)), max_size=30))
def test_open_round_trip_including_rfc9072_long_parameters(my_as: int, hold: int, bgp_id: str, caps: list[Capability]) -> None:
    o = Open(my_as, hold, bgp_id, tuple(caps))
    message = encode_open(o)
    assert int.from_bytes(message[16:18], "big") == len(message)
    assert decode_open(message[HEADER_LEN:]) == o


@given(u32, hold_time, ipv4)
def test_open_four_octet_as_round_trip(asn: int, hold: int, bgp_id: str) -> None:
    o = Open(asn, hold, bgp_id, (Multiprotocol(1, 1), FourOctetAs(asn)))
    decoded = decode_open(encode_open(o)[HEADER_LEN:])
    assert decoded == o and decoded.asn == asn


every_known_pair = [(int(code), int(sub)) for code in ErrorCode for sub in (list(SUBCODES[code]) if code in SUBCODES else [0])]


@given(st.sampled_from(every_known_pair), st.binary(max_size=64))
def test_notification_round_trip_for_every_code_and_subcode(pair: tuple[int, int], data: bytes) -> None:
    n = Notification(pair[0], pair[1], data)
    decoded = decode_notification(encode_notification(n)[HEADER_LEN:])
    assert decoded == n
    assert decoded.name == error_name(*pair) and "/" in decoded.name
    assert decoded.name.split("/")[0] == ErrorCode(pair[0]).name


@given(u8, u8, st.binary(max_size=64))
def test_notification_round_trip_any_octets(code: int, subcode: int, data: bytes) -> None:
    n = Notification(code, subcode, data)
    assert decode_notification(encode_notification(n)[HEADER_LEN:]) == n


@given(st.text(max_size=300), st.sampled_from([CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET]), st.booleans())
def test_shutdown_message_round_trip_is_a_prefix_within_255_octets(text: str, subcode: int, hard_reset: bool) -> None:
    n = Notification(ErrorCode.CEASE, subcode, shutdown_data(text))
    if hard_reset:
        n = Notification(ErrorCode.CEASE, CeaseSubcode.HARD_RESET, bytes((n.code, n.subcode)) + n.data)
    message = decode_notification(encode_notification(n)[HEADER_LEN:]).shutdown_message
    assert message is not None and text.startswith(message)
    assert len(message.encode()) <= 255
    assert message == text or len(text.encode()) > 255


@given(u16, u8, st.sampled_from(list(RefreshSubtype)) | u8)
def test_route_refresh_round_trip_including_borr_and_eorr(afi: int, safi: int, subtype: int) -> None:
    r = RefreshMessage(afi, safi, subtype)
    assert decode_refresh(encode_refresh(r)[HEADER_LEN:]) == r


control_messages = st.one_of(
    st.builds(Open, u16, hold_time, ipv4, st.lists(capabilities.filter(lambda c: not isinstance(c, FourOctetAs)), max_size=6).map(tuple)),
    st.builds(Notification, u8, u8, st.binary(max_size=32)),
    st.builds(RefreshMessage, u16, u8, u8),
    st.just(Keepalive()),
)


@given(st.lists(control_messages, min_size=1, max_size=6))
def test_messages_survive_encode_frame_and_dispatch(messages: list[Message]) -> None:
    stream = b"".join(encode_message(m, DEFAULT_CONTEXT) for m in messages)
    framed = MessageReader(MAX_MESSAGE_LEN).feed(stream)
    assert [decode_message(t, body, DEFAULT_CONTEXT) for t, body in framed] == messages


def test_keepalive_is_the_bare_header() -> None:
    assert KEEPALIVE == b"\xff" * 16 + b"\x00\x13\x04"
    assert decode_message(MsgType.KEEPALIVE, b"", DEFAULT_CONTEXT) == Keepalive()


@pytest.mark.parametrize("msg_type, body, subcode, data", [
    (MsgType.KEEPALIVE, b"\x00", HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14"),
    (9, b"", HeaderSubcode.BAD_MESSAGE_TYPE, b"\x09"),
])
def test_dispatch_rejects_bad_keepalive_and_unknown_type(msg_type: int, body: bytes, subcode: int, data: bytes) -> None:
    with pytest.raises(MessageHeaderError) as info:
        decode_message(msg_type, body, DEFAULT_CONTEXT)
    assert (info.value.code, info.value.subcode, info.value.data) == (1, subcode, data)


def test_update_dispatches_to_the_update_codec() -> None:
    eor = encode_message(Update([], None, []), DEFAULT_CONTEXT)
    assert eor == b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
    decoded = decode_message(MsgType.UPDATE, eor[HEADER_LEN:], DEFAULT_CONTEXT)
    assert isinstance(decoded, Update) and decoded.end_of_rib() == (1, 1)
