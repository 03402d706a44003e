"""The Adj-RIB-In of a plain peer keeps counts, not a table: it answers from the Loc-RIB.

Every behaviour is checked for a plain peer and for peers that keep a table (import policy,
soft reconfiguration, ADD-PATH receive), with the Loc-RIB's C loop and with pure Python.
"""
from __future__ import annotations

import random
from typing import Iterator

import pytest
from rib_factories import source

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.rib import accel as rib_accel
from bgpcore.rib.settings import MaxPrefixAction
from bgpcore.rib import loc as loc_module
from bgpcore.rib.adj_in import AdjRibIn
from bgpcore.rib.shard import RibShard, ShardConfig
from bgpcore.route import BestChange, Path
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family
from bgpcore.wire.nlri import with_path_id
from bgpcore.wire.types import PathAttributes, Update

CONFIG = ShardConfig(local_asn=65000, router_id="10.0.0.254", cluster_id="10.0.0.254")
KEYS = [bytes((24, 10, i >> 8, i & 0xFF)) for i in range(400)]
SEQ = AsPathSegmentType.AS_SEQUENCE
KINDS = ("plain", "policy", "soft", "addpath")


@pytest.fixture(params=["c", "python"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Loc-RIB's C loop (when built) or its pure-Python path."""
    if request.param == "c":
        if rib_accel.insert_absent is None:
            pytest.skip("bgpcore_fast is not built, or BGPCORE_NO_EXTENSIONS is set")
    else:
        monkeypatch.setattr(loc_module, "insert_absent", None)
    yield request.param


def attrs(n: int, med: int = 0) -> PathAttributes:
    return PathAttributes(origin=0, as_path=((SEQ, (65000 + n,)),), next_hop=f"192.0.2.{n}", med=med)


def keep(family: Family, prefix: bytes, path: Path) -> Path | None:
    """An import policy that accepts every path as it is."""
    return path


class Peer:
    """A peer of one kind on a shard; keys in and out are plain prefix keys."""

    def __init__(self, shard: RibShard, peer_id: int, kind: str = "plain") -> None:
        self.shard, self.id, self.kind = shard, peer_id, kind
        self.up()

    def up(self) -> tuple[list[BestChange], int]:
        return self.shard.add_peer(self.id, source(self.id, asn=65000 + self.id, ebgp=True),
                                   keep if self.kind == "policy" else None, self.kind == "soft",
                                   frozenset({IPV4_UNICAST}) if self.kind == "addpath" else frozenset())

    def wire(self, keys: list[bytes]) -> list[bytes]:
        return [with_path_id(k, 0) for k in keys] if self.kind == "addpath" else keys

    def announce(self, keys: list[bytes], med: int = 0) -> tuple[list[BestChange], int]:
        return self.shard.announce(self.id, IPV4_UNICAST, attrs(self.id, med), (f"192.0.2.{self.id}",),
                                   self.wire(keys))

    def withdraw(self, keys: list[bytes]) -> tuple[list[BestChange], int]:
        return self.shard.withdraw(self.id, IPV4_UNICAST, self.wire(keys))

    @property
    def adj(self) -> AdjRibIn:
        return self.shard.peers[self.id]

    def routes(self) -> dict[bytes, Path]:
        routes = self.shard.adj_rib_in(self.id, IPV4_UNICAST, False)
        return {k[4:]: p for k, p in routes.items()} if self.kind == "addpath" else routes


def keys_of(changes: list[BestChange]) -> list[bytes]:
    return sorted(k for c in changes for k in c.keys)


def holders(shard: RibShard) -> dict[bytes, tuple[int, ...]]:
    """The peers each prefix has a path from, best first."""
    return {k: tuple(p.source.peer_id for p in shard.loc.paths(IPV4_UNICAST, k)) for k in shard.loc.keys(IPV4_UNICAST)}


@pytest.mark.parametrize("kind", KINDS)
def test_only_a_plain_peer_keeps_no_table_and_counts_stay_exact(kind: str, loops: str) -> None:
    shard = RibShard(CONFIG)
    other, peer = Peer(shard, 2), Peer(shard, 1, kind)
    other.announce(KEYS[100:300])
    assert peer.announce(KEYS[:200])[1] == 200
    assert peer.announce(KEYS[150:250], med=5)[1] == 250, "50 replaced, 50 new"
    assert peer.announce(KEYS[240:260] + KEYS[240:260])[1] == 260, "a key given twice counts once"
    assert peer.announce(KEYS[:10])[1] == 260, "the same path again"
    assert peer.withdraw(KEYS[:20] + KEYS[300:320])[1] == 240, "only keys that had the path count"
    assert peer.withdraw(KEYS[:20])[1] == 240
    assert shard.count(1) == peer.adj.count() == 240 and shard.count(2) == 200
    if kind == "plain":
        assert peer.adj.accepted == {} and peer.adj.counted == {IPV4_UNICAST: 240}
    else:
        assert len(peer.adj.accepted[IPV4_UNICAST]) == 240 and peer.adj.counted == {}
    assert sorted(peer.routes()) == KEYS[20:260]
    assert all(p.source.peer_id == 1 for p in peer.routes().values())


@pytest.mark.parametrize("kind", KINDS)
def test_withdrawing_unknown_keys_touches_no_other_peer(kind: str, loops: str) -> None:
    shard = RibShard(CONFIG)
    other, peer = Peer(shard, 2), Peer(shard, 1, kind)
    assert peer.withdraw(KEYS[:10]) == ([], 0), "a family it never sent"
    other.announce(KEYS[:10])
    peer.announce(KEYS[5:15])
    changes, count = peer.withdraw(KEYS[:5] + KEYS[15:20])
    assert changes == [] and count == 10
    assert {k: sorted(v) for k, v in holders(shard).items()} == {
        **{k: [2] for k in KEYS[:5]}, **{k: [1, 2] for k in KEYS[5:10]}, **{k: [1] for k in KEYS[10:15]}}
    assert peer.adj.count() == 10 and shard.count(2) == 10


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("budget", [None, 1, 64])
def test_peer_down_removes_only_its_paths_where_another_peer_has_the_prefix(kind: str, budget: int | None,
                                                                          loops: str) -> None:
    shard = RibShard(CONFIG)
    other = Peer(shard, 2)
    other.announce(KEYS[:100])
    peer = Peer(shard, 1, kind)
    peer.announce(KEYS[50:300])
    third = Peer(shard, 3)
    third.announce(KEYS[250:400])
    peer.announce(KEYS[100:150], med=7)
    changes, left = shard.remove_peer(1, budget)
    steps = [changes]
    assert left <= 250 and (budget is not None or left == 0)
    while left:
        changes, now = shard.drain(budget)
        assert now <= left
        left = now
        steps.append(changes)
    if budget is not None:  # a slice looks at ``budget`` keys: of the peer, or (plain) of the Loc-RIB
        assert all(len(keys_of(step)) <= budget for step in steps) and len(steps) <= 400 // budget + 1
    removed = [c for step in steps for c in step]
    assert keys_of([c for c in removed if c.best is None]) == KEYS[100:250]
    assert {c.best.source.peer_id for c in removed if c.best is not None} <= {2, 3}
    assert holders(shard) == {**{k: (2,) for k in KEYS[:100]}, **{k: (3,) for k in KEYS[250:400]}}
    assert shard.count(1) == 0 and shard.count(2) == 100 and shard.count(3) == 150
    assert shard.drain(None) == ([], 0)


@pytest.mark.parametrize("kind", KINDS)
def test_graceful_restart_marks_refreshes_and_purges_only_the_peers_prefixes(kind: str, loops: str) -> None:
    shard = RibShard(CONFIG)
    other, peer = Peer(shard, 2), Peer(shard, 1, kind)
    other.announce(KEYS[:100])
    peer.announce(KEYS[50:150])
    assert shard.mark_stale(1, None) == 100 and shard.mark_stale(2, frozenset({IPV6_UNICAST})) == 0
    peer.up()  # the session is back
    peer.announce(KEYS[60:80], med=1)  # refreshed
    peer.withdraw(KEYS[80:90] + KEYS[:10])  # withdrawn (and unknown)
    assert peer.adj.stale_count() == 70 and shard.count(1) == 90
    changes = shard.purge_stale(1, IPV4_UNICAST)
    assert keys_of([c for c in changes if c.best is None]) == KEYS[100:150]
    assert keys_of([c for c in changes if c.best is not None]) == KEYS[50:60] + KEYS[90:100]
    assert sorted(peer.routes()) == KEYS[60:80] and shard.count(1) == 20 and peer.adj.stale_count() == 0
    assert shard.purge_stale(1, None) == []


@pytest.mark.parametrize("kind", KINDS)
def test_adj_rib_in_shows_the_peers_paths_also_where_they_are_not_best(kind: str, loops: str) -> None:
    shard = RibShard(CONFIG)
    better, peer = Peer(shard, 2), Peer(shard, 3, kind)  # the older router id loses ties
    better.announce(KEYS[:10])
    peer.announce(KEYS[5:15], med=3)
    peer.announce(KEYS[12:15], med=4)
    routes = peer.routes()
    assert {shard.loc.best(IPV4_UNICAST, k).source.peer_id for k in KEYS[5:10]} == {2}  # type: ignore[union-attr]
    assert sorted(routes) == KEYS[5:15]
    assert {k: p.attrs.med for k, p in routes.items()} == {**dict.fromkeys(KEYS[5:12], 3), **dict.fromkeys(KEYS[12:15], 4)}
    assert len({id(p) for p in routes.values()}) == 2, "one shared path per attribute set"
    assert shard.adj_rib_in(3, IPV6_UNICAST, False) == {} and shard.adj_rib_in(9, IPV4_UNICAST, False) == {}
    assert shard.adj_rib_in(3, IPV4_UNICAST, True) == ({} if kind != "soft" else shard.adj_rib_in(3, IPV4_UNICAST, False))


def test_a_plain_peer_that_gets_an_import_policy_gets_its_table_back(loops: str) -> None:
    shard = RibShard(CONFIG)
    peer = Peer(shard, 1)
    Peer(shard, 2).announce(KEYS[:20])
    peer.announce(KEYS[10:30])
    shard.add_peer(1, source(1, asn=65001, ebgp=True), keep, False, frozenset())
    assert peer.adj.counted == {} and sorted(peer.adj.accepted[IPV4_UNICAST]) == KEYS[10:30]
    assert peer.withdraw(KEYS[:15])[1] == 15 and sorted(peer.routes()) == KEYS[15:30]
    shard.remove_peer(1)
    assert holders(shard) == {k: (2,) for k in KEYS[:20]}
    peer.up()
    peer.announce(KEYS[10:30])
    shard.add_peer(1, source(1, asn=65001, ebgp=True), None, False, frozenset({IPV4_UNICAST}))  # ADD-PATH now
    assert sorted(peer.adj.accepted[IPV4_UNICAST]) == [with_path_id(k, 0) for k in KEYS[10:30]]
    assert shard.withdraw(1, IPV4_UNICAST, [with_path_id(k, 0) for k in KEYS[25:]])[1] == 15
    shard.remove_peer(1)
    assert holders(shard) == {k: (2,) for k in KEYS[:20]}


@pytest.mark.parametrize(("before", "after"), [("addpath", "policy"), ("policy", "addpath"), ("addpath", "plain")])
def test_a_peer_whose_add_path_receive_changed_loses_its_kept_routes_at_once(before: str, after: str,
                                                                             loops: str) -> None:
    """Kept (stale) routes cannot be refreshed under keys of another ADD-PATH setting: they
    leave the Loc-RIB when the session comes back, and the new session starts clean."""
    shard = RibShard(CONFIG)
    other, peer = Peer(shard, 2), Peer(shard, 1, before)
    other.announce(KEYS[:20])
    peer.announce(KEYS[10:30])
    shard.mark_stale(1, None)  # graceful restart: routes kept
    assert holders(shard)[KEYS[25]] == (1,)
    peer.kind = after
    changes, _left = peer.up()
    assert keys_of([c for c in changes if c.best is None]) == KEYS[20:30]
    assert keys_of([c for c in changes if c.best is not None]) == KEYS[10:20]  # back to the other peer's path
    assert holders(shard) == {k: (2,) for k in KEYS[:20]}
    assert shard.count(1) == 0 and shard.mark_stale(1, None) == 0
    assert peer.announce(KEYS[:5])[1] == 5 and sorted(peer.routes()) == KEYS[:5]
    assert shard.purge_stale(1, None) == []  # nothing stale is left to purge
    assert sorted(peer.routes()) == KEYS[:5]


def test_the_path_cache_of_a_plain_peer_keeps_only_paths_in_use(loops: str) -> None:
    shard = RibShard(CONFIG)
    peer = Peer(shard, 1)
    for i, key in enumerate(KEYS):  # one attribute set per prefix
        peer.announce([key], med=i)
    assert len(peer.adj._paths) == len(KEYS)
    peer.withdraw(KEYS[:300])
    assert len(peer.adj._paths) == 100, "swept once half the cache was withdrawn"
    peer.announce(KEYS[300:], med=10**6)  # replaces the other 100
    assert [p.attrs.med for p in peer.adj._paths.values()] == [10**6]
    peer.withdraw(KEYS)
    assert peer.adj._paths == {}


def test_random_operations_give_a_plain_peer_what_a_peer_with_a_table_gets(loops: str) -> None:
    rng = random.Random(7)
    shards = {kind: RibShard(CONFIG) for kind in ("plain", "policy")}
    peers = {kind: [Peer(shard, 1, kind), Peer(shard, 2), Peer(shard, 3, kind)] for kind, shard in shards.items()}
    for step in range(300):
        op, who = rng.random(), rng.randrange(3)
        keys = rng.sample(KEYS[:120], rng.randrange(1, 30))
        med = rng.randrange(3)
        seen = []
        for kind, shard in shards.items():
            peer = peers[kind][who]
            changes: list[BestChange] = []
            if op < 0.5:
                changes, count = peer.announce(keys, med)
            elif op < 0.8:
                changes, count = peer.withdraw(keys)
            elif op < 0.85:
                count = shard.mark_stale(peer.id, None)
            elif op < 0.9:
                changes, count = shard.purge_stale(peer.id, None), 0
            else:  # down for good, its paths leave in slices (in each kind's order), and back
                changes, count = shard.remove_peer(peer.id, 8)
                while count:
                    more, count = shard.drain(8)
                    changes += more
                changes += peer.up()[0]
            seen.append((keys_of(changes), count,
                         [shard.count(p) for p in (1, 2, 3)], holders(shard),
                         [sorted(shard.adj_rib_in(p, IPV4_UNICAST, False).items()) for p in (1, 2, 3)],
                         [shard.peers[p].stale_count() for p in (1, 2, 3)]))
        assert seen[0] == seen[1], f"step {step}"


@pytest.mark.parametrize("shards", [1, 2])
def test_a_plain_peer_through_the_rib_in_one_or_two_shards(shards: int) -> None:
    me = "10.0.0.254"

    def peer(n: int, **kw: object) -> RibPeer:
        return RibPeer(asn=65000 + n, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=me, **kw)  # type: ignore[arg-type]

    with Rib(RibConfig(local_asn=65000, router_id=me, shards=shards)) as rib:
        rib.peer_up(1, peer(1, max_prefix=150, max_prefix_action=MaxPrefixAction.RESTART, restart_time_s=5.0))
        rib.peer_up(2, peer(2))
        rib.receive(2, Update([], attrs(2), KEYS[:100]))
        rib.receive(1, Update([], attrs(1), KEYS[50:150]))
        rib.receive(1, Update(KEYS[:60], None, []))
        rib.flush()
        assert rib.prefix_count(1) == 90 and rib.prefix_count(2) == 100 and rib.take_actions() == []
        assert sorted(rib.adj_rib_in(1, IPV4_UNICAST)) == KEYS[60:150]
        rib.receive(1, Update([], attrs(1, 1), KEYS[150:250]))
        rib.flush()
        assert rib.prefix_count(1) == 190 and len(rib.take_actions()) == 1, "over the limit: one Cease"
        rib.peer_down(1, graceful=True, now=0.0)
        assert len(rib) == 250
        rib.peer_up(1, peer(1, restart_time_s=5.0), now=1.0)
        rib.receive(1, Update([], attrs(1, 2), KEYS[200:210]))
        rib.end_of_rib(1, IPV4_UNICAST)
        assert rib.prefix_count(1) == 10  # the purge's own count, before any other UPDATE
        rib.receive(1, Update(KEYS[390:], None, []))  # unknown keys change nothing
        assert sorted(rib.adj_rib_in(1, IPV4_UNICAST)) == KEYS[200:210] and rib.prefix_count(1) == 10
        assert len(rib) == 110
        rib.peer_down(1, stream=True)
        rib.peer_up(1, peer(1))  # back while (perhaps) still draining: starts from nothing
        assert not rib.draining and len(rib) == 100 and rib.prefix_count(1) == 0
        rib.receive(1, Update([], attrs(1), KEYS[:5]))
        rib.flush()
        assert rib.prefix_count(1) == 5 and sorted(rib.adj_rib_in(1, IPV4_UNICAST)) == KEYS[:5]


def test_a_peer_back_while_its_full_table_drains_starts_from_nothing(loops: str) -> None:
    shard = RibShard(CONFIG)
    other, peer = Peer(shard, 2), Peer(shard, 1)
    other.announce(KEYS[::2])
    peer.announce(KEYS)
    first, left = shard.remove_peer(1, 50)
    assert 0 < left < len(KEYS) and shard.count(1) == 0
    rest, left = peer.up()
    assert left == 0 and len(shard.loc) == len(KEYS[::2])
    assert keys_of([c for c in first + rest if c.best is None]) == sorted(KEYS[1::2])
    peer.announce(KEYS[:3])
    assert shard.drain(None) == ([], 0) and shard.count(1) == 3 and sorted(peer.routes()) == sorted(KEYS[:3])
