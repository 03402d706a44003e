"""One packing of a group round, whatever the number of RIB shards.

Each shard turns its slice of a group's pending prefixes into a ``Plan``: the prefixes to
announce grouped by exported route (attribute set, next hop, source peer), the prefixes to
withdraw, and for a group round the routes the changed prefixes had before. The ``Rib`` merges
the plans of every shard (runs of one route become one run, whichever shard holds its
prefixes) and encodes the result once with ``encode_plans``: an attribute set leaves in as few
UPDATEs with 2 shards as with 1.

Encoding rules (split horizon, withdrawals for one member, self runs, sets the encoder
refuses): see ``encode_plans``.
"""
from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Callable, NamedTuple

from bgpcore.errors import UsageError
from bgpcore.rib import accel as rib_accel
from bgpcore.route import PeerId
from bgpcore.wire import accel
from bgpcore.wire.context import CodecContext, Family
from bgpcore.wire.types import PathAttributes

if TYPE_CHECKING:
    from bgpcore.rib.adj_out import ExportSpec

log = logging.getLogger("bgpcore.rib")

OutRoute = tuple[PathAttributes, tuple[str, ...], PeerId]
"""An exported path: the attribute set (next hop cleared), the next hop to send and the peer
the path came from (a change of that peer is a change of route: split horizon)."""

SELF_ADDRESS = "self"
"""``ExportSpec.local_address`` of a group whose members each have their own address."""
SELF: tuple[str, ...] = (SELF_ADDRESS,)
"""The next hop of an exported route that each member gets with its own address."""

SelfRun = tuple[Family, PathAttributes, list[bytes]]
"""Prefixes to announce with the member's own next hop: encoded per member."""
Part = tuple[list[bytes], "PeerId | None", "PeerId | None", "SelfRun | None"]
"""(messages, skip, only, self run): ``messages`` go to every member but ``skip`` (the peer the
routes came from), or only to ``only``; a self run is encoded per member instead."""

ENCODE_ERRORS: tuple[type[Exception], ...] = (ValueError, UsageError, struct.error, OverflowError)
"""What the encoder raises for one attribute set this group cannot carry (a next hop it
cannot encode, attributes too large for the peer's maximum message, a 2-octet AS_PATH that
does not fit; the codec's ``AttributesTooLarge`` is a ``UsageError``): that set is skipped
for the group, every other one goes out."""

Run = tuple[OutRoute, list[bytes]]


class Plan(NamedTuple):
    """What one shard's slice of a round or catch-up must send, before encoding.

    Attributes:
        family: of every key.
        runs: prefixes to announce, by exported route (first appearance first).
        withdrawn: prefixes to withdraw.
        record: a group round (the group's advertised state was updated), not a catch-up.
        strip: 4 when keys start with an ADD-PATH id, else 0.
        prior: in a group round, what the group had advertised for keys that changed.
        member: the catching-up member (None in a group round).
        holds: that member may hold an older route of ours for its own prefixes.
    """

    family: Family
    runs: list[Run]
    withdrawn: list[bytes]
    record: bool
    strip: int = 0
    prior: dict[bytes, OutRoute] | None = None
    member: PeerId | None = None
    holds: bool = True


Refused = tuple[Family, list[bytes], int]
"""Keys of a group round whose attribute set the encoder refused, and their ``strip``: the
group must forget them as advertised."""


def plans_to_wire(plans: list[Plan]) -> list[Plan]:
    """Plans for the parent, attribute sets as plain tuples (``merge_plans`` makes them back)."""
    return [plan._replace(runs=[((tuple(route[0]), route[1], route[2]), keys)  # type: ignore[misc]
                                for route, keys in plan.runs]) for plan in plans]


def plan_size(plan: Plan) -> int:
    """About the octets a plan encodes to (prefix octets plus one attribute block per run)."""
    size = sum(map(len, plan.withdrawn))
    for _, keys in plan.runs:
        size += 48 + sum(map(len, keys))
    return size


def merge_plans(plans: list[Plan]) -> list[Plan]:
    """Plans of one round (from every shard, every chunk) with runs of equal routes merged.

    Plans merge when they agree on family and kind; a key is in at most one of them (a round
    takes each pending key once), so merging changes only the packing.
    """
    if len(plans) == 1 and not plans[0].runs:
        return plans
    make = PathAttributes._make
    merged: dict[tuple[Family, bool, int, PeerId | None, bool],
                 tuple[list[bytes], dict[bytes, OutRoute], dict[OutRoute, list[bytes]]]] = {}
    for plan in plans:
        kind = (plan.family, plan.record, plan.strip, plan.member, plan.holds)
        entry = merged.get(kind)
        if entry is None:
            entry = merged[kind] = ([], {}, {})
        withdrawn, prior, runs = entry
        withdrawn.extend(plan.withdrawn)
        if plan.prior:
            prior.update(plan.prior)
        for route, keys in plan.runs:
            held = runs.get(route)  # a plain tuple equals the PathAttributes it was made from
            if held is None:
                if route[0].__class__ is tuple:
                    route = (make(route[0]), route[1], route[2])
                runs[route] = list(keys)
            else:
                held.extend(keys)
    return [Plan(family, list(runs.items()), withdrawn, record, strip, prior or None, member, holds)
            for (family, record, strip, member, holds), (withdrawn, prior, runs) in merged.items()]


