"""Which implementation runs the RIB's per-prefix loops: bgpcore_fast or pure Python.

``insert_absent`` is the Loc-RIB's single-path case (prefixes new to the table, one probe
each); ``add_keys`` and ``take_keys`` mark prefixes pending in an update group and take a
round's worth of them; ``split_by_shard`` and ``split_ops`` split prefixes and inbound ops by
RIB shard. ``group_runs`` is the loop of an update group's encoding round: for each dirty prefix it
finds the exported route of its best path, skips what the group already advertised, and
groups the rest by exported route (one run per attribute set, encoded once). The pure-Python
function here is the reference; the C one (``bgpcore_fast._rib.group_runs``) gives equal
results and is used when ``bgpcore.wire.accel`` (the only importer of the extension) exports
it, which also honours ``BGPCORE_NO_EXTENSIONS``. ``ACCELERATED`` says which one runs.
"""
from __future__ import annotations

import zlib
from itertools import islice
from typing import Any, Callable

from bgpcore.wire import accel as _wire_accel

OutRoute = Any
"""An exported route as ``adj_out`` makes it: (attributes, next hop), compared by identity then value."""


def py_group_runs(keys: list[bytes], table: dict[bytes, Any], cache: dict[int, tuple[Any, OutRoute | None]],
                  advertised: dict[bytes, OutRoute], record: bool, per_prefix: bool, destination: Any,
                  wanted: Callable[[Any, bytes], OutRoute | None], prior: dict[bytes, OutRoute] | None = None
                  ) -> tuple[list[tuple[OutRoute, list[bytes]]], list[bytes]]:
    """Group ``keys`` by the route the group exports for each.

    Args:
        keys: dirty prefix keys, in order.
        table: the Loc-RIB table of the family: key -> ``Path`` or ``destination`` (with ``.best``).
        cache: the group's export cache: ``id(best path)`` -> (path, exported route or None).
        advertised: key -> route the group has sent; updated when ``record``.
        record: update ``advertised`` and skip prefixes whose route did not change
            (a group round); otherwise send the current state as is (a private catch-up).
        per_prefix: the export policy reads the prefix: never use ``cache``.
        wanted: ``wanted(entry, key)`` exports a Loc-RIB entry not found in ``cache`` (once
            for consecutive keys with the same best path, unless ``per_prefix``).
        prior: when given (with ``record``), gets key -> the route advertised before, for
            every key whose advertised route is replaced or withdrawn.

    Returns:
        (runs, withdrawn): (route, keys) in order of first appearance, and the keys to withdraw.
    """
    batches: dict[int, tuple[OutRoute, list[bytes]]] = {}
    withdrawn: list[bytes] = []
    get = table.get
    cached = cache.get
    entry: Any
    last_best: Any = None
    last_out: OutRoute | None = None
    for key in keys:
        entry = get(key)
        if entry is None:
            out = None
        else:
            best = entry.best if entry.__class__ is destination else entry
            if best is last_best and not per_prefix:
                out = last_out
            else:
                hit = None if per_prefix else cached(id(best))
                out = hit[1] if hit is not None else wanted(entry, key)
                last_best, last_out = best, out
        if out is None:
            if not record:
                withdrawn.append(key)
            elif (before := advertised.pop(key, None)) is not None:
                withdrawn.append(key)
                if prior is not None:
                    prior[key] = before
            continue
        if record:
            before = advertised.get(key)
            if before is out or before == out:
                continue
            if before is not None and prior is not None:
                prior[key] = before
            advertised[key] = out
        batch = batches.get(id(out))
        if batch is None:
            batches[id(out)] = batch = (out, [])
        batch[1].append(key)
    return list(batches.values()), withdrawn


def py_insert_absent(table: dict[bytes, Any], keys: list[bytes], value: Any) -> bool:
    """Map every key of ``keys`` to ``value`` when none is in ``table`` and none repeats.

    Returns:
        Whether it did; when not, ``table`` is left as it was.
    """
    if len(set(keys)) != len(keys) or not table.keys().isdisjoint(keys):
        return False
    table.update(dict.fromkeys(keys, value))
    return True


