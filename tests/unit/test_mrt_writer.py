"""The MRT writer read back by the MRT reader: RIB dumps (with ADD-PATH), BGP4MP records,
the update log's rotation, the [mrt] table and ``bgpcore mrt`` lines."""
from __future__ import annotations

from pathlib import Path as FilePath

import pytest

from bgpcore import ConfigError, MrtReader, read_mrt
from bgpcore.mrt import BgpMessage, PeerIndexTable, RibEntry, StateChange, decode_rib_attributes
from bgpcore.mrt_write import (
    RibDumpBuilder,
    encode_bgp4mp_message,
    encode_bgp4mp_state_change,
    encode_rib_attributes,
)
from bgpcore.program.config import parse_config
from bgpcore.program.mrt_cli import mrt_lines
from bgpcore.program.ops import MrtUpdateLog
from bgpcore.program.ops_config import MrtConfig
from bgpcore.route import LOCAL_SOURCE, Path, Source
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update, encode_updates

NOW = 1_700_000_000.5
A = Source(1, "192.0.2.2", "192.0.2.2", 65001, True)
B = Source(2, "2001:db8::3", "192.0.2.3", 4_200_000_000, True)
ATTRS = PathAttributes(origin=0, as_path=((2, (65001, 4_200_000_000)),), med=5, communities=(65001 << 16 | 7,),
                       large_communities=((65001, 1, 2),))


def test_rib_dump_reads_back_with_peers_paths_and_next_hops() -> None:
    builder = RibDumpBuilder("192.0.2.1", 65000, view_name="loc-rib")
    p1, p2 = Path(ATTRS, ("192.0.2.2",), A), Path(ATTRS, ("192.0.2.9",), B)
    p6 = Path(ATTRS, ("2001:db8::3", "fe80::3"), B)
    local = Path(PathAttributes(origin=0, local_pref=100), ("192.0.2.1",), LOCAL_SOURCE)
    v4 = [(network_key("10.0.0.0/8"), (p1, p2)), (network_key("198.51.100.0/24"), (local,))]
    v6 = [(network_key("2001:db8:1::/48"), (p6,))]
    body = b"".join(builder.records(IPV4_UNICAST, v4, NOW)) + b"".join(builder.records(IPV6_UNICAST, v6, NOW))
    records = list(read_mrt(builder.peer_index_table(NOW) + body))
    table = records[0]
    assert isinstance(table, PeerIndexTable) and table.view_name == "loc-rib" and table.collector_id == "192.0.2.1"
    assert [(p.address, p.asn) for p in table.peers] == [("192.0.2.2", 65001), ("2001:db8::3", 4_200_000_000),
                                                         ("0.0.0.0", 65000)]
    entries = [r for r in records if isinstance(r, RibEntry)]
    assert [(e.prefix, e.peer.address, e.originated, e.path_id) for e in entries] == [
        (network_key("10.0.0.0/8"), "192.0.2.2", int(NOW), None),
        (network_key("10.0.0.0/8"), "2001:db8::3", int(NOW), None),
        (network_key("198.51.100.0/24"), "0.0.0.0", int(NOW), None),
        (network_key("2001:db8:1::/48"), "2001:db8::3", int(NOW), None)]
    decoded = [decode_rib_attributes(e) for e in entries]
    assert decoded[0].attributes == ATTRS._replace(next_hop="192.0.2.2")
    assert decoded[3].mp_reach is not None and decoded[3].mp_reach.next_hop == ("2001:db8::3", "fe80::3")
    assert decoded[3].attributes._replace(next_hop=None) == ATTRS


def test_addpath_paths_use_the_rfc8050_subtypes() -> None:
    builder = RibDumpBuilder("192.0.2.1", 65000)
    paths = (Path(ATTRS, ("192.0.2.2",), A, path_id=1), Path(ATTRS, ("192.0.2.2",), A, path_id=2))
    body = b"".join(builder.records(IPV4_UNICAST, [(network_key("10.0.0.0/8"), paths)], NOW))
    data = builder.peer_index_table(NOW) + body  # the table names the peers the records met
    assert data[12 + int.from_bytes(data[8:12], "big") + 6:][:2] == b"\x00\x08"  # RIB_IPV4_UNICAST_ADDPATH
    entries = [r for r in read_mrt(data) if isinstance(r, RibEntry)]
    assert [e.path_id for e in entries] == [1, 2]


