from __future__ import annotations

import itertools

import pytest
from rib_factories import SEQ, make_path, source

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib.decision import (DecisionOptions, Reason, compare_paths, explain, select_best, select_multipath)
from bgpcore.route import LOCAL_SOURCE, as_path_length


def test_higher_local_pref_wins_and_missing_counts_as_100() -> None:
    a = make_path(1, local_pref=200)
    b = make_path(2)
    assert compare_paths(a, b) == (-1, Reason.LOCAL_PREF)
    assert compare_paths(make_path(1, local_pref=99), b) == (1, Reason.LOCAL_PREF)
    assert compare_paths(make_path(1, local_pref=100), b)[1] != Reason.LOCAL_PREF


def test_locally_originated_path_wins() -> None:
    local = make_path(1, as_path=(), src=LOCAL_SOURCE)
    assert compare_paths(local, make_path(2, as_path=())) == (-1, Reason.LOCAL_ORIGIN)


def test_as_path_length_counts_set_as_one_and_confederation_as_zero() -> None:
    path = ((SEQ, (1, 2)), (AsPathSegmentType.AS_SET, (3, 4, 5)), (AsPathSegmentType.AS_CONFED_SEQUENCE, (6, 7)))
    assert as_path_length(path) == 3
    assert compare_paths(make_path(1, as_path=(1, 2, 3)), make_path(2, as_path=(1, 2))) == (1, Reason.AS_PATH)


def test_lower_origin_wins() -> None:
    assert compare_paths(make_path(1, origin=2), make_path(2, origin=0)) == (1, Reason.ORIGIN)


def test_med_only_between_paths_from_the_same_neighbor_as() -> None:
    low = make_path(1, med=10, as_path=(65001,))
    high_same_as = make_path(2, med=50, as_path=(65001,))
    high_other_as = make_path(2, med=50, as_path=(65002,))
    assert compare_paths(low, high_same_as) == (-1, Reason.MED)
    assert compare_paths(low, high_other_as)[1] != Reason.MED
    assert compare_paths(low, high_other_as, DecisionOptions(always_compare_med=True)) == (-1, Reason.MED)


def test_missing_med_is_best_unless_configured_worst() -> None:
    none = make_path(1)
    some = make_path(2, med=5)
    assert compare_paths(none, some) == (-1, Reason.MED)
    assert compare_paths(none, some, DecisionOptions(med_missing_as_worst=True)) == (1, Reason.MED)


def test_ebgp_wins_over_ibgp() -> None:
    ebgp = make_path(2, src=source(2, asn=65001, ebgp=True))
    assert compare_paths(make_path(1), ebgp) == (1, Reason.EBGP)


def test_router_id_compares_numerically_and_uses_originator_id() -> None:
    a = make_path(1, src=source(1, router_id="10.0.0.2"))
    b = make_path(2, src=source(2, router_id="9.0.0.1"))
    assert compare_paths(a, b) == (1, Reason.ROUTER_ID)
    reflected = make_path(1, src=source(1, router_id="10.0.0.2"), originator_id="1.0.0.1")
    assert compare_paths(reflected, b) == (-1, Reason.ROUTER_ID)


def test_shorter_cluster_list_then_lower_neighbor_address() -> None:
    a = make_path(1, src=source(1, router_id="1.1.1.1"), cluster_list=("9.9.9.9",))
    b = make_path(2, src=source(2, router_id="1.1.1.1"))
    assert compare_paths(a, b) == (1, Reason.CLUSTER_LIST)
    c = make_path(3, src=source(3, router_id="1.1.1.1", address="10.0.0.30"))
    d = make_path(4, src=source(4, router_id="1.1.1.1", address="10.0.0.4"))
    assert compare_paths(c, d) == (1, Reason.NEIGHBOR_ADDRESS)


def test_same_neighbor_different_path_ids_are_ordered() -> None:
    src = source(1)
    assert compare_paths(make_path(1, src=src, path_id=1), make_path(1, src=src, path_id=2)) == (-1, Reason.PATH_ID)
    assert compare_paths(make_path(1, src=src), make_path(1, src=src)) == (0, Reason.EQUAL)


def test_explain_names_the_step_that_beat_the_closest_competitor() -> None:
    best = make_path(1, local_pref=200)
    paths = [best, make_path(2), make_path(3, local_pref=200, as_path=(1, 2))]
    assert select_best(paths) is best
    assert explain(best, paths) == Reason.AS_PATH
    assert explain(best, [best]) == Reason.ONLY_PATH


def _med_triangle() -> list:
    # Classic MED cycle: a beats b (MED, same AS), b beats c (router id), c beats a (router id).
    a = make_path(1, as_path=(65001,), med=10, src=source(1, router_id="3.3.3.3"))
    b = make_path(2, as_path=(65001,), med=20, src=source(2, router_id="1.1.1.1"))
    c = make_path(3, as_path=(65002,), med=0, src=source(3, router_id="2.2.2.2"))
    return [a, b, c]


@pytest.mark.parametrize("deterministic", [True, False])
def test_best_does_not_depend_on_arrival_order_even_with_a_med_cycle(deterministic: bool) -> None:
    options = DecisionOptions(deterministic_med=deterministic)
    paths = _med_triangle()
    winners = {select_best(list(order), options) for order in itertools.permutations(paths)}
    assert len(winners) == 1


def test_deterministic_med_picks_the_best_of_each_neighbor_as_first() -> None:
    a, b, c = _med_triangle()
    # Groups: 65001 -> a (MED 10 beats 20); then a vs c -> c (lower router id).
    assert select_best([a, b, c], DecisionOptions(deterministic_med=True)) is c


def test_multipath_needs_identical_as_path_unless_relaxed() -> None:
    best = make_path(1, as_path=(65001, 65010), src=source(1, router_id="1.1.1.1"))
    same = make_path(2, as_path=(65001, 65010), src=source(2, router_id="2.2.2.2"))
    other = make_path(3, as_path=(65002, 65010), src=source(3, router_id="3.3.3.3"))
    longer = make_path(4, as_path=(65002, 65010, 65011), src=source(4, router_id="0.0.0.4"))
    paths = [other, longer, same, best]
    strict = DecisionOptions(maximum_paths=4)
    assert select_multipath(paths, select_best(paths, strict), strict) == (best, same)
    relaxed = DecisionOptions(maximum_paths=4, multipath_relax=True)
    assert select_multipath(paths, select_best(paths, relaxed), relaxed) == (best, same, other)
    two = DecisionOptions(maximum_paths=2, multipath_relax=True)
    assert select_multipath(paths, best, two) == (best, same)
    assert select_multipath(paths, best, DecisionOptions()) == (best,)
