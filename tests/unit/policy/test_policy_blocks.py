from __future__ import annotations

import pickle

import pytest

from bgpcore.constants import AsPathSegmentType, WellKnownCommunity
from bgpcore.errors import ConfigError
from bgpcore.policy.builtins import (AddCommunities, AsPathContains, AsPathLength, AsPathRegex, Chain,
                                     CommunityMatch, FamilyMatch, Policy, PrefixEntry, PrefixList, PrependAsPath,
                                     RejectAll, RemoveCommunities, SetCommunities, SetLocalPref, SetMed,
                                     SetNextHop, Term, as_path_text, parse_community)
from bgpcore.policy.hooks import Verdict, prefix_independent
from bgpcore.route import Path, Source
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes

SEQ = AsPathSegmentType.AS_SEQUENCE
SRC = Source(1, "10.0.0.1", "1.1.1.1", 65001, True)


def path(as_path: tuple = ((SEQ, (65001, 65002)),), communities: tuple[int, ...] = ()) -> Path:
    return Path(PathAttributes(origin=0, as_path=as_path, communities=communities), ("10.0.0.1",), SRC)


def matches(plist: PrefixList, prefix: str) -> bool:
    family = IPV6_UNICAST if ":" in prefix else IPV4_UNICAST
    return plist(family, network_key(prefix), path())


def test_prefix_list_exact_ge_and_le() -> None:
    exact = PrefixList.of("10.0.0.0/8")
    assert matches(exact, "10.0.0.0/8")
    assert not matches(exact, "10.1.0.0/16")
    le = PrefixList.of("10.0.0.0/8 le 24")
    assert matches(le, "10.0.0.0/8") and matches(le, "10.1.2.0/24")
    assert not matches(le, "10.1.2.128/25") and not matches(le, "11.0.0.0/8")
    ge = PrefixList.of("10.0.0.0/8 ge 16 le 24")
    assert not matches(ge, "10.0.0.0/8") and matches(ge, "10.200.0.0/16") and matches(ge, "10.1.2.0/24")
    only_ge = PrefixList.of("0.0.0.0/0 ge 25")
    assert matches(only_ge, "192.0.2.128/25") and matches(only_ge, "192.0.2.1/32")
    assert not matches(only_ge, "192.0.2.0/24")


def test_prefix_list_first_match_decides_and_families_do_not_mix() -> None:
    plist = PrefixList.of("deny 10.1.0.0/16 le 32", "10.0.0.0/8 le 32")
    assert not matches(plist, "10.1.5.0/24")
    assert matches(plist, "10.2.5.0/24")
    v6 = PrefixList.of("2001:db8::/32 le 48")
    assert matches(v6, "2001:db8:1::/48")
    assert not matches(v6, "2001:db9::/32")
    assert not matches(PrefixList.of("0.0.0.0/0 le 32"), "2001:db8::/32")


@pytest.mark.parametrize("bad", ["10.0.0.0/8 ge 4", "10.0.0.0/8 le 33", "10.0.0.0/8 ge 20 le 16", "nonsense",
                                 "10.0.0.0/8 lt 9", "10.0.0.1/8"])
def test_prefix_list_rejects_bad_entries(bad: str) -> None:
    with pytest.raises(ConfigError):
        PrefixEntry.parse(bad)


def test_as_path_regex_uses_underscore_as_boundary() -> None:
    assert as_path_text(((SEQ, (1, 2)), (AsPathSegmentType.AS_SET, (3, 4)))) == "1 2 {3,4}"
    starts = AsPathRegex("^65001_")
    assert starts(IPV4_UNICAST, b"", path())
    assert not starts(IPV4_UNICAST, b"", path(((SEQ, (650011,)),)))
    assert AsPathRegex("_65002$")(IPV4_UNICAST, b"", path())
    assert AsPathRegex("^$")(IPV4_UNICAST, b"", path(()))
    with pytest.raises(ConfigError):
        AsPathRegex("(")


