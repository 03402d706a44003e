"""Adj-RIB-In of one neighbor: what it sent, after import policy, plus graceful-restart staleness.

A plain neighbor's family (no import policy, no soft reconfiguration, no ADD-PATH receive) keeps
no table here when the Adj-RIB-In sits beside a Loc-RIB (``loc``): what it sent is exactly the
prefixes whose Loc-RIB entry holds its path, so only their number is kept (``counted``, moved
by what the Loc-RIB reports after each change: ``settle``) and the rest is read from the Loc-RIB
(``LocRib.held``), which spares a dict entry per prefix of a full table. The other families keep
a table: prefixes under their wire keys (with the ADD-PATH id when the neighbor sends one)
pointing at one shared ``Path`` per attribute set, and with soft reconfiguration the paths as
received (before policy) too, so a changed import policy can be re-applied without asking the
neighbor to resend (``reapply``).

Paths no prefix uses any more (withdrawn, replaced) leave the shared-path cache lazily: once
the prefixes withdrawn or replaced since the last sweep reach half of those held, one pass
keeps only the paths still in use (amortised O(1) per withdrawn prefix, and nothing at all
while a table only grows). A peer that goes down leaves nothing behind.

Every method returns what the Loc-RIB must do: ``Accepted`` runs (a path and the plain
prefix keys it now covers) and ``Removed`` runs (path id and plain prefix keys that lost
this neighbor's path; for a counted family, every key withdrawn: the Loc-RIB ignores those
without the path).
"""
from __future__ import annotations

import sys
from typing import Final, Iterable, NamedTuple

from bgpcore.policy.hooks import RoutePolicy, prefix_independent
from bgpcore.rib.loc import LocRib
from bgpcore.route import Path, Source
from bgpcore.wire.context import Family
from bgpcore.wire.types import PathAttributes

_PATH_CACHE_LIMIT: Final = 1 << 14
_UNREFERENCED: Final = 4
"""``sys.getrefcount`` of a cached path nothing else refers to, as ``sweep`` looks at it (the
cache, its item tuple, the loop variable and the argument)."""


class Accepted(NamedTuple):
    path: Path
    keys: list[bytes]


class Removed(NamedTuple):
    path_id: int
    keys: list[bytes]


class Gone(NamedTuple):
    """Prefixes of a neighbor that went down, for the Loc-RIB to remove the path ``path_id`` of:
    ``held`` of ``keys`` hold it (all of them, or, for a counted family, some of the keys of
    the Loc-RIB's table when the neighbor went down)."""

    family: Family
    path_id: int
    keys: list[bytes]
    held: int


def _split_path_ids(keys: list[bytes]) -> dict[int, list[bytes]]:
    by_id: dict[int, list[bytes]] = {}
    for key in keys:
        by_id.setdefault(int.from_bytes(key[:4], "big"), []).append(key)
    return by_id


