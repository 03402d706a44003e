"""Policy hooks: plain callables that see one path to one prefix and return what to keep.

A neighbor has an import policy (applied before the Adj-RIB-In keeps a path) and an
export policy (applied per update group before the Adj-RIB-Out). Any callable matching
``RoutePolicy`` works; ``bgpcore.policy.builtins`` composes the usual ones declaratively.

Policies run per attribute set when they say they ignore the prefix
(``prefix_independent(policy)``), otherwise once per prefix: keep per-prefix logic cheap.
With RIB shards in worker processes policies are pickled, so they must be module-level
callables or instances of picklable classes (no lambdas).
"""
from __future__ import annotations

from enum import IntEnum
from typing import Protocol

from bgpcore.route import Path
from bgpcore.wire.context import Family


class Verdict(IntEnum):
    """Outcome of one policy term: go on with the next term, or stop and accept / reject."""

    NEXT = 0
    ACCEPT = 1
    REJECT = 2


class RoutePolicy(Protocol):
    """Import or export policy.

    Args:
        family: (AFI, SAFI) of the prefix.
        prefix: the prefix key without ADD-PATH id (length octet + address octets).
        path: the path as received (import) or as about to be advertised (export).

    Returns:
        The path to keep, possibly with changed attributes or next hop, or None to reject.
    """

    def __call__(self, family: Family, prefix: bytes, path: Path) -> Path | None: ...


class Match(Protocol):
    """A condition of a policy term."""

    def __call__(self, family: Family, prefix: bytes, path: Path) -> bool: ...


class Action(Protocol):
    """A change a policy term makes to an accepted path."""

    def __call__(self, path: Path) -> Path: ...


def prefix_independent(policy: object) -> bool:
    """True when ``policy`` declares (``prefix_independent = True``) that it never reads the prefix."""
    return bool(getattr(policy, "prefix_independent", False))


def rejects_all(policy: object) -> bool:
    """True when ``policy`` declares (``rejects_all = True``) that it keeps nothing, so a group
    that exports through it never needs to look at a best-path change."""
    return bool(getattr(policy, "rejects_all", False))
