"""Adj-RIB-Out of one update group: what the group's members were sent, and what is pending.

Neighbors with an equal ``ExportSpec`` (capabilities, iBGP/eBGP, client or not, ADD-PATH,
next-hop handling, export policy) get byte-identical UPDATEs, so they share one
``AdjRibOut``. Our address on the session is part of the spec only where the group writes it
as next hop (eBGP, next-hop-self): ``group_spec`` replaces it with ``SELF`` otherwise, and the
routes such a group must still send with our own next hop (originated without one) leave as
``SelfRun`` parts, encoded per member with its own address.

A group round is a list of ``Part``: encoded messages that every member reads, except the
peer the routes came from (split horizon: a route never goes back to the peer it was learned
from), or that only one member reads (withdrawals for a member whose own route replaced one
it had received from us). Pending output is state, not a queue: a dirty set of prefix keys per family
(insertion-ordered, so prefixes that arrived together leave together). ``generate`` turns
a slice of it into a ``packing.Plan``, once for the whole group: it exports each best path
once (cached per path object) and groups the prefixes by the resulting attribute set. The
``Rib`` merges the plans of all shards and encodes each set once, with as many prefixes per
message as fit (``packing.encode_plans``; ``encode`` does it here, for one shard).

Members that must catch up alone (new members, or members too far behind the group's
shared output) get a private dirty set; ``generate_member`` serves it from the current
Loc-RIB without touching the group's state, and the group's own output keeps feeding it
until it is empty.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Final

from bgpcore.policy.hooks import RoutePolicy, prefix_independent, rejects_all
from bgpcore.rib import accel as rib_accel
from bgpcore.rib.decision import DEFAULT_LOCAL_PREF
from bgpcore.rib.loc import Destination, LocRib
from bgpcore.rib.packing import SELF, SELF_ADDRESS, OutRoute, Part, Plan, encode_plans, group_label, plan_size
from bgpcore.rib.reflect import (ebgp_export_attributes, export_next_hop, ibgp_export_attributes, is_reflected,
                                 may_export_communities, may_reflect, reflected_attributes)
from bgpcore.route import Path, PeerId
from bgpcore.wire.context import DEFAULT_CONTEXT, CodecContext, Family
from bgpcore.wire.types import PathAttributes
from bgpcore.wire import accel

CHUNK_PREFIXES: Final = 8192
"""Prefixes taken from the dirty set per encoding round (bigger packs better, costs latency)."""
CACHE_LIMIT: Final = 1 << 20
"""Export cache entries per family before the cache is cleared outright. It is also swept of
dead paths (withdrawn, replaced, their peer gone) when a peer goes down and whenever the group
drains after replacing or withdrawing routes of at least a quarter as many prefixes as the
cache holds (new prefixes leave no dead path behind: a full table sweeps nothing)."""


class AddPathSelect(IntEnum):
    """Which paths go to ADD-PATH receivers (RFC 7911): the multipath set or every path."""

    MULTIPATH = 1
    ALL = 2


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """Everything that decides the bytes a neighbor receives; equal specs share a group.

    Attributes:
        local_asn, cluster_id: ours (the cluster id defaults to the router id).
        ebgp: the neighbors are in another AS.
        rr_client: the neighbors are route-reflector clients.
        send_ctx: the codec context for what we send (ASN4, ADD-PATH send, extended messages).
        families: (AFI, SAFI) pairs negotiated with the neighbors.
        local_address: our address on the session, the next hop when we set it ourselves;
            ``local_address6`` for IPv6 families on an IPv4 session; ``local_next_hop``,
            when given, replaces both for every family (unnumbered sessions: the interface's
            link-local address, or global + link-local).
        next_hop_self / next_hop_self_force: rewrite the next hop of eBGP-learned paths /
            of every path, reflected ones included.
        send_med: keep MED towards an eBGP neighbor.
        addpath_select: what ADD-PATH families carry.
        export_policy: applied last, per path (per prefix if it reads the prefix).
    """

    local_asn: int
    cluster_id: str
    ebgp: bool
    rr_client: bool = False
    send_ctx: CodecContext = DEFAULT_CONTEXT
    families: frozenset[Family] = frozenset({(1, 1)})
    local_address: str = "0.0.0.0"
    local_address6: str | None = None
    local_next_hop: tuple[str, ...] = ()
    next_hop_self: bool = False
    next_hop_self_force: bool = False
    send_med: bool = False
    addpath_select: AddPathSelect = AddPathSelect.MULTIPATH
    default_local_pref: int = DEFAULT_LOCAL_PREF
    export_policy: RoutePolicy | None = None

    def self_next_hop(self, family: Family) -> tuple[str, ...]:
        if self.local_address == SELF_ADDRESS:
            return SELF
        if self.local_next_hop:
            return self.local_next_hop
        if family[0] == 2 and ":" not in self.local_address and self.local_address6:
            return (self.local_address6,)
        return (self.local_address,)


def rewrites_next_hop(spec: ExportSpec) -> bool:
    """Whether a group writes our address as the next hop of routes it did not originate."""
    return spec.ebgp or spec.next_hop_self or spec.next_hop_self_force


def group_spec(spec: ExportSpec) -> ExportSpec:
    """The key of a member's update group: its spec without our address where the group does
    not write it (iBGP clients of one reflector share a group whatever their addresses)."""
    if rewrites_next_hop(spec) or spec.local_address == SELF_ADDRESS:
        return spec
    return replace(spec, local_address=SELF_ADDRESS, local_address6=None, local_next_hop=())


def out_path_id(path: Path) -> int:
    """The ADD-PATH id we send for a path: stable per (peer, received path id)."""
    return ((path.source.peer_id + 2) << 16 | (path.path_id & 0xFFFF)) & 0xFFFFFFFF


class AdjRibOut:
    """One update group's advertised state and pending changes, inside one RIB shard."""

    def __init__(self, spec: ExportSpec) -> None:
        self.spec = spec
        self.dirty: dict[Family, dict[bytes, None]] = {f: {} for f in spec.families}
        self.advertised: dict[Family, dict[bytes, OutRoute]] = {f: {} for f in spec.families}
        self.advertised_ids: dict[Family, dict[bytes, dict[int, OutRoute]]] = {f: {} for f in spec.families}
        self.members: dict[int, dict[Family, dict[bytes, None]]] = {}
        self._cache: dict[Family, dict[int, tuple[Path, OutRoute | None]]] = {f: {} for f in spec.families}
        self._laggards: set[int] = set()
        self._sent: dict[int, dict[Family, set[bytes]]] = {}
        self._ids_used: dict[Family, set[int]] = {f: set() for f in spec.families}
        self._per_prefix = spec.export_policy is not None and not prefix_independent(spec.export_policy)
        self._silent = spec.export_policy is not None and rejects_all(spec.export_policy)
        self._self_next_hop = {f: spec.self_next_hop(f) for f in spec.families}
        self.unencodable = 0
        """Prefixes skipped so far because their attribute set could not be encoded."""

    # -- pending state -------------------------------------------------------------------

    def mark(self, family: Family, keys: list[bytes]) -> None:
        """Prefixes whose best path changed: they will be looked at on the next ``generate``."""
        dirty = self.dirty.get(family)
        if dirty is not None and not self._silent:
            rib_accel.add_keys(dirty, keys)

    def mark_best(self, family: Family, keys: list[bytes], best: Path | None) -> None:
        """As ``mark``, for prefixes whose best path is now ``best`` (None: withdrawn).

        A group that has advertised nothing in ``family`` and has no member catching up
        holds nothing for these prefixes; when it would not advertise ``best`` either,
        they would produce nothing, so they are not marked at all (an iBGP non-client's
        group, for paths from another non-client, never walks the table). A group whose
        export policy rejects everything marks nothing.
        """
        dirty = self.dirty.get(family)
        if dirty is None or self._silent:
            return
        if (not self.advertised[family] and not self.members and not self._per_prefix
                and family not in self.spec.send_ctx.addpath
                and (best is None or self._export_cached(family, best, b"") is None)):
            return
        rib_accel.add_keys(dirty, keys)

    def pending(self) -> bool:
        return any(self.dirty.values())

    def add_member(self, member: int, loc: LocRib, fresh: bool = True) -> None:
        """A member gets the whole table as private work (added to any it already has).

        It reads the group's existing state: what the group has advertised (what the group
        still has pending reaches its private work as the group encodes it); a private
        catch-up sends the group's advertised routes, with no export or Loc-RIB lookup.
        ``fresh``: it holds nothing yet (a new session); otherwise (route refresh) it may
        hold any ADD-PATH id, as a member that lagged. ADD-PATH families of a fresh member
        read every prefix of the Loc-RIB.
        """
        private = self.members.setdefault(member, {f: {} for f in self.spec.families})
        for family in self.spec.families:
            if family not in self.spec.send_ctx.addpath:
                keys = dict.fromkeys(self.advertised[family])
            elif fresh:
                keys = dict.fromkeys(loc.keys(family))
            else:
                keys = dict.fromkeys(self.advertised_ids[family])
            private.setdefault(family, {}).update(keys)
        if fresh:
            self._laggards.discard(member)
            self._sent[member] = {f: set() for f in self.spec.families}
        else:
            self._laggards.add(member)

    def detach_member(self, member: int, keys: dict[Family, list[bytes]]) -> None:
        """A member fell behind: ``keys`` (what it has not read yet) become its private work.

        It may hold ADD-PATH ids the group has withdrawn since, so its catch-up withdraws
        every id this group ever used that the prefix no longer has.
        """
        private = self.members.setdefault(member, {f: {} for f in self.spec.families})
        for family, run in keys.items():
            private.setdefault(family, {}).update(dict.fromkeys(run))
        self._laggards.add(member)
        self._sent.pop(member, None)

    def attach_member(self, member: int) -> None:
        self.members.pop(member, None)
        self._sent.pop(member, None)
        self._laggards.discard(member)

    # -- export --------------------------------------------------------------------------

    def export(self, family: Family, path: Path, prefix: bytes = b"") -> OutRoute | None:
        """What this group advertises for ``path`` (None: nothing), before caching."""
        spec = self.spec
        source = path.source
        attrs = path.attrs
        if not may_reflect(source, spec.ebgp, spec.rr_client) or (
                attrs.communities and not may_export_communities(attrs.communities, spec.ebgp)):
            return None
        if spec.ebgp:
            attrs = ebgp_export_attributes(attrs, spec.local_asn, spec.send_med)
        elif is_reflected(source, spec.ebgp):
            attrs = reflected_attributes(attrs, source, spec.cluster_id)
        else:
            attrs = ibgp_export_attributes(attrs, spec.default_local_pref)
        self_next_hop = self._self_next_hop.get(family) or spec.self_next_hop(family)
        next_hop = export_next_hop(path, spec.ebgp, self_next_hop, spec.next_hop_self, spec.next_hop_self_force)
        if attrs.next_hop is not None:
            attrs = attrs._replace(next_hop=None)
        if spec.export_policy is not None:
            kept = spec.export_policy(family, prefix, path._replace(attrs=attrs, next_hop=next_hop))
            if kept is None:
                return None
            attrs, next_hop = kept.attrs, kept.next_hop
        return attrs, next_hop, source.peer_id

    def _export_cached(self, family: Family, path: Path, prefix: bytes) -> OutRoute | None:
        if self._per_prefix:
            return self.export(family, path, prefix)
        cache = self._cache[family]
        hit = cache.get(id(path))
        if hit is not None:
            return hit[1]
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        out = self.export(family, path, prefix)
        cache[id(path)] = (path, out)
        return out

    def cache_size(self) -> int:
        return sum(map(len, self._cache.values()))

    def sweep_cache(self) -> int:
        """Forget cached exports of paths nothing else holds any more (withdrawn, or their peer
        went down); returns how many were dropped."""
        dropped = 0
        getrefcount = sys.getrefcount
        for cache in self._cache.values():
            # A dead path is held at most by this cache's tuple, the Adj-RIB-In's path cache, the
            # Loc-RIB's rank cache, the loop variable and the call: 5. A live one also by at
            # least one Adj-RIB-In entry and one Loc-RIB entry. Dropping a live one by mistake
            # costs one export again (the group compares routes by value), never a resend.
            dead = [pid for pid, (path, _) in cache.items() if getrefcount(path) <= 5]
            for pid in dead:
                del cache[pid]
            dropped += len(dead)
        return dropped

    # -- encoding ------------------------------------------------------------------------

    def _plan(self, family: Family, runs: list[tuple[OutRoute, list[bytes]]], withdrawn: list[bytes],
              record: bool, strip: int = 0, prior: dict[bytes, OutRoute] | None = None,
              member: PeerId | None = None, holds: bool = True) -> list[Plan]:
        """What to send for one slice, before encoding (``packing.encode_plans`` says how)."""
        if not runs and not withdrawn:
            return []
        return [Plan(family, runs, withdrawn, record, strip, prior or None, member, holds)]

    def encode(self, plans: list[Plan]) -> list[Part]:
        """Encode this group's plans here (one shard: no merging needed across shards)."""
        parts, refused = encode_plans(plans, self.spec.send_ctx, self.label)
        for family, keys, strip in refused:
            self.forget(family, keys, strip)
        return parts

    def forget(self, family: Family, keys: list[bytes], strip: int) -> None:
        """The encoder refused these keys' attribute set: they are not advertised."""
        self.unencodable += len(keys)
        self._forget(family, keys, strip)

    def _forget(self, family: Family, run: list[bytes], strip: int) -> None:
        if strip > 0:
            ids = self.advertised_ids[family]
            for key in run:
                held = ids.get(key[strip:])
                if held is not None:
                    held.pop(int.from_bytes(key[:strip], "big"), None)
                    if not held:
                        del ids[key[strip:]]
        else:
            advertised = self.advertised[family]
            for key in run:
                advertised.pop(key, None)

    @property
    def label(self) -> str:
        return group_label(self.spec)

    def _wanted_ids(self, family: Family, loc: LocRib, key: bytes) -> dict[int, OutRoute]:
        if self.spec.addpath_select == AddPathSelect.ALL:
            paths: list[Path] | tuple[Path, ...] = loc.paths(family, key)
        else:
            paths = loc.multipath(family, key)
        wanted: dict[int, OutRoute] = {}
        for path in paths:
            out = self._export_cached(family, path, key)
            if out is not None:
                wanted[out_path_id(path)] = out
        return wanted

    def _build(self, family: Family, keys: list[bytes], loc: LocRib, record: bool,
               clean: bool | set[bytes] = False, member: PeerId | None = None) -> list[Plan]:
        """Parts bringing a receiver up to date for ``keys``.

        With ``record`` the group's advertised state is updated and unchanged prefixes are
        skipped; without it (a private catch-up of ``member``) the current state is sent as is.
        """
        ctx = self.spec.send_ctx
        if family in ctx.addpath:
            return self._build_addpath(family, keys, loc, record, clean, member)
        if not record:  # a private catch-up reads what the group has advertised
            runs, withdrawn = rib_accel.group_runs(keys, self.advertised[family], {}, {}, False, False, Destination,
                                                   _itself)
            return self._plan(family, runs, withdrawn, False, 0, None, member, bool(clean))
        table = loc.tables.get(family, {})
        export = self._export_cached

        def wanted(entry: Path | Destination, key: bytes) -> OutRoute | None:
            best = entry.best if isinstance(entry, Destination) else entry
            assert best is not None
            return export(family, best, key)

        prior: dict[bytes, OutRoute] = {}
        runs, withdrawn = rib_accel.group_runs(keys, table, self._cache[family], self.advertised[family], record,
                                               self._per_prefix, Destination, wanted, prior)
        return self._plan(family, runs, withdrawn, True, 0, prior)

    def _build_addpath(self, family: Family, keys: list[bytes], loc: LocRib, record: bool,
                       clean: bool | set[bytes], member: PeerId | None = None) -> list[Plan]:
        """As ``_build`` with path ids. A private catch-up withdraws every id the group ever
        used that a prefix no longer has: for all prefixes (``clean`` True) or for those in
        ``clean`` (prefixes already sent to a fresh member)."""
        advertised = self.advertised_ids[family]
        used = self._ids_used[family]
        every = dict.fromkeys(used) if clean else {}
        nothing: dict[int, OutRoute] = {}
        batches: dict[int, tuple[OutRoute, list[bytes]]] = {}
        withdrawn: list[bytes] = []
        for key in keys:
            wanted = self._wanted_ids(family, loc, key)
            used.update(wanted)
            before: dict[int, OutRoute | None] | dict[int, OutRoute]
            if record:
                before = advertised.get(key, nothing)
            elif clean is True or (clean and key in clean):
                before = every
            else:
                before = nothing
            for path_id in before:
                if path_id not in wanted:
                    withdrawn.append(path_id.to_bytes(4, "big") + key)
            for path_id, out in wanted.items():
                prev = before.get(path_id)
                if prev is out or prev == out:
                    continue
                batch = batches.get(id(out))
                if batch is None:
                    batches[id(out)] = batch = (out, [])
                batch[1].append(path_id.to_bytes(4, "big") + key)
            if record:
                if wanted:
                    advertised[key] = wanted
                else:
                    advertised.pop(key, None)
        # A path id is one peer's path: a member never holds ids of its own paths (never sent).
        return self._plan(family, list(batches.values()), withdrawn, record, 4, None, member, False)

    def generate(self, loc: LocRib, budget_bytes: int) -> tuple[list[Plan], dict[Family, list[bytes]]]:
        """The group's next plans, about ``budget_bytes`` of output (at least one chunk).

        Returns:
            (plans, keys): the plans, and per family the prefixes they cover (what a
            member that falls behind later must catch up on).
        """
        parts: list[Plan] = []
        covered: dict[Family, list[bytes]] = {}
        size = 0
        for family, dirty in self.dirty.items():
            while dirty and size < budget_bytes:
                keys = rib_accel.take_keys(dirty, CHUNK_PREFIXES)
                built = self._build(family, keys, loc, True)
                covered.setdefault(family, []).extend(keys)
                for private in self.members.values():
                    private.setdefault(family, {}).update(dict.fromkeys(keys))
                parts.extend(built)
                size += sum(map(plan_size, built))
        if not self.pending():  # drained: every path it held is exported; a later round
            for cache in self._cache.values():  # exports the paths it meets again, once each
                cache.clear()
        return parts, covered

    def generate_member(self, member: int, loc: LocRib, budget_bytes: int) -> tuple[list[Plan], bool]:
        """A catching-up member's next plans (none of them with its own routes).

        Returns:
            (plans, done): done when its private work is empty (it may rejoin the group).
        """
        private = self.members.get(member)
        if private is None:
            return [], True
        parts: list[Plan] = []
        size = 0
        for family, dirty in private.items():
            sent = self._sent.get(member, {}).get(family)
            clean: bool | set[bytes] = member in self._laggards or (sent if sent is not None else False)
            while dirty and size < budget_bytes:
                keys = rib_accel.take_keys(dirty, CHUNK_PREFIXES)
                built = self._build(family, keys, loc, False, clean, member)
                if sent is not None and family in self.spec.send_ctx.addpath:
                    sent.update(keys)
                parts.extend(built)
                size += sum(map(plan_size, built))
        return parts, not any(private.values())


def _itself(route: OutRoute, key: bytes) -> OutRoute:
    return route