def py_add_keys(dirty: dict[bytes, None], keys: list[bytes]) -> None:
    """Add ``keys`` to an insertion-ordered set kept as a dict (keys already there keep their place)."""
    dirty.update(dict.fromkeys(keys))


def py_take_keys(dirty: dict[bytes, None], count: int) -> list[bytes]:
    """Remove and return the first ``count`` keys of an insertion-ordered set (all when fewer)."""
    if len(dirty) <= count:
        keys = list(dirty)
        dirty.clear()
        return keys
    keys = list(islice(dirty, count))
    for key in keys:
        del dirty[key]
    return keys


def py_split_by_shard(keys: list[bytes], cut: int, count: int) -> list[list[bytes]]:
    """``keys`` by RIB shard, ``crc32(key[cut:]) % count`` (``cut``: an ADD-PATH id to skip),
    each part in the order of ``keys``."""
    parts: list[list[bytes]] = [[] for _ in range(count)]
    crc = zlib.crc32
    for key in keys:
        parts[crc(key[cut:]) % count].append(key)
    return parts


def py_split_ops(ops: list[Any], count: int, wire: bool) -> list[list[Any]]:
    """Inbound ops (``rib.messages.Ingest``) by shard, each with the prefixes that hash to it.

    A shard none of whose prefixes an op carries still gets the op, with no prefixes and no
    attributes, the first time a peer appears in the batch: it answers with that peer's
    count, so that the counts of one batch from every shard add up to the peer's total.
    ``wire``: attribute sets become plain tuples, once per op (pickled at C speed, where a
    ``PathAttributes`` goes through ``__getnewargs__``; ``RibShard.ingest`` makes them back).
    """
    if count == 1:
        return [[(a, p, f, None if t is None else tuple(t), n, k, c) for a, p, f, t, n, k, c in ops]
                if wire else ops]
    parts: list[list[Any]] = [[] for _ in range(count)]
    seen: list[set[Any]] = [set() for _ in range(count)]
    for announce, peer, family, attrs, next_hop, keys, cut in ops:
        if wire and attrs is not None:
            attrs = tuple(attrs)
        for index, mine in enumerate(split_by_shard(keys, cut, count)):
            if mine:
                parts[index].append((announce, peer, family, attrs, next_hop, mine, cut))
                seen[index].add(peer)
            elif peer not in seen[index]:
                parts[index].append((False, peer, family, None, (), mine, cut))
                seen[index].add(peer)
    return parts


add_keys: Callable[[dict[bytes, None], list[bytes]], None] = getattr(_wire_accel, "add_keys", None) or py_add_keys
take_keys: Callable[[dict[bytes, None], int], list[bytes]] = getattr(_wire_accel, "take_keys", None) or py_take_keys

insert_absent: Callable[[dict[bytes, Any], list[bytes], Any], bool] | None = getattr(_wire_accel, "insert_absent", None)
"""The C ``insert_absent``, or None: the Loc-RIB's pure-Python path checks then inserts."""

group_runs: Callable[..., tuple[list[tuple[OutRoute, list[bytes]]], list[bytes]]] = getattr(
    _wire_accel, "group_runs", None) or py_group_runs
split_by_shard: Callable[[list[bytes], int, int], list[list[bytes]]] = getattr(
    _wire_accel, "split_by_shard", None) or py_split_by_shard
split_ops: Callable[[list[Any], int, bool], list[list[Any]]] = getattr(_wire_accel, "split_ops", None) or py_split_ops
ACCELERATED: bool = group_runs is not py_group_runs

__all__ = ["ACCELERATED", "add_keys", "group_runs", "insert_absent", "py_add_keys", "py_group_runs", "py_insert_absent",
           "py_split_by_shard", "py_split_ops", "py_take_keys", "split_by_shard", "split_ops", "take_keys"]
