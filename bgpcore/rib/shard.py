"""RIB shards: Adj-RIB-In, Loc-RIB, decision and update-group encoding for a slice of prefixes.

A prefix belongs to shard ``crc32(prefix key) % n`` (the key without ADD-PATH id, so every
path of a prefix meets in one shard). ``RibShard`` is one slice; it takes and returns only
plain values (ids, tuples, ``PathAttributes``, bytes), so the same class runs in-process
(``LocalShard``) or in a worker process (``ProcessShard`` around ``serve``); both take the
typed requests of ``bgpcore.rib.messages`` and carry them out with its ``handle``. Workers encode
their part of every update group's output in parallel, up to the encoding: they return plans
(prefixes by exported route), which the ``Rib`` merges across shards and encodes once.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import pickle
import queue
import sys
import threading
import traceback
import zlib
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Final

from bgpcore.policy.hooks import RoutePolicy
from bgpcore.rib.adj_in import AdjRibIn, Gone, Removed
from bgpcore.rib.adj_out import AddPathSelect, AdjRibOut, ExportSpec
from bgpcore.rib.decision import DEFAULT_OPTIONS, DecisionOptions
from bgpcore.rib.loc import LocRib
from bgpcore.rib.messages import Generate, GenerateMember, Ingest, ShardRequest, handle
from bgpcore.rib.packing import Plan, plans_to_wire
from bgpcore.rib.reflect import loop_reason
from bgpcore.route import BestChange, Path, PeerId, Source
from bgpcore.wire.context import Family
from bgpcore.wire.types import PathAttributes

log = logging.getLogger("bgpcore.rib")

_INTERN_SWEEP: Final = 1 << 16


def shard_of(key: bytes, shards: int) -> int:
    """The shard of a plain prefix key (stable across processes and runs)."""
    return zlib.crc32(key) % shards


@dataclass(frozen=True, slots=True)
class ShardConfig:
    """What every shard knows of the speaker."""

    local_asn: int
    router_id: str
    cluster_id: str
    decision: DecisionOptions = DEFAULT_OPTIONS
    track_changes: bool = True


class _Removal:
    """Keys of a peer that went down still to look at in the Loc-RIB, from ``at`` on, ``held``
    of them still holding its path (``Gone``): done when none is left, or no key."""

    __slots__ = ("peer_id", "family", "path_id", "keys", "at", "held")

    def __init__(self, peer_id: PeerId, gone: Gone) -> None:
        self.peer_id = peer_id
        self.family, self.path_id, self.keys, self.held = gone
        self.at = 0


class RibShard:
    """One slice of the RIB. Every public method takes and returns plain, picklable values."""

    def __init__(self, config: ShardConfig) -> None:
        self.config = config
        self.loc = LocRib(config.decision)
        self.peers: dict[PeerId, AdjRibIn] = {}
        self.groups: dict[int, AdjRibOut] = {}
        self._attrs: dict[PathAttributes, PathAttributes] = {}
        self._sweep_at = _INTERN_SWEEP
        self._all_paths: list[AdjRibOut] = []
        self._gone: deque[_Removal] = deque()  # removals still to apply

    # -- inbound -------------------------------------------------------------------------

    def add_peer(self, peer_id: PeerId, source: Source, import_policy: RoutePolicy | None,
                 keep_received: bool, addpath: frozenset[Family]) -> tuple[list[BestChange], int]:
        """A session came up (again: routes kept from a graceful restart stay, marked stale).

        An earlier removal of the peer still going on is finished first. Returns its best-path
        changes and how many prefixes of other peers are still to remove (as ``drain``).
        """
        done = self.drain(None) if any(gone.peer_id == peer_id for gone in self._gone) else ([], 0)
        done = done[0], self._left()
        adj = self.peers.get(peer_id)
        if adj is None:
            self.peers[peer_id] = AdjRibIn(source, import_policy, keep_received, addpath, self.loc)
        else:
            for family, removed in adj.configure(source, import_policy, keep_received, addpath):
                count = sum(len(r.keys) for r in removed)
                log.info("peer %s: ADD-PATH receive for %s changed: %d kept prefixes withdrawn", peer_id, family,
                         count)
                done = done[0] + self._report(self._remove(family, peer_id, adj, removed)), done[1]
        return done

    def remove_peer(self, peer_id: PeerId, budget: int | None = None) -> tuple[list[BestChange], int]:
        """The session went down for good: withdraw everything it sent.

        Its Adj-RIB-In goes at once; its paths leave the Loc-RIB ``budget`` keys at a time
        (None: all now), the rest with ``drain``, so a full table leaves in bounded steps.
        Returns the changes so far and how many prefixes are still to remove.
        """
        adj = self.peers.pop(peer_id, None)
        if adj is not None:
            self._gone.extend(_Removal(peer_id, gone) for gone in adj.withdraw_all())
        return self.drain(budget)

    def drain(self, budget: int | None) -> tuple[list[BestChange], int]:
        """Look at up to ``budget`` keys (None: all) of peers that went down and remove their
        paths; returns the changes and how many prefixes are still to remove.

        The keys of a plain peer's family are all the Loc-RIB's (see ``AdjRibIn.withdraw_all``):
        a slice removes its prefixes among them, and the search ends with its last one."""
        changes: list[BestChange] = []
        gone = self._gone
        loc = self.loc
        left = budget
        while gone and (left is None or left > 0):
            removal = gone[0]
            keys = removal.keys
            start = removal.at
            stop = len(keys) if left is None else min(len(keys), start + left)
            changes.extend(loc.remove(removal.family, removal.peer_id, removal.path_id,
                                      keys[start:stop] if start or stop < len(keys) else keys))
            removal.at = stop
            removal.held -= loc.lost
            if left is not None:
                left -= stop - start
            if stop == len(keys) or removal.held <= 0:
                gone.popleft()
        report = self._report(changes)
        if not gone and budget != 0:
            for group in self.groups.values():
                group.sweep_cache()  # the paths are gone: so are their cached exports
        return report, self._left()

    def _left(self) -> int:
        """Prefixes of peers that went down still to remove."""
        return sum(removal.held for removal in self._gone)

    def _sweep(self) -> None:
        """Forget interned attribute sets nothing else refers to any more."""
        for attrs in [a for a in self._attrs if sys.getrefcount(a) <= 4]:
            del self._attrs[attrs]
        self._sweep_at = max(_INTERN_SWEEP, 2 * len(self._attrs))

    def announce(self, peer_id: PeerId, family: Family, attrs: PathAttributes, next_hop: tuple[str, ...],
                 keys: list[bytes]) -> tuple[list[BestChange], int]:
        """The peer announced ``keys`` with one attribute set.

        Returns:
            (changes, accepted prefix count of that peer in this shard).
        """
        adj = self.peers[peer_id]
        source = adj.source
        if source.ebgp and attrs.local_pref is not None:
            attrs = attrs._replace(local_pref=None)  # RFC 4271 §5.1.5: ignored from an external peer
        interned = self._attrs.setdefault(attrs, attrs)
        if interned is attrs and len(self._attrs) > self._sweep_at:
            self._sweep()
        attrs = interned
        config = self.config
        reason = loop_reason(attrs, source, config.router_id, config.cluster_id, config.local_asn)
        if reason is not None:
            log.info("peer %s (%s): %d prefixes dropped: %s", peer_id, source.address, len(keys), reason)
            return self.withdraw(peer_id, family, keys)
        accepted, removed = adj.announce(family, attrs, next_hop, keys)
        loc = self.loc
        if len(accepted) == 1 and not removed:
            path, run = accepted[0]
            changes = loc.update(family, path, run)
            adj.settle(family, len(run), loc.gained, 0)  # a counted family's announce: one run
        else:
            changes = []
            for path, run in accepted:
                changes.extend(loc.update(family, path, run))
            changes.extend(self._remove(family, peer_id, adj, removed))
        if self._all_paths:
            self._touch(family, keys, adj)
        return self._report(changes), adj.count()

    def withdraw(self, peer_id: PeerId, family: Family, keys: list[bytes]) -> tuple[list[BestChange], int]:
        """The peer withdrew ``keys``."""
        adj = self.peers[peer_id]
        changes = self._remove(family, peer_id, adj, adj.withdraw(family, keys))
        self._touch(family, keys, adj)
        return self._report(changes), adj.count()

    def _remove(self, family: Family, peer_id: PeerId, adj: AdjRibIn, removed: list[Removed]) -> list[BestChange]:
        """Take the peer's paths off ``removed``'s keys, and tell its Adj-RIB-In how many had one."""
        changes: list[BestChange] = []
        loc = self.loc
        lost = 0
        for path_id, keys in removed:
            changes.extend(loc.remove(family, peer_id, path_id, keys))
            lost += loc.lost
        adj.settle(family, 0, 0, lost)
        return changes

    def _touch(self, family: Family, keys: list[bytes], adj: AdjRibIn) -> None:
        """ADD-PATH "all paths" groups care about every path change, not only best changes."""
        for group in self._all_paths:
            if family in group.spec.send_ctx.addpath:
                group.mark(family, [k[4:] for k in keys] if family in adj.addpath else keys)

    def _report(self, changes: list[BestChange]) -> list[BestChange]:
        groups = self.groups.values()
        for change in changes:
            family, keys, best = change.family, change.keys, change.best
            for group in groups:
                group.mark_best(family, keys, best)
        return changes if self.config.track_changes else []

    def count(self, peer_id: PeerId) -> int:
        adj = self.peers.get(peer_id)
        return 0 if adj is None else adj.count()

    def mark_stale(self, peer_id: PeerId, families: frozenset[Family] | None) -> int:
        """Graceful restart of a peer: its routes become stale. Returns how many."""
        adj = self.peers.get(peer_id)
        if adj is None:
            return 0
        adj.mark_stale(families)
        return adj.stale_count()

    def purge_stale(self, peer_id: PeerId, family: Family | None) -> list[BestChange]:
        """End-of-RIB or restart timer: withdraw the peer's routes that were not refreshed."""
        adj = self.peers.get(peer_id)
        if adj is None:
            return []
        changes: list[BestChange] = []
        for fam, removed in adj.purge_stale(family).items():
            if removed:
                log.info("peer %s: %d stale %s prefixes purged", peer_id, sum(len(r.keys) for r in removed), fam)
            changes.extend(self._remove(fam, peer_id, adj, removed))
        return self._report(changes)

    def soft_reset_in(self, peer_id: PeerId, import_policy: RoutePolicy | None) -> list[BestChange]:
        """Re-apply an import policy to the paths kept as received (soft reconfiguration)."""
        adj = self.peers[peer_id]
        accepted, removed = adj.reapply(import_policy)
        changes: list[BestChange] = []
        for family, runs in accepted.items():
            for path, keys in runs:
                changes.extend(self.loc.update(family, path, keys))
        for family, gone in removed.items():
            changes.extend(self._remove(family, peer_id, adj, gone))
        return self._report(changes)

    # -- outbound ------------------------------------------------------------------------

    def add_group(self, group_id: int, spec: ExportSpec) -> None:
        """A new update group; everything in the Loc-RIB is pending for it."""
        group = AdjRibOut(spec)
        for family in spec.families:
            group.mark(family, list(self.loc.keys(family)))
        self.groups[group_id] = group
        self._all_paths = self._groups_of_all_paths()

    def remove_group(self, group_id: int) -> None:
        self.groups.pop(group_id, None)
        self._all_paths = self._groups_of_all_paths()

    def _groups_of_all_paths(self) -> list[AdjRibOut]:
        return [g for g in self.groups.values() if g.spec.addpath_select == AddPathSelect.ALL and g.spec.send_ctx.addpath]

    def add_member(self, group_id: int, member: PeerId, fresh: bool = True) -> None:
        self.groups[group_id].add_member(member, self.loc, fresh)

    def detach_member(self, group_id: int, member: PeerId, keys: dict[Family, list[bytes]]) -> None:
        self.groups[group_id].detach_member(member, keys)

    def attach_member(self, group_id: int, member: PeerId) -> None:
        self.groups[group_id].attach_member(member)

    def generate(self, group_id: int, budget_bytes: int) -> tuple[list[Plan], dict[Family, list[bytes]], bool]:
        """The group's next plans (the ``Rib`` merges them across shards and encodes them once)."""
        group = self.groups[group_id]
        plans, keys = group.generate(self.loc, budget_bytes)
        return plans, keys, not group.pending()

    def generate_member(self, group_id: int, member: PeerId, budget_bytes: int) -> tuple[list[Plan], bool]:
        return self.groups[group_id].generate_member(member, self.loc, budget_bytes)

    def forget(self, group_id: int, family: Family, keys: list[bytes], strip: int) -> None:
        """The encoder refused these keys' attribute set for the group: not advertised."""
        group = self.groups.get(group_id)
        if group is not None:
            group.forget(family, keys, strip)

    # -- queries -------------------------------------------------------------------------

    def best_paths(self, family: Family) -> dict[bytes, tuple[Path, ...]]:
        """Every prefix of a family with its multipath set, best first (for show and tests)."""
        return {key: self.loc.multipath(family, key) for key in self.loc.keys(family)}

    def adj_rib_in(self, peer_id: PeerId, family: Family, received: bool) -> dict[bytes, Path]:
        """A peer's routes after import policy, or as received (soft reconfiguration only)."""
        adj = self.peers.get(peer_id)
        return {} if adj is None else adj.routes(family, received)

    def advertised(self, group_id: int, family: Family) -> dict[bytes, tuple[PathAttributes, tuple[str, ...], PeerId]]:
        """What an update group has sent (without ADD-PATH): prefix -> (attributes, next hop,
        the peer the route came from, which did not get it)."""
        group = self.groups.get(group_id)
        return {} if group is None else dict(group.advertised.get(family, {}))

    def size(self) -> int:
        return len(self.loc)

    def ingest(self, ops: list[Ingest]) -> tuple[list[BestChange], dict[PeerId, int]]:
        """Inbound work: ops with this shard's prefixes (``accel.split_ops``).

        Returns:
            (changes, accepted prefix count in this shard of each peer in the batch, after it:
            an op without prefixes only asks for the count).
        """
        changes: list[BestChange] = []
        counts: dict[PeerId, int] = {}
        for announce, peer_id, family, attrs, next_hop, keys, cut in ops:
            if not keys:
                if peer_id not in counts and (adj := self.peers.get(peer_id)) is not None:
                    counts[peer_id] = adj.count()
                continue
            if announce:
                assert attrs is not None
                if attrs.__class__ is tuple:  # from a worker's pipe (``accel.split_ops``)
                    attrs = self._attrs.get(attrs) or PathAttributes._make(attrs)
                done, counts[peer_id] = self.announce(peer_id, family, attrs, next_hop, keys)
            else:
                done, counts[peer_id] = self.withdraw(peer_id, family, keys)
            changes.extend(done)
        return changes, counts


