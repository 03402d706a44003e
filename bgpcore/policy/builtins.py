"""Declarative policy building blocks: matches, actions, terms and a policy made of terms.

All are frozen dataclasses: comparable (peers with equal policies share an update group),
hashable and picklable (RIB shards in worker processes receive them). Addresses and
prefixes are parsed once when a block is built; matching works on prefix keys and
integers.

Example::

    Policy((
        Term(matches=(PrefixList.of("10.0.0.0/8 le 24"),), actions=(SetLocalPref(200),)),
        Term(matches=(CommunityMatch.of("65000:666"),), verdict=Verdict.REJECT),
    ))
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from bgpcore.constants import AsPathSegmentType, WellKnownCommunity
from bgpcore.errors import ConfigError
from bgpcore.policy.hooks import Action, Match, RoutePolicy, Verdict
from bgpcore.route import Path, as_path_length, prepend_as
from bgpcore.wire.context import Family
from bgpcore.wire.types import AsPathSegment

_WIDTH: Final = {1: 32, 2: 128}
_WELL_KNOWN: Final = {m.name.lower().replace("_", "-"): int(m) for m in WellKnownCommunity}


def parse_community(text: str) -> int:
    """``"65000:100"`` or a well-known name such as ``"no-export"`` as a 32-bit value."""
    name = text.strip().lower()
    if name in _WELL_KNOWN:
        return _WELL_KNOWN[name]
    high, sep, low = name.partition(":")
    try:
        if not sep:
            return int(name) & 0xFFFFFFFF
        hi, lo = int(high), int(low)
    except ValueError:
        raise ConfigError(f"not a community: {text!r}") from None
    if not (0 <= hi <= 0xFFFF and 0 <= lo <= 0xFFFF):
        raise ConfigError(f"community halves must be 0..65535: {text!r}")
    return hi << 16 | lo


def _key_int(prefix: bytes, width: int) -> int:
    octets = prefix[1:]
    return int.from_bytes(octets, "big") << (width - 8 * len(octets))


@dataclass(frozen=True, slots=True)
class PrefixEntry:
    """One prefix-list line: network, optional ``ge``/``le`` bounds on the length, permit or deny."""

    afi: int
    network: int
    length: int
    ge: int
    le: int
    permit: bool = True

    @classmethod
    def parse(cls, text: str) -> PrefixEntry:
        """``"[deny ]10.0.0.0/8 [ge 16] [le 24]"`` (permit unless it starts with deny)."""
        words = text.split()
        permit = True
        if words and words[0] in ("permit", "deny"):
            permit = words.pop(0) == "permit"
        if not words:
            raise ConfigError(f"empty prefix-list entry: {text!r}")
        try:
            net = ipaddress.ip_network(words[0])
        except ValueError as exc:
            raise ConfigError(f"bad prefix {words[0]!r}: {exc}") from None
        width = net.max_prefixlen
        bounds = dict(zip(words[1::2], (int(w) for w in words[2::2])))
        if set(bounds) - {"ge", "le"} or len(words) % 2 == 0:
            raise ConfigError(f"prefix-list entry takes 'ge N' and 'le N': {text!r}")
        plen = net.prefixlen
        ge = bounds.get("ge", plen if "le" in bounds else plen)
        le = bounds.get("le", width if "ge" in bounds else plen)
        if not plen <= ge <= le <= width:
            raise ConfigError(f"need {plen} <= ge <= le <= {width}: {text!r}")
        return cls(1 if width == 32 else 2, int(net.network_address), plen, ge, le, permit)

    def covers(self, afi: int, prefix: bytes) -> bool:
        if afi != self.afi:
            return False
        plen = prefix[0]
        if not self.ge <= plen <= self.le:
            return False
        width = _WIDTH[afi]
        shift = width - self.length
        return _key_int(prefix, width) >> shift == self.network >> shift


@dataclass(frozen=True, slots=True)
class PrefixList:
    """Match: the first covering entry decides (permit matches, deny does not); no entry, no match."""

    entries: tuple[PrefixEntry, ...]

    @classmethod
    def of(cls, *lines: str) -> PrefixList:
        return cls(tuple(PrefixEntry.parse(line) for line in lines))

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        afi = family[0]
        for entry in self.entries:
            if entry.covers(afi, prefix):
                return entry.permit
        return False


def as_path_text(as_path: tuple[AsPathSegment, ...]) -> str:
    """AS_PATH as routers print it: ``"65001 65002 {65003,65004}"``, confederation in ``()``/``[]``."""
    parts = []
    for seg_type, asns in as_path:
        if seg_type == AsPathSegmentType.AS_SEQUENCE:
            parts.append(" ".join(map(str, asns)))
        elif seg_type == AsPathSegmentType.AS_SET:
            parts.append("{" + ",".join(map(str, asns)) + "}")
        elif seg_type == AsPathSegmentType.AS_CONFED_SEQUENCE:
            parts.append("(" + " ".join(map(str, asns)) + ")")
        else:
            parts.append("[" + ",".join(map(str, asns)) + "]")
    return " ".join(p for p in parts if p)


@lru_cache(maxsize=65536)
def _regex_matches(pattern: re.Pattern[str], as_path: tuple[AsPathSegment, ...]) -> bool:
    return pattern.search(as_path_text(as_path)) is not None


@dataclass(frozen=True, slots=True)
class AsPathRegex:
    """Match: a regular expression searched in the AS_PATH text; ``_`` stands for a boundary
    (start, end, space, brace, comma) as on routers, e.g. ``"^65001_"``."""

    pattern: str
    prefix_independent = True

    def __post_init__(self) -> None:
        try:
            self._compiled()
        except re.error as exc:
            raise ConfigError(f"bad AS-path regex {self.pattern!r}: {exc}") from None

    def _compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        return _regex_matches(self._compiled(), path.attrs.as_path)


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("_", r"(?:^|$|[ ,{}()\[\]])"))


@dataclass(frozen=True, slots=True)
class AsPathContains:
    """Match: ``asn`` appears anywhere in the AS_PATH."""

    asn: int
    prefix_independent = True

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        return any(self.asn in asns for _, asns in path.attrs.as_path)


@dataclass(frozen=True, slots=True)
class AsPathLength:
    """Match: AS_PATH length (decision rules) within ``[minimum, maximum]``."""

    minimum: int = 0
    maximum: int = 255
    prefix_independent = True

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        return self.minimum <= as_path_length(path.attrs.as_path) <= self.maximum


@dataclass(frozen=True, slots=True)
class CommunityMatch:
    """Match: the path carries any (or, with ``match_all``, every) of ``communities``."""

    communities: frozenset[int]
    match_all: bool = False
    prefix_independent = True

    @classmethod
    def of(cls, *texts: str, match_all: bool = False) -> CommunityMatch:
        return cls(frozenset(parse_community(t) for t in texts), match_all)

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        carried = path.attrs.communities
        if self.match_all:
            return self.communities.issubset(carried)
        return not self.communities.isdisjoint(carried)


@dataclass(frozen=True, slots=True)
class FamilyMatch:
    """Match: the prefix belongs to one of ``families``."""

    families: frozenset[Family]
    prefix_independent = True

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool:
        return family in self.families


@dataclass(frozen=True, slots=True)
class SetLocalPref:
    value: int

    def __call__(self, path: Path) -> Path:
        return path._replace(attrs=path.attrs._replace(local_pref=self.value))


@dataclass(frozen=True, slots=True)
class SetMed:
    """Set MED; None removes it."""

    value: int | None

    def __call__(self, path: Path) -> Path:
        return path._replace(attrs=path.attrs._replace(med=self.value))


@dataclass(frozen=True, slots=True)
class SetCommunities:
    """Replace the COMMUNITIES attribute (sorted, no duplicates)."""

    communities: tuple[int, ...]

    def __call__(self, path: Path) -> Path:
        return path._replace(attrs=path.attrs._replace(communities=tuple(sorted(set(self.communities)))))


@dataclass(frozen=True, slots=True)
class AddCommunities:
    communities: tuple[int, ...]

    def __call__(self, path: Path) -> Path:
        merged = tuple(sorted(set(path.attrs.communities).union(self.communities)))
        return path._replace(attrs=path.attrs._replace(communities=merged))


@dataclass(frozen=True, slots=True)
class RemoveCommunities:
    communities: frozenset[int]

    def __call__(self, path: Path) -> Path:
        kept = tuple(c for c in path.attrs.communities if c not in self.communities)
        return path._replace(attrs=path.attrs._replace(communities=kept))


@dataclass(frozen=True, slots=True)
class SetNextHop:
    """Replace the next hop (one address, or IPv6 global + link-local)."""

    next_hop: tuple[str, ...]

    def __call__(self, path: Path) -> Path:
        return path._replace(next_hop=self.next_hop)


@dataclass(frozen=True, slots=True)
class PrependAsPath:
    asn: int
    count: int = 1

    def __call__(self, path: Path) -> Path:
        return path._replace(attrs=path.attrs._replace(as_path=prepend_as(path.attrs.as_path, self.asn, self.count)))


@dataclass(frozen=True, slots=True)
class Term:
    """If every match holds (an empty tuple always holds), apply the actions, then the verdict."""

    matches: tuple[Match, ...] = ()
    actions: tuple[Action, ...] = ()
    verdict: Verdict = Verdict.ACCEPT


@dataclass(frozen=True, slots=True)
class Policy:
    """Terms in order; the first term that matches with ACCEPT or REJECT ends evaluation.

    A term with ``Verdict.NEXT`` applies its actions and goes on. When no term ends it,
    ``default`` decides (ACCEPT keeps the path with the changes made so far).
    """

    terms: tuple[Term, ...]
    default: Verdict = Verdict.ACCEPT

    @property
    def prefix_independent(self) -> bool:
        return all(getattr(m, "prefix_independent", False) for t in self.terms for m in t.matches)

    @property
    def rejects_all(self) -> bool:
        """No path can come out: an unconditional REJECT, or no ACCEPT before a REJECT default."""
        for term in self.terms:
            if term.verdict == Verdict.ACCEPT:
                return False
            if term.verdict == Verdict.REJECT and not term.matches:
                return True
        return self.default == Verdict.REJECT

    def __call__(self, family: Family, prefix: bytes, path: Path) -> Path | None:
        for term in self.terms:
            if all(match(family, prefix, path) for match in term.matches):
                for action in term.actions:
                    path = action(path)
                if term.verdict == Verdict.ACCEPT:
                    return path
                if term.verdict == Verdict.REJECT:
                    return None
        return None if self.default == Verdict.REJECT else path


@dataclass(frozen=True, slots=True)
class RejectAll:
    """Policy that rejects everything (e.g. the default export towards eBGP, RFC 8212)."""

    prefix_independent = True
    rejects_all = True

    def __call__(self, family: Family, prefix: bytes, path: Path) -> Path | None:
        return None


@dataclass(frozen=True, slots=True)
class Chain:
    """Policies applied in turn; the first rejection wins."""

    policies: tuple[RoutePolicy, ...]

    @property
    def prefix_independent(self) -> bool:
        return all(getattr(p, "prefix_independent", False) for p in self.policies)

    @property
    def rejects_all(self) -> bool:
        return any(getattr(p, "rejects_all", False) for p in self.policies)

    def __call__(self, family: Family, prefix: bytes, path: Path) -> Path | None:
        for policy in self.policies:
            kept = policy(family, prefix, path)
            if kept is None:
                return None
            path = kept
        return path
