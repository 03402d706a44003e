"""The FIB's reconcile state without I/O: installed routes, the wishes they do not meet yet,
next-hop references.

Shaped like the BGP session (``receive_data`` / ``data_to_send``): the caller tells the state
what it wants (:meth:`FibState.wish`), asks for the netlink operations that bring the kernel
there (:meth:`FibState.plan` then :meth:`FibOps.encode`), sends them however it likes, and hands
back the kernel's refusals (:meth:`FibState.done`). No socket, clock or ``ipaddress`` object is
touched here except to name a refused prefix in its log line.

Keys are ``bgpcore.fib.routes.route_key``s: an IPv4 key is the RIB's own NLRI key object (1 to
5 octets), an IPv6 key the packed address and the prefix length (17 octets). A signature is how
a route reaches the kernel: a nexthop-object id, or its hops. The next hops a signature was
resolved from are kept once per signature (``names``), not once per route.

What is wanted is what is installed (``have``) except where ``unmet`` says otherwise: a key's
wanted signature, or None for a route to remove. A settled table therefore costs one dict
entry per route, and ``unmet`` holds only routes in flight, waiting for a link, refused, or
adopted from a previous run and not asked for (yet).
"""
from __future__ import annotations

import errno as errno_mod
import logging
import socket
from collections import Counter
from operator import itemgetter
from typing import Final, Iterable

from bgpcore.constants import RTPROT_BGP
from bgpcore.errors import FibError
from bgpcore.fib import netlink as nl
from bgpcore.fib.objects import Hop, NexthopObjects
from bgpcore.fib.routes import V6_KEY_LEN, ApplyResult, NextHop, key_prefix

log = logging.getLogger("bgpcore.fib")

Signature = int | tuple[Hop, ...]

RETRY_ERRNOS: Final = frozenset({errno_mod.ENETDOWN, errno_mod.ENETUNREACH})
GONE_ERRNOS: Final = frozenset({errno_mod.ESRCH, errno_mod.ENOENT})
CREATE_FLAGS: Final = nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE
_LOG_REFUSALS: Final = 20  # per batch; the rest are counted in one line
_NAMES_LIMIT: Final = 4096  # next-hop names kept per signature before the unused ones are dropped


class FibOps:
    """One batch of netlink operations, in the order the kernel must see them: nexthop objects
    (single next hops before groups), then routes to install or replace, then routes to delete."""

    __slots__ = ("creates", "installs", "deletes", "unique")

    def __init__(self) -> None:
        self.unique = False  # True: no key is listed twice
        self.creates: list[int] = []
        self.installs: list[tuple[bytes, Signature]] = []
        self.deletes: list[tuple[bytes, int]] = []  # (key, metric)

    def __len__(self) -> int:
        return len(self.creates) + len(self.installs) + len(self.deletes)

    def __bool__(self) -> bool:
        return bool(self.creates or self.installs or self.deletes)


