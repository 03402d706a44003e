from __future__ import annotations

import pytest

from bgpcore.constants import HEADER_LEN, CeaseSubcode, ErrorCode, OpenSubcode
from bgpcore.errors import MessageHeaderError, OpenMessageError
from bgpcore.wire.notification import Notification, decode_notification, encode_notification, shutdown_data


def test_encode_is_header_code_subcode_data() -> None:
    msg = encode_notification(Notification(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04"))
    assert msg.hex() == "ff" * 16 + "0017" "03" "02" "01" "0004"


def test_decode_reads_code_subcode_and_data() -> None:
    n = decode_notification(bytes.fromhex("0602") + b"\x03bye")
    assert n == Notification(6, 2, b"\x03bye")
    assert n.name == "CEASE/ADMINISTRATIVE_SHUTDOWN"
    assert n.shutdown_message == "bye"


def test_body_shorter_than_code_and_subcode_is_bad_length() -> None:
    with pytest.raises(MessageHeaderError) as info:
        decode_notification(b"\x06")
    assert (info.value.code, info.value.subcode, info.value.data) == (1, 2, (HEADER_LEN + 1).to_bytes(2, "big"))


def test_shutdown_message_only_for_administrative_shutdown_and_reset() -> None:
    assert Notification(6, CeaseSubcode.ADMINISTRATIVE_RESET, b"\x02hi").shutdown_message == "hi"
    assert Notification(6, CeaseSubcode.PEER_DECONFIGURED, b"\x02hi").shutdown_message is None
    assert Notification(6, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN).shutdown_message is None
    assert Notification(6, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, b"\x00").shutdown_message == ""


def test_shutdown_length_past_the_data_gives_no_message() -> None:
    assert Notification(6, 2, b"\x09short").shutdown_message is None


def test_invalid_utf8_shutdown_message_is_replaced_not_raised() -> None:
    assert Notification(6, 2, b"\x02\xff\xfe").shutdown_message == "\ufffd\ufffd"


def test_shutdown_data_cuts_at_255_octets_on_a_character_boundary() -> None:
    data = shutdown_data("é" * 200)  # 400 octets of UTF-8
    assert data[0] == 254 and len(data) == 255
    assert data[1:].decode("utf-8") == "é" * 127
    assert shutdown_data("maintenance") == b"\x0bmaintenance"


def test_hard_reset_exposes_the_wrapped_cease() -> None:
    inner = bytes((ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET)) + shutdown_data("reload")
    n = decode_notification(bytes((ErrorCode.CEASE, CeaseSubcode.HARD_RESET)) + inner)
    assert n.hard_reset
    assert n.cause == Notification(ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET, b"\x06reload")
    assert n.cause.name == "CEASE/ADMINISTRATIVE_RESET"
    assert n.shutdown_message == "reload"


def test_hard_reset_without_inner_code_is_its_own_cause() -> None:
    n = Notification(ErrorCode.CEASE, CeaseSubcode.HARD_RESET, b"\x06")
    assert n.cause is n and n.shutdown_message is None


def test_from_error_keeps_code_subcode_and_data() -> None:
    err = OpenMessageError(OpenSubcode.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04")
    n = Notification.from_error(err)
    assert n == Notification(2, 1, b"\x00\x04")
    assert encode_notification(n) == err.notification()


def test_unknown_codes_still_have_a_name() -> None:
    assert Notification(99, 7).name == "code 99 subcode 7"
    assert Notification(6, 77).name == "CEASE/77"
