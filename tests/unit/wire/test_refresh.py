from __future__ import annotations

import pytest

from bgpcore.constants import RefreshSubtype
from bgpcore.errors import RouteRefreshError
from bgpcore.wire.refresh import RouteRefresh, decode_refresh, encode_refresh


def test_encode_places_subtype_between_afi_and_safi() -> None:
    assert encode_refresh(RouteRefresh(2, 1, RefreshSubtype.BORR)).hex() == "ff" * 16 + "0017" "05" "0002" "01" "01"


def test_plain_refresh_has_subtype_zero() -> None:
    assert decode_refresh(bytes.fromhex("00010001")) == RouteRefresh(1, 1, RefreshSubtype.NORMAL)


def test_unknown_subtype_is_decoded_for_the_session_to_ignore() -> None:
    assert decode_refresh(bytes.fromhex("00010701")).subtype == 7


def test_refresh_with_orf_entries_is_a_plain_refresh() -> None:
    assert decode_refresh(bytes.fromhex("00010001" "400001c0")) == RouteRefresh(1, 1)


@pytest.mark.parametrize("body", ["000101", "", "0001010100", "0001020100"])
def test_bad_length_is_invalid_message_length_with_the_whole_message(body: str) -> None:
    raw = bytes.fromhex(body)
    with pytest.raises(RouteRefreshError) as info:
        decode_refresh(raw)
    assert (info.value.code, info.value.subcode) == (7, 1)
    assert info.value.data == b"\xff" * 16 + (19 + len(raw)).to_bytes(2, "big") + b"\x05" + raw