class ShardFailure(Exception):
    """A worker raised; the message carries its traceback text."""


def _send_replies(conn: Connection, replies: queue.SimpleQueue[bytes | None]) -> None:
    """Write pickled replies to the pipe (the write itself runs without the GIL)."""
    while True:
        reply = replies.get()
        if reply is None:
            return
        conn.send_bytes(reply)


def _pickled(reply: object) -> bytes:
    return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)


_NOTHING: Final = object()


@dataclass(frozen=True, slots=True)
class ShardLog:
    """A worker's log record, which the parent logs again (with its handlers and format)."""

    name: str
    level: int
    message: str


class _LogToParent(logging.Handler):
    def __init__(self, replies: queue.SimpleQueue[bytes | None]) -> None:
        super().__init__()
        self.replies = replies

    def emit(self, record: logging.LogRecord) -> None:
        self.replies.put(_pickled(ShardLog(record.name, record.levelno, self.format(record))))


def serve(conn: Connection, config: ShardConfig, log_level: int = logging.WARNING,
          gc_threshold: tuple[int, ...] | None = None) -> None:
    """Worker process main loop: a ``ShardRequest`` in, its result out, ``None`` to stop.

    Replies are pickled here and written to the pipe by a second thread, so the worker keeps
    reading requests while the parent is still busy sending: neither side can block the
    other on a full pipe. That thread needs the GIL only for a moment per reply: a short
    switch interval lets it have it while this one works on the next request, where the
    default 5 ms would hold back every reply the parent waits for. Log records at
    ``log_level`` and above go to the parent between the replies (``ShardLog``). The
    collector runs at the parent's ``gc_threshold`` (a program tuned for a full table has
    its workers tuned alike).
    """
    if gc_threshold is not None:
        gc.set_threshold(*gc_threshold)
    sys.setswitchinterval(0.0005)
    shard = RibShard(config)
    replies: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(_LogToParent(replies))
    root.setLevel(log_level)
    sender = threading.Thread(target=_send_replies, args=(conn, replies), daemon=True)
    sender.start()
    try:
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return
            if request is None:
                return
            try:
                result = handle(shard, request)
                if isinstance(request, (Generate, GenerateMember)):
                    result = (plans_to_wire(result[0]), *result[1:])  # type: ignore[index]
            except Exception as exc:  # reported to the parent, which raises it
                result = ShardFailure(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            replies.put(_pickled(result))
            gc.freeze()  # RIB objects are long-lived and acyclic: keep them out of GC passes
    finally:
        replies.put(None)
        sender.join()
        conn.close()


Callback = Callable[[Any], None]


class LocalShard:
    """A shard in this process: calls run at once."""

    def __init__(self, config: ShardConfig) -> None:
        self.shard = RibShard(config)
        self._result: Any = None

    def send(self, request: ShardRequest) -> None:
        self._result = handle(self.shard, request)

    def result(self) -> Any:
        return self._result

    def ingest(self, ops: list[Ingest], packed: bytes, on_result: Callback) -> None:
        on_result(self.shard.ingest(ops))

    def call(self, request: ShardRequest, on_result: Callback) -> None:
        on_result(handle(self.shard, request))

    def poll(self) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class ProcessShard:
    """A shard in a worker process.

    ``ingest`` and ``call`` send work without waiting (its result goes to a callback when it
    is back); ``send`` then ``result`` is a call whose answer is awaited, after the results of
    everything sent before it have been handled (one pipe keeps the order).
    """

    def __init__(self, config: ShardConfig, start_method: str = "spawn", index: int = 0) -> None:
        ctx: Any = multiprocessing.get_context(start_method)
        self.conn, child = ctx.Pipe()
        level = logging.getLogger("bgpcore").getEffectiveLevel()
        self.process = ctx.Process(target=serve, args=(child, config, level, gc.get_threshold()), daemon=True,
                                   name=f"bgpcore-rib-shard-{index}")
        self.process.start()
        child.close()
        self._waiting: deque[Callback | None] = deque()

    def _died(self, exc: BaseException) -> ShardFailure:
        failure = ShardFailure(f"RIB shard worker {self.process.name} died (exit code {self.process.exitcode})")
        failure.__cause__ = exc
        return failure

    def _receive(self, block: bool = True) -> Any:
        """The next answer (``_NOTHING`` when not ``block`` and none is there yet); the
        worker's log records before it are logged here."""
        while True:
            try:
                if not block and not self.conn.poll(0):
                    return _NOTHING
                answer = self.conn.recv()
            except (EOFError, OSError) as exc:
                raise self._died(exc) from exc
            if isinstance(answer, ShardLog):
                logging.getLogger(answer.name).log(answer.level, "%s", answer.message)
                continue
            if isinstance(answer, ShardFailure):
                raise answer
            return answer

    def ingest(self, ops: list[Ingest], packed: bytes, on_result: Callback) -> None:
        """Send ``packed``, the pickled ``IngestBatch(ops=ops)`` request, as is."""
        self.poll()
        self._put(packed, on_result)

    def call(self, request: ShardRequest, on_result: Callback) -> None:
        """Send a request without waiting; its result goes to ``on_result`` when it is back."""
        self.poll()
        self._put(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL), on_result)

    def _put(self, data: bytes, on_result: Callback | None) -> None:
        """Send a pickled request; its answer goes to ``on_result`` (None: to ``result``)."""
        try:
            self.conn.send_bytes(data)
        except OSError as exc:
            raise self._died(exc) from exc
        self._waiting.append(on_result)

    def fileno(self) -> int:
        """Readable when a result is back (for an event loop's reader)."""
        return int(self.conn.fileno())

    def finish(self) -> None:
        """Wait for the results of everything sent and hand them to their callbacks."""
        while self._waiting:
            callback = self._waiting[0]
            if callback is None:
                return  # a call's answer, which its ``result`` takes
            self._waiting.popleft()
            callback(self._receive())

    def poll(self) -> None:
        """Handle the results that are already back, without waiting."""
        while self._waiting and self._waiting[0] is not None:
            answer = self._receive(block=False)
            if answer is _NOTHING:
                return
            callback = self._waiting.popleft()
            assert callback is not None
            callback(answer)

    def send(self, request: ShardRequest) -> None:
        self._put(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL), None)

    def result(self) -> Any:
        while self._waiting:
            callback = self._waiting.popleft()
            answer = self._receive()
            if callback is None:
                return answer
            callback(answer)
        raise RuntimeError("no call is waiting for a result")

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.conn.close()


ShardHandle = LocalShard | ProcessShard
