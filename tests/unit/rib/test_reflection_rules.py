from __future__ import annotations

import pytest
from rib_factories import SEQ, make_path, source

from bgpcore.constants import WellKnownCommunity
from bgpcore.rib.reflect import (ebgp_export_attributes, export_next_hop, ibgp_export_attributes, loop_reason,
                                 may_advertise, may_export_communities, may_reflect, reflected_attributes)
from bgpcore.route import LOCAL_SOURCE, prepend_as
from bgpcore.wire.types import PathAttributes

CLIENT = source(1, client=True)
NON_CLIENT = source(2)
EBGP = source(3, asn=65001, ebgp=True)


@pytest.mark.parametrize(("src", "target_ebgp", "target_client", "allowed"), [
    (CLIENT, False, True, True),
    (CLIENT, False, False, True),
    (NON_CLIENT, False, True, True),
    (NON_CLIENT, False, False, False),
    (NON_CLIENT, True, False, True),
    (EBGP, False, False, True),
    (EBGP, False, True, True),
    (LOCAL_SOURCE, False, False, True),
])
def test_rfc4456_client_and_non_client_rules(src, target_ebgp: bool, target_client: bool, allowed: bool) -> None:
    assert may_reflect(src, target_ebgp, target_client) is allowed


def test_well_known_communities_limit_advertisement() -> None:
    assert not may_export_communities((WellKnownCommunity.NO_ADVERTISE,), False)
    assert not may_export_communities((WellKnownCommunity.NO_EXPORT,), True)
    assert may_export_communities((WellKnownCommunity.NO_EXPORT,), False)
    assert not may_export_communities((WellKnownCommunity.NO_EXPORT_SUBCONFED,), True)
    assert may_export_communities((65000 << 16 | 1,), True)
    no_export = make_path(1, src=CLIENT, communities=(WellKnownCommunity.NO_EXPORT,))
    assert may_advertise(no_export, target_ebgp=False, target_client=False)
    assert not may_advertise(no_export, target_ebgp=True, target_client=False)


def test_reflection_sets_originator_id_once_and_prepends_cluster_id() -> None:
    attrs = PathAttributes(origin=0)
    first = reflected_attributes(attrs, CLIENT, "10.255.0.1")
    assert first.originator_id == CLIENT.router_id
    assert first.cluster_list == ("10.255.0.1",)
    second = reflected_attributes(first, source(9, router_id="9.9.9.9"), "10.255.0.2")
    assert second.originator_id == CLIENT.router_id
    assert second.cluster_list == ("10.255.0.2", "10.255.0.1")


def test_attribute_sets_reflected_once_share_one_cluster_list() -> None:
    """A full table reflected once holds one CLUSTER_LIST tuple, not one per attribute set."""
    a = reflected_attributes(PathAttributes(origin=0, med=1), CLIENT, "10.255.0.3")
    b = reflected_attributes(PathAttributes(origin=0, med=2), CLIENT, "10.255.0.3")
    assert a.cluster_list == b.cluster_list == ("10.255.0.3",)
    assert a.cluster_list is b.cluster_list


def test_own_router_id_or_cluster_id_or_as_means_a_loop() -> None:
    assert loop_reason(PathAttributes(originator_id="10.0.0.1"), CLIENT, "10.0.0.1", "10.9.9.9", 65000)
    assert loop_reason(PathAttributes(cluster_list=("1.1.1.1", "10.9.9.9")), CLIENT, "10.0.0.1", "10.9.9.9", 65000)
    looped = PathAttributes(as_path=((SEQ, (65001, 65000)),))
    assert loop_reason(looped, EBGP, "10.0.0.1", "10.9.9.9", 65000)
    assert loop_reason(looped, CLIENT, "10.0.0.1", "10.9.9.9", 65000) is None
    assert loop_reason(PathAttributes(originator_id="1.2.3.4"), CLIENT, "10.0.0.1", "10.9.9.9", 65000) is None


def test_ebgp_export_prepends_and_strips_ibgp_attributes() -> None:
    attrs = PathAttributes(origin=0, as_path=((SEQ, (65010,)),), med=5, local_pref=300,
                           originator_id="1.1.1.1", cluster_list=("2.2.2.2",))
    out = ebgp_export_attributes(attrs, 65000)
    assert out.as_path == ((SEQ, (65000, 65010)),)
    assert (out.local_pref, out.med, out.originator_id, out.cluster_list) == (None, None, None, ())
    assert ebgp_export_attributes(attrs, 65000, send_med=True).med == 5


def test_prepend_starts_a_new_segment_when_the_first_is_full_or_a_set() -> None:
    full = ((SEQ, tuple(range(1, 256))),)
    assert prepend_as(full, 7)[0] == (SEQ, (7,))
    assert prepend_as((), 7, 3) == ((SEQ, (7, 7, 7)),)


def test_ibgp_export_adds_default_local_pref() -> None:
    assert ibgp_export_attributes(PathAttributes(), 100).local_pref == 100
    assert ibgp_export_attributes(PathAttributes(local_pref=7), 100).local_pref == 7


def test_next_hop_kept_on_reflection_and_self_towards_ebgp() -> None:
    me = ("10.0.0.254",)
    reflected = make_path(1, src=CLIENT, next_hop="192.0.2.1")
    learned = make_path(3, src=EBGP, next_hop="198.51.100.1")
    assert export_next_hop(reflected, False, me) == ("192.0.2.1",)
    assert export_next_hop(reflected, False, me, next_hop_self=True) == ("192.0.2.1",)
    assert export_next_hop(reflected, False, me, force=True) == me
    assert export_next_hop(learned, False, me) == ("198.51.100.1",)
    assert export_next_hop(learned, False, me, next_hop_self=True) == me
    assert export_next_hop(reflected, True, me) == me
