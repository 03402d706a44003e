"""The FIB: keep the kernel's proto-bgp routes of one table equal to the best paths bgpcore wants.

What the rest of bgpcore calls::

    fib = Fib(table=254, metric=20)
    fib.start()                         # open netlink, read what a previous run left behind
    fib.apply([FibRoute(net, (NextHop("192.0.2.2", ifname="eth1"),)), ...])  # install/replace
    fib.apply([FibRoute(net, ())])      # no next hops: remove
    fib.sync()                          # after convergence: remove stale routes, retry pending
    fib.pending, fib.failed             # prefixes waiting for a link, prefixes the kernel refused
    fib.resync()                        # re-read the kernel and repair any difference
    fib.stop()                          # remove our routes (kept when graceful restart is on)

Calls are blocking batches: rtnetlink handles each request inside ``sendmsg``, so a batch of
thousands of routes returns in milliseconds and a full table in seconds (``apply_async``
yields to the event loop between chunks for such tables). Link events arrive on
a non-blocking socket; asyncio code calls ``fib.attach(loop)`` (``loop.add_reader``) and routes
left pending because their device was down are installed when it comes back up.

Next hops: with nexthop objects (kernel 5.3+, detected at start) every distinct next hop is one
object and every ECMP set one group, so moving a next hop (:meth:`Fib.move_nexthop`) rewrites one
object, not every route. Without them, routes carry RTA_GATEWAY/RTA_OIF or RTA_MULTIPATH.
IPv4 routes via IPv6 next hops use RTA_VIA where the kernel accepts it, else the FRR way: next
hop 169.254.0.1 onlink plus a permanent neighbour entry for the peer's MAC;
``Fib.v4_via_v6`` says which (and it is logged).
"""
from __future__ import annotations

import asyncio
import errno as errno_mod
import itertools
import logging
import socket
from collections import Counter
from typing import Final, Iterable, Literal

from bgpcore.constants import RTPROT_BGP
from bgpcore.errors import FibError
from bgpcore.fib import kernel
from bgpcore.fib import netlink as nl
from bgpcore.fib.nexthops import NextHopResolver
from bgpcore.fib.objects import Hop, NexthopObjects, ObjectKey, object_key
from bgpcore.fib.policy import INSTALL_ALL, FibPolicy
from bgpcore.fib.reconcile import FibOps, FibState, Signature
from bgpcore.fib.routes import (V6_KEY_LEN, ApplyResult, FibRoute, IPNetwork, NextHop, dump_nexthop_objects,
                                dump_routes, fib_key, format_fib, hops_of, kernel_key, key_family, key_prefix,
                                route_key, show_fib)

__all__ = ["ApplyResult", "Fib", "FibRoute", "NextHop", "format_fib", "show_fib"]

log = logging.getLogger(__name__)

ViaMode = Literal["via", "onlink"]

_RETRY_ERRNOS: Final = frozenset({errno_mod.ENETDOWN, errno_mod.ENETUNREACH})
_GONE_ERRNOS: Final = frozenset({errno_mod.ESRCH, errno_mod.ENOENT})
_CREATE: Final = nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE
_RETRY_DELAY_S: Final = 0.5




