"""The BFD Control packet codec (RFC 5880 §4.1) and the §6.8.6 checks about the packet itself."""
from __future__ import annotations

import struct

import pytest

from bgpcore.bfd.packet import BfdPacketError, ControlPacket, Diag, State, decode_control, encode_control

UP = ControlPacket(state=State.UP, diag=Diag.NONE, my_discriminator=0x01020304, your_discriminator=0x0A0B0C0D,
                   detect_mult=3, desired_min_tx_us=300_000, required_min_rx_us=200_000, required_min_echo_rx_us=50_000)


def _raw(vers: int = 1, diag: int = 0, state: int = 3, flags: int = 0, mult: int = 3, length: int = 24,
         my: int = 1, your: int = 2, tx: int = 1_000_000, rx: int = 1_000_000, echo: int = 0) -> bytes:
    return struct.pack("!BBBBIIIII", (vers << 5) | diag, (state << 6) | flags, mult, length, my, your, tx, rx, echo)


def test_encode_lays_out_the_fields_of_section_4_1() -> None:
    data = encode_control(UP)
    assert data.hex() == "20c00318" "01020304" "0a0b0c0d" "000493e0" "00030d40" "0000c350"


def test_decode_reads_back_what_encode_wrote() -> None:
    assert decode_control(encode_control(UP)) == UP


@pytest.mark.parametrize("flag", ["poll", "final", "control_plane_independent", "demand"])
def test_each_flag_round_trips(flag: str) -> None:
    pkt = ControlPacket(state=State.DOWN, my_discriminator=7, **{flag: True})
    back = decode_control(encode_control(pkt))
    assert getattr(back, flag) is True and back == pkt


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("diag", list(Diag))
def test_every_state_and_diag_round_trip(state: State, diag: Diag) -> None:
    pkt = ControlPacket(state=state, diag=diag, my_discriminator=9, your_discriminator=5)
    assert decode_control(encode_control(pkt)) == pkt


def test_reserved_diag_kept_as_a_number() -> None:
    assert decode_control(_raw(diag=17)).diag == 17


def test_trailing_bytes_beyond_length_are_ignored() -> None:
    assert decode_control(_raw() + b"\0\0\0\0").length == 24


def test_encode_refuses_a_field_too_wide() -> None:
    with pytest.raises(ValueError):
        encode_control(ControlPacket(state=State.UP, my_discriminator=1 << 32, your_discriminator=1))
    with pytest.raises(ValueError):
        encode_control(ControlPacket(state=State.UP, my_discriminator=1, detect_mult=256))


@pytest.mark.parametrize(("data", "reason"), [
    (_raw()[:23], "shorter than 24"),
    (_raw(vers=0), "version 0"),
    (_raw(vers=2), "version 2"),
    (_raw(length=23), "length field 23 too short"),
    (_raw(length=28), "exceeds the 24 bytes"),
    (_raw(flags=0x04, length=24) + b"\0\0", "length field 24 too short"),
    (_raw(mult=0), "detect multiplier is zero"),
    (_raw(flags=0x01), "multipoint"),
    (_raw(my=0), "my discriminator is zero"),
    (_raw(state=3, your=0), "your discriminator is zero in state UP"),
    (_raw(state=2, your=0), "your discriminator is zero in state INIT"),
    (_raw(flags=0x04, length=26) + b"\x01\x02", "authentication present"),
])
def test_reception_checks_discard_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BfdPacketError) as info:
        decode_control(data)
    assert reason in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("state", [0, 1])
def test_your_discriminator_zero_accepted_in_down_and_admin_down(state: int) -> None:
    assert decode_control(_raw(state=state, your=0)).your_discriminator == 0
