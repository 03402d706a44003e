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
from bgpcore.fib.routes import (ApplyResult, FibRoute, IPNetwork, NextHop, dump_nexthop_objects, dump_routes,
                                format_fib, hops_of, key_prefix, route_key, show_fib)

__all__ = ["ApplyResult", "Fib", "FibRoute", "NextHop", "format_fib", "show_fib"]

log = logging.getLogger(__name__)

ViaMode = Literal["via", "onlink"]

_RETRY_ERRNOS: Final = frozenset({errno_mod.ENETDOWN, errno_mod.ENETUNREACH})
_GONE_ERRNOS: Final = frozenset({errno_mod.ESRCH, errno_mod.ENOENT})
_CREATE: Final = nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE
_RETRY_DELAY_S: Final = 0.5
_PLEN_BYTE: Final = tuple(bytes((n,)) for n in range(129))


# How a route reaches the kernel: a nexthop object id, or its hops (plain RTA_GATEWAY/RTA_MULTIPATH).
Signature = int | tuple[Hop, ...]


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resolver: NextHopResolver | None = None
        self._desired: dict[bytes, FibRoute] = {}
        self._want: dict[bytes, Signature] = {}
        self._have: dict[bytes, Signature] = {}
        self._refs: Counter[Signature] = Counter()
        self._pending: dict[bytes, str] = {}  # wanted, waiting for a link or gateway: why
        self._failed: dict[bytes, FibError] = {}  # wanted, refused by the kernel
        self._other_metric: list[tuple[bytes, int]] = []
        # (key length: 5 for IPv4, 17 for IPv6; next hops) -> signature
        self._resolved: dict[tuple[int, tuple[NextHop, ...]], Signature] = {}
        self._templates: dict[tuple[int, Signature], nl.RouteTemplate] = {}
        self._objects = NexthopObjects()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, routes: Iterable[FibRoute] | None = None) -> ApplyResult:
        """Open netlink, detect kernel features and adopt the routes a previous run left.

        Kernel routes of ours that match what ``apply`` later asks for are adopted without a
        message (counted as ``unchanged``); the rest stay until :meth:`sync`. With ``routes``,
        apply and sync at once.
        """
        self._monitor = kernel.LinkMonitor(addresses=True, namespace=self.namespace)
        self._sock = kernel.NetlinkSocket(namespace=self.namespace)
        self._resolver = NextHopResolver(self._sock)
        if self.v4_via_v6 is None:
            self.v4_via_v6 = "via" if _kernel_version() >= (5, 2) else "onlink"
            log.info("IPv4 routes via IPv6 next hops use %s", "RTA_VIA" if self.v4_via_v6 == "via"
                     else "169.254.0.1 onlink + permanent neighbour")
        self._read_nexthop_objects()
        self._read_kernel_routes()
        log.info("FIB table %d: %d routes of ours already in the kernel; nexthop objects %s",
                 self.table, len(self._have), "on" if self.nexthop_objects else "off")
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
            self._desired.clear()
            self._want.clear()
            self._pending.clear()
            self._refs = Counter(self._have.values())
            self._delete_routes([(k, self.metric) for k in self._have])
            self._delete_routes(self._other_metric)
            self._collect_objects()
        self.detach()
        if self._monitor is not None:
            self._monitor.close()
        self._sock.close()
        self._sock = self._monitor = None

    def attach(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Handle link events from ``loop`` (``add_reader`` on the monitor socket)."""
        if self._monitor is None:
            raise FibError(errno_mod.ENOTCONN, "Fib.start() first")
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self._monitor.fileno(), self.process_link_events)

    def detach(self) -> None:
        if self._loop is not None and self._monitor is not None:
            self._loop.remove_reader(self._monitor.fileno())
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
        sock = self._require()
        policy = None if self.policy is INSTALL_ALL else self.policy
        desired, want, refs = self._desired, self._want, self._refs
        pending, failed = self._pending, self._failed
        resolved_get = self._resolved.get
        track = bool(self.nexthop_objects)  # reference counts matter only for objects
        plen_byte = _PLEN_BYTE
        touched: list[bytes] = []
        touch = touched.append
        result = ApplyResult()
        for route in changes:
            prefix = route.prefix
            key = prefix.network_address.packed + plen_byte[prefix.prefixlen]
            touch(key)
            if pending:
                pending.pop(key, None)
            if failed:
                failed.pop(key, None)
            old = want.get(key)
            nexthops = route.nexthops
            if not nexthops or (policy is not None and not policy(prefix)):
                desired.pop(key, None)
                if old is not None:
                    del want[key]
                    refs[old] -= 1
                continue
            desired[key] = route
            sig = resolved_get((len(key), nexthops))
            if sig is None:
                try:
                    sig = self._resolve(socket.AF_INET if len(key) == 5 else socket.AF_INET6, nexthops)
                except FibError as exc:
                    if old is not None:
                        del want[key]
                        refs[old] -= 1
                    self._refuse(key, exc, result)
                    continue
            if old != sig:
                want[key] = sig
                if track:
                    if old is not None:
                        refs[old] -= 1
                    refs[sig] += 1
        try:
            self._converge(sock, touched, result)
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
        stale = [k for k in self._have if k not in self._want]
        try:
            self._converge(sock, stale + list(self._pending), result)
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
        for sig in self._have.values():
            self._refs[sig] -= 1
        self._have.clear()
        self._other_metric = []
        if self.nexthop_objects:
            objects = self._objects
            objects.present.clear()
            for msg in dump_nexthop_objects(sock):
                if msg.protocol == RTPROT_BGP:
                    if msg.id not in objects.content:
                        objects.adopt(msg.id, object_key(msg))
                    elif objects.content[msg.id] == object_key(msg):
                        objects.present.add(msg.id)  # else: changed behind our back, re-sent
        self._read_kernel_routes()
        result = ApplyResult()
        self._failed.clear()
        self._converge(sock, [*self._want, *(k for k in self._have if k not in self._want)], result)
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
        routes = [r for r in self._desired.values() if old in r.nexthops]
        moved = [FibRoute(r.prefix, tuple(new if h == old else h for h in r.nexthops)) for r in routes]
        if self.nexthop_objects and routes:
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    old_hop, new_hop = self._hop(family, old), self._hop(family, new)
                except FibError:
                    continue  # not a next hop this family can use
                obj_id = self._objects.rebind(ObjectKey(hop=old_hop[:4] + (1,)), ObjectKey(hop=new_hop[:4] + (1,)))
                if obj_id is not None:
                    self._send_object(sock, obj_id)
            self._resolved.clear()
        # routes whose object was rewritten keep their signature, so no message goes out for them
        self.apply(moved)
        return len(routes)

    @property
    def pending(self) -> dict[IPNetwork, str]:
        """Routes waiting for their next-hop link or gateway, with the kernel's reason."""
        return {key_prefix(k): why for k, why in self._pending.items()}

    @property
    def failed(self) -> dict[IPNetwork, FibError]:
        """Routes the kernel refused for good (until they are applied again)."""
        return {key_prefix(k): exc for k, exc in self._failed.items()}

    # -- reading the kernel ------------------------------------------------------------------------

    def routes(self) -> list[FibRoute]:
        """Our routes as the kernel holds them now (``show fib``)."""
        return show_fib(self.table, sock=self._require())

    def process_link_events(self) -> None:
        """Read queued link events: routes through a link that went down wait for it; pending
        routes are retried when a link comes up."""
        if self._monitor is None:
            return
        came_up: set[int] = set()
        went_down: set[int] = set()
        new_address: set[int] = set()
        new_name = False
        events = self._monitor.read()
        if self._monitor.overrun:  # events were lost: compare against the links as they are now
            self._monitor.overrun = False
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
        if new_name and self._pending:
            self._link_up(set(), restore_objects=False)  # routes naming that interface resolve anew
        if new_address - came_up:
            self._link_up(new_address - came_up, restore_objects=False)
        if self._pending and self._loop is not None and (came_up or new_address):
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
        unique: dict[tuple[int, bytes, int, int], int] = {}
        for nexthop in nexthops:
            hop = self._hop(family, nexthop)
            unique.setdefault(hop[:4], hop[4])
        hops = tuple(sorted(k + (w,) for k, w in unique.items()))
        if len(hops) == 1:
            hops = (hops[0][:4] + (1,),)
        sig: Signature
        if not self.nexthop_objects:
            sig = hops
        elif len(hops) == 1:
            sig = self._objects.id_for(ObjectKey(hop=hops[0]))
        else:
            members = tuple(sorted((self._objects.id_for(ObjectKey(hop=h[:4] + (1,))), h[4]) for h in hops))
            sig = self._objects.id_for(ObjectKey(group=members))
        self._resolved[(5 if family == socket.AF_INET else 17, nexthops)] = sig
        return sig

    def _template(self, family: int, sig: Signature) -> nl.RouteTemplate:
        tmpl = self._templates.get((family, sig))
        if tmpl is None:
            msg = self._route_message(family, sig)
            tmpl = self._templates[(family, sig)] = nl.RouteTemplate(msg, nl.MsgType.NEWROUTE, _CREATE)
        return tmpl

    def _route_message(self, family: int, sig: Signature, dst_len: int = 0, dst: bytes | None = None) -> nl.RouteMessage:
        if isinstance(sig, int):
            return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table,
                                   protocol=RTPROT_BGP, priority=self.metric, nh_id=sig)
        paths = tuple(_path_hop(family, hop) for hop in sig)
        if len(paths) == 1:
            path = paths[0]
            return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table, protocol=RTPROT_BGP,
                                   priority=self.metric, oif=path.ifindex, flags=path.flags, gateway=path.gateway,
                                   via=path.via, scope=nl.RT_SCOPE_UNIVERSE if sig[0][1] else nl.RT_SCOPE_LINK)
        return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table, protocol=RTPROT_BGP,
                               priority=self.metric, multipath=paths)

    # -- internals: talking to the kernel ----------------------------------------------------------

    def _converge(self, sock: kernel.NetlinkSocket, keys: Iterable[bytes], result: ApplyResult) -> None:
        """Send what makes the kernel match ``_want`` for ``keys``: objects, routes, deletions."""
        want, have = self._want, self._have
        installs: list[tuple[bytes, Signature]] = []
        deletes: list[bytes] = []
        for key in keys:
            sig = want.get(key)
            current = have.get(key)
            if sig is None:
                if current is not None:
                    deletes.append(key)
            elif current != sig:
                installs.append((key, sig))
            else:
                result.unchanged += 1
        changed = bool(installs or deletes)
        if installs and self.nexthop_objects:
            installs = self._create_objects(sock, installs, result)
        if installs:
            self._send_routes(sock, installs, result)
        if deletes:
            result.removed += self._delete_routes([(k, self.metric) for k in deletes])
        if self.nexthop_objects and changed:
            self._collect_objects()  # also the members of a group the kernel refused

    def _send_routes(self, sock: kernel.NetlinkSocket, installs: list[tuple[bytes, Signature]],
                     result: ApplyResult) -> None:
        templates = self._templates
        seq0 = sock.reserve_seq(len(installs))
        messages: list[bytes] = []
        append = messages.append
        for offset, (key, sig) in enumerate(installs):
            family = socket.AF_INET if len(key) == 5 else socket.AF_INET6
            tmpl = templates.get((family, sig)) or self._template(family, sig)
            append(tmpl.encode(seq0 + offset, key[:-1], key[-1]))
        errors = sock.send_batch(messages)
        have, refs = self._have, self._refs
        mode = self.v4_via_v6
        if self.nexthop_objects:
            for key, sig in installs:
                old = have.get(key)
                if old is not None:
                    refs[old] -= 1
                have[key] = sig
                refs[sig] += 1
        else:
            have.update(installs)
        result.installed += len(installs) - len(errors)
        for seq, err in errors.items():
            key, sig = installs[seq - seq0]
            refs[have.pop(key)] -= 1
            self._refuse(key, kernel.fib_error(err, str(key_prefix(key))), result)
            if err.errno == errno_mod.EINVAL and self.v4_via_v6 == "via" and isinstance(sig, tuple) \
                    and any(h[0] == socket.AF_INET6 for h in sig) and len(key) == 5:
                log.warning("kernel refused RTA_VIA; IPv4 routes via IPv6 next hops now use 169.254.0.1 onlink")
                self.v4_via_v6 = "onlink"
                self._resolved.clear()
        # a refused replacement must not leave the old route behind
        leftovers = [key for key in (installs[seq - seq0][0] for seq in errors)]
        if leftovers:
            self._delete_routes([(k, self.metric) for k in leftovers])
        if mode != self.v4_via_v6:  # retry what RTA_VIA could not carry
            retry = [self._desired[k] for k in leftovers if k in self._desired]
            for route in retry:
                result.failed.pop(route.prefix, None)
                self._failed.pop(route_key(route.prefix), None)
            again = self.apply(retry)
            result.installed += again.installed
            result.pending += again.pending
            result.failed.update(again.failed)

    def _refuse(self, key: bytes, exc: FibError, result: ApplyResult) -> None:
        if exc.errno in _RETRY_ERRNOS:
            self._pending[key] = str(exc)
            result.pending.append(key_prefix(key))
        else:
            self._failed[key] = exc
            result.failed[key_prefix(key)] = exc
            log.warning("FIB refused %s", exc)

    def _delete_routes(self, routes: list[tuple[bytes, int]]) -> int:
        """RTM_DELROUTE for each (key, metric); a route already gone counts as removed."""
        if not routes:
            return 0
        sock = self._require()
        seq0 = sock.reserve_seq(len(routes))
        templates: dict[tuple[int, int], nl.RouteTemplate] = {}
        messages: list[bytes] = []
        append = messages.append
        for offset, (key, metric) in enumerate(routes):
            tmpl = templates.get((len(key), metric))
            if tmpl is None:
                family = socket.AF_INET if len(key) == 5 else socket.AF_INET6
                msg = nl.RouteMessage(family=family, table=self.table, protocol=RTPROT_BGP, priority=metric,
                                      scope=nl.RT_SCOPE_NOWHERE, type=0)
                tmpl = templates[(len(key), metric)] = nl.RouteTemplate(msg, nl.MsgType.DELROUTE, nl.NLM_F_REQUEST)
            append(tmpl.encode(seq0 + offset, key[:-1], key[-1]))
        errors = sock.send_batch(messages)
        kept = set()
        for seq, err in errors.items():
            key = routes[seq - seq0][0]
            if err.errno not in _GONE_ERRNOS:
                log.warning("FIB could not remove %s: %s", key_prefix(key), kernel.fib_error(err))
                kept.add(key)
        have, refs, metric_ours = self._have, self._refs, self.metric
        for key, metric in routes:
            if metric == metric_ours and key not in kept:
                sig = have.pop(key, None)
                if sig is not None:
                    refs[sig] -= 1
        return len(routes) - len(kept)

    # -- internals: nexthop objects ----------------------------------------------------------------

    def _create_objects(self, sock: kernel.NetlinkSocket, installs: list[tuple[bytes, Signature]],
                        result: ApplyResult) -> list[tuple[bytes, Signature]]:
        """Create the objects these routes need (members before groups); drop routes whose
        object the kernel refused."""
        objects = self._objects
        needed: list[int] = []
        for sig in {sig for _key, sig in installs}:
            if isinstance(sig, int):
                needed += [i for i in objects.with_members(sig) if i not in objects.present]
        if not needed:
            return installs
        needed = sorted(set(needed), key=lambda i: bool(objects.content[i].group))  # singles first
        seq0 = sock.reserve_seq(len(needed))
        messages = [objects.message(i).encode(nl.MsgType.NEWNEXTHOP, _CREATE, seq0 + n) for n, i in enumerate(needed)]
        errors = sock.send_batch(messages)
        refused: dict[int, FibError] = {}
        for n, obj_id in enumerate(needed):
            err = errors.get(seq0 + n)
            if err is None:
                objects.present.add(obj_id)
            else:
                refused[obj_id] = kernel.fib_error(err, f"nexthop object {obj_id}")
        if not refused:
            return installs
        kept = []
        dropped = []
        for key, sig in installs:
            exc = None
            if isinstance(sig, int):
                exc = next((refused[i] for i in objects.with_members(sig) if i in refused), None)
            if exc is None:
                kept.append((key, sig))
            else:
                self._refuse(key, FibError(exc.errno, f"{key_prefix(key)}: {exc}"), result)
                if key in self._have:
                    dropped.append((key, self.metric))
        self._delete_routes(dropped)  # a refused replacement must not leave the old route behind
        return kept

    def _send_object(self, sock: kernel.NetlinkSocket, obj_id: int) -> None:
        sock.request(self._objects.message(obj_id), nl.MsgType.NEWNEXTHOP, nl.NLM_F_CREATE | nl.NLM_F_REPLACE,
                     f"nexthop object {obj_id}")
        self._objects.present.add(obj_id)

    def _collect_objects(self) -> None:
        """Delete our nexthop objects no route uses (groups before their members)."""
        objects = self._objects
        self._refs = Counter({s: c for s, c in self._refs.items() if c > 0})
        live: set[int] = set()
        for sig in self._refs:
            if isinstance(sig, int) and sig in objects.content:
                live.update(objects.with_members(sig))
        dead = [i for i in objects.content if i not in live]
        if not dead:
            return
        present = sorted((i for i in dead if i in objects.present), key=lambda i: not objects.content[i].group)
        if present:
            sock = self._require()
            seq0 = sock.reserve_seq(len(present))
            sock.send_batch([nl.NexthopMessage(id=i).encode(nl.MsgType.DELNEXTHOP, nl.NLM_F_REQUEST, seq0 + n)
                             for n, i in enumerate(present)])  # an object already gone is what we wanted
        for i in dead:
            objects.forget(i)
        self._resolved.clear()
        self._templates.clear()

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
            self._objects.taken.add(msg.id)
            if msg.protocol == RTPROT_BGP:
                self._objects.adopt(msg.id, object_key(msg))

    def _read_kernel_routes(self) -> None:
        for msg in dump_routes(self._require(), self.table):
            key = (msg.dst or bytes(4 if msg.family == socket.AF_INET else 16)) + bytes((msg.dst_len,))
            if (msg.priority or 0) != self.metric:
                self._other_metric.append((key, msg.priority or 0))
                continue
            # an object id that is not ours never equals a wanted signature: replaced or removed
            sig: Signature = msg.nh_id if msg.nh_id is not None else hops_of(msg)
            self._have[key] = sig
            self._refs[sig] += 1

    def _link_down(self, ifindexes: set[int]) -> None:
        """The kernel flushed routes and objects through these links: they now wait for them."""
        objects = self._objects
        gone = objects.on_links(ifindexes)
        gone |= objects.groups_within(gone)
        objects.present -= gone
        self._resolve_links().forget_gateways(ifindexes)
        for key, sig in list(self._have.items()):
            lost = sig in gone if isinstance(sig, int) else all(h[2] in ifindexes for h in sig)
            if lost:
                del self._have[key]
                self._refs[sig] -= 1
                if key in self._want:
                    self._pending[key] = "next-hop link down"
        log.info("links %s down: %d routes wait for them", sorted(ifindexes), len(self._pending))

    def _may_use(self, key: bytes, ifindexes: set[int]) -> bool:
        """Whether a pending route goes through one of these links (or through one unknown)."""
        sig = self._want.get(key)
        if sig is None:
            return True
        if isinstance(sig, int):
            content = self._objects.content
            hops = [hop for i in self._objects.with_members(sig) if (hop := content[i].hop) is not None]
        else:
            hops = list(sig)
        return any(h[2] in ifindexes or not h[2] for h in hops)

    def _link_up(self, ifindexes: set[int], restore_objects: bool = True) -> ApplyResult:
        """Re-create objects through these links and install the routes waiting for them
        (every pending route when ``ifindexes`` is empty)."""
        sock = self._require()
        objects = self._objects
        on_link = objects.on_links(ifindexes) if restore_objects else set()
        objects.present -= on_link  # dropped with the link, if it went down: send them again
        self._resolved.clear()
        result = ApplyResult()
        keys = [k for k in self._pending if not ifindexes or self._may_use(k, ifindexes)]
        for key in keys:
            del self._pending[key]
        for key in keys:  # re-resolve: an interface index or a neighbour may have changed
            route = self._desired.get(key)
            old = self._want.pop(key, None)
            if old is not None:
                self._refs[old] -= 1
            if route is None:
                continue
            try:
                sig = self._resolve(socket.AF_INET if len(key) == 5 else socket.AF_INET6, route.nexthops)
            except FibError as exc:
                self._refuse(key, exc, result)
                continue
            self._want[key] = sig
            self._refs[sig] += 1
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
                     result.installed, len(self._pending))
        return result


def _path_hop(family: int, hop: Hop) -> nl.PathHop:
    gw_family, gw, oif, flags, weight = hop
    if not gw:
        return nl.PathHop(ifindex=oif, weight=weight, flags=flags)
    if gw_family == family:
        return nl.PathHop(gateway=gw, ifindex=oif, weight=weight, flags=flags)
    return nl.PathHop(via=(gw_family, gw), ifindex=oif, weight=weight, flags=flags)


def _kernel_version() -> tuple[int, int]:
    import os
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int(parts[1].split("-")[0])
    except (IndexError, ValueError):
        return (0, 0)


