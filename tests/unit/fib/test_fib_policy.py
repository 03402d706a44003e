"""FIB policy: which prefixes reach the kernel."""
from __future__ import annotations

import ipaddress

import pytest

from bgpcore.errors import ConfigError
from bgpcore.fib.policy import INSTALL_ALL, INSTALL_NONE, PrefixFilter, parse_rule

net = ipaddress.ip_network


def test_all_and_none() -> None:
    assert INSTALL_ALL(net("203.0.113.0/24")) and not INSTALL_NONE(net("203.0.113.0/24"))


def test_default_routes_and_host_loopbacks_only() -> None:
    keep = PrefixFilter(["0.0.0.0/0", "::/0", "0.0.0.0/0 ge 32", "::/0 ge 128"])
    assert keep(net("0.0.0.0/0")) and keep(net("::/0"))
    assert keep(net("192.0.2.1/32")) and keep(net("2001:db8::1/128"))
    assert not keep(net("203.0.113.0/24")) and not keep(net("2001:db8::/32"))


def test_ge_and_le_bound_the_length_inside_the_network() -> None:
    rule = parse_rule("198.51.100.0/24 ge 26 le 28")
    assert (rule.ge, rule.le) == (26, 28)
    keep = PrefixFilter([rule])
    assert keep(net("198.51.100.64/26")) and keep(net("198.51.100.16/28"))
    assert not keep(net("198.51.100.0/25")) and not keep(net("198.51.100.0/29")) and not keep(net("203.0.113.0/26"))
    assert parse_rule("192.0.2.0/24 le 32").ge == 24
    assert parse_rule("192.0.2.0/24").le == 24


@pytest.mark.parametrize("text", ["", "bogus", "192.0.2.0/24 ge", "192.0.2.0/24 ge 8", "192.0.2.0/24 le 33",
                                  "192.0.2.0/24 ge 30 le 28", "192.0.2.0/24 eq 25"])
def test_bad_rules_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_rule(text)
