"""``show route PREFIX explain`` against generated path sets: the reported step is the first
decision step (``bgpcore.rib.decision.STEPS``) whose comparison is not a tie, the path a loser
lost to beats it, and following ``lost_to`` from any path ends at the best path."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib.decision import STEPS, DecisionOptions, Reason, rank_paths, select_best
from bgpcore.route import Path, Source
from bgpcore.program.explain import explain_paths
from bgpcore.wire.types import PathAttributes

SEQ = AsPathSegmentType.AS_SEQUENCE


@st.composite
def path_sets(draw: st.DrawFn) -> list[Path]:
    count = draw(st.integers(1, 7))
    paths = []
    for peer in range(count):
        neighbor = draw(st.sampled_from([65001, 65002, 65003]))
        tail = draw(st.lists(st.integers(64512, 64515), max_size=2))
        attrs = PathAttributes(
            origin=draw(st.sampled_from([0, 1, 2, None])),
            as_path=((SEQ, (neighbor, *tail)),) if draw(st.booleans()) or peer else (),
            med=draw(st.sampled_from([None, 0, 10, 20])),
            local_pref=draw(st.sampled_from([None, 100, 200])),
            originator_id=draw(st.sampled_from([None, "1.1.1.1", "9.9.9.9"])),
            cluster_list=tuple(draw(st.lists(st.sampled_from(["7.7.7.7", "8.8.8.8"]), max_size=2))),
        )
        ebgp = draw(st.booleans())
        source = Source(peer, draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.10", "2001:db8::1"])),
                        draw(st.sampled_from(["1.1.1.1", "2.2.2.2", "10.0.0.1"])), neighbor if ebgp else 65000,
                        ebgp, draw(st.booleans()), local=draw(st.booleans()) and peer == 0)
        paths.append(Path(attrs, ("192.0.2.1",), source, draw(st.integers(0, 2))))
    return paths


options = st.builds(DecisionOptions, always_compare_med=st.booleans(), deterministic_med=st.booleans(),
                    med_missing_as_worst=st.booleans())


def first_step(a: Path, b: Path, opts: DecisionOptions) -> tuple[int, Reason]:
    """The first step whose comparison of a and b is not a tie, with the decision module's own functions."""
    for reason, compare in STEPS:
        order = compare(a, b, opts)
        if order:
            return order, reason
    return 0, Reason.EQUAL


@settings(max_examples=400, deadline=None)
@given(path_sets(), options)
def test_each_loser_lost_to_a_better_path_on_the_first_step_that_differs(paths: list[Path],
                                                                        opts: DecisionOptions) -> None:
    verdicts = explain_paths(paths, opts)
    best = select_best(paths, opts)
    assert verdicts[0].path is best and verdicts[0].lost_to is None and verdicts[0].rank == 0
    assert [v.path for v in verdicts] == rank_paths(paths, opts)
    assert len(verdicts) == len(paths)
    if len(paths) == 1:
        assert verdicts[0].step is Reason.ONLY_PATH
    by_path = {id(v.path): v for v in verdicts}
    for v in verdicts[1:]:
        assert v.lost_to is not None and v.lost_to is not v.path
        order, step = first_step(v.lost_to, v.path, opts)
        assert order < 0, "the path it lost to is preferred to it"
        assert v.step is step
        assert v.vs_best == first_step(best, v.path, opts)
        if opts.always_compare_med:
            assert v.lost_to is best  # a total order: everyone lost to the best
        # the chain of eliminations ends at the best path, without a cycle
        seen = set()
        current = v
        while current.lost_to is not None:
            assert id(current.path) not in seen
            seen.add(id(current.path))
            current = by_path[id(current.lost_to)]
        assert current.path is best


def test_deterministic_med_names_the_group_winner_not_the_best() -> None:
    """Within a neighboring AS, MED decides; across ASes it does not: a path with a worse
    MED than its AS-mate lost on MED to that mate, even when the best path comes from
    another AS and would lose to it pairwise on the router id."""
    def path(peer: int, asn: int, med: int, router_id: str) -> Path:
        return Path(PathAttributes(origin=0, as_path=((SEQ, (asn,)),), med=med), ("192.0.2.1",),
                    Source(peer, f"10.0.0.{peer + 1}", router_id, asn, True))

    a1 = path(0, 65001, 0, "3.3.3.3")
    a2 = path(1, 65001, 10, "1.1.1.1")
    b = path(2, 65002, 0, "2.2.2.2")
    opts = DecisionOptions()
    verdicts = {v.path: v for v in explain_paths([a1, a2, b], opts)}
    assert verdicts[b].lost_to is None  # b beats a1 on router id
    assert verdicts[a1].lost_to is b and verdicts[a1].step is Reason.ROUTER_ID
    assert verdicts[a2].lost_to is a1 and verdicts[a2].step is Reason.MED
    assert verdicts[a2].vs_best == (1, Reason.ROUTER_ID)  # pairwise, a2 would beat b