def encode_plans(plans: list[Plan], ctx: CodecContext, label: str) -> tuple[list[Part], list[Refused]]:
    """Encode plans one attribute set at a time, each plan's withdrawals first, as parts.

    Each run's part skips the peer its routes came from. In a group round (``record``),
    ``prior`` holds the routes the group had advertised for keys that changed: a withdrawn
    key skips the peer its old route came from, and a key whose new route comes from
    another peer than its old one is withdrawn from that new peer alone. In a member's
    catch-up (``member``), its own routes are withdrawn from it instead (it may hold an
    older route of ours for them), or left out when it holds nothing yet (not ``holds``).

    A set the encoder refuses is skipped: its prefixes are withdrawn from the receiver
    instead (it may hold an older route for them) and, in a group round, returned as
    refused, so that the group forgets them as advertised and tries again when their best
    path changes. One log line per set.
    """
    parts: list[Part] = []
    refused: list[Refused] = []
    for plan in plans:
        parts.extend(_encode(plan, ctx, label, refused))
    return parts, refused


def _encode(plan: Plan, ctx: CodecContext, label: str, refused: list[Refused]) -> list[Part]:
    family, prior, member = plan.family, plan.prior, plan.member
    withdrawn = list(plan.withdrawn)
    encode = accel.encode_updates
    parts: list[Part] = []
    withdraw: dict[PeerId | None, list[bytes]] = {None: withdrawn}
    if prior:
        withdraw = {}
        for key in withdrawn:
            old = prior.get(key)
            withdraw.setdefault(None if old is None else old[2], []).append(key)
    for out, run in plan.runs:
        attrs, next_hop, source = out
        if member is not None and source == member:
            if plan.holds:
                withdraw.setdefault(None, []).extend(run)
            continue
        if prior:
            moved = [key for key in run if (old := prior.get(key)) is not None and old[2] != source]
            if moved:
                parts.append((accel.encode_withdrawals(family, moved, ctx), None, source, None))
        if next_hop == SELF:
            parts.append(([], source, None, (family, attrs, run)))
            continue
        try:
            built = encode(attrs, family, next_hop, run, ctx)
        except ENCODE_ERRORS as exc:
            log.warning("update group %s: %d prefixes of afi %d safi %d not sent (withdrawn instead): "
                        "their attribute set cannot be encoded for it: %s", label, len(run), family[0],
                        family[1], exc)
            if plan.record:
                refused.append((family, run, plan.strip))
            withdraw.setdefault(None, []).extend(run)
            continue
        last = parts[-1] if parts else None
        if last is not None and last[1] == source and last[2] is None and last[3] is None:
            last[0].extend(built)
        else:
            parts.append((built, source, None, None))
    gone: list[Part] = [(accel.encode_withdrawals(family, keys, ctx), skip, None, None)
                        for skip, keys in withdraw.items() if keys]
    return gone + parts


def encode_round(plans: list[Plan], spec: ExportSpec, forget: Callable[[Family, list[bytes], int], None]) -> list[Part]:
    """A group's round from every shard's plans: merged, encoded once, refused keys forgotten."""
    parts, refused = encode_plans(merge_plans(plans), spec.send_ctx, group_label(spec))
    for family, keys, strip in refused:
        forget(family, keys, strip)
    return parts


def split_keys(keys: list[bytes], strip: int, shards: int) -> list[list[bytes]]:
    """Keys by the shard that holds them (``strip``: octets of ADD-PATH id to skip)."""
    return rib_accel.split_by_shard(keys, strip, shards)


def group_label(spec: ExportSpec) -> str:
    kind = "eBGP" if spec.ebgp else "iBGP client" if spec.rr_client else "iBGP"
    return f"({kind}, AS {spec.local_asn}, next hop {','.join(spec.local_next_hop) or spec.local_address})"


def parts_size(parts: list[Part]) -> int:
    """Octets of the parts' messages (a self run counts 8 per prefix)."""
    return sum(sum(map(len, p[0])) if p[3] is None else 8 * len(p[3][2]) for p in parts)
