"""Import and export policy: ``RoutePolicy`` callables and declarative building blocks."""
from bgpcore.policy.builtins import (AddCommunities, AsPathContains, AsPathLength, AsPathRegex, Chain, CommunityMatch,
                                     FamilyMatch, Policy, PrefixEntry, PrefixList, PrependAsPath, RejectAll,
                                     RemoveCommunities, SetCommunities, SetLocalPref, SetMed, SetNextHop, Term,
                                     parse_community)
from bgpcore.policy.hooks import Action, Match, RoutePolicy, Verdict

__all__ = ["Action", "AddCommunities", "AsPathContains", "AsPathLength", "AsPathRegex", "Chain", "CommunityMatch",
           "FamilyMatch", "Match", "Policy", "PrefixEntry", "PrefixList", "PrependAsPath", "RejectAll",
           "RemoveCommunities", "RoutePolicy", "SetCommunities", "SetLocalPref", "SetMed", "SetNextHop", "Term",
           "Verdict", "parse_community"]