class Fib:
    """Desired routes, what the kernel holds of them, and the netlink traffic between the two.

    Args:
        table: routing table id (254 is main).
        metric: route priority; routes of ours with another metric are stale.
        policy: which prefixes reach the kernel (see :mod:`bgpcore.fib.policy`).
        nexthop_objects: use RTM_NEWNEXTHOP objects and groups; None detects support.
        v4_via_v6: ``"via"`` (RTA_VIA), ``"onlink"`` (169.254.0.1) or None to detect.
        keep_on_stop: leave routes in the kernel at ``stop()`` (graceful restart).
        namespace: run in this named network namespace.
    """

    def __init__(self, *, table: int = nl.RT_TABLE_MAIN, metric: int = 20, policy: FibPolicy | None = None,
                 nexthop_objects: bool | None = None, v4_via_v6: ViaMode | None = None,
                 keep_on_stop: bool = False, namespace: str | None = None) -> None:
        self.table = table
        self.metric = metric
        self.policy = policy
        self.nexthop_objects = nexthop_objects
        self.v4_via_v6: ViaMode | None = v4_via_v6
        self.keep_on_stop = keep_on_stop
        self.namespace = namespace
        self._sock: kernel.NetlinkSocket | None = None
        self._monitor: kernel.LinkMonitor | None = None
        self._own_monitor = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resolver: NextHopResolver | None = None
        self.state = FibState(table, metric, bool(nexthop_objects))
        self._other_metric: list[tuple[bytes, int]] = []
        # (key length: 5 for IPv4, 17 for IPv6; next hops) -> signature
        self._resolved: dict[tuple[int, tuple[NextHop, ...]], Signature] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, routes: Iterable[FibRoute] | None = None, *,
              links: kernel.LinkMonitor | None = None) -> ApplyResult:
        """Open netlink, detect kernel features and adopt the routes a previous run left.

        Kernel routes of ours that match what ``apply`` later asks for are adopted without a
        message (counted as ``unchanged``); the rest stay until :meth:`sync`. With ``routes``,
        apply and sync at once. ``links``: a link monitor (with addresses) shared with other
        consumers, which ``attach`` subscribes to; by default the FIB opens its own.
        """
        self._own_monitor = links is None
        self._monitor = links or kernel.LinkMonitor(addresses=True, namespace=self.namespace)
        self._sock = kernel.NetlinkSocket(namespace=self.namespace)
        self._resolver = NextHopResolver(self._sock)
        if self.v4_via_v6 is None:
            self.v4_via_v6 = "via" if _kernel_version() >= (5, 2) else "onlink"
            log.info("IPv4 routes via IPv6 next hops use %s", "RTA_VIA" if self.v4_via_v6 == "via"
                     else "169.254.0.1 onlink + permanent neighbour")
        self._read_nexthop_objects()
        self.state.nexthop_objects = bool(self.nexthop_objects)
        self._read_kernel_routes()
        log.info("FIB table %d: %d routes of ours already in the kernel; nexthop objects %s",
                 self.table, len(self.state.have), "on" if self.nexthop_objects else "off")
        if routes is None:
            return ApplyResult()
        result = self.apply(routes)
        cleanup = self.sync()
        result.removed += cleanup.removed
        result.installed += cleanup.installed
        return result

    def stop(self) -> None:
        """Remove our routes and nexthop objects, or keep them when ``keep_on_stop`` is set."""
        if self._sock is None:
            return
        if not self.keep_on_stop:
            self.state.unresolved.clear()
            self.state.pending.clear()
            self.state.unmet = dict.fromkeys(self.state.have)  # nothing is wanted any more
            self.state.refs = Counter(self.state.have.values())
            self._delete_routes([(k, self.metric) for k in self.state.have])
            self._delete_routes(self._other_metric)
            self._collect_objects()
        self.detach()
        if self._monitor is not None and self._own_monitor:
            self._monitor.close()
        self._sock.close()
        self._sock = self._monitor = None

    def attach(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Handle link events from ``loop`` (``add_reader`` on the monitor socket)."""
        if self._monitor is None:
            raise FibError(errno_mod.ENOTCONN, "Fib.start() first")
        self._loop = loop or asyncio.get_running_loop()
        if self._own_monitor:
            self._loop.add_reader(self._monitor.fileno(), self.process_link_events)
        else:
            self._monitor.subscribe(self.link_events)

    def detach(self) -> None:
        if self._loop is not None and self._monitor is not None:
            if self._own_monitor:
                self._loop.remove_reader(self._monitor.fileno())
            else:
                self._monitor.unsubscribe(self.link_events)
        self._loop = None

    def fileno(self) -> int:
        """The link monitor socket, for callers with their own poll loop."""
        if self._monitor is None:
            raise FibError(errno_mod.ENOTCONN, "Fib.start() first")
        return self._monitor.fileno()

    # -- changes -----------------------------------------------------------------------------------

    def install(self, route: FibRoute) -> None:
        """Install or replace one route.

        Raises:
            FibError: the kernel refused it (a route whose device is down is kept pending instead).
        """
        result = self.apply([route])
        for error in result.failed.values():
            raise error

    def remove(self, prefix: IPNetwork) -> None:
        """Remove one prefix (nothing happens if it is not installed)."""
        self.apply([FibRoute(prefix, ())])

    def apply(self, changes: Iterable[FibRoute]) -> ApplyResult:
        """Make the kernel hold these best paths: a route with next hops is installed or replaced,
        one without is removed. Refusals are returned per prefix, never raised."""
        return self._apply([(route_key(r.prefix), r.nexthops) for r in changes])

    def apply_keys(self, afi: int, changes: Iterable[tuple[bytes, tuple[NextHop, ...]]]) -> ApplyResult:
        """:meth:`apply` for prefixes as the RIB keys them (prefix length byte, then the
        significant address bytes) with their next hops; an empty tuple removes the prefix.

        Args:
            afi: 1 (IPv4) or 2 (IPv6).
            changes: (key, next hops) pairs; next-hop tuples are best shared between prefixes.
        """
        if self.policy is not None and self.policy is not INSTALL_ALL:
            return self._apply([(fib_key(afi, key), hops) for key, hops in changes])
        return self._apply_keys(afi, changes)

    def _apply_keys(self, afi: int, changes: Iterable[tuple[bytes, tuple[NextHop, ...]]]) -> ApplyResult:
        """:meth:`_apply` and :meth:`FibState.plan` in one pass, for the feed's hot path (no
        policy): per prefix, a key, a few dict operations and at most one operation to send."""
        sock = self._require()
        state = self.state
        have_get, unmet, unresolved = state.have.get, state.unmet, state.unresolved
        pending, failed = state.pending, state.failed
        metric = self.metric
        resolved_get = self._resolved.get
        v4 = afi == 1
        klen = 5 if v4 else V6_KEY_LEN
        family = socket.AF_INET if v4 else socket.AF_INET6
        result = ApplyResult()
        ops = FibOps()
        ops.unique = True  # one change per prefix (the dict below)
        install, delete = ops.installs.append, ops.deletes.append
        last_hops: tuple[NextHop, ...] | None = None
        sig: Signature | None = None
        unchanged = 0
        for rkey, nexthops in dict(changes).items():  # a prefix listed twice: its last change
            key = rkey if v4 else fib_key(2, rkey)  # IPv4: the RIB's own key object
            if pending or failed or unresolved:
                state.forget_outcome(key)
            if unmet and key in unmet:
                state.settle(key)  # this change replaces the wish; done() records what is refused
            if not nexthops:
                if have_get(key) is not None:
                    unmet[key] = None
                    delete((key, metric))
                continue
            if nexthops is not last_hops:
                sig = resolved_get((klen, nexthops))
                if sig is None:
                    try:
                        sig = self._resolve(family, nexthops)
                    except FibError as exc:
                        last_hops = None
                        unresolved[key] = nexthops
                        state.refuse(key, exc, result)
                        if have_get(key) is not None:
                            unmet[key] = None
                            delete((key, metric))
                        continue
                last_hops = nexthops
            if have_get(key) != sig:
                install((key, sig))  # type: ignore[arg-type]
            else:
                unchanged += 1
        result.unchanged += unchanged
        state.add_creates(ops)
        try:
            self._run_ops(sock, ops, result)
        except kernel.BatchOverrun:
            log.warning("netlink replies were lost; re-reading the kernel's routes")
            return self.resync()
        return result

    def _apply(self, changes: list[tuple[bytes, tuple[NextHop, ...]]]) -> ApplyResult:
        sock = self._require()
        policy = None if self.policy is INSTALL_ALL else self.policy
        state = self.state
        unresolved, wish = state.unresolved, state.wish
        pending, failed = state.pending, state.failed
        resolved_get = self._resolved.get
        result = ApplyResult()
        last_hops: tuple[NextHop, ...] | None = None
        last_sig: Signature | None = None
        last_len = 0
        for key, nexthops in changes:
            if pending or failed or unresolved:
                state.forget_outcome(key)
            if not nexthops or (policy is not None and not policy(key_prefix(key))):
                wish(key, None)
                continue
            klen = V6_KEY_LEN if len(key) == V6_KEY_LEN else 5
            if nexthops is last_hops and klen == last_len:
                sig = last_sig
            else:
                sig = resolved_get((klen, nexthops))
                if sig is None:
                    try:
                        sig = self._resolve(key_family(key), nexthops)
                    except FibError as exc:
                        wish(key, None)
                        unresolved[key] = nexthops
                        state.refuse(key, exc, result)
                        continue
                last_hops, last_sig, last_len = nexthops, sig, klen
            wish(key, sig)
        try:
            self._converge(sock, [key for key, _hops in changes], result)
        except kernel.BatchOverrun:
            log.warning("netlink replies were lost; re-reading the kernel's routes")
            return self.resync()
        return result

    async def apply_async(self, changes: Iterable[FibRoute], chunk: int = 8192) -> ApplyResult:
        """:meth:`apply` in chunks of ``chunk`` routes, yielding to the event loop between them,
        so that a full table does not hold up sessions' timers for seconds."""
        total = ApplyResult()
        routes = iter(changes)
        while batch := list(itertools.islice(routes, chunk)):
            part = self.apply(batch)
            total.installed += part.installed
            total.removed += part.removed
            total.unchanged += part.unchanged
            total.pending += part.pending
            total.failed.update(part.failed)
            await asyncio.sleep(0)
        return total

    def sync(self) -> ApplyResult:
        """Remove stale routes of ours, retry pending ones and drop unused nexthop objects."""
        result = ApplyResult()
        sock = self._require()
        have = self.state.have
        stale = [k for k, sig in self.state.unmet.items() if sig is None and k in have]
        try:
            self._converge(sock, stale + list(self.state.pending), result)
        except kernel.BatchOverrun:
            return self.resync()
        self._delete_routes(self._other_metric)
        self._other_metric = []
        self._collect_objects()
        return result

    def resync(self) -> ApplyResult:
        """Re-read our routes and nexthop objects from the kernel, then install, replace or
        remove whatever differs from the wanted routes (after lost netlink replies, or changes
        someone made behind our back)."""
        sock = self._require()
        self.state.detach_have()
        self._other_metric = []
        if self.nexthop_objects:
            objects = self.state.objects
            objects.present.clear()
            for msg in dump_nexthop_objects(sock):
                if msg.protocol == RTPROT_BGP:
                    if msg.id not in objects.content:
                        objects.adopt(msg.id, object_key(msg))
                    elif objects.content[msg.id] == object_key(msg):
                        objects.present.add(msg.id)  # else: changed behind our back, re-sent
        self._read_kernel_routes()
        result = ApplyResult()
        result.unchanged = self.state.settle_met()
        self.state.failed.clear()
        self._converge(sock, list(self.state.unmet), result)
        self._delete_routes(self._other_metric)
        self._other_metric = []
        if self.nexthop_objects:
            self._collect_objects()
        result.failed = {**self.failed, **result.failed}
        return result

    def move_nexthop(self, old: NextHop, new: NextHop) -> int:
        """Point every route using ``old`` at ``new``; returns the routes rewritten.

        With nexthop objects this rewrites one object in place (the routes keep its id);
        without, every route using ``old`` is replaced.
        """
        sock = self._require()
        state = self.state
        using = {sig for sig, hops in state.names.items() if old in hops}
        routes = [(k, state.names[sig]) for k, sig in state.wanted_items() if sig in using]
        routes += [(k, hops) for k, hops in state.unresolved.items() if old in hops]
        moved = [(k, tuple(new if h == old else h for h in hops)) for k, hops in routes]
        if self.nexthop_objects and routes:
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    old_hop, new_hop = self._hop(family, old), self._hop(family, new)
                except FibError:
                    continue  # not a next hop this family can use
                obj_id = self.state.objects.rebind(ObjectKey(hop=old_hop[:4] + (1,)), ObjectKey(hop=new_hop[:4] + (1,)))
                if obj_id is not None:
                    self._send_object(sock, obj_id)
            self._resolved.clear()
        # routes whose object was rewritten keep their signature, so no message goes out for them
        self._apply(moved)
        return len(routes)

    @property
    def pending(self) -> dict[IPNetwork, str]:
        """Routes waiting for their next-hop link or gateway, with the kernel's reason."""
        return {key_prefix(k): why for k, why in self.state.pending.items()}

    @property
    def failed(self) -> dict[IPNetwork, FibError]:
        """Routes the kernel refused for good (until they are applied again)."""
        return {key_prefix(k): exc for k, exc in self.state.failed.items()}

    # -- reading the kernel ------------------------------------------------------------------------

    def routes(self) -> list[FibRoute]:
        """Our routes as the kernel holds them now (``show fib``)."""
        return show_fib(self.table, sock=self._require())

    def process_link_events(self) -> None:
        """Read queued link events from the FIB's own monitor and handle them (``link_events``)."""
        if self._monitor is None:
            return
        events = self._monitor.read()
        overrun, self._monitor.overrun = self._monitor.overrun, False
        self.link_events(events, overrun)

    def link_events(self, events: list[kernel.LinkEvent], overrun: bool = False) -> None:
        """Routes through a link that went down wait for it; pending routes are retried when a
        link comes up. ``overrun``: events were lost, so links are compared as they are now."""
        if self._sock is None:
            return
        came_up: set[int] = set()
        went_down: set[int] = set()
        new_address: set[int] = set()
        new_name = False
        if overrun:
            events = [*kernel.list_links(self._require()), *self._resolve_links().vanished()]
        for event in events:
            if isinstance(event, nl.AddressMessage):
                new_address.add(event.ifindex)  # a connected subnet can make a gateway reachable
                continue
            if not isinstance(event, nl.LinkMessage):
                continue
            before = self._resolve_links().links.get(event.ifindex)
            was_up = before is not None and before.up and not before.deleted
            if self._resolve_links().note_link(event) or (before is None and not event.deleted):
                self._resolved.clear()  # an interface name now means another index
                new_name = True
            is_up = event.up and not event.deleted
            if is_up and not was_up:
                came_up.add(event.ifindex)
            elif was_up and not is_up:
                went_down.add(event.ifindex)
        if went_down:
            self._link_down(went_down)
        if came_up - went_down:
            self._link_up(came_up - went_down)
        if new_name and self.state.pending:
            self._link_up(set(), restore_objects=False)  # routes naming that interface resolve anew
        if new_address - came_up:
            self._link_up(new_address - came_up, restore_objects=False)
        if self.state.pending and self._loop is not None and (came_up or new_address):
            self._loop.call_later(_RETRY_DELAY_S, self.retry_pending)

    def retry_pending(self) -> ApplyResult:
        """Try again to install routes that waited for a link or a gateway."""
        return self._link_up(set())

    # -- internals: resolution ---------------------------------------------------------------------

    def _require(self) -> kernel.NetlinkSocket:
        if self._sock is None:
            raise FibError(errno_mod.ENOTCONN, "Fib.start() first")
        return self._sock

    def _resolve_links(self) -> NextHopResolver:
        if self._resolver is None:
            raise FibError(errno_mod.ENOTCONN, "Fib.start() first")
        return self._resolver

    def _hop(self, family: int, nexthop: NextHop) -> Hop:
        return self._resolve_links().hop(family, nexthop, self.v4_via_v6)

    def _resolve(self, family: int, nexthops: tuple[NextHop, ...]) -> Signature:
        """The signature of a next-hop set. ECMP members are in a stable order -- interface
        name, then next-hop address -- whatever order the paths came in, so a member that
        leaves and returns takes its old place and flows through the other members stay put."""
        unique: dict[tuple[int, bytes, int, int], int] = {}
        for nexthop in nexthops:
            hop = self._hop(family, nexthop)
            unique.setdefault(hop[:4], hop[4])
        links = self._resolve_links().links

        def order(hop: tuple[int, bytes, int, int]) -> tuple[str, int, bytes, int, int]:
            link = links.get(hop[2])
            return (link.name if link is not None and link.name else f"~{hop[2]:010d}", hop[0], hop[1], hop[2], hop[3])

        hops = tuple(k + (w,) for k, w in sorted(unique.items(), key=lambda item: order(item[0])))
        if len(hops) == 1:
            hops = (hops[0][:4] + (1,),)
        sig: Signature
        if not self.nexthop_objects:
            sig = hops
        elif len(hops) == 1:
            sig = self.state.objects.id_for(ObjectKey(hop=hops[0]))
        else:
            members = tuple((self.state.objects.id_for(ObjectKey(hop=h[:4] + (1,))), h[4]) for h in hops)
            sig = self.state.objects.id_for(ObjectKey(group=members))
        self._resolved[(5 if family == socket.AF_INET else V6_KEY_LEN, nexthops)] = sig
        self.state.name(sig, nexthops)
        return sig

    # -- internals: talking to the kernel (the executor of FibState's operations) ------------------

    def _converge(self, sock: kernel.NetlinkSocket, keys: Iterable[bytes], result: ApplyResult) -> None:
        """Send what makes the kernel meet the wishes for ``keys``: objects, routes, deletions."""
        self._run_ops(sock, self.state.plan(keys, result), result)

    def _run_ops(self, sock: kernel.NetlinkSocket, ops: FibOps, result: ApplyResult) -> None:
        """Send ``ops``, then deal with refusals (the old route must not stay) and dead objects."""
        if not ops:
            return
        state = self.state
        mode = self.v4_via_v6
        refused = self._execute(sock, ops, result)
        if refused:
            # a refused replacement must not leave the old route behind
            self._execute(sock, state.deletions([(key, self.metric) for key, _sig, _err in refused]), ApplyResult())
            for key, sig, err in refused:
                if err.errno == errno_mod.EINVAL and self.v4_via_v6 == "via" and isinstance(sig, tuple) \
                        and any(h[0] == socket.AF_INET6 for h in sig) and len(key) != V6_KEY_LEN:
                    log.warning("kernel refused RTA_VIA; IPv4 routes via IPv6 next hops now use 169.254.0.1 onlink")
                    self.v4_via_v6 = "onlink"
                    self._resolved.clear()
                    break
        if self.nexthop_objects:
            self._collect_objects()  # also the members of a group the kernel refused
        if refused and mode != self.v4_via_v6:  # retry what RTA_VIA could not carry
            retry = [(key, hops) for key, sig, _err in refused
                     if state.wanted(key) == sig and (hops := state.names.get(sig)) is not None]
            for key, _hops in retry:
                result.failed.pop(key_prefix(key), None)
                state.failed.pop(key, None)
            again = self._apply(retry)
            result.installed += again.installed
            result.pending += again.pending
            result.failed.update(again.failed)

    def _execute(self, sock: kernel.NetlinkSocket, ops: FibOps,
                 result: ApplyResult) -> list[tuple[bytes, Signature, nl.ErrorMessage]]:
        """Send ``ops`` in batches (ACKs only for refusals and the fence) and record the outcome."""
        seq0 = sock.reserve_seq(len(ops))
        errors = sock.send_batch(self.state.encode(ops, seq0))
        return self.state.done(ops, seq0, errors, result)

    def _refuse(self, key: bytes, exc: FibError, result: ApplyResult) -> None:
        self.state.refuse(key, exc, result)

    def _delete_routes(self, routes: list[tuple[bytes, int]]) -> int:
        """RTM_DELROUTE for each (key, metric); a route already gone counts as removed."""
        if not routes:
            return 0
        result = ApplyResult()
        self._execute(self._require(), self.state.deletions(routes), result)
        return result.removed

    # -- internals: nexthop objects ----------------------------------------------------------------

    def _send_object(self, sock: kernel.NetlinkSocket, obj_id: int) -> None:
        sock.request(self.state.objects.message(obj_id), nl.MsgType.NEWNEXTHOP, nl.NLM_F_CREATE | nl.NLM_F_REPLACE,
                     f"nexthop object {obj_id}")
        self.state.objects.present.add(obj_id)

    def _collect_objects(self) -> None:
        """Delete our nexthop objects no route uses (groups before their members)."""
        present = self.state.dead_objects()
        if present:
            sock = self._require()
            seq0 = sock.reserve_seq(len(present))
            sock.send_batch([nl.NexthopMessage(id=i).encode(nl.MsgType.DELNEXTHOP, nl.NLM_F_REQUEST, seq0 + n)
                             for n, i in enumerate(present)])  # an object already gone is what we wanted
            self._resolved.clear()

    def _read_nexthop_objects(self) -> None:
        """Dump nexthop objects: learn which ids are taken and adopt our own (proto bgp)."""
        try:
            dumped = dump_nexthop_objects(self._require())
        except FibError as exc:
            if self.nexthop_objects:
                raise
            log.info("kernel has no nexthop objects (%s)", exc)
            self.nexthop_objects = False
            return
        if self.nexthop_objects is None:
            self.nexthop_objects = True
        for msg in dumped:
            self.state.objects.taken.add(msg.id)
            if msg.protocol == RTPROT_BGP:
                self.state.objects.adopt(msg.id, object_key(msg))

    def _read_kernel_routes(self) -> None:
        for msg in dump_routes(self._require(), self.table):
            key = kernel_key(msg.family, msg.dst, msg.dst_len)
            if (msg.priority or 0) != self.metric:
                self._other_metric.append((key, msg.priority or 0))
                continue
            # an object id that is not ours never equals a wanted signature: replaced or removed
            sig: Signature = msg.nh_id if msg.nh_id is not None else hops_of(msg)
            self.state.adopt(key, sig)

    def _link_down(self, ifindexes: set[int]) -> None:
        """The kernel flushed routes and objects through these links: they now wait for them."""
        objects = self.state.objects
        gone = objects.on_links(ifindexes)
        gone |= objects.groups_within(gone)
        objects.present -= gone
        self._resolve_links().forget_gateways(ifindexes)
        for key, sig in list(self.state.have.items()):
            lost = sig in gone if isinstance(sig, int) else all(h[2] in ifindexes for h in sig)
            if lost and self.state.lose(key) is not None:
                self.state.pending[key] = "next-hop link down"
        log.info("links %s down: %d routes wait for them", sorted(ifindexes), len(self.state.pending))

    def _may_use(self, key: bytes, ifindexes: set[int]) -> bool:
        """Whether a pending route goes through one of these links (or through one unknown)."""
        sig = self.state.wanted(key)
        if sig is None:
            return True
        if isinstance(sig, int):
            content = self.state.objects.content
            hops = [hop for i in self.state.objects.with_members(sig) if (hop := content[i].hop) is not None]
        else:
            hops = list(sig)
        return any(h[2] in ifindexes or not h[2] for h in hops)

    def _link_up(self, ifindexes: set[int], restore_objects: bool = True) -> ApplyResult:
        """Re-create objects through these links and install the routes waiting for them
        (every pending route when ``ifindexes`` is empty)."""
        sock = self._require()
        objects = self.state.objects
        on_link = objects.on_links(ifindexes) if restore_objects else set()
        objects.present -= on_link  # dropped with the link, if it went down: send them again
        self._resolved.clear()
        result = ApplyResult()
        keys = [k for k in self.state.pending if not ifindexes or self._may_use(k, ifindexes)]
        for key in keys:
            del self.state.pending[key]
        named = [(key, self.state.wanted_hops(key)) for key in keys]
        for key, nexthops in named:  # re-resolve: an interface index or a neighbour may have changed
            if nexthops is None:
                self.state.wish(key, None)
                continue
            try:
                sig = self._resolve(key_family(key), nexthops)
            except FibError as exc:
                self.state.wish(key, None)
                self.state.unresolved[key] = nexthops
                self._refuse(key, exc, result)
                continue
            self.state.unresolved.pop(key, None)
            self.state.wish(key, sig)
        for group in objects.groups_touching(on_link):  # groups that lost members get them back
            if group not in objects.present:
                continue
            try:
                for obj_id in objects.with_members(group):
                    if obj_id not in objects.present or obj_id == group:
                        self._send_object(sock, obj_id)
            except FibError as exc:
                log.warning("could not restore a next-hop group: %s", exc)
        self._converge(sock, keys, result)
        if keys:
            log.info("links %s up: %d routes installed, %d still pending", sorted(ifindexes),
                     result.installed, len(self.state.pending))
        return result


def _kernel_version() -> tuple[int, int]:
    import os
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int(parts[1].split("-")[0])
    except (IndexError, ValueError):
        return (0, 0)


