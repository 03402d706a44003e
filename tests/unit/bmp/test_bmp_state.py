"""BMP bytes without sockets: the codec's layout, the monitored state, snapshots and the [bmp] table."""
from __future__ import annotations

import struct

import pytest

from bgpcore import ConfigError
from bgpcore.bmp.codec import (
    MessageType,
    PeerDownReason,
    PeerFlag,
    PeerHeader,
    PeerType,
    StatType,
    decode_tlvs,
    encode_initiation,
    encode_peer_header,
    encode_termination,
    split_messages,
)
from bgpcore.bmp.exporter import parse_station
from bgpcore.bmp.state import BmpPeer, BmpState
from bgpcore.bmp.view import LOC_RIB, BmpView
from bgpcore.program.config import parse_config
from bgpcore.program.ops_config import BmpConfig
from bgpcore.route import LOCAL_SOURCE, Path, Source
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key, with_path_id
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update, encode_updates, encode_withdrawals

NOW = 1_700_000_000.25
ATTRS = PathAttributes(origin=0, as_path=((2, (65001, 4_200_000_000)),), med=3)
V4 = [network_key(f"10.{i // 256}.{i % 256}.0/24") for i in range(600)]
V6 = [network_key(f"2001:db8:{i:x}::/48") for i in range(50)]


def _peer(address: str = "192.0.2.2", **kw: object) -> BmpPeer:
    return BmpPeer(address=address, asn=65001, bgp_id="192.0.2.2", local_address="192.0.2.1", local_as=65000,
                   local_id="192.0.2.1", families=(IPV4_UNICAST, IPV6_UNICAST), **kw)  # type: ignore[arg-type]


def _state() -> BmpState:
    return BmpState(local_as=65000, router_id="192.0.2.1", sys_name="r1", sys_descr="bgpcore test")


def _updates(keys: list[bytes], family: tuple[int, int] = IPV4_UNICAST, hop: str = "192.0.2.2",
             ctx: CodecContext = DEFAULT_CONTEXT) -> list:  # type: ignore[type-arg]
    return [decode_update(m[19:], ctx) for m in encode_updates(ATTRS, family, (hop,), keys, ctx)]


def test_per_peer_header_layout_follows_rfc7854() -> None:
    raw = encode_peer_header(PeerHeader(PeerType.GLOBAL, PeerFlag.IPV6, "2001:db8::2", 4_200_000_000, "192.0.2.2",
                                        NOW))
    assert len(raw) == 42
    ptype, flags, rd, addr, asn, bgp_id, sec, usec = struct.unpack("!BB8s16sI4sII", raw)
    assert (ptype, flags, rd, asn, sec, usec) == (0, 0x80, bytes(8), 4_200_000_000, 1_700_000_000, 250_000)
    assert addr == bytes.fromhex("20010db8000000000000000000000002") and bgp_id == bytes([192, 0, 2, 2])
    v4 = encode_peer_header(PeerHeader(PeerType.GLOBAL, 0, "192.0.2.2", 1, "192.0.2.2", 0))
    assert v4[10:26] == bytes(12) + bytes([192, 0, 2, 2])


def test_initiation_and_termination_carry_their_tlvs() -> None:
    messages, used = split_messages(encode_initiation("r1", "bgpcore") + encode_termination(0, "bye"))
    assert used and [m.type for m in messages] == [MessageType.INITIATION, MessageType.TERMINATION]
    assert messages[0].body[:5] == b"\x00\x01\x00\x07b" and decode_tlvs(messages[0].body) == [(1, b"bgpcore"),
                                                                                          (2, b"r1")]
    assert decode_tlvs(messages[1].body) == [(0, b"bye"), (1, b"\x00\x00")]


