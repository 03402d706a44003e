"""FIB policy: which best paths reach the kernel.

A policy is any callable ``(prefix) -> bool``. Three ready-made ones:

- :data:`INSTALL_ALL` -- every best path (a router that forwards).
- :data:`INSTALL_NONE` -- nothing (a route reflector out of the forwarding path, the default
  for one).
- :class:`PrefixFilter` -- a declarative list such as ``["0.0.0.0/0", "::/0",
  "0.0.0.0/0 ge 32", "::/0 ge 128"]`` (the default routes and host loopbacks), with the
  ``ge``/``le`` bounds of a prefix list.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Iterable

from bgpcore.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FibPolicy = Callable[[IPNetwork], bool]


def INSTALL_ALL(prefix: IPNetwork) -> bool:  # noqa: N802 - reads as a constant
    """Every best path goes to the kernel."""
    return True


def INSTALL_NONE(prefix: IPNetwork) -> bool:  # noqa: N802
    """No route goes to the kernel (route-reflector default)."""
    return False


@dataclass(frozen=True, slots=True)
class PrefixRule:
    """``prefix [ge N] [le M]``: a prefix inside ``network`` with a length in ``[ge, le]``."""

    network: IPNetwork
    ge: int
    le: int

    def matches(self, prefix: IPNetwork) -> bool:
        return (prefix.version == self.network.version and self.ge <= prefix.prefixlen <= self.le
                and prefix.subnet_of(self.network))  # type: ignore[arg-type]


def parse_rule(text: str) -> PrefixRule:
    """One rule, e.g. ``"192.0.2.0/24 le 32"``.

    Raises:
        ConfigError: the text is not ``prefix [ge N] [le M]`` with sane bounds.
    """
    words = text.split()
    try:
        network = ipaddress.ip_network(words[0])
        bounds = dict(zip(words[1::2], (int(w) for w in words[2::2])))
    except (IndexError, ValueError) as exc:
        raise ConfigError(f"bad FIB prefix rule {text!r}: {exc}") from exc
    if set(bounds) - {"ge", "le"} or len(words) % 2 == 0:
        raise ConfigError(f"bad FIB prefix rule {text!r}: expected 'prefix [ge N] [le M]'")
    ge = bounds.get("ge", network.prefixlen)
    le = bounds.get("le", network.max_prefixlen if "ge" in bounds else network.prefixlen)
    if not network.prefixlen <= ge <= le <= network.max_prefixlen:
        raise ConfigError(f"bad FIB prefix rule {text!r}: need {network.prefixlen} <= ge <= le <= {network.max_prefixlen}")
    return PrefixRule(network, ge, le)


class PrefixFilter:
    """Install a prefix when any rule matches it (a permit-only prefix list)."""

    def __init__(self, rules: Iterable[str | PrefixRule]) -> None:
        self.rules = tuple(r if isinstance(r, PrefixRule) else parse_rule(r) for r in rules)

    def __call__(self, prefix: IPNetwork) -> bool:
        return any(rule.matches(prefix) for rule in self.rules)

    def __repr__(self) -> str:
        return f"PrefixFilter({[f'{r.network} ge {r.ge} le {r.le}' for r in self.rules]})"
