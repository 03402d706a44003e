from __future__ import annotations

from rib_factories import make_path, source

from bgpcore.rib.decision import DecisionOptions
from bgpcore.rib.loc import Destination, LocRib
from bgpcore.route import Path
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.nlri import network_key

F = IPV4_UNICAST
K1, K2 = network_key("10.1.0.0/16"), network_key("10.2.0.0/16")


def test_single_path_is_stored_bare_and_reported_once_per_run() -> None:
    loc = LocRib()
    p = make_path(1)
    changes = loc.update(F, p, [K1, K2])
    assert [(c.keys, c.best, c.paths) for c in changes] == [([K1, K2], p, (p,))]
    assert type(loc.tables[F][K1]) is Path
    assert loc.update(F, p, [K1]) == [], "re-announcing the same path changes nothing"


def test_an_equal_route_in_another_path_object_changes_nothing() -> None:
    """A peer sending a route again may come with a new ``Path`` object (the Adj-RIB-In's path
    cache is bounded): equal is unchanged, alone or beside other peers' paths."""
    loc = LocRib()
    a = make_path(1, local_pref=200)
    again = make_path(1, local_pref=200, src=a.source)
    assert again == a and again is not a
    loc.update(F, a, [K1, K2])
    assert loc.update(F, again, [K1, K2]) == [] and loc.gained == 0
    b = make_path(2)
    loc.update(F, b, [K1])
    assert loc.update(F, make_path(1, local_pref=200, src=a.source), [K1]) == []
    assert loc.update(F, make_path(2, src=b.source), [K1]) == []
    assert loc.paths(F, K1) == [a, b] and loc.best(F, K1) is a
    changed = make_path(1, local_pref=10, src=a.source)
    assert [(c.keys, c.best) for c in loc.update(F, changed, [K1])] == [([K1], b)]


def test_second_path_runs_the_decision_and_reports_only_real_changes() -> None:
    loc = LocRib()
    worse = make_path(1, local_pref=50)
    better = make_path(2, local_pref=200)
    loc.update(F, worse, [K1])
    changes = loc.update(F, better, [K1])
    assert [(c.keys, c.best) for c in changes] == [([K1], better)]
    assert isinstance(loc.tables[F][K1], Destination)
    worst = make_path(3, local_pref=10)
    assert loc.update(F, worst, [K1]) == [], "a worse third path does not change the best"
    assert loc.paths(F, K1) == [better, worse, worst]


def test_replacing_a_peers_path_and_removing_back_to_one_path() -> None:
    loc = LocRib()
    a = make_path(1, local_pref=200)
    b = make_path(2)
    loc.update(F, a, [K1])
    loc.update(F, b, [K1])
    a2 = make_path(1, local_pref=10, src=a.source)
    changes = loc.update(F, a2, [K1])
    assert [c.best for c in changes] == [b]
    changes = loc.remove(F, 2, 0, [K1])
    assert [(c.keys, c.best) for c in changes] == [([K1], a2)]
    assert loc.tables[F][K1] is a2
    changes = loc.remove(F, 1, 0, [K1, K2])
    assert [(c.keys, c.best, c.paths) for c in changes] == [([K1], None, ())]
    assert loc.best(F, K1) is None and len(loc) == 0


def test_removing_a_path_of_another_peer_is_ignored() -> None:
    loc = LocRib()
    loc.update(F, make_path(1), [K1])
    assert loc.remove(F, 9, 0, [K1]) == []
    assert loc.best(F, K1) is not None


def test_multipath_change_is_reported_even_when_best_stays() -> None:
    loc = LocRib(DecisionOptions(maximum_paths=2))
    a = make_path(1, src=source(1, router_id="1.0.0.1"))
    b = make_path(2, src=source(2, router_id="1.0.0.2"))
    loc.update(F, a, [K1])
    changes = loc.update(F, b, [K1])
    assert [(c.best, c.paths) for c in changes] == [(a, (a, b))]
    assert loc.multipath(F, K1) == (a, b)


def test_a_better_med_does_not_shortcut_deterministic_med() -> None:
    # b beats w on router id; c beats b on MED (same AS) but loses to w on router id.
    b = make_path(1, as_path=(65001,), med=10, src=source(1, router_id="1.0.0.1"))
    w = make_path(2, as_path=(65002,), src=source(2, router_id="1.0.0.2"))
    c = make_path(3, as_path=(65001,), med=5, src=source(3, router_id="1.0.0.3"))
    loc = LocRib()
    loc.update(F, b, [K1])
    loc.update(F, w, [K1])
    assert loc.best(F, K1) is b
    loc.update(F, c, [K1])
    assert loc.best(F, K1) is w
    loc.remove(F, 2, 0, [K1])
    assert loc.best(F, K1) is c


def test_a_worse_local_pref_settles_without_reselection() -> None:
    loc = LocRib()
    best = make_path(1, local_pref=300)
    loc.update(F, best, [K1])
    loc.update(F, make_path(2, local_pref=100), [K1])
    assert loc.update(F, make_path(3, local_pref=50), [K1]) == []
    assert loc.remove(F, 2, 0, [K1]) == []
    assert loc.best(F, K1) is best
