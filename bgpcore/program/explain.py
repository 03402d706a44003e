"""``show route PREFIX explain``: why the best path won and where every other path lost.

For each losing path the explanation names the path that *eliminated* it and the decision
step of that comparison (the first ``bgpcore.rib.decision.STEPS`` step whose comparison is
not a tie, as ``compare_paths`` reports it). Which path eliminates which follows the
selection the RIB runs (``select_best``):

* ``always_compare_med``: the order is total; every losing path lost to the best path.
* ``deterministic_med`` (the default): paths are grouped by neighboring AS. A path that is not
  its group's best lost to its group's best (MED is compared inside a group); a group's best
  that is not the overall best lost to the overall best (MED is not compared across ASes).
* neither: paths are compared one after another in canonical order (neighbor address, path
  id); a path lost to the current best it was compared with when it fell out.

Two more comparisons are reported for reading, not as the reason: ``vs_best`` (the step of
``compare_paths(best, path)``; with MED grouping the pair may even order the other way, since
MED makes the pairwise relation non-transitive) and ``vs_previous`` (against the path ranked
just before it by ``rank_paths``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bgpcore.rib.decision import DecisionOptions, Reason, compare_paths, neighbor_as, rank_paths, select_best
from bgpcore.route import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class PathVerdict:
    """One path of a prefix in the decision.

    Attributes:
        path: the path.
        rank: 0 for the best path, then the order of ``rank_paths``.
        lost_to: the path that eliminated it (None for the best path).
        step: the step it lost on against ``lost_to`` (``Reason.ONLY_PATH``/the winning step
            for the best path: see ``best_step``).
        vs_best: (order, step) of ``compare_paths(best, path)``; order > 0 means the pair
            alone would prefer this path (MED non-transitivity).
        vs_previous: (order, step) against the path ranked just before it, or None.
    """

    path: Path
    rank: int
    lost_to: Path | None
    step: Reason
    vs_best: tuple[int, Reason] | None
    vs_previous: tuple[int, Reason] | None


def eliminations(paths: Sequence[Path], options: DecisionOptions) -> tuple[Path, dict[int, Path]]:
    """The best path and, for every other path (by index in ``paths``), the path that eliminated it."""
    if not paths:
        raise ValueError("no paths to explain")
    best = select_best(paths, options)
    beaten: dict[int, Path] = {}
    index = {id(p): i for i, p in enumerate(paths)}
    if options.always_compare_med:
        for i, p in enumerate(paths):
            if p is not best:
                beaten[i] = best
    elif options.deterministic_med:
        groups: dict[int, list[Path]] = {}
        for p in paths:
            groups.setdefault(neighbor_as(p), []).append(p)
        for group in groups.values():
            winner = select_best(group, options)
            for p in group:
                if p is not winner:
                    beaten[index[id(p)]] = winner
            if winner is not best:
                beaten[index[id(winner)]] = best
    else:
        order = sorted(paths, key=lambda p: (p.source.address_key, p.path_id, p.source.peer_id))
        current = order[0]
        for p in order[1:]:
            if compare_paths(p, current, options)[0] < 0:
                beaten[index[id(current)]] = p
                current = p
            else:
                beaten[index[id(p)]] = current
    return best, beaten


def explain_paths(paths: Sequence[Path], options: DecisionOptions) -> list[PathVerdict]:
    """Every path of one prefix, best first (``rank_paths`` order), with why it lost.

    Raises:
        ValueError: ``paths`` is empty.
    """
    best, beaten = eliminations(paths, options)
    ranked = rank_paths(paths, options)
    rank_of = {id(p): r for r, p in enumerate(ranked)}
    verdicts = []
    for i, p in enumerate(paths):
        r = rank_of[id(p)]
        previous = compare_paths(ranked[r - 1], p, options) if r > 0 else None
        if p is best:
            step = max((compare_paths(best, q, options)[1] for q in paths if q is not best), default=Reason.ONLY_PATH)
            verdicts.append(PathVerdict(path=p, rank=r, lost_to=None, step=step, vs_best=None, vs_previous=None))
            continue
        winner = beaten[i]
        verdicts.append(PathVerdict(path=p, rank=r, lost_to=winner, step=compare_paths(winner, p, options)[1],
                                    vs_best=compare_paths(best, p, options), vs_previous=previous))
    verdicts.sort(key=lambda v: v.rank)
    return verdicts


__all__ = ["PathVerdict", "eliminations", "explain_paths"]
