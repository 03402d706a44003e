"""Best-path changes into the kernel: the FIB as one subscriber of the RIB's results.

Changes are coalesced per turn of the event loop (the last change of a prefix wins), then
applied to the ``Fib`` in one batch, so a burst of UPDATEs costs one netlink round, not one
per UPDATE. Next hops are resolved to the interface of the session the path came from,
which is what an RFC 8950 link-local next hop needs.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bgpcore.discovery.unnumbered import fib_next_hop
from bgpcore.fib.install import Fib
from bgpcore.fib.routes import FibRoute, NextHop
from bgpcore.route import BestChange, Path, PeerId
from bgpcore.wire.nlri import key_to_network

log = logging.getLogger("bgpcore.router.fib")


class FibFeed:
    """Turns ``BestChange`` lists into ``Fib.apply`` batches.

    Args:
        fib: a started ``Fib``.
        interface_of: the interface of a peer's session (link-local peers), or None.
    """

    def __init__(self, fib: Fib, interface_of: Callable[[PeerId], str | None]) -> None:
        self.fib = fib
        self.interface_of = interface_of
        self._pending: dict[tuple[int, bytes], tuple[NextHop, ...]] = {}
        self._scheduled: asyncio.Handle | None = None
        self.batches = 0

    def changes(self, changes: list[BestChange]) -> None:
        """Take best-path changes; they reach the kernel on the next loop turn."""
        if not changes:
            return
        pending = self._pending
        for change in changes:
            afi = change.family[0]
            hops = tuple(dict.fromkeys(self._hop(p) for p in change.paths if not p.source.local and p.next_hop))
            for key in change.keys:
                pending[(afi, key)] = hops
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.flush)

    def _hop(self, path: Path) -> NextHop:
        interface = self.interface_of(path.source.peer_id)
        if interface:  # a link-local next hop needs the session's interface
            return fib_next_hop(path.next_hop, interface)
        return NextHop(gateway=path.next_hop[0].split("%", 1)[0])

    def flush(self) -> None:
        """Apply what is pending now."""
        self._scheduled = None
        pending, self._pending = self._pending, {}
        if not pending:
            return
        routes = [FibRoute(key_to_network(key, afi), hops) for (afi, key), hops in pending.items()]
        self.batches += 1
        result = self.fib.apply(routes)
        if result.failed:
            for prefix, error in list(result.failed.items())[:5]:
                log.warning("FIB refused %s: %s", prefix, error)
            if len(result.failed) > 5:
                log.warning("FIB refused %d more routes", len(result.failed) - 5)

    def close(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._pending.clear()
