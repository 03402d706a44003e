"""Typed shard requests: ``handle`` carries out every one of them, in-process and in a worker."""
from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any, get_args

import pytest
from rib_factories import source

from bgpcore.rib.adj_out import ExportSpec
from bgpcore.rib.messages import (SHARD_REQUESTS, AddGroup, AddMember, AddPeer, AdjRibInRoutes, Advertised,
                                  Announce, AttachMember, BestPaths, Candidates, DetachMember, Drain, Forget, Generate,
                                  GenerateMember, IngestBatch, MarkStale, PrefixCount, PurgeStale, RemoveGroup, RemovePeer,
                                  ShardRequest, Size, SoftResetIn, Withdraw, handle)
from bgpcore.rib.shard import LocalShard, ProcessShard, RibShard, ShardConfig
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes

CONFIG = ShardConfig(local_asn=65000, router_id="10.0.0.254", cluster_id="10.0.0.254")
KEYS = [bytes((24, 10, i, 0)) for i in range(8)]
ATTRS = PathAttributes(origin=0, next_hop="192.0.2.1", local_pref=100)
ATTRS2 = PathAttributes(origin=0, next_hop="192.0.2.2", local_pref=200)
SPEC = ExportSpec(local_asn=65000, cluster_id="10.0.0.254", ebgp=False, rr_client=True, local_address="10.0.0.254")
V4 = IPV4_UNICAST

# Every request once, in an order that gives each something to do, with the direct call it stands for.
SCRIPT: list[tuple[ShardRequest, Callable[[RibShard], Any]]] = [
    (AddPeer(peer_id=1, source=source(1, client=True), import_policy=None, soft_reconfiguration=True,
             addpath=frozenset()),
     lambda s: s.add_peer(1, source(1, client=True), None, True, frozenset())),
    (AddPeer(peer_id=2, source=source(2, client=True), import_policy=None, soft_reconfiguration=False,
             addpath=frozenset()),
     lambda s: s.add_peer(2, source(2, client=True), None, False, frozenset())),
    (AddGroup(group_id=7, spec=SPEC), lambda s: s.add_group(7, SPEC)),
    (Announce(peer_id=1, family=V4, attrs=ATTRS, next_hop=("192.0.2.1",), keys=KEYS[:4]),
     lambda s: s.announce(1, V4, ATTRS, ("192.0.2.1",), KEYS[:4])),
    (IngestBatch(ops=[(True, 2, V4, ATTRS2, ("192.0.2.2",), KEYS[2:6], 0)]),
     lambda s: s.ingest([(True, 2, V4, ATTRS2, ("192.0.2.2",), KEYS[2:6], 0)])),
    (Withdraw(peer_id=1, family=V4, keys=KEYS[:1]), lambda s: s.withdraw(1, V4, KEYS[:1])),
    (Generate(group_id=7, budget_bytes=4096), lambda s: s.generate(7, 4096)),
    (Forget(group_id=7, family=V4, keys=KEYS[5:6], strip=0), lambda s: s.forget(7, V4, KEYS[5:6], 0)),
    (Advertised(group_id=7, family=V4), lambda s: s.advertised(7, V4)),
    (AddMember(group_id=7, member=2), lambda s: s.add_member(7, 2)),
    (GenerateMember(group_id=7, member=2, budget_bytes=4096), lambda s: s.generate_member(7, 2, 4096)),
    (DetachMember(group_id=7, member=2, keys={V4: KEYS[2:3]}), lambda s: s.detach_member(7, 2, {V4: KEYS[2:3]})),
    (AttachMember(group_id=7, member=2), lambda s: s.attach_member(7, 2)),
    (SoftResetIn(peer_id=1, import_policy=None), lambda s: s.soft_reset_in(1, None)),
    (BestPaths(family=V4), lambda s: s.best_paths(V4)),
    (Candidates(family=V4, key=network_key("203.0.113.0/24")), lambda s: s.loc.paths(V4, network_key("203.0.113.0/24"))),
    (AdjRibInRoutes(peer_id=1, family=V4, received=True), lambda s: s.adj_rib_in(1, V4, True)),
    (PrefixCount(peer_id=1), lambda s: s.count(1)),
    (MarkStale(peer_id=1, families=None), lambda s: s.mark_stale(1, None)),
    (PurgeStale(peer_id=1, family=None), lambda s: s.purge_stale(1, None)),
    (RemovePeer(peer_id=2, budget=2), lambda s: s.remove_peer(2, 2)),
    (Drain(budget=None), lambda s: s.drain(None)),
    (RemoveGroup(group_id=7), lambda s: s.remove_group(7)),
    (Size(), lambda s: s.size()),
]


def direct_results() -> list[Any]:
    shard = RibShard(CONFIG)
    return [call(shard) for _, call in SCRIPT]


def test_the_script_covers_every_request_class() -> None:
    assert set(SHARD_REQUESTS) == set(get_args(ShardRequest)) and len(SHARD_REQUESTS) == len(get_args(ShardRequest))
    assert {type(r) for r, _ in SCRIPT} == set(SHARD_REQUESTS)


def test_handle_gives_what_the_shard_method_gives() -> None:
    expected = direct_results()
    shard = RibShard(CONFIG)
    got = [handle(shard, request) for request, _ in SCRIPT]
    assert got == expected
    assert expected[3][1] == 4 and expected[-1] == 0, "the script did real work"


def test_anything_else_is_refused() -> None:
    with pytest.raises(AssertionError):
        handle(RibShard(CONFIG), ("size", ()))  # type: ignore[arg-type]


def test_requests_are_frozen_and_survive_pickling() -> None:
    for request, _ in SCRIPT:
        assert pickle.loads(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)) == request
        assert not hasattr(request, "__dict__"), "slotted"
        for field in dataclasses.fields(request):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(request, field.name, None)


@pytest.mark.parametrize("where", ["local", "worker"])
def test_local_and_worker_shards_answer_every_request_alike(where: str) -> None:
    expected = direct_results()
    shard = LocalShard(CONFIG) if where == "local" else ProcessShard(CONFIG)
    try:
        got = []
        for request, _ in SCRIPT:
            shard.send(request)
            got.append(shard.result())
    finally:
        shard.close()
    assert got == expected
