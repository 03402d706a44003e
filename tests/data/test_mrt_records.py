"""bgpcore.mrt on hand-made records: the layouts and damage the real dumps do not show."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

from bgpcore.mrt import (
    Bgp4mpSubtype, BgpMessage, MrtReader, MrtType, Peer, PeerIndexTable, RibEntry, StateChange, TableDumpV2Subtype,
    read_mrt,
)
from bgpcore.wire.messages import KEEPALIVE


def record(mrt_type: int, subtype: int, body: bytes, timestamp: int = 1_700_000_000) -> bytes:
    return struct.pack("!IHHI", timestamp, mrt_type, subtype, len(body)) + body


V6_PEER = bytes.fromhex("20010db8000000000000000000000001")
V6_LOCAL = bytes.fromhex("20010db8000000000000000000000002")


def bgp4mp_as4(subtype: int, tail: bytes) -> bytes:
    return struct.pack("!IIHH", 4200000000, 65000, 0, 2) + V6_PEER + V6_LOCAL + tail


def test_bgp4mp_over_ipv6_with_microseconds_and_state_changes() -> None:
    data = (record(MrtType.BGP4MP_ET, Bgp4mpSubtype.MESSAGE_AS4_ADDPATH, struct.pack("!I", 250000) + bgp4mp_as4(0, KEEPALIVE))
            + record(MrtType.BGP4MP, Bgp4mpSubtype.STATE_CHANGE_AS4, bgp4mp_as4(0, struct.pack("!HH", 5, 6))))
    message, change = read_mrt(data)
    assert isinstance(message, BgpMessage) and message.timestamp == 1_700_000_000.25
    assert (message.peer_as, message.peer_address, message.local_address) == (4200000000, "2001:db8::1", "2001:db8::2")
    assert message.message == KEEPALIVE and message.ctx.asn4 and (2, 1) in message.ctx.addpath
    assert change == StateChange(1_700_000_000, 4200000000, 65000, "2001:db8::1", "2001:db8::2", 5, 6)


def test_table_dump_v1_ipv6_entry() -> None:
    body = struct.pack("!HH", 0, 1) + V6_PEER + bytes((64, 1)) + struct.pack("!I", 99) + V6_LOCAL + struct.pack("!HH", 65001, 4) + b"\x40\x01\x01\x00"
    (entry,) = read_mrt(record(MrtType.TABLE_DUMP, 2, body))
    assert isinstance(entry, RibEntry)
    assert (entry.afi, entry.prefix, entry.peer, entry.originated) == (2, b"\x40" + V6_PEER[:8], Peer("0.0.0.0", "2001:db8::2", 65001), 99)
    assert not entry.ctx.asn4


def test_rib_prefix_trailing_bits_are_cleared_like_nlri_keys() -> None:
    peers = struct.pack("!4sHH", b"\xc0\x00\x02\x01", 0, 1) + bytes((2,)) + b"\xc0\x00\x02\x02" + b"\xc6\x33\x64\x01" + struct.pack("!I", 65001)
    rib = struct.pack("!I", 0) + b"\x17\xc6\x33\x65" + struct.pack("!H", 1) + struct.pack("!HIH", 0, 7, 0)
    table, entry = read_mrt(record(MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.PEER_INDEX_TABLE, peers)
                            + record(MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.RIB_IPV4_UNICAST, rib))
    assert isinstance(table, PeerIndexTable) and table.peers == (Peer("192.0.2.2", "198.51.100.1", 65001),)
    assert isinstance(entry, RibEntry) and entry.prefix == b"\x17\xc6\x33\x64"  # 198.51.100.0/23


def test_damaged_records_are_skipped_with_a_reason_and_reading_goes_on() -> None:
    good = record(MrtType.BGP4MP, Bgp4mpSubtype.MESSAGE_AS4, bgp4mp_as4(0, KEEPALIVE))
    damaged = [
        record(99, 0, b"ospf"),                                                   # unknown type
        record(MrtType.BGP4MP, 3, bgp4mp_as4(0, b"")),                            # unknown BGP4MP subtype
        record(MrtType.BGP4MP, Bgp4mpSubtype.MESSAGE_AS4, struct.pack("!IIHH", 1, 2, 0, 2) + V6_PEER),  # addresses cut
        record(MrtType.TABLE_DUMP_V2, 7, b"\0" * 8),                               # unknown TABLE_DUMP_V2 subtype
        record(MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.RIB_IPV6_UNICAST, struct.pack("!I", 0) + b"\x40\x20"),  # prefix cut
        record(MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.RIB_GENERIC, struct.pack("!IHB", 0, 1, 1) + b"\x00" + struct.pack("!H", 1)
               + struct.pack("!HIH", 0, 0, 9)),                                    # entry attributes cut (and no peer table)
        record(MrtType.TABLE_DUMP, 3, b""),                                        # unknown TABLE_DUMP subtype
        record(MrtType.TABLE_DUMP, 1, b"\0" * 8 + bytes((33, 1)) + b"\0" * 10),    # prefix length 33
        record(MrtType.TABLE_DUMP, 1, b"\0" * 8 + bytes((24, 1)) + b"\0" * 10 + struct.pack("!H", 40)),  # attributes cut
    ]
    reader = MrtReader(good + b"".join(damaged) + good)
    assert [type(r).__name__ for r in reader] == ["BgpMessage", "BgpMessage"]
    assert len(reader.problems) == len(damaged) and reader.note is None


def test_header_cut_and_corrupt_compression_end_with_a_note(tmp_path: Path) -> None:
    good = record(MrtType.BGP4MP, Bgp4mpSubtype.MESSAGE_AS4, bgp4mp_as4(0, KEEPALIVE))
    reader = MrtReader(good + good[:7])
    assert len(list(reader)) == 1 and reader.note == f"record header cut at offset {len(good)}"
    corrupt = tmp_path / "corrupt.gz"
    packed = gzip.compress(good * 50)
    corrupt.write_bytes(packed[:20] + bytes(b ^ 0x55 for b in packed[20:]))
    reader = MrtReader(corrupt)
    records = list(reader)
    assert all(r == records[0] for r in records)  # whatever came out before the damage is whole
    assert reader.note is not None and "corrupt" in reader.note