def test_pre_policy_routes_and_loc_rib_reach_a_station_and_a_snapshot_rebuilds_them() -> None:
    state, view = _state(), BmpView()
    for m in [state.initiation()] + state.peer_up("192.0.2.2", _peer(), NOW):
        view.feed(m)
    for update in _updates(V4) + _updates(V6, IPV6_UNICAST, "2001:db8::2"):
        for m in state.route_received("192.0.2.2", update, NOW):
            view.feed(m)
    for m in encode_withdrawals(IPV4_UNICAST, V4[:5], DEFAULT_CONTEXT):
        for out in state.route_received("192.0.2.2", decode_update(m[19:], DEFAULT_CONTEXT), NOW):
            view.feed(out)
    source = Source(1, "192.0.2.2", "192.0.2.2", 65001, True)
    best = Path(ATTRS, ("192.0.2.2",), source)
    local = Path(PathAttributes(origin=0), (), LOCAL_SOURCE)
    for key in V4[5:]:
        for m in state.best_changed(IPV4_UNICAST, key, best, NOW):
            view.feed(m)
    assert state.best_changed(IPV4_UNICAST, V4[6], best, NOW) == []  # unchanged: nothing to say
    for m in state.best_changed(IPV6_UNICAST, V6[0], local, NOW):  # a local route: unspecified next hop
        view.feed(m)
    expected = {(IPV4_UNICAST, k) for k in V4[5:]} | {(IPV6_UNICAST, k) for k in V6}
    assert view.prefixes("192.0.2.2") == expected
    assert view.prefixes(LOC_RIB) == {(IPV4_UNICAST, k) for k in V4[5:]} | {(IPV6_UNICAST, V6[0])}
    assert view.routes["192.0.2.2"][(IPV4_UNICAST, V4[9])] == (ATTRS, ("192.0.2.2",))

    again = BmpView()
    for batch in state.snapshot(NOW + 1, chunk=100):
        assert len(batch) <= 100 or batch[0][5] == MessageType.INITIATION
        for m in batch:
            again.feed(m)
    assert again.initiations == 1 and again.events == [("up", LOC_RIB), ("up", "192.0.2.2")]
    assert again.routes == view.routes
    assert again.end_of_rib["192.0.2.2"] == {IPV4_UNICAST, IPV6_UNICAST}
    assert again.end_of_rib[LOC_RIB] == {IPV4_UNICAST, IPV6_UNICAST}
    # messages of the snapshot pack prefixes that share attributes: far fewer than prefixes
    assert again.messages < 30

    stats = state.statistics(NOW)
    for m in stats:
        again.feed(m)
    peer_stats = again.statistics["192.0.2.2"]
    assert struct.unpack("!Q", peer_stats[StatType.ADJ_RIB_IN_ROUTES]) == (len(expected),)
    assert struct.unpack("!HBQ", peer_stats[StatType.PER_FAMILY_ADJ_RIB_IN_ROUTES])[2] in (595, 50)
    assert struct.unpack("!Q", again.statistics[LOC_RIB][StatType.LOC_RIB_ROUTES]) == (596,)

    down = state.peer_down("192.0.2.2", "neighbor removed", NOW)
    messages, _ = split_messages(down[0])
    assert messages[0].type == MessageType.PEER_DOWN and messages[0].body[0] == PeerDownReason.DECONFIGURED
    assert state.peer_down("192.0.2.2", "again", NOW) == [] and state.route_received("192.0.2.2", _updates(V4)[0],
                                                                                         NOW) == []


def test_sync_loc_rib_sends_only_the_differences() -> None:
    state = _state()
    source = Source(1, "192.0.2.2", "192.0.2.2", 65001, True)
    a, b = Path(ATTRS, ("192.0.2.2",), source), Path(ATTRS._replace(med=9), ("192.0.2.2",), source)
    for key in V4[:10]:
        state.best_changed(IPV4_UNICAST, key, a, NOW)
    current = {k: (a,) for k in V4[1:10]} | {V4[3]: (b,), V4[20]: (b,)}
    view = BmpView()
    view.feed(b"".join(state.peer_up("x", _peer(), NOW)))  # any peer up gives the view a context
    out = state.sync_loc_rib(IPV4_UNICAST, current, NOW)
    assert len(out) == 3  # V4[0] withdrawn, V4[3] changed, V4[20] new
    assert set(state.loc_rib[IPV4_UNICAST]) == set(current)


def test_addpath_peers_are_announced_in_the_open_messages_of_peer_up() -> None:
    state = _state()
    ctx = CodecContext(addpath=frozenset({IPV4_UNICAST}))
    view = BmpView()
    view.feed(b"".join(state.peer_up("192.0.2.2", _peer(addpath=frozenset({IPV4_UNICAST})), NOW)))
    keys = [with_path_id(k, 7) for k in V4[:3]]
    for update in _updates(keys, ctx=ctx):
        view.feed(b"".join(state.route_received("192.0.2.2", update, NOW)))
    assert view.prefixes("192.0.2.2") == {(IPV4_UNICAST, k) for k in keys}


@pytest.mark.parametrize("text, parsed", [
    ("192.0.2.9:1790", ("192.0.2.9", 1790)),
    ("[2001:db8::9]:11019", ("2001:db8::9", 11019)),
    ("collector.example:5000", ("collector.example", 5000)),
])
def test_station_addresses(text: str, parsed: tuple[str, int]) -> None:
    assert parse_station(text) == parsed


@pytest.mark.parametrize("bad", ["192.0.2.9", "2001:db8::9:1790", "h:0", "h:99999", ":1790"])
def test_station_addresses_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_station(bad)


BASE = '[speaker]\nasn = 65000\nrouter_id = "192.0.2.1"\n'


def test_bmp_table() -> None:
    assert parse_config(BASE).ops.bmp is None
    config = parse_config(BASE + '[bmp]\nstation = ["192.0.2.9:1790", "[2001:db8::9]:1790"]\nstatistics_interval = 0\n')
    assert config.ops.bmp == BmpConfig(stations=(("192.0.2.9", 1790), ("2001:db8::9", 1790)), statistics_interval_s=0)
    assert parse_config(BASE + '[bmp]\nstation = "c:1"\n').ops.bmp == BmpConfig(stations=(("c", 1),))


@pytest.mark.parametrize("table, words", [
    ("[bmp]\n", ["bmp.station", "required"]),
    ('[bmp]\nstation = "192.0.2.9"\n', ["bmp.station", "address:port"]),
    ('[bmp]\nstation = "c:1"\nstatistics_interval = -1\n', ["bmp.statistics_interval"]),
    ('[bmp]\nstation = "c:1"\ncolour = 1\n', ["bmp.colour", "unknown key"]),
    ('[bmp]\nstation = []\n', ["bmp.station", "at least one"]),
])
def test_bmp_table_errors_name_the_key_and_line(table: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + table, "r.toml")
    assert str(info.value).startswith("r.toml:")
    for word in words:
        assert word in str(info.value)
