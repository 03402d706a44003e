"""Update groups: neighbors with equal ``ExportSpec`` read one shared stream of UPDATEs.

The RIB shards encode each UPDATE once per group; the group keeps the encoded rounds in a
short log and every member keeps its own read position (``cursor``): a member costs a few
integers, never a copy. The log is trimmed as the slowest attached member advances; a member
may stop inside a round (``offset``: a part, ``index``: a message of it). A round is a list of
parts (``packing.Part``); a member skips the parts of its own routes (split horizon) and the
parts meant for another member alone, and encodes self runs with its own next hop. A member that lags more than ``lag_limit_bytes``
behind is detached: the prefixes of the rounds it did not read go back to the shards as
its private work, it catches up from the current Loc-RIB, and then rejoins at the log's
end. New members join the same way (their private work is the whole table), except the
first member of a new group, which simply reads the group's first rounds.

End-of-RIB (RFC 4724 §2) goes to a member once it has everything that was in the table
when it joined.

This module holds the bookkeeping only; ``GroupOutput`` is the way to the shards.
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from itertools import accumulate
from typing import NamedTuple, Protocol

from bgpcore.rib.adj_out import ExportSpec
from bgpcore.rib.packing import ENCODE_ERRORS, Part, parts_size
from bgpcore.route import PeerId
from bgpcore.wire import accel
from bgpcore.wire.context import Family
from bgpcore.wire.types import PathAttributes

log = logging.getLogger("bgpcore.rib")

ShardKeys = list[dict[Family, list[bytes]]]
"""Per shard, per family: the prefixes one round covered."""


class Round(NamedTuple):
    """One encoding round of a group: its parts, the prefixes they cover, and per part the
    running total of its messages' octets (computed once, read by every member)."""

    parts: list[Part]
    size: int
    keys: ShardKeys
    offsets: list[list[int]]


class GroupOutput(Protocol):
    """What the groups ask of the RIB shards."""

    def request_round(self, group_id: int, budget_bytes: int) -> None:
        """Plan the group's next round; ``UpdateGroups.round_done`` receives it, at once or
        when the shard workers have answered."""
        ...

    def settle(self) -> None:
        """Wait until every round asked for has been received."""
        ...

    def generate_member(self, group_id: int, member: PeerId, budget_bytes: int) -> tuple[list[Part], bool]:
        """Next private catch-up parts of a member: (parts, done)."""
        ...

    def detach_member(self, group_id: int, member: PeerId, keys: ShardKeys) -> None: ...

    def attach_member(self, group_id: int, member: PeerId) -> None: ...


class Member:
    """One neighbor's progress in its group."""

    __slots__ = ("peer_id", "spec", "cursor", "offset", "index", "catching_up", "eor", "eor_at", "outbox",
                 "refreshing", "coalesced")

    def __init__(self, peer_id: PeerId, cursor: int, catching_up: bool, eor: list[bytes],
                 spec: ExportSpec | None = None) -> None:
        self.peer_id = peer_id
        self.spec = spec
        """Its own export spec (with our address on its session), when the group's has none."""
        self.cursor = cursor
        self.offset = 0
        self.index = 0
        self.catching_up = catching_up
        self.eor = eor
        self.eor_at: int | None = None
        self.outbox: list[bytes] = []
        self.refreshing = False
        """A route refresh is being served (its catch-up has not finished)."""
        self.coalesced = 0
        """Route refreshes that arrived while one was served, served by it."""


class UpdateGroup:
    """A group's shared log of rounds and its members' positions in it."""

    def __init__(self, group_id: int, spec: ExportSpec) -> None:
        self.id = group_id
        self.spec = spec
        self.members: dict[PeerId, Member] = {}
        self.log: list[Round] = []
        self.base = 0
        self.drained = False
        self.in_flight = False
        """A round has been asked of the shards and is not back yet."""
        self.noted = 0
        """Changes noted so far (``note_changes``): a round asked before the last of them
        cannot say the group is drained."""
        self.asked_at = 0
        """``noted`` when the round in flight was asked for."""
        self.progressed = False
        """The last round received added a round or found nothing pending."""

    @property
    def end(self) -> int:
        return self.base + len(self.log)

    def lag_bytes(self, member: Member) -> int:
        return sum(r.size for r in self.log[member.cursor - self.base:])

    def trim(self) -> None:
        """Drop rounds every attached member has read."""
        cursors = [m.cursor for m in self.members.values() if not m.catching_up]
        low = min(cursors, default=self.end)
        if low > self.base:
            del self.log[: low - self.base]
            self.base = low

    def unread_keys(self, member: Member, shards: int) -> ShardKeys:
        merged: ShardKeys = [{} for _ in range(shards)]
        for rnd in self.log[member.cursor - self.base:]:
            for shard, per_family in enumerate(rnd.keys):
                for family, keys in per_family.items():
                    merged[shard].setdefault(family, []).extend(keys)
        return merged


