"""The RIB as the speaker sees it: one ``Rib`` object, fed decoded UPDATEs, pulled for output.

The seam (everything takes peer ids; nothing here touches sockets or clocks)::

    rib = Rib(RibConfig(local_asn=65000, router_id="192.0.2.1", shards=1))
    rib.peer_up(peer_id, RibPeer(...))           # session Established
    changes = rib.receive(peer_id, update)       # decoded Update -> list[BestChange]
    actions = rib.take_actions()                 # sessions to close (maximum-prefix): list[PeerAction]
    data = rib.next_messages(peer_id, 65536)     # socket writable: encoded UPDATEs, [] if none
    rib.pending(peer_id)                         # worth asking next_messages?
    rib.route_refresh(peer_id)                   # the peer sent ROUTE-REFRESH: resend all
    rib.soft_reset_in(peer_id, policy)           # new import policy (soft reconfiguration)
    rib.peer_up(peer_id, changed_info)           # new export settings: the peer is resent all
    rib.peer_down(peer_id, graceful=True, now=t) # keep routes stale (RFC 4724 helper)
    rib.handle_timer(now); rib.next_deadline()   # stale-route timers
    rib.originate(family, keys, attrs)           # our own prefixes (and withdraw_originated)
    rib.best_paths(family); rib.adj_rib_in(...); rib.advertised(...)   # show commands
    rib.close()                                  # stop shard workers

A new session of a peer is ``peer_down`` then ``peer_up``; ``peer_up`` on a peer that is up
only changes its settings (its Adj-RIB-In is kept). Update groups: ``adj_out.group_spec``.

A peer over its maximum-prefix limit with ``MaxPrefixAction.RESTART`` or ``SHUTDOWN`` is not
an exception: ``receive`` applies the UPDATE that crossed the limit, ignores the peer's later
UPDATEs, and records a ``CeasePeer`` that ``take_actions`` hands over (ask after ``receive``,
``flush`` and ``next_messages``: with shard workers the counts come back later). The speaker
sends the Cease NOTIFICATION, calls ``peer_down``, and with ``restart_after_s`` set opens the
session again after that delay. End-of-RIB markers in received UPDATEs are handled inside
``receive``.

With ``shards > 1`` (the default is one per CPU) the Loc-RIB lives in worker processes
started with ``multiprocessing`` (``spawn``: scripts need an ``if __name__ == "__main__"``
guard): ``receive`` returns the changes that are already back and ``flush`` waits for the
rest. The Loc-RIB and what every peer ends up holding do not depend on the number of
shards, nor does the packing of prefixes into UPDATEs (``packing``: shards plan, the ``Rib``
merges their plans and encodes once).
"""
from __future__ import annotations

import logging
import os
import pickle
from functools import partial
from typing import Any, Final

from bgpcore.errors import UsageError
from bgpcore.policy.hooks import RoutePolicy
from bgpcore.rib.actions import PeerAction
from bgpcore.rib.adj_out import ExportSpec, group_spec
from bgpcore.rib.groups import ShardKeys, UpdateGroups
from bgpcore.rib.messages import (AddGroup, AddMember, AddPeer, AdjRibInRoutes, Advertised, AttachMember, BestPaths,
                                  Candidates, DetachMember, Drain, Forget, Generate, GenerateMember, Ingest, IngestBatch,
                                  MarkStale, PrefixCount, PurgeStale, RemoveGroup, RemovePeer, ShardRequest, Size,
                                  SoftResetIn)
from bgpcore.rib.accel import split_ops
from bgpcore.rib.packing import SELF, Part, Plan, encode_round, split_keys
from bgpcore.rib.peers import LimitBatch, PeerState, limit_action, own_addresses, own_next_hop_withdrawn
from bgpcore.rib.settings import MaxPrefixAction as MaxPrefixAction
from bgpcore.rib.settings import RibConfig as RibConfig
from bgpcore.rib.settings import RibPeer as RibPeer
from bgpcore.rib.shard import LocalShard, ProcessShard, ShardConfig, ShardHandle, shard_of
from bgpcore.route import LOCAL_PEER, LOCAL_SOURCE, BestChange, Path, PeerId, Source
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, Family
from bgpcore.wire.types import PathAttributes, Update
from bgpcore.wire.update import encode_end_of_rib

