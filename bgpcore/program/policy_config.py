"""``[[policy]]`` tables of the TOML configuration into ``bgpcore.policy`` values.

::

    [[policy]]
    name = "from-customers"
    default = "reject"                  # what a route no term decided gets (default accept)

    [[policy.term]]
    prefix_list = ["198.51.100.0/24 le 32", "deny 0.0.0.0/0 le 32"]
    community = ["65000:100"]           # any of them (community_all = true: every one)
    as_path = "^65001( |$)"             # regular expression over the AS path text
    as_path_contains = 65002
    as_path_length_max = 10
    set_local_pref = 200
    set_med = 10
    add_communities = ["65000:1"]
    remove_communities = ["65000:2"]
    set_communities = ["65000:3"]
    prepend = 2                         # prepend our AS this many times
    set_next_hop = "192.0.2.1"
    action = "accept"                   # or "reject", or "next" to go on with the next term
"""
from __future__ import annotations

from typing import Any, Callable, Final

from bgpcore.errors import ConfigError
from bgpcore.policy.builtins import (
    AddCommunities,
    AsPathContains,
    AsPathLength,
    AsPathRegex,
    CommunityMatch,
    Policy,
    PrefixList,
    PrependAsPath,
    RemoveCommunities,
    SetCommunities,
    SetLocalPref,
    SetMed,
    SetNextHop,
    Term,
    parse_community,
)
from bgpcore.policy.hooks import Verdict

TERM_KEYS: Final = {"prefix_list", "community", "community_all", "as_path", "as_path_contains",
                    "as_path_length_max", "set_local_pref", "set_med", "add_communities", "remove_communities",
                    "set_communities", "prepend", "set_next_hop", "action"}
POLICY_KEYS: Final = {"name", "default", "term"}
_VERDICTS: Final = {"accept": Verdict.ACCEPT, "reject": Verdict.REJECT, "next": Verdict.NEXT}

Fail = Callable[[str | None, str], ConfigError]
"""Builds the error for (key, why) at the right place of the file."""


def verdict(value: object, fail: Fail, key: str) -> Verdict:
    if value not in _VERDICTS:
        raise fail(key, f"one of {', '.join(_VERDICTS)}, not {value!r}")
    return _VERDICTS[str(value)]


def _strings(term: dict[str, Any], key: str, fail: Fail) -> list[str]:
    value = term.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, "a string or a list of strings")
    return value


def _int(term: dict[str, Any], key: str, fail: Fail, low: int, high: int) -> int:
    value = term[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(key, f"an integer from {low} to {high}, not {value!r}")
    return value


def _communities(term: dict[str, Any], key: str, fail: Fail) -> tuple[int, ...]:
    try:
        return tuple(parse_community(c) for c in _strings(term, key, fail))
    except (ConfigError, ValueError) as exc:
        raise fail(key, str(exc)) from None


def build_term(term: dict[str, Any], local_as: int, fail: Fail) -> Term:
    """One ``[[policy.term]]`` table."""
    for key in term:
        if key not in TERM_KEYS:
            raise fail(key, f"unknown key (known: {', '.join(sorted(TERM_KEYS))})")
    matches: list[Any] = []
    actions: list[Any] = []
    if "prefix_list" in term:
        try:
            matches.append(PrefixList.of(*_strings(term, "prefix_list", fail)))
        except ConfigError as exc:
            raise fail("prefix_list", str(exc)) from None
    if "community" in term:
        all_of = term.get("community_all", False)
        if not isinstance(all_of, bool):
            raise fail("community_all", "true or false")
        matches.append(CommunityMatch(frozenset(_communities(term, "community", fail)), all_of))
    if "as_path" in term:
        pattern = term["as_path"]
        if not isinstance(pattern, str):
            raise fail("as_path", "a regular expression")
        try:
            matches.append(AsPathRegex(pattern))
        except Exception as exc:  # re.error or ConfigError: one line either way
            raise fail("as_path", f"bad regular expression: {exc}") from None
    if "as_path_contains" in term:
        matches.append(AsPathContains(_int(term, "as_path_contains", fail, 1, 2**32 - 1)))
    if "as_path_length_max" in term:
        matches.append(AsPathLength(0, _int(term, "as_path_length_max", fail, 0, 255)))
    if "set_local_pref" in term:
        actions.append(SetLocalPref(_int(term, "set_local_pref", fail, 0, 2**32 - 1)))
    if "set_med" in term:
        actions.append(SetMed(_int(term, "set_med", fail, 0, 2**32 - 1)))
    if "set_communities" in term:
        actions.append(SetCommunities(_communities(term, "set_communities", fail)))
    if "add_communities" in term:
        actions.append(AddCommunities(_communities(term, "add_communities", fail)))
    if "remove_communities" in term:
        actions.append(RemoveCommunities(frozenset(_communities(term, "remove_communities", fail))))
    if "prepend" in term:
        actions.append(PrependAsPath(local_as, _int(term, "prepend", fail, 1, 16)))
    if "set_next_hop" in term:
        hop = term["set_next_hop"]
        if not isinstance(hop, str):
            raise fail("set_next_hop", "an IP address")
        actions.append(SetNextHop((hop,)))
    return Term(tuple(matches), tuple(actions), verdict(term.get("action", "accept"), fail, "action"))


def build_policy(table: dict[str, Any], local_as: int, fail: Fail,
                 term_fail: Callable[[int], Fail]) -> tuple[str, Policy]:
    """One ``[[policy]]`` table: its name and the policy."""
    for key in table:
        if key not in POLICY_KEYS:
            raise fail(key, f"unknown key (known: {', '.join(sorted(POLICY_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise fail("name", "required: the name neighbors refer to")
    terms = table.get("term", [])
    if not isinstance(terms, list) or not all(isinstance(t, dict) for t in terms):
        raise fail("term", "write terms as [[policy.term]] tables")
    built = tuple(build_term(t, local_as, term_fail(i)) for i, t in enumerate(terms))
    return name, Policy(built, verdict(table.get("default", "accept"), fail, "default"))