class UpdateGroups:
    """Assigns neighbors to groups by ``ExportSpec`` and serves their UPDATE streams."""

    def __init__(self, output: GroupOutput, shards: int, lag_limit_bytes: int = 16 << 20,
                 round_bytes: int = 1 << 17) -> None:
        """``round_bytes``: output encoded per group round, the slice of output work one
        ``next_messages`` call may add (128 KiB is one chunk of prefixes, a few ms): reading
        from peers is never held up for long while a group encodes a full table.

        With shard workers planning in the background, a round is asked for when a member
        has read everything: asking ahead makes more, smaller rounds, which cost more than
        the overlap gains (and pack worse)."""
        self.output = output
        self.round_bytes = round_bytes
        self.shards = shards
        self.lag_limit_bytes = lag_limit_bytes
        self.by_id: dict[int, UpdateGroup] = {}
        self.by_spec: dict[ExportSpec, UpdateGroup] = {}
        self.by_member: dict[PeerId, UpdateGroup] = {}
        self._next_id = 0

    def join(self, peer_id: PeerId, spec: ExportSpec, eor: list[bytes],
             own: ExportSpec | None = None) -> tuple[UpdateGroup, bool, bool]:
        """Add a member (``own``: its spec with its address, when ``spec``, the group key, has none).

        Returns:
            (group, created, catching_up): a new group must be created in the shards (with
            the whole table pending); a member that joins a group which already sent
            something catches up alone (the shards give it the whole table as private work).
        """
        try:
            group = self.by_spec.get(spec)
            shareable = True
        except TypeError:  # an unhashable export policy: the peer gets a group of its own
            group, shareable = None, False
        created = group is None
        if group is None:
            group = UpdateGroup(self._next_id, spec)
            self._next_id += 1
            self.by_id[group.id] = group
            if shareable:
                self.by_spec[spec] = group
        catching_up = group.end > 0
        group.members[peer_id] = Member(peer_id, group.end, catching_up, eor, own)
        self.by_member[peer_id] = group
        return group, created, catching_up

    def leave(self, peer_id: PeerId) -> UpdateGroup | None:
        """Remove a member; returns its group when that is now empty (the caller deletes it)."""
        group = self.by_member.pop(peer_id, None)
        if group is None:
            return None
        group.members.pop(peer_id, None)
        if group.members:
            group.trim()
            return None
        del self.by_id[group.id]
        try:
            if self.by_spec.get(group.spec) is group:
                del self.by_spec[group.spec]
        except TypeError:
            pass
        return group

    def restart_member(self, peer_id: PeerId, eor: list[bytes]) -> UpdateGroup | None:
        """The member must get the whole table again (route refresh): it catches up privately
        (the caller then adds the whole table to its private work).

        A refresh asked while the member's previous one is still being served is coalesced
        into it (None is returned, ``Member.coalesced`` counts it): that catch-up reads the
        current table for every prefix it has not sent yet, and the member still holds the
        ones it has sent.
        """
        group = self.by_member.get(peer_id)
        if group is None:
            return None
        member = group.members[peer_id]
        if member.refreshing and member.catching_up:
            member.coalesced += 1
            return None
        member.refreshing, member.coalesced = True, 0
        if not member.catching_up and group.in_flight:
            self.output.settle()  # the round in flight is part of what it has not read
        if not member.catching_up and member.cursor < group.end:
            # What it has not read yet may withdraw routes it holds: keep those prefixes.
            self.output.detach_member(group.id, peer_id, group.unread_keys(member, self.shards))
        member.catching_up = True
        member.eor = eor
        member.eor_at = None
        group.trim()
        return group

    def member(self, peer_id: PeerId) -> Member | None:
        group = self.by_member.get(peer_id)
        return None if group is None else group.members.get(peer_id)

    def pending(self, peer_id: PeerId) -> bool:
        """Whether ``next_messages`` may have something for this member (a cheap hint)."""
        group = self.by_member.get(peer_id)
        if group is None:
            return False
        member = group.members[peer_id]
        return bool(member.outbox or member.catching_up or member.eor or member.cursor < group.end
                    or not group.drained)

    def note_changes(self, groups: list[UpdateGroup] | None = None) -> None:
        """Something may be pending in the shards for these groups (all when None)."""
        for group in groups if groups is not None else self.by_id.values():
            group.drained = False
            group.noted += 1

    def next_messages(self, peer_id: PeerId, budget_bytes: int) -> list[bytes]:
        """UPDATEs for a member: whole messages, stopping once ``budget_bytes`` is reached
        (so at most one message past it, except a private catch-up round or a self run)."""
        group = self.by_member.get(peer_id)
        if group is None:
            return []
        member = group.members[peer_id]
        out: list[bytes] = []
        size = 0
        while size < budget_bytes:
            if member.outbox:
                out.extend(member.outbox)
                size += sum(map(len, member.outbox))
                member.outbox = []
            elif member.catching_up:
                parts, done = self.output.generate_member(group.id, peer_id, budget_bytes - size)
                size += _read(group, member, parts, None, out, 1 << 62, 0, 0)[0]
                if done and not group.drained:
                    # The group has changes it has not encoded yet: encode them now, while
                    # this member is still detached, so they join its private work; the
                    # member may only rejoin where the group's state and its own agree.
                    self._generate(group)  # generate_member waits for it: one pipe keeps the order
                    continue
                if done:
                    self.output.attach_member(group.id, peer_id)
                    member.catching_up = member.refreshing = False
                    member.cursor, member.offset, member.index = group.end, 0, 0
                    member.outbox, member.eor = member.eor, []
                elif not parts:
                    break
            elif member.eor_at is not None and member.cursor >= member.eor_at:
                member.outbox, member.eor, member.eor_at = member.eor, [], None
            elif member.cursor < group.end:
                parts, _, _, offsets = group.log[member.cursor - group.base]
                read, member.offset, member.index = _read(group, member, parts, offsets, out, budget_bytes - size,
                                                          member.offset, member.index)
                size += read
                if member.offset >= len(parts):
                    member.cursor += 1
                    member.offset = member.index = 0
            elif not self._generate(group):
                break
        group.trim()
        self._detach_laggards(group)
        return out

    def _generate(self, group: UpdateGroup) -> bool:
        """Ask for one group round; False when there was nothing to do or it is not back yet."""
        if group.drained or group.in_flight:
            return False
        group.in_flight, group.progressed, group.asked_at = True, False, group.noted
        self.output.request_round(group.id, self.round_bytes)
        return not group.in_flight and group.progressed

    def round_done(self, group_id: int, parts: list[Part], keys: ShardKeys, drained: bool) -> None:
        """A round the group asked for (``GroupOutput.request_round``): append it to the log."""
        group = self.by_id.get(group_id)
        if group is None:
            return  # the group was removed meanwhile
        group.in_flight = False
        if parts:
            offsets = [list(accumulate(map(len, p[0]), initial=0)) for p in parts]
            group.log.append(Round(parts, parts_size(parts), keys, offsets))
        group.drained = drained and group.asked_at == group.noted
        group.progressed = bool(parts) or group.drained
        if drained:  # the shards had sent all they held when asked: what changed since is new
            for member in group.members.values():
                if member.eor and not member.catching_up and member.eor_at is None:
                    member.eor_at = group.end

    def _detach_laggards(self, group: UpdateGroup) -> None:
        for member in group.members.values():
            if member.catching_up or member.cursor >= group.end:
                continue
            if group.lag_bytes(member) > self.lag_limit_bytes:
                if group.in_flight:
                    self.output.settle()  # the round in flight is part of what it has not read
                self.output.detach_member(group.id, member.peer_id, group.unread_keys(member, self.shards))
                member.catching_up = True
                member.cursor, member.offset, member.index = group.end, 0, 0
        group.trim()