log = logging.getLogger("bgpcore.rib")

_NO_FAMILIES: Final[frozenset[Family]] = frozenset()
_BATCH_PREFIXES: Final = 8192
"""Inbound prefixes gathered before a batch goes to the shard workers."""
_DRAIN_PREFIXES: Final = 8192
"""Prefixes of a peer that went down removed per step with ``peer_down(stream=True)``."""


def _ignore(result: object) -> None:
    """A shard result nobody needs (it only keeps the order of the pipe)."""


class Rib:
    """Adj-RIBs-In, Loc-RIB and update groups behind the seam described in the module docstring."""

    def __init__(self, config: RibConfig) -> None:
        self.config = config
        count = config.shards if config.shards is not None else (os.cpu_count() or 1)
        if count < 1:
            raise UsageError(f"shards must be at least 1, got {count}")
        shard_config = ShardConfig(config.local_asn, config.router_id, config.cluster_id or config.router_id,
                                   config.decision, config.track_changes)
        self.shards: list[ShardHandle] = (
            [LocalShard(shard_config) for _ in range(count)]
            if count == 1 or config.start_method == "inline"
            else [ProcessShard(shard_config, config.start_method, i) for i in range(count)])
        self._ops: list[Ingest] = []
        self._ops_weight = 0
        self._local = self.shards[0].shard if count == 1 and isinstance(self.shards[0], LocalShard) else None
        self._background = config.rounds_in_background and any(isinstance(s, ProcessShard) for s in self.shards)
        self._rounds_back = False
        self.groups = UpdateGroups(self, count, config.lag_limit_bytes)
        self._peers: dict[PeerId, PeerState] = {}
        self._changes: list[BestChange] = []
        self._eor: dict[tuple[Family, CodecContext], bytes] = {}
        self._actions: list[PeerAction] = []
        self._draining = 0  # prefixes of peers that went down still to remove (``drain``)
        self._call_all(AddPeer(peer_id=LOCAL_PEER, source=LOCAL_SOURCE, import_policy=None,
                               soft_reconfiguration=False, addpath=_NO_FAMILIES))

    # -- plumbing ------------------------------------------------------------------------

    def _call_all(self, request: ShardRequest) -> list[Any]:
        """Send the request to every shard (after the pending inbound batch); their results in shard order."""
        self._send_ops()
        for shard in self.shards:
            shard.send(request)
        return [shard.result() for shard in self.shards]

    def _on_result(self, peer_id: PeerId, peer: PeerState, index: int, family: Family,
                   result: tuple[list[BestChange], int]) -> None:
        changes, count = result
        if changes:
            self._changes.extend(changes)
        peer.counts[index] = count
        if peer.info.max_prefix is not None:
            self._check_limit(peer_id, peer, family, sum(peer.counts))

    def _check_limit(self, peer_id: PeerId, peer: PeerState, family: Family, total: int) -> None:
        action = limit_action(peer_id, peer, family, total)
        if action is not None:
            self._actions.append(action)

    def _on_ingested(self, index: int, batch: LimitBatch | None,
                     result: tuple[list[BestChange], dict[PeerId, int]]) -> None:
        changes, counts = result
        if changes:
            self._changes.extend(changes)
        peers = self._peers
        for peer_id, count in counts.items():
            peer = peers.get(peer_id)
            if peer is not None:
                peer.counts[index] = count
        if batch is None:
            return
        totals = batch.totals
        for peer_id in totals:
            totals[peer_id] += counts.get(peer_id, 0)
        batch.waiting -= 1
        if batch.waiting == 0:
            for peer_id, family in batch.families.items():
                peer = peers.get(peer_id)
                if peer is not None:
                    self._check_limit(peer_id, peer, family, totals[peer_id])

    def _send_ops(self) -> None:
        """Send the pending inbound batch: each shard gets the ops with its own prefixes."""
        if not self._ops:
            return
        ops, self._ops, self._ops_weight = self._ops, [], 0
        wire = isinstance(self.shards[0], ProcessShard)
        parts: list[list[Ingest]] = split_ops(ops, len(self.shards), wire)
        batch = None
        peers = self._peers
        if any(peer.info.max_prefix is not None for peer in peers.values()):
            families: dict[PeerId, Family] = {}
            for announce, peer_id, family, *_ in ops:
                peer = peers.get(peer_id)
                if peer is not None and peer.info.max_prefix is not None and (announce or peer_id not in families):
                    families[peer_id] = family
            batch = LimitBatch(families, len(self.shards)) if families else None
        for index, shard in enumerate(self.shards):
            mine = parts[index]
            packed = pickle.dumps(IngestBatch(ops=mine), protocol=pickle.HIGHEST_PROTOCOL) if wire else b""
            shard.ingest(mine, packed, partial(self._on_ingested, index, batch))

    def _take_changes(self) -> list[BestChange]:
        changes, self._changes = self._changes, []
        return changes

    def _post(self, peer_id: PeerId, peer: PeerState, announce: bool, family: Family, attrs: PathAttributes | None,
              next_hop: tuple[str, ...], keys: list[bytes]) -> None:
        local = self._local
        if local is not None:
            if announce:
                assert attrs is not None
                result = local.announce(peer_id, family, attrs, next_hop, keys)
            else:
                result = local.withdraw(peer_id, family, keys)
            self._on_result(peer_id, peer, 0, family, result)
            return
        cut = 4 if family in peer.info.recv_ctx.addpath else 0
        self._ops.append((announce, peer_id, family, attrs, next_hop, keys, cut))
        self._ops_weight += len(keys)
        if self._ops_weight >= _BATCH_PREFIXES:
            self._send_ops()

    # -- GroupOutput (called by UpdateGroups) --------------------------------------------

    def request_round(self, group_id: int, budget_bytes: int) -> None:
        """Every shard plans its part of the group's next round; the round is encoded once
        all are back (at once, unless rounds are planned in the background)."""
        self._send_ops()
        request = Generate(group_id=group_id, budget_bytes=max(1, budget_bytes // len(self.shards)))
        replies: list[Any] = [None] * len(self.shards)
        for index, shard in enumerate(self.shards):
            shard.call(request, partial(self._round_part, group_id, replies, index))
        if not self._background:
            self.settle()

    def _round_part(self, group_id: int, replies: list[Any], index: int,
                    result: tuple[list[Plan], dict[Family, list[bytes]], bool]) -> None:
        replies[index] = result
        if any(reply is None for reply in replies):
            return  # another shard's part is still to come
        plans: list[Plan] = [plan for planned, _, _ in replies for plan in planned]
        parts = self._encode(group_id, plans) if group_id in self.groups.by_id else []
        drained = all(r[2] for r in replies)
        self.groups.round_done(group_id, parts, [r[1] for r in replies], drained)
        self._rounds_back = True

    def settle(self) -> None:
        """Wait for every shard result in flight, rounds included."""
        for shard in self.shards:
            shard.finish()

    def poll(self) -> list[BestChange]:
        """Handle the shard results that are back (``shard_fds`` became readable), without
        waiting: rounds planned in the background join their group's log. Returns the
        best-path changes not yet returned; output may be ready (``next_messages``)."""
        for shard in self.shards:
            shard.poll()
        return self._take_changes()

    def take_rounds_back(self) -> bool:
        """Whether a round came back since the last call (planned in the background, or
        waited for in one member's ``next_messages``): its other members have output too."""
        back, self._rounds_back = self._rounds_back, False
        return back

    def shard_fds(self) -> list[int]:
        """File descriptors that become readable when a shard worker has a result back."""
        return [shard.fileno() for shard in self.shards if isinstance(shard, ProcessShard)]

    def generate_member(self, group_id: int, member: PeerId, budget_bytes: int) -> tuple[list[Part], bool]:
        share = max(1, budget_bytes // len(self.shards))
        results = self._call_all(GenerateMember(group_id=group_id, member=member, budget_bytes=share))
        return self._encode(group_id, [plan for planned, _ in results for plan in planned]), all(r[1] for r in results)

    def _encode(self, group_id: int, plans: list[Plan]) -> list[Part]:
        """One packing whatever the shard count: runs of one route merge across shards."""
        def forget(family: Family, keys: list[bytes], strip: int) -> None:
            for shard, mine in zip(self.shards, split_keys(keys, strip, len(self.shards))):
                shard.call(Forget(group_id=group_id, family=family, keys=mine, strip=strip), _ignore)
        return encode_round(plans, self.groups.by_id[group_id].spec, forget)

    def detach_member(self, group_id: int, member: PeerId, keys: ShardKeys) -> None:
        for shard, per_family in zip(self.shards, keys):
            shard.send(DetachMember(group_id=group_id, member=member, keys=per_family))
        for shard in self.shards:
            shard.result()

    def attach_member(self, group_id: int, member: PeerId) -> None:
        self._call_all(AttachMember(group_id=group_id, member=member))

    # -- sessions ------------------------------------------------------------------------

    def peer_up(self, peer_id: PeerId, info: RibPeer, now: float | None = None) -> None:
        """A session reached Established (or its settings changed): start sending it the table.

        Either way the maximum-prefix limit is armed again (a peer ceased for it is fed again).

        Args:
            now: monotonic seconds; needed when the peer comes back from a graceful
                restart, to start the stale-path timer.
        """
        if peer_id == LOCAL_PEER:
            raise UsageError(f"peer id {LOCAL_PEER} is reserved for local routes")
        ebgp = info.asn != self.config.local_asn
        source = Source(peer_id, info.address, info.router_id, info.asn, ebgp, info.rr_client and not ebgp)
        peer = self._peers.get(peer_id)
        if peer is None:
            peer = self._peers[peer_id] = PeerState(info, source, len(self.shards))
        peer.info, peer.source, peer.up, peer.warned, peer.ceased = info, source, True, False, False
        peer.own = own_addresses(info)
        if peer.stale:
            peer.deadline = None if now is None else now + self.config.stale_path_time_s
        self._removing(AddPeer(peer_id=peer_id, source=source, import_policy=info.import_policy,
                               soft_reconfiguration=info.soft_reconfiguration, addpath=info.recv_ctx.addpath))
        self._leave_group(peer_id)
        spec = ExportSpec(
            local_asn=self.config.local_asn, cluster_id=self.config.cluster_id or self.config.router_id,
            ebgp=ebgp, rr_client=source.rr_client, send_ctx=info.send_ctx, families=info.families,
            local_address=info.local_address, local_address6=info.local_address6,
            local_next_hop=info.local_next_hop,
            next_hop_self=info.next_hop_self, next_hop_self_force=info.next_hop_self_force,
            send_med=info.send_med, addpath_select=info.addpath_select,
            default_local_pref=self.config.decision.default_local_pref, export_policy=info.export_policy)
        key = group_spec(spec)  # without our address where the group does not write it: shared
        group, created, catching_up = self.groups.join(peer_id, key, self._end_of_rib(info), spec)
        if created:
            self._call_all(AddGroup(group_id=group.id, spec=key))
        if catching_up:
            self._call_all(AddMember(group_id=group.id, member=peer_id))
        self.groups.note_changes([group])

    def _end_of_rib(self, info: RibPeer) -> list[bytes]:
        markers = []
        for family in sorted(info.families):
            key = (family, info.send_ctx)
            marker = self._eor.get(key)
            if marker is None:
                marker = self._eor[key] = encode_end_of_rib(family, info.send_ctx)
            markers.append(marker)
        return markers

    def _leave_group(self, peer_id: PeerId) -> None:
        emptied = self.groups.leave(peer_id)
        if emptied is not None:
            self._call_all(RemoveGroup(group_id=emptied.id))

    def peer_down(self, peer_id: PeerId, graceful: bool = False, now: float = 0.0,
                  stream: bool = False) -> list[BestChange]:
        """A session left Established.

        Args:
            graceful: the peer is restarting (RFC 4724) and negotiated graceful restart:
                keep its routes, stale, for its restart time.
            now: monotonic seconds, for the restart timer.
            stream: remove only a first slice of its routes now and the rest with ``drain``
                (while ``draining``), so that a full table never blocks a caller's event loop.

        Returns:
            The best-path changes (none for a graceful restart).
        """
        peer = self._peers.get(peer_id)
        if peer is None:
            return []
        self._leave_group(peer_id)
        restart = peer.info.restart_time_s
        if graceful and restart is not None:
            peer.up = False
            peer.stale = set(peer.info.families)
            peer.deadline = now + restart
            self._call_all(MarkStale(peer_id=peer_id, families=None))
            log.info("peer %s restarting: routes kept as stale for %.0f s", peer_id, restart)
            return self.flush()
        del self._peers[peer_id]
        self._removing(RemovePeer(peer_id=peer_id, budget=_DRAIN_PREFIXES if stream else None))
        return self._take_changes()

    @property
    def draining(self) -> bool:
        """Routes of a peer that went down (``peer_down(stream=True)``) are still to remove."""
        return self._draining > 0

    def drain(self) -> list[BestChange]:
        """Remove the next slice of the routes of peers that went down; returns the changes."""
        if self._draining:
            self._removing(Drain(budget=_DRAIN_PREFIXES))
        return self._take_changes()

    def _removing(self, request: AddPeer | RemovePeer | Drain) -> None:
        """Carry out a request that may remove routes of peers that went down (AddPeer finishes
        the earlier removal of the same peer); keeps the changes for the caller to take."""
        self._draining = 0
        for changes, left in self._call_all(request):
            self._changes.extend(changes)
            self._draining += left
        self.groups.note_changes()

    # -- inbound -------------------------------------------------------------------------

    def receive(self, peer_id: PeerId, update: Update) -> list[BestChange]:
        """Apply one decoded UPDATE from an established peer.

        An UPDATE from a peer whose session is being closed for maximum-prefix (see
        ``take_actions``) is ignored.

        Returns:
            Best-path changes known so far (all of them with one shard).

        Raises:
            UsageError: the peer is not up.
        """
        peer = self._peers.get(peer_id)
        if peer is None or not peer.up:
            raise UsageError(f"peer {peer_id} is not up")
        if peer.ceased:
            return self._take_changes()
        attrs = update.attributes
        if attrs is not None and peer.own and (attrs.next_hop in peer.own or (
                update.mp_reach is not None and update.mp_reach.next_hop[:1] and update.mp_reach.next_hop[0] in peer.own)):
            update, apart = own_next_hop_withdrawn(peer_id, peer.own, update)
            if apart is not None:
                self._post(peer_id, peer, False, apart[0], None, (), apart[1])
        if update.withdrawn:
            self._post(peer_id, peer, False, IPV4_UNICAST, None, (), update.withdrawn)
        mp_unreach = update.mp_unreach
        if mp_unreach is not None and mp_unreach.nlri:
            self._post(peer_id, peer, False, (mp_unreach.afi, mp_unreach.safi), None, (), mp_unreach.nlri)
        attrs = update.attributes
        if attrs is not None:
            if update.nlri and attrs.next_hop is not None:
                hop = peer.hop
                if not hop or hop[0] != attrs.next_hop:
                    hop = peer.hop = (attrs.next_hop,)
                self._post(peer_id, peer, True, IPV4_UNICAST, attrs, hop, update.nlri)
            mp_reach = update.mp_reach
            if mp_reach is not None and mp_reach.nlri:
                self._post(peer_id, peer, True, (mp_reach.afi, mp_reach.safi), attrs, mp_reach.next_hop,
                           mp_reach.nlri)
        if not (update.nlri or update.withdrawn or update.mp_reach is not None):
            eor = update.end_of_rib()
            if eor is not None:
                return self.end_of_rib(peer_id, eor)
        self.groups.note_changes()
        return self._take_changes()

    def take_actions(self) -> list[PeerAction]:
        """What the speaker must do to sessions (close them for maximum-prefix), oldest first.

        Returns and forgets them. They appear in ``receive`` (one shard) or when shard
        results come back (``receive``, ``next_messages``, ``flush`` and the other calls
        that wait for the shards), so ask after each of those.
        """
        actions, self._actions = self._actions, []
        return actions

    def end_of_rib(self, peer_id: PeerId, family: Family) -> list[BestChange]:
        """The peer finished sending ``family``: purge what it did not refresh after a restart."""
        peer = self._peers.get(peer_id)
        if peer is not None and family in peer.stale:
            peer.stale.discard(family)
            if not peer.stale:
                peer.deadline = None
            self._purge_stale(peer_id, peer, family)
            self.groups.note_changes()
        return self.flush()

    def _purge_stale(self, peer_id: PeerId, peer: PeerState, family: Family | None) -> None:
        """Withdraw the peer's routes still stale, then take its prefix counts anew."""
        for changes in self._call_all(PurgeStale(peer_id=peer_id, family=family)):
            self._changes.extend(changes)
        peer.counts[:] = self._call_all(PrefixCount(peer_id=peer_id))

    def soft_reset_in(self, peer_id: PeerId, import_policy: RoutePolicy | None) -> list[BestChange]:
        """Apply a new import policy to the routes kept by soft reconfiguration.

        Raises:
            UsageError: unknown peer, or soft reconfiguration is off for it (then the
                speaker asks the peer for a ROUTE-REFRESH instead).
        """
        peer = self._peers.get(peer_id)
        if peer is None or not peer.info.soft_reconfiguration:
            raise UsageError(f"peer {peer_id}: soft reconfiguration inbound is not enabled")
        for changes in self._call_all(SoftResetIn(peer_id=peer_id, import_policy=import_policy)):
            self._changes.extend(changes)
        from dataclasses import replace
        peer.info = replace(peer.info, import_policy=import_policy)
        self.groups.note_changes()
        return self._take_changes()

    def originate(self, family: Family, keys: list[bytes], attrs: PathAttributes,
                  next_hop: tuple[str, ...] = ()) -> list[BestChange]:
        """Announce prefixes of our own (``network`` statements, redistribution)."""
        self._ops.append((True, LOCAL_PEER, family, attrs, next_hop, keys, 0))
        self._send_ops()
        self.groups.note_changes()
        return self.flush()

    def withdraw_originated(self, family: Family, keys: list[bytes]) -> list[BestChange]:
        self._ops.append((False, LOCAL_PEER, family, None, (), keys, 0))
        self._send_ops()
        self.groups.note_changes()
        return self.flush()

    # -- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next run (a stale-route timer), or None."""
        deadlines = [p.deadline for p in self._peers.values() if p.deadline is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float, stream: bool = False) -> list[BestChange]:
        """Purge stale routes of peers whose restart or stale-path timer expired (``stream``: the
        routes of a peer that did not come back leave in slices, as with ``peer_down``)."""
        for peer_id, peer in list(self._peers.items()):
            if peer.deadline is None or peer.deadline > now:
                continue
            peer.deadline = None
            peer.stale.clear()
            if peer.up:
                log.info("peer %s: no End-of-RIB in time, purging stale routes", peer_id)
                self._purge_stale(peer_id, peer, None)
            else:
                log.info("peer %s did not come back in time: withdrawing its routes", peer_id)
                del self._peers[peer_id]
                self._removing(RemovePeer(peer_id=peer_id, budget=_DRAIN_PREFIXES if stream else None))
        self.groups.note_changes()
        return self.flush()

    # -- outbound ------------------------------------------------------------------------

    def next_messages(self, peer_id: PeerId, budget_bytes: int) -> list[bytes]:
        """Encoded UPDATEs to write to the peer now (about ``budget_bytes``); [] when none."""
        self._send_ops()
        for shard in self.shards:
            shard.poll()
        return self.groups.next_messages(peer_id, budget_bytes)

    def pending(self, peer_id: PeerId) -> bool:
        """Whether ``next_messages`` may return something for the peer."""
        return self.groups.pending(peer_id)

    def route_refresh(self, peer_id: PeerId) -> None:
        """The peer asked for our routes again (RFC 2918): resend the whole table, then End-of-RIB.

        Served from what its update group has advertised; refreshes that arrive while one is
        being served are coalesced into it (the first such one is logged)."""
        peer = self._peers.get(peer_id)
        if peer is None:
            return
        group = self.groups.restart_member(peer_id, self._end_of_rib(peer.info))
        if group is not None:
            self._call_all(AddMember(group_id=group.id, member=peer_id, fresh=False))
            return
        member = self.groups.member(peer_id)
        if member is not None and member.coalesced == 1:  # one line per refresh served
            log.warning("peer %s: ROUTE-REFRESH while the previous one is being served: coalesced into it", peer_id)

    # -- queries and shutdown ------------------------------------------------------------

    def flush(self) -> list[BestChange]:
        """Wait for shard work in flight; returns the changes not yet returned."""
        if self._local is None:
            self._call_all(Size())
        return self._take_changes()

    def prefix_count(self, peer_id: PeerId) -> int:
        """Prefixes accepted from a peer (after import policy)."""
        self.flush()
        peer = self._peers.get(peer_id)
        return 0 if peer is None else sum(peer.counts)

    def best_paths(self, family: Family) -> dict[bytes, tuple[Path, ...]]:
        """Every prefix of ``family`` with its multipath set, best first (for show commands)."""
        merged: dict[bytes, tuple[Path, ...]] = {}
        for part in self._call_all(BestPaths(family=family)):
            merged.update(part)
        return merged

    def candidates(self, family: Family, key: bytes) -> list[Path]:
        """Every path of one prefix (the decision's input), for events and ``show`` explain."""
        shard = self.shards[shard_of(key, len(self.shards))]
        self._send_ops()
        shard.send(Candidates(family=family, key=key))
        result: list[Path] = shard.result()
        return result

    def adj_rib_in(self, peer_id: PeerId, family: Family, received: bool = False) -> dict[bytes, Path]:
        """A peer's routes after import policy, or as received before it (``received``,
        soft reconfiguration only): for ``show ... received-routes``."""
        merged: dict[bytes, Path] = {}
        for part in self._call_all(AdjRibInRoutes(peer_id=peer_id, family=family, received=received)):
            merged.update(part)
        return merged

    def advertised(self, peer_id: PeerId, family: Family) -> dict[bytes, tuple[PathAttributes, tuple[str, ...]]]:
        """What the peer's update group has sent for ``family``: prefix -> (attributes, next hop)."""
        group, member = self.groups.by_member.get(peer_id), self.groups.member(peer_id)
        if group is None or member is None:
            return {}
        merged: dict[bytes, tuple[PathAttributes, tuple[str, ...], PeerId]] = {}
        for part in self._call_all(Advertised(group_id=group.id, family=family)):
            merged.update(part)
        own = (member.spec or group.spec).self_next_hop(family)  # its own routes: not sent to it
        return {k: (attrs, own if hop == SELF else hop) for k, (attrs, hop, src) in merged.items() if src != peer_id}

    def __len__(self) -> int:
        return sum(self._call_all(Size()))

    def close(self) -> None:
        """Stop shard workers."""
        for shard in self.shards:
            shard.close()

    def __enter__(self) -> Rib:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
