"""Best-path changes into the kernel: the FIB as one subscriber of the RIB's results.

Changes are taken as the RIB holds them -- NLRI keys and the paths' next hops -- and coalesced
(the last change of a prefix wins) into one pending set per address family. They reach the
kernel in slices: each loop turn sends at most ``slice_s`` seconds of work (checked every
``slice_routes`` prefixes) and yields, so a full table, or a peer going down with a million
prefixes, streams into the kernel while the sessions' timers keep running. No ``ipaddress``
object is made on the way; next hops are resolved once per next-hop set.

When the backlog reaches ``FULL_BACKLOG`` prefixes the feed says it is full (``on_full(True)``)
and the router stops reading from peers until it is down to ``EASED_BACKLOG``: a table arrives
at the pace the kernel takes it, and waits in the peers' sockets rather than in memory.

Next hops are resolved to the interface of the session the path came from, which is what an
RFC 8950 link-local next hop needs.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from itertools import repeat
from typing import Final

from bgpcore.discovery.unnumbered import fib_next_hop
from bgpcore.fib.install import Fib
from bgpcore.fib.routes import NextHop
from bgpcore.route import BestChange, Path, PeerId

log = logging.getLogger("bgpcore.router.fib")

SLICE_S: Final = 0.01
SLICE_ROUTES: Final = 2048
FULL_BACKLOG: Final = 65536
EASED_BACKLOG: Final = 16384

_NO_HOPS: tuple[NextHop, ...] = ()


class FibFeed:
    """Turns ``BestChange`` lists into bounded ``Fib.apply_keys`` slices.

    Args:
        fib: a started ``Fib``.
        interface_of: the interface of a peer's session (link-local peers), or None.
        slice_s: wall-clock budget of kernel work per loop turn.
        slice_routes: prefixes per ``apply_keys`` call (the budget is checked between calls).
        on_full: told True when the backlog reaches ``FULL_BACKLOG``, False when it is
            back to ``EASED_BACKLOG``.
    """

    def __init__(self, fib: Fib, interface_of: Callable[[PeerId], str | None], *,
                 slice_s: float = SLICE_S, slice_routes: int = SLICE_ROUTES,
                 on_full: Callable[[bool], None] | None = None) -> None:
        self.fib = fib
        self.interface_of = interface_of
        self.on_full = on_full
        self.full = False
        self.fulls = 0  # times the backlog reached FULL_BACKLOG
        self.slice_s = slice_s
        self.slice_routes = slice_routes
        self._pending: dict[int, dict[bytes, tuple[NextHop, ...]]] = {}
        self._hops: dict[tuple[PeerId, tuple[str, ...]], NextHop] = {}
        self._sets: dict[tuple[NextHop, ...], tuple[NextHop, ...]] = {}
        self._singles: dict[NextHop, tuple[NextHop, ...]] = {}  # a next hop -> its one-member set
        self._scheduled: asyncio.Handle | None = None
        self.batches = 0
        self.turns = 0
        self.longest_turn_s = 0.0
        self.largest_backlog = 0  # prefixes of one family waiting for the kernel at once

    @property
    def backlog(self) -> int:
        """Prefixes whose change has not reached the kernel yet."""
        return sum(len(p) for p in self._pending.values())

    def changes(self, changes: list[BestChange]) -> None:
        """Take best-path changes; they reach the kernel from the next loop turn on."""
        if not changes:
            return
        for change in changes:
            afi = change.family[0]
            pending = self._pending.get(afi)
            if pending is None:
                pending = self._pending[afi] = {}
            hops = self._next_hops(change.paths) if change.best is not None else _NO_HOPS
            keys = change.keys
            if len(keys) == 1:
                pending[keys[0]] = hops
            else:
                pending.update(zip(keys, repeat(hops)))
            if len(pending) > self.largest_backlog:
                self.largest_backlog = len(pending)
        if not self.full and self.on_full is not None and self.backlog >= FULL_BACKLOG:
            self.full = True
            self.fulls += 1
            self.on_full(True)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self._turn)

    def _next_hops(self, paths: tuple[Path, ...]) -> tuple[NextHop, ...]:
        """The next-hop set of a multipath set, one shared tuple per distinct set."""
        if len(paths) == 1:
            path = paths[0]
            if not path.source.local and path.next_hop:
                hop = self._hop(path)
                single = self._singles.get(hop)
                if single is None:
                    single = self._singles[hop] = self._sets.setdefault((hop,), (hop,))
                return single
        hops = tuple(dict.fromkeys(self._hop(p) for p in paths if not p.source.local and p.next_hop))
        return self._sets.setdefault(hops, hops)

    def _hop(self, path: Path) -> NextHop:
        peer = path.source.peer_id
        cache_key = (peer, path.next_hop)
        hop = self._hops.get(cache_key)
        if hop is None:
            if len(self._hops) > 65536:
                self._hops.clear()
                self._sets.clear()
                self._singles.clear()
            interface = self.interface_of(peer)
            if interface:  # a link-local next hop needs the session's interface
                hop = fib_next_hop(path.next_hop, interface)
            else:
                hop = NextHop(gateway=path.next_hop[0].split("%", 1)[0])
            self._hops[cache_key] = hop
        return hop

    def _turn(self) -> None:
        """One loop turn's slice of work; schedules the next turn while work remains."""
        self._scheduled = None
        start = time.monotonic()
        more = self._work(start + self.slice_s)
        elapsed = time.monotonic() - start
        self.turns += 1
        if elapsed > self.longest_turn_s:
            self.longest_turn_s = elapsed
        if self.backlog <= EASED_BACKLOG:
            self._ease()
        if more and self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self._turn)

    def _work(self, deadline: float | None) -> bool:
        """Apply pending changes until ``deadline`` (None: all); True if some remain."""
        fib, size = self.fib, self.slice_routes
        for afi, pending in list(self._pending.items()):
            while pending:
                popitem = pending.popitem
                batch = [popitem() for _ in range(min(size, len(pending)))]
                self.batches += 1
                fib.apply_keys(afi, batch)  # refusals are logged per prefix by the FIB
                if deadline is not None and time.monotonic() >= deadline:
                    return any(self._pending.values())
            if self._pending.get(afi) is pending:
                del self._pending[afi]  # an emptied dict keeps the size of its largest backlog
        return False

    def flush(self) -> None:
        """Apply everything pending now, in one go (shutdown, ``show fib``)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._work(None)
        self._ease()

    def _ease(self) -> None:
        """The backlog is down to ``EASED_BACKLOG`` (or gone): say so once if it was full."""
        if self.full:
            self.full = False
            if self.on_full is not None:
                self.on_full(False)

    def close(self) -> None:
        if self.turns:
            log.info("FIB feed: %d batches in %d loop turns, longest turn %.1f ms, largest backlog %d prefixes, "
                     "full %d times", self.batches, self.turns, self.longest_turn_s * 1000, self.largest_backlog,
                     self.fulls)
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._pending.clear()