def _encode_self(group: UpdateGroup, member: Member, run: tuple[Family, PathAttributes, list[bytes]]) -> list[bytes]:
    """A self run for one member: announced with its own next hop (withdrawn if that fails)."""
    family, attrs, keys = run
    spec = member.spec or group.spec
    ctx = group.spec.send_ctx
    try:
        return accel.encode_updates(attrs, family, spec.self_next_hop(family), keys, ctx)
    except ENCODE_ERRORS as exc:
        log.warning("peer %s: %d prefixes of afi %d safi %d with our next hop not sent (withdrawn instead): %s",
                    member.peer_id, len(keys), family[0], family[1], exc)
        return accel.encode_withdrawals(family, keys, ctx)


def _read(group: UpdateGroup, member: Member, parts: list[Part], offsets: list[list[int]] | None, out: list[bytes],
          budget_bytes: int, offset: int, index: int) -> tuple[int, int, int]:
    """Append what ``member`` reads of ``parts`` from part ``offset``, message ``index`` to
    ``out``, whole messages until ``budget_bytes`` is reached (``offsets``: the round's
    running totals, to find where to stop by bisection; None: read whole parts).

    Returns:
        (octets appended, offset, index): where the member stopped.
    """
    size = 0
    me = member.peer_id
    while offset < len(parts) and size < budget_bytes:
        messages, skip, only, run = parts[offset]
        if skip == me or (only is not None and only != me):
            pass
        elif run is not None:
            built = _encode_self(group, member, run)
            out.extend(built)
            size += sum(map(len, built))
        elif offsets is None:
            out.extend(messages[index:])
            size += sum(map(len, messages[index:]))
        else:
            # the first message that reaches the budget is the last one taken
            totals = offsets[offset]
            stop = min(bisect_left(totals, totals[index] + budget_bytes - size, index + 1), len(messages))
            out.extend(messages[index:stop])
            size += totals[stop] - totals[index]
            if stop < len(messages):
                return size, offset, stop
        offset += 1
        index = 0
    return size, offset, index