class FibState:
    """Wanted and installed routes of one table, and the nexthop objects they use.

    Args:
        table: routing table id.
        metric: route priority of our routes.
        nexthop_objects: routes name nexthop objects (RTA_NH_ID) instead of carrying hops.
    """

    def __init__(self, table: int, metric: int, nexthop_objects: bool = False) -> None:
        self.table = table
        self.metric = metric
        self.nexthop_objects = nexthop_objects
        self.objects = NexthopObjects()
        self.have: dict[bytes, Signature] = {}  # what the kernel holds
        self.unmet: dict[bytes, Signature | None] = {}  # wanted otherwise than installed (None: removed)
        self.names: dict[Signature, tuple[NextHop, ...]] = {}  # the next hops a signature was resolved from
        self.unresolved: dict[bytes, tuple[NextHop, ...]] = {}  # wanted, with next hops that did not resolve
        self.refs: Counter[Signature] = Counter()  # installed + unmet references (objects only)
        self.pending: dict[bytes, str] = {}  # wanted, waiting for a link or gateway: why
        self.failed: dict[bytes, FibError] = {}  # wanted, refused by the kernel
        self._templates: dict[tuple[int, Signature], nl.RouteTemplate] = {}
        self._delete_templates: dict[tuple[int, int], nl.RouteTemplate] = {}

    # -- what is wanted ----------------------------------------------------------------------------

    def wanted(self, key: bytes) -> Signature | None:
        """The signature ``key`` is wanted with; None: not wanted."""
        unmet = self.unmet
        return unmet[key] if key in unmet else self.have.get(key)

    def wanted_items(self) -> list[tuple[bytes, Signature]]:
        """Every wanted route and its signature."""
        unmet = self.unmet
        out = [(k, s) for k, s in self.have.items() if k not in unmet]
        out += [(k, s) for k, s in unmet.items() if s is not None]
        return out

    def wish(self, key: bytes, sig: Signature | None) -> None:
        """Want ``key`` installed with ``sig`` (None: removed)."""
        if sig == self.have.get(key):
            self.settle(key)
        else:
            self.set_unmet(key, sig)

    def settle(self, key: bytes) -> None:
        """``key`` is wanted as it is installed (or not installed and not wanted)."""
        if key in self.unmet:
            old = self.unmet.pop(key)
            if old is not None and self.nexthop_objects:
                self.refs[old] -= 1

    def set_unmet(self, key: bytes, sig: Signature | None) -> None:
        """``key`` is wanted with ``sig`` (None: removed), which the kernel does not hold yet."""
        unmet = self.unmet
        old = unmet.get(key)
        unmet[key] = sig
        if self.nexthop_objects and old != sig:
            refs = self.refs
            if old is not None:
                refs[old] -= 1
            if sig is not None:
                refs[sig] += 1

    def adopt(self, key: bytes, sig: Signature) -> None:
        """The kernel holds ``key`` with ``sig`` (read from a dump): installed, and unwanted
        until asked for, unless a wish for it is already recorded."""
        old = self.have.get(key)
        self.have[key] = sig
        refs = self.refs
        if old is not None:
            refs[old] -= 1
        refs[sig] += 1
        if key not in self.unmet:
            self.unmet[key] = None

    def detach_have(self) -> None:
        """Forget what is installed but keep every wish (before re-reading the kernel)."""
        for key, sig in self.have.items():
            if key not in self.unmet:
                self.set_unmet(key, sig)
        refs = self.refs
        for sig in self.have.values():
            refs[sig] -= 1
        self.have.clear()

    def settle_met(self) -> int:
        """Drop the wishes the kernel already meets (after re-reading it); returns how many."""
        have_get = self.have.get
        met = [k for k, s in self.unmet.items() if s is not None and have_get(k) == s]
        for key in met:
            self.settle(key)
        return len(met)

    def lose(self, key: bytes) -> Signature | None:
        """The kernel dropped ``key`` on its own (its link went down); returns the signature it
        is still wanted with, if any."""
        sig = self.have.pop(key, None)
        if sig is None:
            return self.wanted(key)
        self.refs[sig] -= 1
        if key in self.unmet:
            wanted = self.unmet[key]
            if wanted is None:
                del self.unmet[key]
            return wanted
        self.set_unmet(key, sig)
        return sig

    def name(self, sig: Signature, nexthops: tuple[NextHop, ...]) -> None:
        """``nexthops`` resolve to ``sig`` now (kept once per signature, for re-resolving later)."""
        names = self.names
        if sig not in names and len(names) >= _NAMES_LIMIT:
            live = {*self.have.values(), *self.unmet.values()}
            self.names = names = {s: hops for s, hops in names.items() if s in live}
        names[sig] = nexthops

    def forget_outcome(self, key: bytes) -> None:
        """``key`` is asked for anew: what became of the last request (pending, refused,
        unresolved) no longer holds."""
        self.pending.pop(key, None)
        self.failed.pop(key, None)
        self.unresolved.pop(key, None)

    def wanted_hops(self, key: bytes) -> tuple[NextHop, ...] | None:
        """The next hops ``key`` is wanted with, as the caller named them; None: not wanted."""
        hops = self.unresolved.get(key)
        if hops is not None:
            return hops
        sig = self.wanted(key)
        return None if sig is None else self.names.get(sig)

    def refuse(self, key: bytes, exc: FibError, result: ApplyResult, quiet: bool = False) -> None:
        """``key`` cannot be installed now: pending when a link may bring it, else failed."""
        if exc.errno in RETRY_ERRNOS:
            self.pending[key] = str(exc)
            result.pending.append(key_prefix(key))
        else:
            self.failed[key] = exc
            result.failed[key_prefix(key)] = exc
            if not quiet:
                log.warning("FIB refused %s", exc)

    # -- what to send ------------------------------------------------------------------------------

    def plan(self, keys: Iterable[bytes], result: ApplyResult | None = None) -> FibOps:
        """The operations that make the kernel meet the wishes for ``keys``."""
        unmet, have_get = self.unmet, self.have.get
        ops = FibOps()
        installs, deletes = ops.installs, ops.deletes
        metric = self.metric
        unchanged = 0
        for key in keys:
            current = have_get(key)
            sig = unmet[key] if key in unmet else current
            if sig is None:
                if current is not None:
                    deletes.append((key, metric))
            elif current != sig:
                installs.append((key, sig))
            else:
                unchanged += 1
                if key in unmet:
                    self.settle(key)
        if result is not None:
            result.unchanged += unchanged
        self.add_creates(ops)
        return ops

    def add_creates(self, ops: FibOps) -> None:
        """Put the nexthop objects that ``ops.installs`` need and the kernel lacks in ``ops``."""
        if ops.installs and self.nexthop_objects:
            objects = self.objects
            needed: set[int] = set()
            for sig in set(map(itemgetter(1), ops.installs)):
                if isinstance(sig, int):
                    needed.update(i for i in objects.with_members(sig) if i not in objects.present)
            ops.creates = sorted(needed, key=lambda i: (bool(objects.content[i].group), i))  # singles first

    def deletions(self, routes: list[tuple[bytes, int]]) -> FibOps:
        """Operations that delete these (key, metric) routes, whatever ``have`` says."""
        ops = FibOps()
        ops.deletes = routes
        return ops

    def encode(self, ops: FibOps, seq0: int) -> list[bytes]:
        """The messages of ``ops``, numbered from ``seq0`` in the order of :class:`FibOps`."""
        objects = self.objects
        out = [objects.message(i).encode(nl.MsgType.NEWNEXTHOP, CREATE_FLAGS, seq0 + n)
               for n, i in enumerate(ops.creates)]
        append = out.append
        seq = seq0 + len(out)
        templates = self._templates
        last_sig: Signature | None = None
        last_v6 = False
        encode = None
        for key, sig in ops.installs:  # runs of one signature share one template
            v6 = len(key) == V6_KEY_LEN
            if sig is not last_sig or v6 != last_v6:
                family = socket.AF_INET6 if v6 else socket.AF_INET
                encode = (templates.get((family, sig)) or self._template(family, sig)).encode_key
                last_sig, last_v6 = sig, v6
            append(encode(seq, key))  # type: ignore[misc]
            seq += 1
        deletes = self._delete_templates
        last_del: tuple[int, int] | None = None
        for key, metric in ops.deletes:
            family = socket.AF_INET6 if len(key) == V6_KEY_LEN else socket.AF_INET
            if last_del is None or last_del[0] != family or last_del[1] != metric:
                last_del = (family, metric)
                dtmpl = deletes.get(last_del)
                if dtmpl is None:
                    msg = nl.RouteMessage(family=family, table=self.table, protocol=RTPROT_BGP, priority=metric,
                                          scope=nl.RT_SCOPE_NOWHERE, type=0)
                    dtmpl = deletes[last_del] = nl.RouteTemplate(msg, nl.MsgType.DELROUTE, nl.NLM_F_REQUEST)
                encode = dtmpl.encode_key
            append(encode(seq, key))  # type: ignore[misc]
            seq += 1
        return out

    # -- what the kernel said ----------------------------------------------------------------------

    def done(self, ops: FibOps, seq0: int, errors: dict[int, nl.ErrorMessage],
             result: ApplyResult) -> list[tuple[bytes, Signature, nl.ErrorMessage]]:
        """Record the outcome of ``ops`` sent from ``seq0``; ``errors`` are the refusals by
        sequence number. Returns the refused installs (the old route may still be there)."""
        objects = self.objects
        n_creates, n_installs = len(ops.creates), len(ops.installs)
        refused_objects: dict[int, nl.ErrorMessage] = {}
        for n, obj_id in enumerate(ops.creates):
            err = errors.get(seq0 + n)
            if err is None:
                objects.present.add(obj_id)
            else:
                refused_objects[obj_id] = err
                log.info("FIB: kernel refused nexthop object %d: %s", obj_id,
                            errno_mod.errorcode.get(err.errno, err.errno))
        have, refs, unmet = self.have, self.refs, self.unmet
        installs = ops.installs
        final = installs if ops.unique else dict(installs)  # a key listed twice: its last signature
        pairs = final.items() if isinstance(final, dict) else final
        if self.nexthop_objects:  # counted per signature, not per route
            olds: Counter[Signature] = Counter(filter(None, map(have.get, map(itemgetter(0), pairs))))
            for sig, count in olds.items():
                refs[sig] -= count
            have.update(pairs)
            for sig, count in Counter(map(itemgetter(1), pairs)).items():
                refs[sig] += count
        else:
            have.update(pairs)
        if unmet:  # the wishes these installs meet
            settle = self.settle
            for key, sig in pairs:
                if key in unmet and unmet[key] == sig:
                    settle(key)
        base = seq0 + n_creates
        refused: list[tuple[bytes, Signature, nl.ErrorMessage]] = []
        if errors:
            for seq in range(base, base + n_installs):
                err = errors.get(seq)
                if err is not None:
                    key, sig = installs[seq - base]
                    refs[have.pop(key)] -= 1
                    self.set_unmet(key, sig)  # still wanted
                    if refused_objects and isinstance(sig, int):  # the object's reason is the route's
                        err = next((refused_objects[i] for i in objects.with_members(sig) if i in refused_objects), err)
                    refused.append((key, sig, err))
            for count, (key, _sig, err) in enumerate(refused):
                what = f"{key_prefix(key)}"
                self.refuse(key, nl.fib_error(err, what), result, quiet=count >= _LOG_REFUSALS)
            if len(refused) > _LOG_REFUSALS:
                log.warning("FIB refused %d more routes in this batch", len(refused) - _LOG_REFUSALS)
        result.installed += n_installs - len(refused)
        base += n_installs
        metric_ours = self.metric
        kept = 0
        for n, (key, metric) in enumerate(ops.deletes):
            err = errors.get(base + n) if errors else None
            if err is not None and err.errno not in GONE_ERRNOS:
                kept += 1
                if kept <= _LOG_REFUSALS:
                    log.warning("FIB could not remove %s: %s", key_prefix(key), nl.fib_error(err))
                continue
            if metric == metric_ours:
                gone = have.pop(key, None)
                if gone is not None:
                    refs[gone] -= 1
                    if key in unmet:
                        if unmet[key] is None:
                            del unmet[key]
                    else:  # removed while still wanted (a refused replacement's old route)
                        self.set_unmet(key, gone)
        result.removed += len(ops.deletes) - kept
        return refused

    # -- nexthop objects ---------------------------------------------------------------------------

    def dead_objects(self) -> list[int]:
        """Forget the objects no wanted or installed route uses; those the kernel holds are
        returned, groups before their members, to be deleted."""
        objects = self.objects
        self.refs = Counter({s: c for s, c in self.refs.items() if c > 0})
        live: set[int] = set()
        for sig in self.refs:
            if isinstance(sig, int) and sig in objects.content:
                live.update(objects.with_members(sig))
        dead = [i for i in objects.content if i not in live]
        if not dead:
            return []
        present = sorted((i for i in dead if i in objects.present), key=lambda i: not objects.content[i].group)
        for i in dead:
            objects.forget(i)
        self._templates.clear()
        return present

    # -- templates ---------------------------------------------------------------------------------

    def _template(self, family: int, sig: Signature) -> nl.RouteTemplate:
        tmpl = self._templates.get((family, sig))
        if tmpl is None:
            msg = self.route_message(family, sig)
            tmpl = self._templates[(family, sig)] = nl.RouteTemplate(msg, nl.MsgType.NEWROUTE, CREATE_FLAGS)
        return tmpl

    def clear_templates(self) -> None:
        self._templates.clear()

    def route_message(self, family: int, sig: Signature, dst_len: int = 0, dst: bytes | None = None) -> nl.RouteMessage:
        if isinstance(sig, int):
            return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table,
                                   protocol=RTPROT_BGP, priority=self.metric, nh_id=sig)
        paths = tuple(path_hop(family, hop) for hop in sig)
        if len(paths) == 1:
            path = paths[0]
            return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table, protocol=RTPROT_BGP,
                                   priority=self.metric, oif=path.ifindex, flags=path.flags, gateway=path.gateway,
                                   via=path.via, scope=nl.RT_SCOPE_UNIVERSE if sig[0][1] else nl.RT_SCOPE_LINK)
        return nl.RouteMessage(family=family, dst_len=dst_len, dst=dst, table=self.table, protocol=RTPROT_BGP,
                               priority=self.metric, multipath=paths)


def path_hop(family: int, hop: Hop) -> nl.PathHop:
    gw_family, gw, oif, flags, weight = hop
    if not gw:
        return nl.PathHop(ifindex=oif, weight=weight, flags=flags)
    if gw_family == family:
        return nl.PathHop(gateway=gw, ifindex=oif, weight=weight, flags=flags)
    return nl.PathHop(via=(gw_family, gw), ifindex=oif, weight=weight, flags=flags)
