"""The requests a ``Rib`` sends its shards, and the one function that carries them out.

One frozen, slotted dataclass per ``RibShard`` operation; ``ShardRequest`` is their union.
They hold only plain, picklable values (ids, tuples, ``PathAttributes``, ``ExportSpec``, bytes),
so the same request goes to an in-process shard (``LocalShard``) or down a pipe to a worker
(``serve``); both call ``handle``, which dispatches with ``match``, never by method name.

Inbound routes travel as ``Ingest`` tuples inside one ``IngestBatch``: the parent pickles a
batch once and sends the same bytes to every worker (the hot path; see STYLE.md §11).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from bgpcore.policy.hooks import RoutePolicy
from bgpcore.rib.adj_out import ExportSpec
from bgpcore.route import PeerId, Source
from bgpcore.wire.context import Family
from bgpcore.wire.types import PathAttributes

if TYPE_CHECKING:
    from bgpcore.rib.shard import RibShard

Ingest = tuple[bool, PeerId, Family, PathAttributes | None, tuple[str, ...], list[bytes], int]
"""(announce?, peer, family, attributes, next hop, prefix keys, 4 if keys carry ADD-PATH ids else 0)."""

# -- inbound ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AddPeer:
    """A session came up, or its settings changed (``RibShard.add_peer``). Result: as ``Drain``."""

    peer_id: PeerId
    source: Source
    import_policy: RoutePolicy | None
    soft_reconfiguration: bool
    addpath: frozenset[Family]


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovePeer:
    """The session went down for good: withdraw its routes, ``budget`` prefixes now (None: all).
    Result: ``(list[BestChange], prefixes still to remove)``."""

    peer_id: PeerId
    budget: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain:
    """Go on removing the routes of peers that went down. Result: as ``RemovePeer``."""

    budget: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """One attribute set for ``keys``. Result: ``(list[BestChange], count)``."""

    peer_id: PeerId
    family: Family
    attrs: PathAttributes
    next_hop: tuple[str, ...]
    keys: list[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdraw:
    """The peer withdrew ``keys``. Result: ``(list[BestChange], count)``."""

    peer_id: PeerId
    family: Family
    keys: list[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestBatch:
    """Inbound work for every shard at once. Result: ``(list[BestChange], {peer: count})``."""

    ops: list[Ingest]


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkStale:
    """Graceful restart of a peer: its routes (of ``families``, None: all) become stale. Result: ``int``."""

    peer_id: PeerId
    families: frozenset[Family] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeStale:
    """Withdraw the peer's stale routes (of ``family``, None: all). Result: ``list[BestChange]``."""

    peer_id: PeerId
    family: Family | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftResetIn:
    """Re-apply an import policy to the routes kept as received. Result: ``list[BestChange]``."""

    peer_id: PeerId
    import_policy: RoutePolicy | None


# -- outbound --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AddGroup:
    """A new update group; everything in the Loc-RIB is pending for it."""

    group_id: int
    spec: ExportSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveGroup:
    group_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMember:
    """A member joins a group and catches up alone (``fresh``: it holds nothing yet)."""

    group_id: int
    member: PeerId
    fresh: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DetachMember:
    """A lagging member leaves the shared output; ``keys`` are what it still lacks."""

    group_id: int
    member: PeerId
    keys: dict[Family, list[bytes]]


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachMember:
    group_id: int
    member: PeerId


@dataclass(frozen=True, slots=True, kw_only=True)
class Generate:
    """Plan a group's pending output. Result: ``(plans, keys covered, drained?)``."""

    group_id: int
    budget_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateMember:
    """Plan a catching-up member's output. Result: ``(plans, finished?)``."""

    group_id: int
    member: PeerId
    budget_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Forget:
    """The encoder refused these keys' attribute set for the group: not advertised."""

    group_id: int
    family: Family
    keys: list[bytes]
    strip: int


# -- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BestPaths:
    """Result: ``{prefix key: multipath set, best first}``."""

    family: Family


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidates:
    """Every path of one prefix, in no particular order. Result: ``list[Path]``."""

    family: Family
    key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjRibInRoutes:
    """A peer's routes after import policy, or as ``received``. Result: ``{prefix key: Path}``."""

    peer_id: PeerId
    family: Family
    received: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertised:
    """What a group has sent. Result: ``{prefix key: (attributes, next hop)}``."""

    group_id: int
    family: Family


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixCount:
    """Prefixes accepted from a peer in this shard. Result: ``int``."""

    peer_id: PeerId


@dataclass(frozen=True, slots=True, kw_only=True)
class Size:
    """Prefixes in this shard's Loc-RIB. Result: ``int``. Also a barrier: answered after all sent before."""


ShardRequest = (AddPeer | RemovePeer | Drain | Announce | Withdraw | IngestBatch | MarkStale | PurgeStale | SoftResetIn
                | AddGroup | RemoveGroup | AddMember | DetachMember | AttachMember | Generate | GenerateMember | Forget
                | BestPaths | Candidates | AdjRibInRoutes | Advertised | PrefixCount | Size)

SHARD_REQUESTS: tuple[type[ShardRequest], ...] = (
    AddPeer, RemovePeer, Drain, Announce, Withdraw, IngestBatch, MarkStale, PurgeStale, SoftResetIn,
    AddGroup, RemoveGroup, AddMember, DetachMember, AttachMember, Generate, GenerateMember, Forget,
    BestPaths, Candidates, AdjRibInRoutes, Advertised, PrefixCount, Size)
"""Every request class, in the order of ``ShardRequest``."""


def handle(shard: RibShard, request: ShardRequest) -> object:
    """Carry out one request on a shard; returns what the ``RibShard`` method returns."""
    match request:
        case IngestBatch():
            return shard.ingest(request.ops)
        case Announce():
            return shard.announce(request.peer_id, request.family, request.attrs, request.next_hop, request.keys)
        case Withdraw():
            return shard.withdraw(request.peer_id, request.family, request.keys)
        case Generate():
            return shard.generate(request.group_id, request.budget_bytes)
        case GenerateMember():
            return shard.generate_member(request.group_id, request.member, request.budget_bytes)
        case Size():
            return shard.size()
        case Forget():
            shard.forget(request.group_id, request.family, request.keys, request.strip)
            return None
        case AddPeer():
            return shard.add_peer(request.peer_id, request.source, request.import_policy,
                                  request.soft_reconfiguration, request.addpath)
        case RemovePeer():
            return shard.remove_peer(request.peer_id, request.budget)
        case Drain():
            return shard.drain(request.budget)
        case MarkStale():
            return shard.mark_stale(request.peer_id, request.families)
        case PurgeStale():
            return shard.purge_stale(request.peer_id, request.family)
        case SoftResetIn():
            return shard.soft_reset_in(request.peer_id, request.import_policy)
        case AddGroup():
            shard.add_group(request.group_id, request.spec)
            return None
        case RemoveGroup():
            shard.remove_group(request.group_id)
            return None
        case AddMember():
            shard.add_member(request.group_id, request.member, request.fresh)
            return None
        case DetachMember():
            shard.detach_member(request.group_id, request.member, request.keys)
            return None
        case AttachMember():
            shard.attach_member(request.group_id, request.member)
            return None
        case BestPaths():
            return shard.best_paths(request.family)
        case Candidates():
            return shard.loc.paths(request.family, request.key)
        case AdjRibInRoutes():
            return shard.adj_rib_in(request.peer_id, request.family, request.received)
        case Advertised():
            return shard.advertised(request.group_id, request.family)
        case PrefixCount():
            return shard.count(request.peer_id)
        case _:
            assert_never(request)
