"""bgpcore_fast._rib against the pure-Python RIB loops of bgpcore.rib.accel: equal results.

For any Loc-RIB table, export cache, advertised state and mode, ``group_runs`` returns the
same runs (same routes, same keys, same order) and withdrawals, leaves ``advertised`` in the
same state, asks ``wanted`` for the same prefixes, and lets its exceptions through.
``insert_absent``, ``add_keys`` and ``take_keys`` leave equal dicts, in equal order, and
return equal values.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.rib import accel as rib_accel
from bgpcore.rib.loc import Destination
from bgpcore.wire import accel as wire_accel

try:
    from bgpcore_fast import _rib
except ImportError:  # not built
    _rib = None

pytestmark = pytest.mark.skipif(_rib is None or wire_accel.NO_EXTENSIONS,
                                reason="bgpcore_fast._rib is not built, or BGPCORE_NO_EXTENSIONS is set")


class _Path:
    """Stands for a ``Path``: only its identity matters to the loop."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"P{self.n}"


def _dest(best: _Path) -> Destination:
    return Destination([best], best)


# A scenario: keys 0..7 as 1-octet prefixes; each key's Loc-RIB entry is absent, a path or a
# destination of one of four paths; each path is cached (exported to one of three routes or
# to None) or not; each key was advertised with one of the routes, an equal copy, or nothing.
_entry = st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, 3)))
_cached = st.one_of(st.none(), st.integers(-1, 2))
_adv = st.one_of(st.none(), st.tuples(st.integers(0, 2), st.booleans()))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "keys": draw(st.lists(st.integers(0, 7), max_size=24)),
        "entries": draw(st.lists(_entry, min_size=8, max_size=8)),
        "cached": draw(st.lists(_cached, min_size=4, max_size=4)),
        "wanted_routes": draw(st.lists(st.integers(-1, 2), min_size=4, max_size=4)),
        "advertised": draw(st.lists(_adv, min_size=8, max_size=8)),
        "record": draw(st.booleans()),
        "per_prefix": draw(st.booleans()),
    }


def _setup(s: dict[str, Any]) -> tuple[list[Any], list[bytes], dict[bytes, Any], dict[int, Any], dict[bytes, Any]]:
    paths = [_Path(i) for i in range(4)]
    routes = [(("attrs", i), ("192.0.2.1",)) for i in range(3)]
    keys = [bytes((8, k)) for k in s["keys"]]
    table: dict[bytes, Any] = {}
    for k, e in enumerate(s["entries"]):
        if e is not None:
            as_dest, p = e
            table[bytes((8, k))] = _dest(paths[p]) if as_dest else paths[p]
    cache = {id(paths[p]): (paths[p], None if r < 0 else routes[r]) for p, r in enumerate(s["cached"]) if r is not None}
    advertised: dict[bytes, Any] = {}
    for k, a in enumerate(s["advertised"]):
        if a is not None:
            r, copied = a
            advertised[bytes((8, k))] = copy.deepcopy(routes[r]) if copied else routes[r]
    return [paths, routes], keys, table, cache, advertised


def _run(fn: Any, s: dict[str, Any]) -> tuple[Any, ...]:
    (paths, routes), keys, table, cache, advertised = _setup(s)
    asked: list[tuple[int, bytes]] = []

    def wanted(entry: Any, key: bytes) -> Any:
        path = entry.best if isinstance(entry, Destination) else entry
        asked.append((path.n, key))
        r = s["wanted_routes"][path.n]
        return None if r < 0 else routes[r]

    runs, withdrawn = fn(keys, table, cache, advertised, s["record"], s["per_prefix"], Destination, wanted)
    # routes by index, so the two runs (each with its own objects) compare
    index = {id(r): i for i, r in enumerate(routes)}
    shown_runs = [(index.get(id(route), route), run) for route, run in runs]
    shown_adv = {k: (index.get(id(v), ("copy", v))) for k, v in advertised.items()}
    return shown_runs, withdrawn, shown_adv, asked


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_group_runs_fast_equals_pure(s: dict[str, Any]) -> None:
    assert _run(_rib.group_runs, s) == _run(rib_accel.py_group_runs, s)


