from __future__ import annotations

import struct

import pytest

from bgpcore.constants import AS_TRANS, HEADER_LEN, MARKER, OpenSubcode
from bgpcore.errors import MessageHeaderError, OpenMessageError, UsageError
from bgpcore.wire.capabilities import FourOctetAs, Multiprotocol, RouteRefresh, UnknownCapability
from bgpcore.wire.open import Open, decode_open, encode_open


def body_of(message: bytes) -> bytes:
    assert message[:16] == MARKER and struct.unpack_from("!H", message, 16)[0] == len(message)
    return message[HEADER_LEN:]


def open_body(version: int = 4, my_as: int = 65001, hold: int = 90, bgp_id: str = "c0000201", params: str = "") -> bytes:
    p = bytes.fromhex(params)
    return struct.pack("!BHH", version, my_as, hold) + bytes.fromhex(bgp_id) + bytes((len(p),)) + p


def test_encode_puts_each_capability_in_its_own_parameter_like_frr() -> None:
    msg = encode_open(Open(65001, 180, "192.0.2.1", (Multiprotocol(1, 1), RouteRefresh())))
    assert msg[18] == 1
    assert body_of(msg).hex() == "04" "fde9" "00b4" "c0000201" "0c" "0206010400010001" "02020200"


def test_four_octet_as_goes_as_trans_in_the_two_octet_field() -> None:
    msg = encode_open(Open(4200000000, 90, "192.0.2.1", (FourOctetAs(4200000000),)))
    assert struct.unpack_from("!H", body_of(msg), 1)[0] == AS_TRANS
    decoded = decode_open(body_of(msg))
    assert decoded.my_as == decoded.asn == 4200000000


def test_asn_is_the_two_octet_field_without_the_capability() -> None:
    assert decode_open(open_body(my_as=64512)).asn == 64512


def test_large_as_without_capability_is_refused() -> None:
    with pytest.raises(UsageError):
        encode_open(Open(4200000000, 90, "192.0.2.1"))


def test_long_parameters_use_rfc9072_extended_length() -> None:
    caps = tuple(UnknownCapability(200, bytes([i]) * 100) for i in range(4))
    body = body_of(encode_open(Open(65001, 90, "192.0.2.1", caps)))
    assert body[9] == 255 and body[10] == 255
    assert struct.unpack_from("!H", body, 11)[0] == len(body) - 13 == 4 * (3 + 102)
    assert decode_open(body).capabilities == caps


def test_rfc9072_form_can_be_forced_for_short_parameters() -> None:
    o = Open(65001, 90, "192.0.2.1", (Multiprotocol(1, 1),))
    body = body_of(encode_open(o, extended_parameters=True))
    assert body[9:].hex() == "ff" "ff" "0009" "02" "0006" "010400010001"
    assert decode_open(body) == o


def test_rfc9072_form_is_accepted_even_when_short() -> None:
    params = bytes.fromhex("02" "0006" "010400010001")
    body = struct.pack("!BHH4sBBH", 4, 65001, 90, b"\xc0\0\2\1", 255, 255, len(params)) + params
    assert decode_open(body).capabilities == (Multiprotocol(1, 1),)


def test_capabilities_split_over_and_grouped_in_parameters_decode_alike() -> None:
    grouped = decode_open(open_body(params="020c" "010400010001" "010400020001"))
    split = decode_open(open_body(params="0206010400010001" "0206010400020001"))
    assert grouped.capabilities == split.capabilities == (Multiprotocol(1, 1), Multiprotocol(2, 1))


def test_hold_time_zero_and_three_are_acceptable() -> None:
    assert decode_open(open_body(hold=0)).hold_time_s == 0
    assert decode_open(open_body(hold=3)).hold_time_s == 3


@pytest.mark.parametrize("body, code, subcode, data", [
    (open_body(version=3), 2, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04"),
    (open_body(version=5), 2, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04"),
    (open_body(hold=1), 2, OpenSubcode.UNACCEPTABLE_HOLD_TIME, b""),
    (open_body(hold=2), 2, OpenSubcode.UNACCEPTABLE_HOLD_TIME, b""),
    (open_body(bgp_id="00000000"), 2, OpenSubcode.BAD_BGP_IDENTIFIER, b""),
    (open_body(params="0102abcd"), 2, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, b""),
    (open_body()[:-1] + b"\x05", 2, OpenSubcode.UNSPECIFIC, b""),             # params length past the end
    (open_body(params="0206010400010001") + b"\x00", 2, OpenSubcode.UNSPECIFIC, b""),  # trailing octet
    (open_body(params="0209010400010001ff00"), 2, OpenSubcode.UNSPECIFIC, b""),  # parameter past the end
    (open_body(params="02"), 2, OpenSubcode.UNSPECIFIC, b""),                 # parameter header cut
    (open_body(params="0203010400"), 2, OpenSubcode.UNSPECIFIC, b""),         # malformed capability
    (open_body()[:9] + b"\xff\xff\x00", 2, OpenSubcode.UNSPECIFIC, b""),      # RFC 9072 length cut
    (open_body()[:9], 1, 2, struct.pack("!H", 28)),                           # shorter than 29 octets
])
def test_malformed_open_raises_the_rfc_notification(body: bytes, code: int, subcode: int, data: bytes) -> None:
    with pytest.raises((OpenMessageError, MessageHeaderError)) as info:
        decode_open(body)
    assert (info.value.code, info.value.subcode, info.value.data) == (code, subcode, data)
