"""Kernel nexthop objects (RTM_NEWNEXTHOP, Linux 5.3+) that bgpcore owns: content <-> id.

Every distinct next hop is one object and every ECMP set one group of ``(member id, weight)``;
routes name their object with RTA_NH_ID. Moving a next hop then rewrites one object and no
route. This module only keeps the books (ids, contents, which ones the kernel holds now);
``install.Fib`` sends the messages.
"""
from __future__ import annotations

import socket
from typing import Final, NamedTuple

from bgpcore.constants import RTPROT_BGP
from bgpcore.fib import netlink as nl

# A next hop as the kernel stores it: (gateway family, packed gateway or b"", oif, flags, weight)
Hop = tuple[int, bytes, int, int, int]

NEXTHOP_ID_BASE: Final = 0x0BC00000


class ObjectKey(NamedTuple):
    """What an object holds: one next hop (weight 1), or a group of member ids with weights."""

    hop: Hop | None = None
    group: tuple[tuple[int, int], ...] = ()


class NexthopObjects:
    """Ids of our nexthop objects, their contents and which of them the kernel holds now."""

    def __init__(self, base: int = NEXTHOP_ID_BASE) -> None:
        self.ids: dict[ObjectKey, int] = {}
        self.content: dict[int, ObjectKey] = {}
        self.present: set[int] = set()
        self.taken: set[int] = set()  # ids in the kernel, ours or not
        self._next_id = base

    def id_for(self, key: ObjectKey) -> int:
        """The id holding ``key``, allocating a free one (not yet sent) when there is none."""
        obj_id = self.ids.get(key)
        if obj_id is None:
            while self._next_id in self.taken:
                self._next_id += 1
            obj_id = self._next_id
            self.taken.add(obj_id)
            self.ids[key] = obj_id
            self.content[obj_id] = key
        return obj_id

    def adopt(self, obj_id: int, key: ObjectKey) -> None:
        """An object of ours found in the kernel; the lowest id wins for duplicate contents."""
        self.taken.add(obj_id)
        self.content[obj_id] = key
        self.present.add(obj_id)
        if key not in self.ids or self.ids[key] > obj_id:
            self.ids[key] = obj_id

    def with_members(self, obj_id: int) -> list[int]:
        """The object and, for a group, its members first (the order they must be created)."""
        return [m for m, _w in self.content[obj_id].group] + [obj_id]

    def rebind(self, old: ObjectKey, new: ObjectKey) -> int | None:
        """Give ``old``'s id the content ``new`` (None when there is no such object or ``new``
        already has one)."""
        obj_id = self.ids.get(old)
        if obj_id is None or new in self.ids:
            return None
        del self.ids[old]
        self.ids[new] = obj_id
        self.content[obj_id] = new
        return obj_id

    def forget(self, obj_id: int) -> None:
        key = self.content.pop(obj_id)
        if self.ids.get(key) == obj_id:
            del self.ids[key]
        self.present.discard(obj_id)
        self.taken.discard(obj_id)

    def on_links(self, ifindexes: set[int]) -> set[int]:
        """Single next hops through these interfaces."""
        return {i for i, k in self.content.items() if k.hop is not None and k.hop[2] in ifindexes}

    def groups_touching(self, members: set[int]) -> list[int]:
        return [i for i, k in self.content.items() if any(m in members for m, _w in k.group)]

    def groups_within(self, members: set[int]) -> set[int]:
        """Groups every member of which is in ``members``."""
        return {i for i, k in self.content.items() if k.group and all(m in members for m, _w in k.group)}

    def message(self, obj_id: int) -> nl.NexthopMessage:
        key = self.content[obj_id]
        if key.hop is None:
            return nl.NexthopMessage(id=obj_id, protocol=RTPROT_BGP, group=key.group)
        gw_family, gw, oif, flags, _weight = key.hop
        return nl.NexthopMessage(id=obj_id, family=gw_family if gw else socket.AF_INET, protocol=RTPROT_BGP,
                                 flags=flags, oif=oif, gateway=gw or None)


def object_key(msg: nl.NexthopMessage) -> ObjectKey:
    """The content of a dumped object, in the form :class:`Fib` builds for its own."""
    if msg.group:
        return ObjectKey(group=tuple(msg.group))  # the kernel keeps the order members were given in
    gw_family = msg.family if msg.gateway else socket.AF_UNSPEC
    return ObjectKey(hop=(gw_family, msg.gateway or b"", msg.oif or 0, msg.flags & nl.RTNH_F_ONLINK, 1))