def test_group_runs_groups_by_route_in_order_of_first_appearance() -> None:
    s = {"keys": [0, 1, 2, 3, 4], "entries": [(False, 0), (False, 1), (True, 0), None, (False, 2)] + [None] * 3,
         "cached": [0, 1, None, None], "wanted_routes": [-1, -1, 0, -1], "advertised": [None] * 3 + [(1, False)]
         + [None] * 4, "record": True, "per_prefix": False}
    for fn in (_rib.group_runs, rib_accel.py_group_runs):
        runs, withdrawn, adv, asked = _run(fn, s)
        assert runs == [(0, [bytes((8, 0)), bytes((8, 2)), bytes((8, 4))]), (1, [bytes((8, 1))])]
        assert withdrawn == [bytes((8, 3))]  # gone from the Loc-RIB, advertised before
        assert asked == [(2, bytes((8, 4)))]  # only the uncached path is exported
        assert adv == {bytes((8, 0)): 0, bytes((8, 1)): 1, bytes((8, 2)): 0, bytes((8, 4)): 0}


def test_group_runs_lets_export_errors_through() -> None:
    def wanted(entry: Any, key: bytes) -> Any:
        raise KeyError(key)

    for fn in (_rib.group_runs, rib_accel.py_group_runs):
        with pytest.raises(KeyError):
            fn([b"\x08\x01"], {b"\x08\x01": _Path(0)}, {}, {}, True, False, Destination, wanted)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 15), max_size=10, unique=True), st.lists(st.integers(0, 15), max_size=10))
def test_insert_absent_fast_equals_pure(present: list[int], new: list[int]) -> None:
    results = []
    for fn in (_rib.insert_absent, rib_accel.py_insert_absent):
        table = {bytes((8, n)): ("old", n) for n in present}
        done = fn(table, [bytes((8, n)) for n in new], "new")
        results.append((done, list(table.items())))
    assert results[0] == results[1]
    done, items = results[0]
    assert done == (not set(present) & set(new) and len(set(new)) == len(new))


def test_insert_absent_changes_nothing_when_a_key_is_there() -> None:
    for fn in (_rib.insert_absent, rib_accel.py_insert_absent):
        table = {b"\x08\x02": "old"}
        assert not fn(table, [b"\x08\x01", b"\x08\x02", b"\x08\x03"], "new")
        assert table == {b"\x08\x02": "old"}
        assert fn(table, [b"\x08\x01", b"\x08\x03"], "new")
        assert list(table) == [b"\x08\x02", b"\x08\x01", b"\x08\x03"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 15), max_size=10, unique=True), st.lists(st.integers(0, 15), max_size=10))
def test_add_keys_fast_equals_pure(present: list[int], new: list[int]) -> None:
    results = []
    for fn in (_rib.add_keys, rib_accel.py_add_keys):
        dirty: dict[bytes, None] = dict.fromkeys(bytes((8, n)) for n in present)
        fn(dirty, [bytes((8, n)) for n in new])
        results.append(list(dirty.items()))
    assert results[0] == results[1]
    assert [k[1] for k, _ in results[0]] == list(dict.fromkeys(present + new))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=30, unique=True), st.lists(st.integers(1, 12), max_size=6))
def test_take_keys_fast_equals_pure(present: list[int], counts: list[int]) -> None:
    tables = [dict.fromkeys(bytes((8, n)) for n in present) for _ in range(2)]
    for count in counts:
        taken = [fn(table, count) for fn, table in zip((_rib.take_keys, rib_accel.py_take_keys), tables)]
        assert taken[0] == taken[1]
        assert list(tables[0]) == list(tables[1])
    left = present[sum(counts):]
    assert [k[1] for k in tables[0]] == left

