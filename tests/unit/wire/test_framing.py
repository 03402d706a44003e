import struct

import pytest
from hypothesis import given, strategies as st

from bgpcore.constants import HeaderSubcode, MsgType
from bgpcore.errors import MessageHeaderError
from bgpcore.wire.framing import MessageReader, frame, split_messages

KEEPALIVE = frame(MsgType.KEEPALIVE, b"")


def _messages(count: int) -> list[bytes]:
    return [frame(MsgType.UPDATE, b"\0\0\0\0" + bytes(i % 7)) if i % 2 else KEEPALIVE for i in range(count)]


@given(st.lists(st.integers(1, 300), min_size=1, max_size=40))
def test_reader_yields_whole_messages_whatever_the_chunking(cuts: list[int]) -> None:
    msgs = _messages(25)
    stream = b"".join(msgs)
    reader = MessageReader()
    got: list[tuple[int, bytes]] = []
    pos = 0
    for cut in cuts * 100:
        if pos >= len(stream):
            break
        got += reader.feed(stream[pos : pos + cut])
        pos += cut
    got += reader.feed(stream[pos:])
    assert [frame(t, b) for t, b in got] == msgs
    assert reader.buffered == 0


def test_reader_one_byte_at_a_time_keeps_partial_message_buffered() -> None:
    reader = MessageReader()
    msg = frame(MsgType.UPDATE, b"\0\0\0\0")
    for b in msg[:-1]:
        assert reader.feed(bytes((b,))) == []
    assert reader.buffered == len(msg) - 1
    assert reader.feed(msg[-1:]) == [(MsgType.UPDATE, b"\0\0\0\0")]


def test_megabytes_in_one_feed() -> None:
    msgs = _messages(20000)
    assert len(MessageReader().feed(b"".join(msgs))) == 20000


def _raw(marker: bytes, length: int, msg_type: int, body: bytes = b"") -> bytes:
    return marker + struct.pack("!HB", length, msg_type) + body


@pytest.mark.parametrize(
    "raw, subcode, data",
    [
        (_raw(b"\xfe" * 16, 19, 4), HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, b""),
        (_raw(b"\xff" * 16, 18, 4), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x12"),
        (_raw(b"\xff" * 16, 4097, 2), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x10\x01"),
        (_raw(b"\xff" * 16, 20, 4, b"\0"), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x14"),
        (_raw(b"\xff" * 16, 21, 2), HeaderSubcode.BAD_MESSAGE_LENGTH, b"\x00\x15"),
        (_raw(b"\xff" * 16, 19, 9), HeaderSubcode.BAD_MESSAGE_TYPE, b"\x09"),
    ],
)
def test_bad_header_raises_message_header_error(raw: bytes, subcode: int, data: bytes) -> None:
    with pytest.raises(MessageHeaderError) as exc:
        MessageReader().feed(raw + b"\0" * 40)
    assert (exc.value.code, exc.value.subcode, exc.value.data) == (1, subcode, data)
    assert exc.value.notification()[19:] == bytes((1, subcode)) + data


def test_extended_message_length_accepted_only_when_negotiated() -> None:
    big = frame(MsgType.UPDATE, b"\0" * 6000)
    with pytest.raises(MessageHeaderError):
        MessageReader().feed(big)
    assert MessageReader(65535).feed(big) == [(MsgType.UPDATE, b"\0" * 6000)]


def test_open_longer_than_4096_refused_even_with_extended_messages() -> None:
    with pytest.raises(MessageHeaderError):
        split_messages(frame(MsgType.OPEN, b"\0" * 5000), 65535)