def test_an_ipv4_next_hop_of_ipv6_routes_is_ipv4_mapped() -> None:
    raw = encode_rib_attributes(ATTRS, IPV6_UNICAST, ("192.0.2.2",))
    assert bytes.fromhex("00000000000000000000ffffc0000202") in raw


def test_bgp4mp_records_read_back() -> None:
    message = encode_updates(ATTRS, IPV4_UNICAST, ("192.0.2.2",), [network_key("10.0.0.0/8")], DEFAULT_CONTEXT)[0]
    data = (encode_bgp4mp_state_change(5, 6, peer_as=65001, local_as=65000, peer_address="192.0.2.2",
                                       local_address="192.0.2.1", timestamp=NOW, extended_time=True)
            + encode_bgp4mp_message(message, peer_as=65001, local_as=65000, peer_address="192.0.2.2",
                                    local_address="192.0.2.1", timestamp=NOW)
            + encode_bgp4mp_message(message, peer_as=65001, local_as=65000, peer_address="2001:db8::2",
                                    local_address="", timestamp=NOW))
    state, m4, m6 = list(read_mrt(data))
    assert isinstance(state, StateChange) and (state.old_state, state.new_state, state.timestamp) == (5, 6, NOW)
    assert isinstance(m4, BgpMessage) and m4.message == message and m4.ctx.asn4 and m4.timestamp == int(NOW)
    assert isinstance(m6, BgpMessage) and (m6.peer_address, m6.local_address) == ("2001:db8::2", "::")
    assert decode_update(m4.message[19:], m4.ctx).attributes == ATTRS._replace(next_hop="192.0.2.2")
    lines = list(mrt_lines(MrtReader(data)))
    assert lines[0] == "BGP4MP|1700000000|STATE|192.0.2.2|65001|5|6"
    assert lines[1] == ("BGP4MP|1700000000|A|192.0.2.2|65001|10.0.0.0/8|65001 4200000000|IGP|192.0.2.2|0|5|"
                        "65001:7|NAG||")


def test_update_log_rotates_on_interval_boundaries(tmp_path: FilePath) -> None:
    clock = [3600.0 * 100 + 10]
    log = MrtUpdateLog(str(tmp_path), 900, "updates.%Y%m%d.%H%M", 65000, clock=lambda: clock[0])
    from bgpcore.bmp.state import BmpPeer

    log.peer_up("192.0.2.2", BmpPeer(address="192.0.2.2", asn=65001, bgp_id="192.0.2.2", local_address="192.0.2.1",
                                     local_as=65000, local_id="192.0.2.1"))
    clock[0] += 900
    log.peer_down("192.0.2.2")
    log.peer_down("192.0.2.2")  # not up: nothing
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["updates.19700105.0400", "updates.19700105.0415"]
    assert [type(r).__name__ for name in names for r in read_mrt(str(tmp_path / name))] == ["StateChange"] * 2
    assert log.records == 2


BASE = '[speaker]\nasn = 65000\nrouter_id = "192.0.2.1"\n'


def test_mrt_table() -> None:
    assert parse_config(BASE).ops.mrt is None
    assert parse_config(BASE + '[mrt]\ndump_dir = "/tmp/x"\n').ops.mrt == MrtConfig(dump_dir="/tmp/x")
    config = parse_config(BASE + '[mrt]\ndump_dir = "d"\nrib_interval = 0\nupdates_interval = 300\n'
                                 'rib_file = "bview.%Y%m%d"\n')
    assert config.ops.mrt == MrtConfig(dump_dir="d", rib_interval_s=0, updates_interval_s=300, rib_file="bview.%Y%m%d")


@pytest.mark.parametrize("table, key", [
    ("[mrt]\n", "mrt.dump_dir"),
    ('[mrt]\ndump_dir = "d"\nrib_interval = 0.5\n', "mrt.rib_interval"),
    ('[mrt]\ndump_dir = "d"\nupdates_interval = true\n', "mrt.updates_interval"),
    ('[mrt]\ndump_dir = "d"\nrib_file = "a/b"\n', "mrt.rib_file"),
    ('mrt = 3\n', "mrt"),
])
def test_mrt_table_errors_name_the_key(table: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(BASE + table)
