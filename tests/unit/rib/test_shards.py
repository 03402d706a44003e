from __future__ import annotations

import logging

import pytest
from rib_factories import source

from bgpcore.rib import accel
from bgpcore.rib.messages import AddPeer, Announce, Size
from bgpcore.rib.shard import ProcessShard, RibShard, ShardConfig, ShardFailure, shard_of
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes

CONFIG = ShardConfig(local_asn=65000, router_id="10.0.0.254", cluster_id="10.0.0.254")
KEYS = [bytes((24, 10, i, 0)) for i in range(64)]
ATTRS = PathAttributes(origin=0, next_hop="192.0.2.1", local_pref=100)


def test_shard_of_is_crc32_of_the_key_and_spreads_prefixes() -> None:
    import zlib
    assert [shard_of(k, 3) for k in KEYS[:8]] == [zlib.crc32(k) % 3 for k in KEYS[:8]]
    assert len({shard_of(k, 3) for k in KEYS}) == 3


def test_split_ops_gives_each_shard_its_prefixes_and_every_shard_the_count() -> None:
    shards = [RibShard(CONFIG) for _ in range(3)]
    for shard in shards:
        shard.add_peer(1, source(1, client=True), None, False, frozenset())
    parts = accel.split_ops([(True, 1, IPV4_UNICAST, ATTRS, ("192.0.2.1",), KEYS, 0)], 3, False)
    for index, (shard, ops) in enumerate(zip(shards, parts)):
        assert all(shard_of(k, 3) == index for op in ops for k in op[5])
        shard.ingest(ops)
    held = [set(s.loc.keys(IPV4_UNICAST)) for s in shards]
    assert set().union(*held) == set(KEYS) and sum(map(len, held)) == len(KEYS)
    assert all(held)
    # a batch none of whose prefixes hash to a shard still asks it for the peer's count
    mine = [k for k in KEYS if shard_of(k, 3) == 1]
    parts = accel.split_ops([(False, 1, IPV4_UNICAST, None, (), mine, 0)], 3, False)
    assert parts[0] == [(False, 1, IPV4_UNICAST, None, (), [], 0)]
    changes, counts = shards[0].ingest(parts[0])
    assert counts == {1: len(held[0])} and changes == []
    changes, counts = shards[1].ingest(parts[1])
    assert counts == {1: 0} and sorted(k for c in changes for k in c.keys) == sorted(held[1])


def test_split_by_shard_matches_crc32_on_both_paths() -> None:
    import os
    import random
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 22))) for _ in range(2000)]
    for cut in (0, 4):
        for count in (1, 2, 3, 5):
            expected = accel.py_split_by_shard(keys, cut, count)
            assert expected == accel.split_by_shard(keys, cut, count)
            assert all(shard_of(k[cut:], count) == i for i, part in enumerate(expected) for k in part)
    assert os.environ.get("BGPCORE_NO_EXTENSIONS") or accel.split_by_shard is not accel.py_split_by_shard


def test_ebgp_local_pref_is_ignored() -> None:
    shard = RibShard(CONFIG)
    shard.add_peer(1, source(1, asn=65001, ebgp=True), None, False, frozenset())
    shard.announce(1, IPV4_UNICAST, ATTRS._replace(local_pref=900, as_path=((2, (65001,)),)), ("192.0.2.1",), KEYS[:1])
    best = shard.loc.best(IPV4_UNICAST, KEYS[0])
    assert best is not None and best.attrs.local_pref is None


def test_worker_process_answers_and_reports_errors() -> None:
    worker = ProcessShard(CONFIG)
    try:
        worker.send(AddPeer(peer_id=1, source=source(1), import_policy=None, soft_reconfiguration=False,
                            addpath=frozenset()))
        assert worker.result() == ([], 0)  # no removal was going on
        worker.send(Announce(peer_id=1, family=IPV4_UNICAST, attrs=ATTRS, next_hop=("192.0.2.1",), keys=KEYS[:5]))
        changes, count = worker.result()
        assert count == 5 and changes[0].keys == KEYS[:5]
        worker.send(Announce(peer_id=99, family=IPV4_UNICAST, attrs=ATTRS, next_hop=("192.0.2.1",), keys=KEYS[:5]))
        with pytest.raises(ShardFailure, match="KeyError"):
            worker.result()
        worker.send(Size())
        assert worker.result() == 5, "the worker survives an error"
    finally:
        worker.close()
    assert not worker.process.is_alive()


def test_a_dead_worker_is_reported_not_waited_for() -> None:
    worker = ProcessShard(CONFIG)
    try:
        worker.process.kill()
        worker.process.join(5)
        with pytest.raises(ShardFailure, match="died"):
            worker.send(Size())
            worker.result()
    finally:
        worker.close()


def test_a_workers_log_lines_reach_the_parents_log(caplog: pytest.LogCaptureFixture) -> None:
    """A route dropped in a worker (here: our cluster id in its CLUSTER_LIST) is logged by the
    parent, as with one shard."""
    looped = ATTRS._replace(originator_id="192.0.2.9", cluster_list=("10.0.0.254",))
    with caplog.at_level(logging.INFO, logger="bgpcore"):
        worker = ProcessShard(CONFIG)
        try:
            worker.send(AddPeer(peer_id=1, source=source(1, client=True), import_policy=None,
                                soft_reconfiguration=False, addpath=frozenset()))
            worker.result()
            worker.send(Announce(peer_id=1, family=IPV4_UNICAST, attrs=looped, next_hop=("192.0.2.1",), keys=KEYS[:3]))
            assert worker.result() == ([], 0)
        finally:
            worker.close()
    dropped = [r for r in caplog.records if r.name == "bgpcore.rib" and "3 prefixes dropped" in r.getMessage()]
    assert dropped and "cluster id 10.0.0.254" in dropped[0].getMessage()


def test_split_ops_gives_equal_results_on_both_paths() -> None:
    import random
    rng = random.Random(3)
    ops = []
    for n in range(300):
        keys = [bytes((24, 10, rng.randrange(256), rng.randrange(256))) for _ in range(rng.randrange(0, 9))]
        announce = rng.random() < 0.8
        ops.append((announce, n % 4, IPV4_UNICAST, ATTRS._replace(med=n) if announce else None,
                    ("192.0.2.1",) if announce else (), keys, 0))
    for count in (1, 2, 3):
        for wire in (False, True):
            fast, slow = accel.split_ops(ops, count, wire), accel.py_split_ops(ops, count, wire)
            assert fast == slow
            assert all(op[3] is None or type(op[3]) is (tuple if wire else PathAttributes)
                       for part in fast for op in part)
            assert sorted(k for part in fast for op in part for k in op[5]) == sorted(k for op in ops for k in op[5])
