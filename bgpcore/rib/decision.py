"""Best-path selection: RFC 4271 §9.1.2.2 with RFC 4456 §9 and the tie-breakers routers use.

Each step is one ``compare_*(a, b, options) -> int`` function: negative when ``a`` is
preferred, positive when ``b`` is, 0 when the step cannot tell them apart. ``compare_paths``
runs the steps in order and names the deciding step as a ``Reason``. The last steps (neighbor
address, then ADD-PATH id and peer id) make the order total, so two distinct paths never tie.

MED is only comparable between paths from the same neighboring AS, which makes the pairwise
relation non-transitive. With ``deterministic_med`` (the default) paths are first grouped by
neighboring AS, each group's best is chosen, and the group winners are compared; without it
paths are compared one after another in a canonical order (by neighbor address and path id).
Either way the result does not depend on the order in which paths arrived.

``decision_key`` folds the same steps into one sort key per path, which ``select_best``
uses to rank many paths cheaply; a property test keeps it equal to ``compare_paths``.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from enum import IntEnum
from functools import cmp_to_key, lru_cache
from typing import Any, Callable, Final, Iterable, NamedTuple, Sequence

from bgpcore.constants import AsPathSegmentType
from bgpcore.route import Path, as_path_length

DEFAULT_LOCAL_PREF: Final = 100
_CONFED: Final = (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET)


class Reason(IntEnum):
    """Which step decided between two paths (as GoBGP's ``BestPathReason``)."""

    ONLY_PATH = 0
    LOCAL_PREF = 1
    LOCAL_ORIGIN = 2
    AS_PATH = 3
    ORIGIN = 4
    MED = 5
    EBGP = 6
    ROUTER_ID = 7
    CLUSTER_LIST = 8
    NEIGHBOR_ADDRESS = 9
    PATH_ID = 10
    PEER_ID = 11
    EQUAL = 12


@dataclass(frozen=True, slots=True)
class DecisionOptions:
    """Knobs of the decision process, named as in FRR's ``bgp bestpath`` commands.

    Attributes:
        always_compare_med: compare MED between paths from different neighboring ASes.
        deterministic_med: group paths by neighboring AS before comparing MED.
        med_missing_as_worst: a path without MED counts as MED 2^32-1 instead of 0.
        maximum_paths: size of the multipath (ECMP) set; 1 disables multipath.
        multipath_relax: paths with AS_PATHs of equal length (not only identical ones)
            may share the multipath set.
        default_local_pref: LOCAL_PREF assumed for a path that carries none.
    """

    always_compare_med: bool = False
    deterministic_med: bool = True
    med_missing_as_worst: bool = False
    maximum_paths: int = 1
    multipath_relax: bool = False
    default_local_pref: int = DEFAULT_LOCAL_PREF


DEFAULT_OPTIONS: Final = DecisionOptions()


def neighbor_as(path: Path) -> int:
    """The neighboring AS for MED comparison: first AS of the path, 0 for our own AS."""
    for seg_type, asns in path.attrs.as_path:
        if seg_type in _CONFED:
            continue
        if seg_type == AsPathSegmentType.AS_SEQUENCE and asns:
            return asns[0]
        return 0
    return 0


@lru_cache(maxsize=65536)
def _ipv4_int(address: str) -> int:
    return int.from_bytes(socket.inet_aton(address), "big")


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def compare_local_pref(a: Path, b: Path, options: DecisionOptions) -> int:
    """Higher LOCAL_PREF wins."""
    default = options.default_local_pref
    la = a.attrs.local_pref
    lb = b.attrs.local_pref
    return _sign((default if lb is None else lb) - (default if la is None else la))


def compare_local_origin(a: Path, b: Path, options: DecisionOptions) -> int:
    """A locally originated path wins over a learned one."""
    return int(b.source.local) - int(a.source.local)


def compare_as_path(a: Path, b: Path, options: DecisionOptions) -> int:
    """Shorter AS_PATH wins."""
    return _sign(as_path_length(a.attrs.as_path) - as_path_length(b.attrs.as_path))


def compare_origin(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower ORIGIN wins (IGP < EGP < INCOMPLETE); a missing ORIGIN counts as INCOMPLETE."""
    oa = 2 if a.attrs.origin is None else a.attrs.origin
    ob = 2 if b.attrs.origin is None else b.attrs.origin
    return _sign(oa - ob)


def _med(path: Path, options: DecisionOptions) -> int:
    med = path.attrs.med
    if med is None:
        return 0xFFFFFFFF if options.med_missing_as_worst else 0
    return med


def compare_med(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower MED wins, between paths from the same neighboring AS unless always-compare-med."""
    if not options.always_compare_med and neighbor_as(a) != neighbor_as(b):
        return 0
    return _sign(_med(a, options) - _med(b, options))


def compare_ebgp(a: Path, b: Path, options: DecisionOptions) -> int:
    """A path learned over eBGP wins over one learned over iBGP."""
    return int(b.source.ebgp) - int(a.source.ebgp)


def _router_id(path: Path) -> int:
    return _ipv4_int(path.attrs.originator_id or path.source.router_id)


def compare_router_id(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower ORIGINATOR_ID, or router id of the sender when absent, wins (RFC 4456 §9)."""
    return _sign(_router_id(a) - _router_id(b))


def compare_cluster_list(a: Path, b: Path, options: DecisionOptions) -> int:
    """Shorter CLUSTER_LIST wins (RFC 4456 §9)."""
    return _sign(len(a.attrs.cluster_list) - len(b.attrs.cluster_list))


def compare_neighbor_address(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower neighbor address wins."""
    ka = a.source.address_key
    kb = b.source.address_key
    return -1 if ka < kb else (1 if ka > kb else 0)


def compare_path_id(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower received ADD-PATH identifier wins: two paths from one neighbor."""
    return _sign(a.path_id - b.path_id)


def compare_peer_id(a: Path, b: Path, options: DecisionOptions) -> int:
    """Lower peer id wins: two sessions to one neighbor address (last resort)."""
    return _sign(a.source.peer_id - b.source.peer_id)


Step = Callable[[Path, Path, DecisionOptions], int]

STEPS: Final[tuple[tuple[Reason, Step], ...]] = (
    (Reason.LOCAL_PREF, compare_local_pref),
    (Reason.LOCAL_ORIGIN, compare_local_origin),
    (Reason.AS_PATH, compare_as_path),
    (Reason.ORIGIN, compare_origin),
    (Reason.MED, compare_med),
    (Reason.EBGP, compare_ebgp),
    (Reason.ROUTER_ID, compare_router_id),
    (Reason.CLUSTER_LIST, compare_cluster_list),
    (Reason.NEIGHBOR_ADDRESS, compare_neighbor_address),
    (Reason.PATH_ID, compare_path_id),
    (Reason.PEER_ID, compare_peer_id),
)
"""The decision steps in order (IGP cost to the next hop is not known to a route reflector)."""


def compare_paths(a: Path, b: Path, options: DecisionOptions = DEFAULT_OPTIONS) -> tuple[int, Reason]:
    """Compare two paths to one prefix.

    Returns:
        (order, reason): order < 0 if ``a`` is preferred, > 0 if ``b`` is, 0 only for two
        paths from the same peer with the same path id (``Reason.EQUAL``).
    """
    for reason, step in STEPS:
        order = step(a, b, options)
        if order:
            return order, reason
    return 0, Reason.EQUAL


def compare_settled(a: Path, b: Path, options: DecisionOptions = DEFAULT_OPTIONS) -> int:
    """``compare_paths`` order when it holds whatever other paths a prefix has, else 0.

    A step before MED (or any step when MED is always compared) ranks the two paths the
    same way in every set they belong to, so the Loc-RIB can update the best path
    incrementally; a later step may depend on the others (MED groups), so it re-selects.
    """
    if options.always_compare_med:
        return compare_paths(a, b, options)[0]
    ka = _settling_key(a, options)
    kb = _settling_key(b, options)
    return -1 if ka < kb else (1 if ka > kb else 0)


def _settling_key(path: Path, options: DecisionOptions) -> tuple[int, bool, int, int]:
    """The steps before MED as a key: LOCAL_PREF, local origin, AS_PATH length, ORIGIN."""
    attrs = path.attrs
    local_pref = attrs.local_pref
    origin = attrs.origin
    return (-(options.default_local_pref if local_pref is None else local_pref), not path.source.local,
            as_path_length(attrs.as_path), 2 if origin is None else origin)


def decision_key(path: Path, options: DecisionOptions, with_med: bool) -> tuple[Any, ...]:
    """The ``compare_*`` steps as one sort key (lower is better), MED included or not.

    Within one neighboring AS (or with always-compare-med) ``compare_paths`` is exactly
    the order of this key; between neighboring ASes it is the order of the key without
    MED. ``select_best`` uses it to rank many paths without pairwise comparisons.
    """
    attrs = path.attrs
    source = path.source
    return (
        *_settling_key(path, options),
        _med(path, options) if with_med else 0,
        not source.ebgp,
        _router_id(path),
        len(attrs.cluster_list),
        source.address_key,
        path.path_id,
        source.peer_id,
    )


def _canonical(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.source.address_key, p.path_id, p.source.peer_id))


def _pick(paths: Sequence[Path], options: DecisionOptions) -> Path:
    best = paths[0]
    for path in paths[1:]:
        if compare_paths(path, best, options)[0] < 0:
            best = path
    return best


def select_best(paths: Sequence[Path], options: DecisionOptions = DEFAULT_OPTIONS) -> Path:
    """The best of one prefix's paths.

    Raises:
        ValueError: ``paths`` is empty.
    """
    if len(paths) == 1:
        return paths[0]
    if not paths:
        raise ValueError("no paths to choose from")
    if not options.deterministic_med and not options.always_compare_med:
        return _pick(_canonical(paths), options)
    return select_ranked([rank(p, options) for p in paths], options)


class Ranked(NamedTuple):
    """A path with its decision keys, computed once and reused while the path lives."""

    path: Path
    neighbor_as: int
    settling: tuple[int, bool, int, int]
    key: tuple[Any, ...]
    key_without_med: tuple[Any, ...]


def rank(path: Path, options: DecisionOptions) -> Ranked:
    return Ranked(path, neighbor_as(path), _settling_key(path, options), decision_key(path, options, True),
                  decision_key(path, options, False))


def select_ranked(ranked: Sequence[Ranked], options: DecisionOptions) -> Path:
    """``select_best`` over ranked paths (deterministic-med or always-compare-med)."""
    if options.always_compare_med:
        return min(ranked, key=_by_key).path
    groups: dict[int, list[Ranked]] = {}
    for entry in ranked:
        groups.setdefault(entry.neighbor_as, []).append(entry)
    # Within a group MED is comparable and between group winners it is skipped: both
    # are total orders (keys), so the result does not depend on the order of ``paths``.
    if len(groups) == 1:
        return min(ranked, key=_by_key).path
    return min((min(group, key=_by_key) for group in groups.values()), key=_by_key_without_med).path


def _by_key(entry: Ranked) -> tuple[Any, ...]:
    return entry.key


def _by_key_without_med(entry: Ranked) -> tuple[Any, ...]:
    return entry.key_without_med


def explain(best: Path, paths: Sequence[Path], options: DecisionOptions = DEFAULT_OPTIONS) -> Reason:
    """Why ``best`` won: the latest step it needed to beat its closest competitor."""
    reasons = [compare_paths(best, p, options)[1] for p in paths if p is not best]
    return max(reasons, default=Reason.ONLY_PATH)


def rank_paths(paths: Sequence[Path], options: DecisionOptions = DEFAULT_OPTIONS) -> list[Path]:
    """All paths best first: repeated ``select_best`` on what remains (for ADD-PATH all)."""
    remaining = list(paths)
    ranked: list[Path] = []
    while remaining:
        best = select_best(remaining, options)
        ranked.append(best)
        remaining.remove(best)
    return ranked


def sorted_paths(paths: Sequence[Path], options: DecisionOptions) -> list[Path]:
    """Paths sorted by ``compare_paths`` (a total order when MED is always compared)."""
    def order(a: Path, b: Path) -> int:
        return compare_paths(a, b, options)[0]

    return sorted(paths, key=cmp_to_key(order))


def _multipath_equal(best: Path, other: Path, options: DecisionOptions) -> bool:
    for _, step in STEPS[:6]:
        if step(best, other, options):
            return False
    if best.source.local or other.source.local:
        return False
    if options.multipath_relax:
        return True
    return best.attrs.as_path == other.attrs.as_path


def select_multipath(paths: Sequence[Path], best: Path, options: DecisionOptions = DEFAULT_OPTIONS) -> tuple[Path, ...]:
    """The ECMP set: ``best`` plus paths equal to it up to the eBGP/iBGP step.

    Candidates must also carry the same AS_PATH as ``best`` unless ``multipath_relax``
    (then equal length is enough, FRR's ``bestpath as-path multipath-relax``). At most
    ``maximum_paths`` paths, best first, the others in decision order.
    """
    if options.maximum_paths <= 1 or len(paths) == 1:
        return (best,)
    others = [p for p in paths if p is not best and _multipath_equal(best, p, options)]
    if not others:
        return (best,)
    chosen = rank_paths(others, options)[: options.maximum_paths - 1]
    return (best, *chosen)
