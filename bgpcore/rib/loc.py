"""Loc-RIB: per family, prefix key -> its path, or a destination when there are several.

A prefix with one path maps straight to that ``Path`` (a dict write, no decision). Only when
a second path arrives does the entry become a ``Destination`` holding every path with the
chosen best and multipath set; it turns back into a bare ``Path`` when one remains.

Decision keys are cached per path (``_ranks``); paths that leave every destination leave the
cache lazily: once the prefixes whose paths were removed or replaced since the last sweep
reach half of the table, one pass keeps the ranks of paths still in a destination.

``update``/``remove`` return ``BestChange`` deltas grouped by new best path, so a run of
prefixes announced together costs one change, not one per prefix. They also leave in
``gained``/``lost`` how many prefixes got or lost the path of that peer and path id: the
Adj-RIB-In of a plain neighbor keeps no table of its own, only these counts, and answers
everything else (``held``) from the paths held here.
"""
from __future__ import annotations

from typing import Final, Iterator

from bgpcore.rib.accel import insert_absent
from bgpcore.rib.decision import (DEFAULT_OPTIONS, DecisionOptions, Ranked, compare_settled, rank, rank_paths,
                                  select_best, select_multipath, select_ranked)
from bgpcore.route import BestChange, Path, PeerId
from bgpcore.wire.context import Family


class Destination:
    """Several paths to one prefix and the decision over them."""

    __slots__ = ("paths", "best", "multipath")

    def __init__(self, paths: list[Path], best: Path | None = None) -> None:
        self.paths = paths
        self.best = best
        self.multipath: tuple[Path, ...] = () if best is None else (best,)


Entry = Path | Destination
_RANK_CACHE_LIMIT: Final = 1 << 17


class _Changes:
    """Collects changed prefixes grouped by (best, multipath) identity."""

    __slots__ = ("family", "runs")

    def __init__(self, family: Family) -> None:
        self.family = family
        self.runs: dict[tuple[int, ...], BestChange] = {}

    def add(self, key: bytes, best: Path | None, paths: tuple[Path, ...]) -> None:
        tag = tuple(map(id, paths)) if paths else (0,)
        change = self.runs.get(tag)
        if change is None:
            self.runs[tag] = change = BestChange(self.family, [], best, paths)
        change.keys.append(key)

    def result(self, first: BestChange | None = None) -> list[BestChange]:
        out = [first] if first is not None and first.keys else []
        out.extend(self.runs.values())
        return out