class AdjRibIn:
    """Routes from one neighbor.

    Args:
        source: the neighbor as paths record it.
        import_policy: applied to every received path; None accepts all.
        keep_received: soft reconfiguration inbound (keep pre-policy paths).
        addpath: families whose keys carry a path id (ADD-PATH receive).
        loc: the Loc-RIB the accepted paths go to: plain families are then counted, not kept.
    """

    def __init__(self, source: Source, import_policy: RoutePolicy | None = None, keep_received: bool = False,
                 addpath: frozenset[Family] = frozenset(), loc: LocRib | None = None) -> None:
        self.source = source
        self.import_policy = import_policy
        self.addpath = addpath
        self.loc = loc
        self.accepted: dict[Family, dict[bytes, Path]] = {}
        self.counted: dict[Family, int] = {}  # plain families held in ``loc`` only: how many prefixes
        self.received: dict[Family, dict[bytes, Path]] | None = {} if keep_received else None
        self.stale: dict[Family, set[bytes]] = {}
        self._paths: dict[int | tuple[int, int], Path] = {}
        self._churn = 0  # prefixes withdrawn or replaced since the last sweep of _paths

    def _path(self, attrs: PathAttributes, next_hop: tuple[str, ...], path_id: int) -> Path:
        """One shared Path per (attribute set, path id), the last next hop it came with:
        ``attrs`` must be interned. Keyed by the attribute set's id alone without ADD-PATH."""
        key: int | tuple[int, int] = id(attrs) if not path_id else (id(attrs), path_id)
        path = self._paths.get(key)
        if (path is None or path.attrs is not attrs or path.source is not self.source
                or path.next_hop != next_hop or path.path_id != path_id):
            if len(self._paths) > _PATH_CACHE_LIMIT:
                self._paths.clear()
            path = self._paths[key] = Path(attrs, next_hop, self.source, path_id)
        return path

    def configure(self, source: Source, import_policy: RoutePolicy | None, keep_received: bool,
                  addpath: frozenset[Family]) -> list[tuple[Family, list[Removed]]]:
        """New settings (the session came back): a counted family that is no longer plain gets
        its table back from the Loc-RIB (path id 0 when it now carries ADD-PATH ids).

        Returns the kept routes of families whose ADD-PATH receive changed: the neighbor
        cannot refresh them under the new keys, so they are forgotten here and must leave the
        Loc-RIB now."""
        flipped = [f for f in self.accepted if (f in self.addpath) != (f in addpath)]
        gone = [(family, self._forget_family(family)) for family in flipped]
        self.source = source
        self.import_policy = import_policy
        self.addpath = addpath
        if keep_received and self.received is None:
            self.received = {}
        for family in [f for f in self.counted if not self._plain(f)]:
            del self.counted[family]
            table = self._held(family)
            self.accepted[family] = {bytes(4) + k: p for k, p in table.items()} if family in addpath else table
        return gone

    def _forget_family(self, family: Family) -> list[Removed]:
        """Drop a kept family's table (its keys as the current ADD-PATH setting made them)."""
        table = self.accepted.pop(family)
        self.stale.pop(family, None)
        if self.received is not None:
            self.received.pop(family, None)
        if family in self.addpath:
            return [Removed(pid, [k[4:] for k in run]) for pid, run in _split_path_ids(list(table)).items()]
        return [Removed(0, list(table))] if table else []

    def _plain(self, family: Family) -> bool:
        """Accepted paths are the received ones, under plain prefix keys."""
        return self.import_policy is None and self.received is None and family not in self.addpath

    def _held(self, family: Family) -> dict[bytes, Path]:
        """A counted family's prefixes with this neighbor's path, read from the Loc-RIB."""
        return {} if self.loc is None else self.loc.held(family, self.source.peer_id)

    def settle(self, family: Family, announced: int, gained: int, lost: int) -> None:
        """What the Loc-RIB did with keys of a counted family (other families: nothing to do):
        ``gained`` of the ``announced`` keys got this neighbor's path (the rest had it and
        were replaced), ``lost`` withdrawn keys lost it."""
        count = self.counted.get(family)
        if count is not None:
            self.counted[family] = count + gained - lost
            moved = announced - gained + lost
            if moved:
                self._moved(moved)

    def _moved(self, count: int) -> None:
        """``count`` prefixes were withdrawn or replaced: sweep ``_paths`` once they are half the table
        (or, with counted families, half the cache, which is what such a sweep goes through)."""
        self._churn += count
        held = max(self.count(), len(self._paths)) if self.counted else self.count()
        if self._paths and 2 * self._churn >= held:
            self.sweep()

    def sweep(self) -> None:
        """Forget the shared paths no prefix refers to (withdrawn or replaced ones).

        With counted families the prefixes are in the Loc-RIB, shared with other neighbors: rather
        than a pass over all of it, a path stays while anything refers to it (the Loc-RIB, or a
        cache there or in an update group, which lets it go in its own sweep)."""
        self._churn = 0
        if self.counted:
            for key, path in list(self._paths.items()):
                if sys.getrefcount(path) <= _UNREFERENCED:
                    del self._paths[key]
            return
        live: set[int] = set()
        for table in self.accepted.values():
            live.update(map(id, table.values()))
        if self.received is not None:
            for table in self.received.values():
                live.update(map(id, table.values()))
        self._paths = {key: path for key, path in self._paths.items() if id(path) in live} if live else {}

    def count(self) -> int:
        """Prefixes accepted, all families (what maximum-prefix limits)."""
        total = sum(self.counted.values())
        return total + sum(map(len, self.accepted.values())) if self.accepted else total

    def announce(self, family: Family, attrs: PathAttributes, next_hop: tuple[str, ...],
                 keys: list[bytes]) -> tuple[list[Accepted], list[Removed]]:
        """The neighbor announced ``keys`` with one attribute set."""
        stale = self.stale.get(family)
        if stale:
            stale.difference_update(keys)
        if family in self.counted:  # the shard settles the count once the Loc-RIB has the keys
            return [Accepted(self._path(attrs, next_hop, 0), keys)], []
        if self._plain(family):
            path = self._path(attrs, next_hop, 0)
            table = self.accepted.get(family)
            if table is None:
                if self.loc is not None:
                    self.counted[family] = 0
                    return [Accepted(path, keys)], []
                table = self.accepted[family] = {}
            size = len(table)
            table.update(dict.fromkeys(keys, path))
            replaced = len(keys) - (len(table) - size)
            if replaced:
                self._moved(replaced)
            return [Accepted(path, keys)], []
        accepted: list[Accepted] = []
        removed: list[Removed] = []
        size = len(self.accepted.get(family, ()))
        if family in self.addpath:
            for path_id, run in _split_path_ids(keys).items():
                self._announce(family, self._path(attrs, next_hop, path_id), run, 4, accepted, removed)
        else:
            self._announce(family, self._path(attrs, next_hop, 0), keys, 0, accepted, removed)
        moved = len(keys) - (len(self.accepted.get(family, ())) - size)
        if moved > 0:
            self._moved(moved)
        return accepted, removed

    def _announce(self, family: Family, path: Path, keys: list[bytes], cut: int,
                  accepted: list[Accepted], removed: list[Removed]) -> None:
        if self.received is not None:
            self.received.setdefault(family, {}).update(dict.fromkeys(keys, path))
        table = self.accepted.setdefault(family, {})
        policy = self.import_policy
        if policy is None:
            table.update(dict.fromkeys(keys, path))
            accepted.append(Accepted(path, [k[cut:] for k in keys] if cut else keys))
            return
        if prefix_independent(policy):
            kept = policy(family, b"", path)
            runs: dict[int, tuple[Path | None, list[bytes]]] = {0: (kept, keys)}
        else:
            runs = {}
            interned: dict[Path, Path] = {}
            for key in keys:
                kept = policy(family, key[cut:], path)
                if kept is not None and kept is not path:
                    kept = interned.setdefault(kept, kept)
                run = runs.get(id(kept))
                if run is None:
                    runs[id(kept)] = run = (kept, [])
                run[1].append(key)
        for kept, run_keys in runs.values():
            if kept is None:
                pop = table.pop
                gone = [k[cut:] for k in run_keys if pop(k, None) is not None]
                if gone:
                    removed.append(Removed(path.path_id, gone))
            else:
                table.update(dict.fromkeys(run_keys, kept))
                accepted.append(Accepted(kept, [k[cut:] for k in run_keys] if cut else run_keys))

    def withdraw(self, family: Family, keys: list[bytes]) -> list[Removed]:
        """The neighbor withdrew ``keys`` (unknown keys are ignored)."""
        moved = 0
        if self.received is not None and family in self.received:
            pop_received = self.received[family].pop
            moved = len([k for k in keys if pop_received(k, None) is not None])
        stale = self.stale.get(family)
        if stale:
            stale.difference_update(keys)
        if family in self.counted:  # the Loc-RIB knows which keys had the path
            return [Removed(0, keys)] if keys else []
        table = self.accepted.get(family)
        pop = table.pop if table else None
        gone = [k for k in keys if pop(k, None) is not None] if pop is not None else []
        if gone or moved:
            self._moved(max(len(gone), moved))
        if not gone:
            return []
        if family in self.addpath:
            return [Removed(pid, [k[4:] for k in run]) for pid, run in _split_path_ids(gone).items()]
        return [Removed(0, gone)]

    def withdraw_all(self) -> list[Gone]:
        """Forget everything (session down without graceful restart).

        A counted family's keys are those of the Loc-RIB's table now (a copy, no search): the
        Loc-RIB finds which hold the path while it removes them, in slices."""
        self._paths = {}
        out: list[Gone] = []
        for family, count in self.counted.items():
            if count and self.loc is not None:
                out.append(Gone(family, 0, list(self.loc.keys(family)), count))
        for family, table in self.accepted.items():
            if family in self.addpath:
                out.extend(Gone(family, pid, [k[4:] for k in run], len(run))
                           for pid, run in _split_path_ids(list(table)).items())
            elif table:
                out.append(Gone(family, 0, list(table), len(table)))
        self.counted.clear()
        self.accepted.clear()
        if self.received is not None:
            self.received.clear()
        self.stale.clear()
        self._churn = 0
        return out

    def mark_stale(self, families: Iterable[Family] | None = None) -> None:
        """RFC 4724 §4.2: the neighbor restarted; its routes are stale until refreshed."""
        for family, table in self.accepted.items():
            if families is None or family in families:
                self.stale[family] = set(table)
        for family, count in self.counted.items():
            if families is None or family in families:
                self.stale[family] = set(self._held(family)) if count else set()

    def stale_count(self) -> int:
        return sum(map(len, self.stale.values()))

    def routes(self, family: Family, received: bool = False) -> dict[bytes, Path]:
        """A copy of the family's routes after import policy, or as received (soft reconfiguration only)."""
        if received:
            return dict((self.received or {}).get(family, {}))
        if family in self.counted:
            return self._held(family)
        return dict(self.accepted.get(family, {}))

    def purge_stale(self, family: Family | None = None) -> dict[Family, list[Removed]]:
        """Withdraw what is still stale (End-of-RIB received or the restart timer fired)."""
        out: dict[Family, list[Removed]] = {}
        for fam in [f for f in self.stale if family is None or f == family]:
            removed = self.withdraw(fam, sorted(self.stale.pop(fam)))
            if removed:
                out[fam] = removed
        return out

    def reapply(self, import_policy: RoutePolicy | None) -> tuple[dict[Family, list[Accepted]], dict[Family, list[Removed]]]:
        """Soft reconfiguration: run a new import policy over the paths kept as received.

        Raises:
            ValueError: soft reconfiguration was not enabled for this neighbor.
        """
        if self.received is None:
            raise ValueError("soft reconfiguration inbound is not enabled for this neighbor")
        self.import_policy = import_policy
        accepted: dict[Family, list[Accepted]] = {}
        removed: dict[Family, list[Removed]] = {}
        for family, received in self.received.items():
            before = self.accepted.get(family, {})
            self.accepted[family] = {}
            runs: dict[int, tuple[Path, list[bytes]]] = {}
            for key, path in received.items():
                run = runs.get(id(path))
                if run is None:
                    runs[id(path)] = run = (path, [])
                run[1].append(key)
            acc: list[Accepted] = []
            rem: list[Removed] = []
            cut = 4 if family in self.addpath else 0
            for path, keys in runs.values():
                self._announce(family, path, keys, cut, acc, rem)
            after = self.accepted[family]
            lost = [k for k in before if k not in after]
            if lost:
                if cut:
                    rem.extend(Removed(pid, [k[4:] for k in run]) for pid, run in _split_path_ids(lost).items())
                else:
                    rem.append(Removed(0, lost))
            accepted[family] = acc
            removed[family] = rem
        self.sweep()
        return accepted, removed
