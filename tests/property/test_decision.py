"""Best-path selection is a total, deterministic order (STYLE.md §3, RFC 4271 §9.1.2.2)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib.decision import (DecisionOptions, Reason, compare_paths, rank_paths, select_best, select_multipath,
                                  sorted_paths)
from bgpcore.route import Path, Source
from bgpcore.wire.types import PathAttributes

SEQ = AsPathSegmentType.AS_SEQUENCE


@st.composite
def path_lists(draw: st.DrawFn, max_size: int = 6) -> list[Path]:
    count = draw(st.integers(1, max_size))
    paths = []
    for peer in range(count):
        neighbor = draw(st.sampled_from([65001, 65002, 65003]))
        tail = draw(st.lists(st.integers(64512, 64520), max_size=2))
        as_path = ((SEQ, (neighbor, *tail)),) if draw(st.booleans()) or peer else ()
        attrs = PathAttributes(
            origin=draw(st.sampled_from([0, 1, 2, None])),
            as_path=as_path,
            med=draw(st.sampled_from([None, 0, 10, 20])),
            local_pref=draw(st.sampled_from([None, 100, 200])),
            originator_id=draw(st.sampled_from([None, "1.1.1.1", "9.9.9.9"])),
            cluster_list=tuple(draw(st.lists(st.sampled_from(["7.7.7.7", "8.8.8.8"]), max_size=2))),
        )
        ebgp = draw(st.booleans())
        source = Source(peer, draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.10", "2001:db8::1"])),
                        draw(st.sampled_from(["1.1.1.1", "2.2.2.2", "10.0.0.1"])), neighbor if ebgp else 65000,
                        ebgp, draw(st.booleans()))
        paths.append(Path(attrs, ("192.0.2.1",), source, draw(st.integers(0, 3))))
    return paths


options = st.builds(DecisionOptions, always_compare_med=st.booleans(), deterministic_med=st.booleans(),
                    med_missing_as_worst=st.booleans())


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@given(path_lists(), options)
def test_compare_is_antisymmetric_and_never_ties_distinct_paths(paths: list[Path], opts: DecisionOptions) -> None:
    for a in paths:
        for b in paths:
            ab, why_ab = compare_paths(a, b, opts)
            ba, why_ba = compare_paths(b, a, opts)
            assert _sign(ab) == -_sign(ba) and why_ab == why_ba
            assert (ab == 0) == (a is b)
            assert (why_ab == Reason.EQUAL) == (a is b)


@given(path_lists(), options)
def test_compare_is_transitive_when_med_is_always_compared(paths: list[Path], opts: DecisionOptions) -> None:
    opts = DecisionOptions(always_compare_med=True, med_missing_as_worst=opts.med_missing_as_worst)
    for a in paths:
        for b in paths:
            for c in paths:
                if compare_paths(a, b, opts)[0] < 0 and compare_paths(b, c, opts)[0] < 0:
                    assert compare_paths(a, c, opts)[0] < 0


@given(path_lists(), options, st.randoms(use_true_random=False))
def test_best_is_independent_of_arrival_order(paths: list[Path], opts: DecisionOptions, rnd) -> None:
    best = select_best(paths, opts)
    shuffled = list(paths)
    rnd.shuffle(shuffled)
    assert select_best(shuffled, opts) is best
    assert rank_paths(shuffled, opts) == rank_paths(paths, opts)
    multipath = DecisionOptions(maximum_paths=3, multipath_relax=True, always_compare_med=opts.always_compare_med)
    assert select_multipath(shuffled, best, multipath) == select_multipath(paths, best, multipath)


@given(path_lists(), options)
def test_with_always_compare_med_best_beats_every_other_path(paths: list[Path], opts: DecisionOptions) -> None:
    opts = DecisionOptions(always_compare_med=True, med_missing_as_worst=opts.med_missing_as_worst)
    best = select_best(paths, opts)
    assert all(compare_paths(best, p, opts)[0] < 0 for p in paths if p is not best)
    assert sorted_paths(paths, opts)[0] is best
    assert rank_paths(paths, opts) == sorted_paths(paths, opts)


@settings(max_examples=50)
@given(path_lists(), options)
def test_deterministic_med_best_wins_its_own_neighbor_as(paths: list[Path], opts: DecisionOptions) -> None:
    from bgpcore.rib.decision import neighbor_as
    opts = DecisionOptions(deterministic_med=True, med_missing_as_worst=opts.med_missing_as_worst)
    best = select_best(paths, opts)
    same_as = [p for p in paths if neighbor_as(p) == neighbor_as(best) and p is not best]
    assert all(compare_paths(best, p, opts)[0] < 0 for p in same_as)


@settings(max_examples=150)
@given(path_lists(max_size=5), path_lists(max_size=5), st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)),
                                                                min_size=1, max_size=25),
       options, st.integers(1, 3))
def test_loc_rib_incremental_best_equals_a_fresh_selection(first: list[Path], second: list[Path],
                                                           ops: list[tuple[int, int]], opts: DecisionOptions,
                                                           maximum_paths: int) -> None:
    """Adding, replacing and removing paths one at a time ends where a fresh decision would."""
    from bgpcore.rib.loc import LocRib
    opts = DecisionOptions(always_compare_med=opts.always_compare_med, deterministic_med=opts.deterministic_med,
                           med_missing_as_worst=opts.med_missing_as_worst, maximum_paths=maximum_paths)
    # Variants of each peer's path: the same source, two attribute sets.
    variants = {}
    for i, (a, b) in enumerate(zip(first, second)):
        src = a.source._replace(peer_id=i)
        variants[i] = (a._replace(source=src, path_id=0), b._replace(source=src, path_id=0))
    loc = LocRib(opts)
    family, key = (1, 1), b"\x18\x0a\x00\x00"
    current: dict[int, Path] = {}
    for peer, action in ops:
        if peer not in variants:
            continue
        if action == 2:
            if peer in current:
                loc.remove(family, peer, 0, [key])
                del current[peer]
        else:
            current[peer] = variants[peer][action]
            loc.update(family, current[peer], [key])
        paths = list(current.values())
        if not paths:
            assert loc.best(family, key) is None
            continue
        best = select_best(paths, opts)
        assert loc.best(family, key) == best  # an equal route sent again keeps the Path object it had
        assert loc.multipath(family, key) == select_multipath(paths, best, opts)


@given(path_lists(), options)
def test_decision_key_orders_like_compare_paths(paths: list[Path], opts: DecisionOptions) -> None:
    from bgpcore.rib.decision import decision_key, neighbor_as
    for a in paths:
        for b in paths:
            order = _sign(compare_paths(a, b, opts)[0])
            comparable = opts.always_compare_med or neighbor_as(a) == neighbor_as(b)
            ka, kb = decision_key(a, opts, comparable), decision_key(b, opts, comparable)
            assert order == ((ka > kb) - (ka < kb))