def test_as_path_contains_and_length() -> None:
    assert AsPathContains(65002)(IPV4_UNICAST, b"", path())
    assert not AsPathContains(65003)(IPV4_UNICAST, b"", path())
    assert AsPathLength(2, 2)(IPV4_UNICAST, b"", path())
    assert not AsPathLength(3)(IPV4_UNICAST, b"", path())


def test_community_match_any_and_all() -> None:
    assert parse_community("65000:100") == 65000 << 16 | 100
    assert parse_community("no-export") == WellKnownCommunity.NO_EXPORT
    with pytest.raises(ConfigError):
        parse_community("70000:1")
    tagged = path(communities=(parse_community("65000:1"), parse_community("65000:2")))
    assert CommunityMatch.of("65000:1", "65000:9")(IPV4_UNICAST, b"", tagged)
    assert not CommunityMatch.of("65000:1", "65000:9", match_all=True)(IPV4_UNICAST, b"", tagged)
    assert CommunityMatch.of("65000:1", "65000:2", match_all=True)(IPV4_UNICAST, b"", tagged)


def test_actions_change_only_what_they_name() -> None:
    p = path(communities=(5, 1))
    assert SetLocalPref(250)(p).attrs.local_pref == 250
    assert SetMed(7)(p).attrs.med == 7 and SetMed(None)(SetMed(7)(p)).attrs.med is None
    assert SetCommunities((3, 3, 2))(p).attrs.communities == (2, 3)
    assert AddCommunities((9, 1))(p).attrs.communities == (1, 5, 9)
    assert RemoveCommunities(frozenset({5}))(p).attrs.communities == (1,)
    assert SetNextHop(("2001:db8::1",))(p).next_hop == ("2001:db8::1",)
    assert PrependAsPath(65000, 2)(p).attrs.as_path == ((SEQ, (65000, 65000, 65001, 65002)),)
    assert SetLocalPref(250)(p).attrs._replace(local_pref=None) == p.attrs


def test_policy_terms_in_order_with_next_accept_reject_and_default() -> None:
    policy = Policy((
        Term(matches=(CommunityMatch.of("65000:666"),), verdict=Verdict.REJECT),
        Term(matches=(AsPathContains(65002),), actions=(SetMed(20),), verdict=Verdict.NEXT),
        Term(matches=(PrefixList.of("10.0.0.0/8 le 24"),), actions=(SetLocalPref(200),)),
    ), default=Verdict.REJECT)
    key = network_key("10.1.0.0/16")
    out = policy(IPV4_UNICAST, key, path())
    assert out is not None and (out.attrs.med, out.attrs.local_pref) == (20, 200)
    assert policy(IPV4_UNICAST, key, path(communities=(parse_community("65000:666"),))) is None
    assert policy(IPV4_UNICAST, network_key("11.0.0.0/8"), path()) is None
    assert not policy.prefix_independent
    assert Policy((Term(matches=(AsPathContains(1),)),)).prefix_independent


def test_reject_all_and_chain() -> None:
    assert RejectAll()(IPV4_UNICAST, b"", path()) is None
    chain = Chain((Policy((Term(actions=(SetLocalPref(5),)),)), Policy((Term(actions=(SetMed(1),)),))))
    out = chain(IPV4_UNICAST, b"", path())
    assert out is not None and (out.attrs.local_pref, out.attrs.med) == (5, 1)
    assert Chain((RejectAll(), Policy(()))) (IPV4_UNICAST, b"", path()) is None
    assert prefix_independent(chain) and prefix_independent(RejectAll())
    assert FamilyMatch(frozenset({IPV6_UNICAST}))(IPV6_UNICAST, b"", path())


def test_blocks_are_equal_by_value_and_picklable() -> None:
    a = Policy((Term(matches=(PrefixList.of("10.0.0.0/8 le 24"), AsPathRegex("^65001_")),
                     actions=(SetLocalPref(200),)),))
    b = Policy((Term(matches=(PrefixList.of("10.0.0.0/8 le 24"), AsPathRegex("^65001_")),
                     actions=(SetLocalPref(200),)),))
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
