"""What the ``Rib`` keeps per peer beside its routes: settings, prefix counts, maximum-prefix state.

The routes themselves live in the shards; a peer's count is the sum of what each shard reports,
and ``limit_action`` decides what crossing its maximum-prefix limit means (RFC 4486 Cease/1).
"""
from __future__ import annotations

import logging
import struct

from bgpcore.constants import CeaseSubcode
from bgpcore.rib.actions import CeasePeer
from bgpcore.rib.settings import MaxPrefixAction, RibPeer
from bgpcore.route import PeerId, Source
from bgpcore.wire.context import IPV4_UNICAST, Family
from bgpcore.wire.types import MpUnreach, Update

log = logging.getLogger("bgpcore.rib")


def own_addresses(info: RibPeer) -> frozenset[str]:
    """Our addresses on a peer's session: a NEXT_HOP among them is not accepted."""
    return frozenset(a.split("%", 1)[0] for a in (info.local_address, info.local_address6, *info.local_next_hop)
                     if a and a not in ("0.0.0.0", "::"))


def own_next_hop_withdrawn(peer_id: PeerId, own: frozenset[str], update: Update
                           ) -> tuple[Update, tuple[Family, list[bytes]] | None]:
    """RFC 4271 §6.3: a NEXT_HOP that is our own address on the session makes the route
    unfeasible: its prefixes are withdrawn instead (one log line).

    Returns:
        The UPDATE with those prefixes withdrawn, and prefixes of a second family to withdraw
        apart (an MP_UNREACH of another family is already there: RFC 7606 allows one).
    """
    attrs = update.attributes
    assert attrs is not None
    withdrawn = list(update.withdrawn)
    nlri, mp_reach, mp_unreach = update.nlri, update.mp_reach, update.mp_unreach
    apart: tuple[Family, list[bytes]] | None = None
    dropped = 0
    if nlri and attrs.next_hop in own:
        withdrawn += nlri
        dropped, nlri = len(nlri), []
    if mp_reach is not None and mp_reach.next_hop[:1] and mp_reach.next_hop[0] in own and mp_reach.nlri:
        dropped += len(mp_reach.nlri)
        family = (mp_reach.afi, mp_reach.safi)
        if family == IPV4_UNICAST:
            withdrawn += mp_reach.nlri
        elif mp_unreach is None or not mp_unreach.nlri:
            mp_unreach = MpUnreach(mp_reach.afi, mp_reach.safi, list(mp_reach.nlri))
        else:
            apart = family, list(mp_reach.nlri)
        mp_reach = None
    if dropped:
        log.warning("peer %s: %d prefixes with our own address as next hop treated as withdrawn (RFC 4271 §6.3)",
                    peer_id, dropped)
    return update._replace(withdrawn=withdrawn, nlri=nlri, mp_reach=mp_reach, mp_unreach=mp_unreach), apart


class PeerState:
    """``warned``: over a WARNING_ONLY limit, already logged. ``ceased``: over a RESTART or
    SHUTDOWN limit, its session is being closed: its UPDATEs are ignored until ``peer_down``."""

    __slots__ = ("info", "source", "counts", "warned", "ceased", "up", "stale", "deadline", "own", "hop")

    def __init__(self, info: RibPeer, source: Source, shards: int) -> None:
        self.info = info
        self.source = source
        self.counts = [0] * shards
        self.warned = False
        self.ceased = False
        self.up = True
        self.stale: set[Family] = set()
        self.deadline: float | None = None
        self.own = own_addresses(info)
        self.hop: tuple[str, ...] = ()  # the NEXT_HOP of its last UPDATE, one tuple while it stays the same


class LimitBatch:
    """One inbound batch of peers with a maximum-prefix limit, checked once every shard answered.

    Each shard reports, for every peer in the batch, its count after the batch: their sum is
    the peer's exact total then, even when later batches are already back from some shards.
    ``families``: the family each peer last announced in the batch (last withdrew, if none).
    """

    __slots__ = ("families", "totals", "waiting")

    def __init__(self, families: dict[PeerId, Family], shards: int) -> None:
        self.families = families
        self.totals = dict.fromkeys(families, 0)
        self.waiting = shards


def limit_action(peer_id: PeerId, peer: PeerState, family: Family, total: int) -> CeasePeer | None:
    """What the peer's maximum-prefix limit asks now that it has ``total`` accepted prefixes.

    ``family`` is the one whose announcement brought the count there (the Cease data names it).
    A warning-only limit logs once per crossing; the others close the session once.
    """
    limit = peer.info.max_prefix
    if limit is None or peer.ceased:
        return None
    if total <= limit:
        peer.warned = False  # back under: warn again next time it goes over
        return None
    action = peer.info.max_prefix_action
    if action == MaxPrefixAction.WARNING_ONLY:
        if not peer.warned:
            peer.warned = True
            log.warning("peer %s: %d prefixes exceed the limit of %d", peer_id, total, limit)
        return None
    peer.ceased = True
    restart = peer.info.max_prefix_restart_s if action == MaxPrefixAction.RESTART else None
    log.warning("peer %s: %d prefixes exceed the limit of %d: closing the session%s", peer_id, total, limit,
                "" if restart is None else f", to be restarted in {restart:g} s")
    data = struct.pack("!HBI", family[0], family[1], limit & 0xFFFFFFFF)
    return CeasePeer(peer_id=peer_id, subcode=CeaseSubcode.MAXIMUM_PREFIXES_REACHED, data=data,
                     reason=f"maximum-prefix {limit} exceeded ({total} prefixes)", restart_after_s=restart)
