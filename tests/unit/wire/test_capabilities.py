from __future__ import annotations

import pytest

from bgpcore.constants import AddPathMode, OpenSubcode
from bgpcore.errors import OpenMessageError
from bgpcore.wire.capabilities import (
    AddPath, EnhancedRouteRefresh, ExtendedMessage, ExtendedNextHop, FourOctetAs, Fqdn,
    GracefulRestart, Multiprotocol, RouteRefresh, UnknownCapability, decode_capabilities,
    encode_capabilities,
)

def test_multiprotocol_decodes_afi_and_safi_ignoring_reserved() -> None:
    assert decode_capabilities(bytes.fromhex("0104" "0002ff01")) == [Multiprotocol(2, 1)]


def test_empty_capabilities_decode_to_their_values() -> None:
    assert decode_capabilities(bytes.fromhex("0200" "0600" "4600")) == [RouteRefresh(), ExtendedMessage(), EnhancedRouteRefresh()]


def test_graceful_restart_splits_flags_and_time() -> None:
    caps = decode_capabilities(bytes.fromhex("4006" "c078" "00010180"))
    assert caps == [GracefulRestart(0xC, 120, ((1, 1, 0x80),))]


def test_four_octet_as_and_add_path_modes() -> None:
    caps = decode_capabilities(bytes.fromhex("4104fa56ea00" "4508" "00010103" "00020101"))
    assert caps == [FourOctetAs(4200000000), AddPath(((1, 1, AddPathMode.BOTH), (2, 1, AddPathMode.RECEIVE)))]


def test_extended_next_hop_entries_are_afi_safi_nexthop_afi() -> None:
    assert decode_capabilities(bytes.fromhex("0506000100010002")) == [ExtendedNextHop(((1, 1, 2),))]


def test_fqdn_hostname_and_domain() -> None:
    value = b"\x02r1\x0bexample.net"
    assert decode_capabilities(bytes((73, len(value))) + value) == [Fqdn("r1", "example.net")]


def test_fqdn_without_domain_octet_is_accepted() -> None:
    assert decode_capabilities(b"\x49\x03\x02r1") == [Fqdn("r1", "")]


def test_unknown_capability_is_kept_raw_and_reencoded_unchanged() -> None:
    data = bytes.fromhex("8000" "4d03010203")
    caps = decode_capabilities(data)
    assert caps[0] == UnknownCapability(0x80, b"") and caps[-1] == UnknownCapability(0x4D, b"\x01\x02\x03")
    assert encode_capabilities(caps) == data


@pytest.mark.parametrize("data", [
    "0103000100",          # MP value of 3 octets
    "010500010001ff",      # MP value of 5 octets
    "0201ff",              # route refresh with a value
    "050500010001ff",      # extended next hop not a multiple of 6
    "0500",                # extended next hop empty
    "400100",              # graceful restart shorter than its header
    "4005007800010100",    # graceful restart family truncated
    "4103000001",          # 4-octet AS of 3 octets
    "4503000101",          # add-path entry truncated
    "4902" "05" "72",      # FQDN hostname runs past the value
    "4904" "01" "72" "05" "64",  # FQDN domain runs past the value
    "41",                  # TLV header cut
    "4104fa56",            # TLV value runs past the parameter
])
def test_malformed_capability_raises_open_error_unspecific(data: str) -> None:
    with pytest.raises(OpenMessageError) as info:
        decode_capabilities(bytes.fromhex(data))
    assert (info.value.code, info.value.subcode) == (2, OpenSubcode.UNSPECIFIC)
    assert info.value.reason


def test_encode_matches_the_wire_layout() -> None:
    caps = [Multiprotocol(1, 1), FourOctetAs(65001), GracefulRestart(8, 90, ((2, 1, 0),))]
    assert encode_capabilities(caps).hex() == "010400010001" "41040000fde9" "4006805a00020100"
