from __future__ import annotations

import pytest
from rib_factories import source

from bgpcore.policy.builtins import Policy, PrefixList, SetLocalPref, Term
from bgpcore.policy.hooks import Verdict
from bgpcore.rib.adj_in import AdjRibIn, Removed
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.nlri import network_key, with_path_id
from bgpcore.wire.types import PathAttributes

A = PathAttributes(origin=0, next_hop="192.0.2.1")
B = PathAttributes(origin=1, next_hop="192.0.2.1")
NH = ("192.0.2.1",)
K1, K2, K3 = (network_key(p) for p in ("10.1.0.0/16", "10.2.0.0/16", "192.168.0.0/24"))
ONLY_TEN = Policy((Term(matches=(PrefixList.of("10.0.0.0/8 le 24"),), actions=(SetLocalPref(50),)),),
                  default=Verdict.REJECT)


def test_prefixes_of_one_update_share_one_path() -> None:
    adj = AdjRibIn(source(1))
    accepted, removed = adj.announce(IPV4_UNICAST, A, NH, [K1, K2])
    assert removed == [] and len(accepted) == 1
    path = accepted[0].path
    assert accepted[0].keys == [K1, K2]
    assert adj.accepted[IPV4_UNICAST][K1] is adj.accepted[IPV4_UNICAST][K2] is path
    again, _ = adj.announce(IPV4_UNICAST, A, NH, [K3])
    assert again[0].path is path, "the same attribute set from the same peer is one Path"
    assert adj.count() == 3


def test_withdraw_reports_only_known_prefixes() -> None:
    adj = AdjRibIn(source(1))
    adj.announce(IPV4_UNICAST, A, NH, [K1])
    assert adj.withdraw(IPV4_UNICAST, [K1, K2]) == [Removed(0, [K1])]
    assert adj.withdraw(IPV4_UNICAST, [K1]) == []
    assert adj.count() == 0


def test_import_policy_filters_and_a_rejected_update_removes_the_old_route() -> None:
    adj = AdjRibIn(source(1), ONLY_TEN)
    accepted, removed = adj.announce(IPV4_UNICAST, A, NH, [K1, K3])
    assert [a.keys for a in accepted] == [[K1]] and accepted[0].path.attrs.local_pref == 50
    assert K3 not in adj.accepted[IPV4_UNICAST]
    reject_all = Policy((), default=Verdict.REJECT)
    adj.import_policy = reject_all
    _, removed = adj.announce(IPV4_UNICAST, B, NH, [K1])
    assert removed == [Removed(0, [K1])]


def test_add_path_keys_split_by_path_id_and_loc_keys_drop_it() -> None:
    adj = AdjRibIn(source(1), addpath=frozenset({IPV4_UNICAST}))
    accepted, _ = adj.announce(IPV4_UNICAST, A, NH, [with_path_id(K1, 1), with_path_id(K1, 2)])
    assert sorted((a.path.path_id, a.keys) for a in accepted) == [(1, [K1]), (2, [K1])]
    assert adj.withdraw(IPV4_UNICAST, [with_path_id(K1, 2)]) == [Removed(2, [K1])]


def test_soft_reconfiguration_reapplies_a_new_policy_without_the_peer() -> None:
    adj = AdjRibIn(source(1), ONLY_TEN, keep_received=True)
    adj.announce(IPV4_UNICAST, A, NH, [K1, K3])
    accepted, removed = adj.reapply(None)
    assert sorted(k for a in accepted[IPV4_UNICAST] for k in a.keys) == sorted([K1, K3])
    assert adj.accepted[IPV4_UNICAST][K1].attrs.local_pref is None
    accepted, removed = adj.reapply(Policy((), default=Verdict.REJECT))
    assert sorted(k for r in removed[IPV4_UNICAST] for k in r.keys) == sorted([K1, K3])
    assert adj.count() == 0
    with pytest.raises(ValueError):
        AdjRibIn(source(2)).reapply(None)


def test_graceful_restart_purges_only_what_was_not_refreshed() -> None:
    adj = AdjRibIn(source(1))
    adj.announce(IPV4_UNICAST, A, NH, [K1, K2, K3])
    adj.mark_stale()
    assert adj.stale_count() == 3
    adj.announce(IPV4_UNICAST, B, NH, [K1])
    adj.withdraw(IPV4_UNICAST, [K2])
    purged = adj.purge_stale(IPV4_UNICAST)
    assert purged == {IPV4_UNICAST: [Removed(0, [K3])]}
    assert set(adj.accepted[IPV4_UNICAST]) == {K1}
    assert adj.stale_count() == 0

