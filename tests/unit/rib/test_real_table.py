"""A real multi-peer table (RouteViews TABLE_DUMP_V2, shared data) through the RIB."""
from __future__ import annotations

import itertools
from pathlib import Path as FsPath

import pytest

from bgpcore.mrt import PeerIndexTable, RibEntry, decode_rib_attributes, read_mrt
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.route import as_path_length
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import Update

DUMP = "mrt/pyasn/rib.20140523.0600_firstMB.bz2"
ME = "198.51.100.1"
LIMIT = 40000


def load(shared_data: FsPath) -> tuple[dict[int, RibPeer], list[tuple[int, Update]]]:
    """Each collector peer becomes an eBGP peer; routes with equal attributes form one UPDATE."""
    peers: dict[int, RibPeer] = {}
    runs: dict[tuple[int, bytes], list[bytes]] = {}
    decoded: dict[bytes, object] = {}
    index: dict[tuple[str, str, int], int] = {}
    for record in itertools.islice(read_mrt(shared_data / DUMP), LIMIT):
        if isinstance(record, PeerIndexTable) or not isinstance(record, RibEntry):
            continue
        if record.afi != 1:
            continue
        peer = index.setdefault(tuple(record.peer), len(index) + 1)
        if peer not in peers:
            peers[peer] = RibPeer(asn=record.peer.asn, router_id=record.peer.bgp_id, address=record.peer.address,
                                   local_address=ME)
        runs.setdefault((peer, record.attributes), []).append(record.prefix)
        if record.attributes not in decoded:
            decoded[record.attributes] = decode_rib_attributes(record).attributes
    updates = [(peer, Update([], decoded[raw], keys)) for (peer, raw), keys in runs.items()]  # type: ignore[arg-type]
    return peers, updates


@pytest.fixture(scope="module")
def table(shared_data: FsPath) -> tuple[dict[int, RibPeer], list[tuple[int, Update]]]:
    if not (shared_data / DUMP).exists():
        pytest.skip(f"{DUMP} not in shared data")
    return load(shared_data)


def run(table: tuple[dict[int, RibPeer], list[tuple[int, Update]]], shards: int) -> dict[bytes, tuple]:
    peers, updates = table
    with Rib(RibConfig(local_asn=64496, router_id=ME, shards=shards)) as rib:
        for peer, info in peers.items():
            rib.peer_up(peer, info)
        for peer, update in updates:
            rib.receive(peer, update)
        rib.flush()
        return {k: (p[0].source.peer_id, p[0].attrs) for k, p in rib.best_paths(IPV4_UNICAST).items()}


def test_best_path_of_a_real_table_has_the_shortest_as_path(table) -> None:  # type: ignore[no-untyped-def]
    peers, updates = table
    best = run(table, 1)
    offered: dict[bytes, list] = {}
    for peer, update in updates:
        for key in update.nlri:
            offered.setdefault(key, []).append((peer, update.attributes))
    assert len(peers) > 10 and len(best) == len(offered) > 1000
    multi = 0
    for key, (peer, attrs) in best.items():
        lengths = [as_path_length(a.as_path) for _, a in offered[key]]
        assert as_path_length(attrs.as_path) == min(lengths), "no LOCAL_PREF from eBGP: shortest AS_PATH wins"
        multi += len(offered[key]) > 1
    assert multi > 1000


def test_a_real_table_gives_the_same_best_paths_in_worker_shards(table) -> None:  # type: ignore[no-untyped-def]
    assert run(table, 2) == run(table, 1)