class LocRib:
    """Best paths of every prefix, one table per family."""

    def __init__(self, options: DecisionOptions = DEFAULT_OPTIONS) -> None:
        self.options = options
        self.tables: dict[Family, dict[bytes, Entry]] = {}
        self._keyed = options.deterministic_med or options.always_compare_med
        self._ranks: dict[int, Ranked] = {}
        self._churn = 0  # prefixes whose path was removed or replaced since the last sweep of _ranks
        self.gained = 0  # prefixes the last ``update`` gave a path of its peer and path id they had none of
        self.lost = 0  # prefixes the last ``remove`` took the path of its peer and path id from

    def _decide(self, dest: Destination, added: Path | None = None, removed: Path | None = None) -> bool:
        """Re-select; returns whether best or multipath changed.

        With one path kept (no multipath) and a settled comparison against the current best
        (see ``compare_settled``), the new best is known without looking at other paths.
        """
        old = dest.best
        options = self.options
        if old is not None and options.maximum_paths <= 1 and removed is not old and (
                removed is None or self._settled(old, removed) < 0):
            if added is None:
                return False
            order = self._settled(added, old)
            if order > 0:
                return False
            if order < 0:
                dest.best = added
                dest.multipath = (added,)
                return True
        if self._keyed:
            best = select_ranked([self._rank(p) for p in dest.paths], options)
        else:
            best = select_best(dest.paths, options)
        multipath = select_multipath(dest.paths, best, options) if options.maximum_paths > 1 else (best,)
        changed = best is not dest.best or multipath != dest.multipath
        dest.best = best
        dest.multipath = multipath
        return changed

    def _rank(self, path: Path) -> Ranked:
        """Decision keys of a path, cached per path object (paths are shared per attribute set)."""
        entry = self._ranks.get(id(path))
        if entry is None or entry.path is not path:
            if len(self._ranks) > _RANK_CACHE_LIMIT:
                self._ranks.clear()
            entry = self._ranks[id(path)] = rank(path, self.options)
        return entry

    def _moved(self, count: int) -> None:
        """``count`` prefixes lost or replaced a path: sweep ``_ranks`` once they are half the table."""
        self._churn += count
        if self._ranks and 2 * self._churn >= len(self):
            self.sweep()

    def sweep(self) -> None:
        """Forget the decision keys of paths no destination holds any more."""
        self._churn = 0
        live: set[int] = set()
        add = live.update
        for table in self.tables.values():
            for entry in table.values():
                if entry.__class__ is Destination:
                    add(map(id, entry.paths))
        self._ranks = {pid: ranked for pid, ranked in self._ranks.items() if pid in live} if live else {}

    def _settled(self, a: Path, b: Path) -> int:
        if not self._keyed or self.options.always_compare_med:
            return compare_settled(a, b, self.options)
        ka = self._rank(a).settling
        kb = self._rank(b).settling
        return -1 if ka < kb else (1 if ka > kb else 0)

    def update(self, family: Family, path: Path, keys: list[bytes]) -> list[BestChange]:
        """Add ``path`` to each prefix in ``keys``, replacing the path from the same peer and path id."""
        table = self.tables.setdefault(family, {})
        if insert_absent is not None and insert_absent(table, keys, path):
            self.gained = len(keys)
            return [BestChange(family, list(keys), path, (path,))] if keys else []
        if table.keys().isdisjoint(keys):
            size = len(table)
            table.update(dict.fromkeys(keys, path))
            self.gained = len(table) - size  # a key given twice is gained once
            return [BestChange(family, list(keys), path, (path,))] if keys else []
        get = table.get
        peer = path.source.peer_id
        path_id = path.path_id
        single = BestChange(family, [], path, (path,))
        plain = single.keys
        changes = _Changes(family)
        moved = 0  # keys whose destination had a path of the peer, replaced
        kept = 0  # other keys that had one: the same path, or a bare path replaced
        for key in keys:
            cur = get(key)
            if cur is None:
                table[key] = path
                plain.append(key)
                continue
            if cur is path:
                kept += 1
                continue
            if not isinstance(cur, Destination):
                if cur.source.peer_id == peer and cur.path_id == path_id:
                    kept += 1
                    if cur != path:  # an equal route in another Path object changes nothing
                        table[key] = path
                        plain.append(key)
                    continue
                dest = Destination([cur, path], cur)
                table[key] = dest
                replaced = None
            else:
                dest = cur
                paths = dest.paths
                replaced = None
                for i, old in enumerate(paths):
                    if old.source.peer_id == peer and old.path_id == path_id:
                        replaced = old
                        break
                else:
                    paths.append(path)
                if replaced is not None:
                    if replaced == path:  # the same route again: nothing to decide
                        kept += 1
                        continue
                    paths[i] = path
                    moved += 1
            if self._decide(dest, path, replaced):
                changes.add(key, dest.best, dest.multipath)
        self.gained = len(keys) - kept - moved
        if moved and self._ranks:
            self._moved(moved)
        return changes.result(single)

    def remove(self, family: Family, peer_id: PeerId, path_id: int, keys: list[bytes]) -> list[BestChange]:
        """Remove the path of ``(peer_id, path_id)`` from each prefix in ``keys``."""
        table = self.tables.get(family)
        self.lost = 0
        if not table:
            return []
        get = table.get
        gone = BestChange(family, [], None, ())
        withdrawn = gone.keys
        changes = _Changes(family)
        shared = 0  # keys whose destination lost the path
        for key in keys:
            cur = get(key)
            if cur is None:
                continue
            if not isinstance(cur, Destination):
                if cur.source.peer_id == peer_id and cur.path_id == path_id:
                    del table[key]
                    withdrawn.append(key)
                continue
            paths = cur.paths
            for i, old in enumerate(paths):
                if old.source.peer_id == peer_id and old.path_id == path_id:
                    del paths[i]
                    break
            else:
                continue
            removed = old
            shared += 1
            if len(paths) == 1:
                last = paths[0]
                table[key] = last
                if cur.best is not last or len(cur.multipath) != 1:
                    changes.add(key, last, (last,))
            elif self._decide(cur, None, removed):
                changes.add(key, cur.best, cur.multipath)
        self.lost = len(withdrawn) + shared
        if self._ranks and self.lost:
            self._moved(self.lost)  # not ``keys``: a plain peer's removal looks at other peers' keys too
        return changes.result(gone)

    def held(self, family: Family, peer_id: PeerId) -> dict[bytes, Path]:
        """Every prefix holding a path of ``peer_id`` without path id, with that path: what
        the Adj-RIB-In of a plain neighbor holds. One pass over the table."""
        out: dict[bytes, Path] = {}
        last: Entry | None = None
        found: Path | None = None
        for key, entry in self.tables.get(family, {}).items():
            if entry is not last:  # consecutive prefixes often share one path
                last = entry
                found = None
                if isinstance(entry, Destination):
                    for path in entry.paths:
                        if path.source.peer_id == peer_id and not path.path_id:
                            found = path
                            break
                elif entry.source.peer_id == peer_id and not entry.path_id:
                    found = entry
            if found is not None:
                out[key] = found
        return out

    def best(self, family: Family, key: bytes) -> Path | None:
        """The best path to a prefix, or None."""
        cur = self.tables.get(family, {}).get(key)
        if cur is None or not isinstance(cur, Destination):
            return cur
        return cur.best

    def multipath(self, family: Family, key: bytes) -> tuple[Path, ...]:
        """The multipath (ECMP) set of a prefix, best first; empty when unknown."""
        cur = self.tables.get(family, {}).get(key)
        if cur is None:
            return ()
        return cur.multipath if isinstance(cur, Destination) else (cur,)

    def paths(self, family: Family, key: bytes) -> list[Path]:
        """Every path to a prefix, best first."""
        cur = self.tables.get(family, {}).get(key)
        if cur is None:
            return []
        if not isinstance(cur, Destination):
            return [cur]
        ranked = rank_paths(cur.paths, self.options)
        return ranked

    def keys(self, family: Family) -> Iterator[bytes]:
        return iter(self.tables.get(family, {}))

    def families(self) -> list[Family]:
        return list(self.tables)

    def __len__(self) -> int:
        return sum(map(len, self.tables.values()))
