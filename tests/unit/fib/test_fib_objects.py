"""Bookkeeping of kernel nexthop objects: ids, contents, groups."""
from __future__ import annotations

import socket

from bgpcore.fib import netlink as nl
from bgpcore.fib.objects import NexthopObjects, ObjectKey, object_key

HOP_A = (socket.AF_INET, bytes([192, 0, 2, 2]), 3, 0, 1)
HOP_B = (socket.AF_INET, bytes([192, 0, 2, 3]), 4, 0, 1)


def test_ids_skip_those_the_kernel_already_uses_and_are_stable_per_content() -> None:
    objects = NexthopObjects(base=100)
    objects.taken.update({100, 101})
    a = objects.id_for(ObjectKey(hop=HOP_A))
    assert a == 102 and objects.id_for(ObjectKey(hop=HOP_A)) == a
    assert objects.id_for(ObjectKey(hop=HOP_B)) == 103


def test_group_lists_members_before_itself_and_encodes_weights() -> None:
    objects = NexthopObjects(base=1)
    a, b = objects.id_for(ObjectKey(hop=HOP_A)), objects.id_for(ObjectKey(hop=HOP_B))
    group = objects.id_for(ObjectKey(group=((a, 1), (b, 2))))
    assert objects.with_members(group) == [a, b, group]
    assert objects.message(group).group == ((a, 1), (b, 2))
    assert objects.groups_within({a}) == set() and objects.groups_within({a, b}) == {group}
    assert objects.on_links({4}) == {b} and objects.groups_touching({b}) == [group]


def test_rebind_moves_an_id_to_new_content() -> None:
    objects = NexthopObjects(base=1)
    a = objects.id_for(ObjectKey(hop=HOP_A))
    assert objects.rebind(ObjectKey(hop=HOP_A), ObjectKey(hop=HOP_B)) == a
    assert objects.message(a).gateway == bytes([192, 0, 2, 3]) and objects.ids == {ObjectKey(hop=HOP_B): a}
    assert objects.rebind(ObjectKey(hop=HOP_A), ObjectKey(hop=HOP_B)) is None


def test_adopting_duplicates_keeps_the_lowest_id_and_forget_frees_it() -> None:
    objects = NexthopObjects(base=1)
    dumped = nl.NexthopMessage(id=9, family=socket.AF_INET, protocol=186, oif=3, gateway=bytes([192, 0, 2, 2]))
    objects.adopt(9, object_key(dumped))
    objects.adopt(7, object_key(dumped))
    assert objects.ids[ObjectKey(hop=HOP_A)] == 7 and objects.present == {7, 9}
    objects.forget(7)
    assert 7 not in objects.taken and ObjectKey(hop=HOP_A) not in objects.ids
