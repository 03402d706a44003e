"""Kernel settings checked before unnumbered peering starts; each problem names its sysctl."""
from __future__ import annotations

import pytest

from bgpcore.discovery.sysctl import check_interfaces, interface_problems
from bgpcore.errors import ConfigError


def settings(**overrides: str) -> dict[str, str]:
    base = {"net.ipv6.conf.eth1.disable_ipv6": "0", "net.ipv6.conf.eth1.addr_gen_mode": "0",
            "net.ipv6.conf.eth1.accept_ra": "1", "net.ipv6.conf.eth1.forwarding": "1",
            "net.ipv4.conf.all.forwarding": "1"}
    base.update({k.replace("__", "."): v for k, v in overrides.items()})
    return base


def test_router_defaults_pass() -> None:
    assert interface_problems("eth1", transit=True, read=settings().get) == []


def test_disabled_ipv6_names_the_sysctl() -> None:
    (problem,) = interface_problems("eth1", read=settings(**{"net.ipv6.conf.eth1.disable_ipv6": "1"}).get)
    assert "net.ipv6.conf.eth1.disable_ipv6=0" in problem


def test_no_link_local_generation_names_the_sysctl() -> None:
    (problem,) = interface_problems("eth1", read=settings(**{"net.ipv6.conf.eth1.addr_gen_mode": "1"}).get)
    assert "net.ipv6.conf.eth1.addr_gen_mode=0" in problem


@pytest.mark.parametrize(("accept_ra", "forwarding", "bad"), [
    ("1", "0", True), ("2", "1", True), ("0", "0", False), ("1", "1", False),
])
def test_kernel_accepting_peer_advertisements_is_refused(accept_ra: str, forwarding: str, bad: bool) -> None:
    values = settings(**{"net.ipv6.conf.eth1.accept_ra": accept_ra, "net.ipv6.conf.eth1.forwarding": forwarding})
    problems = interface_problems("eth1", read=values.get)
    assert bool(problems) == bad
    if bad:
        assert "net.ipv6.conf.eth1.accept_ra" in problems[0] and "net.ipv6.conf.eth1.forwarding=1" in problems[0]


def test_transit_node_needs_ipv4_forwarding() -> None:
    values = settings(**{"net.ipv4.conf.all.forwarding": "0"})
    assert interface_problems("eth1", read=values.get) == []
    (problem,) = interface_problems("eth1", transit=True, read=values.get)
    assert "net.ipv4.conf.all.forwarding=1" in problem


def test_vlan_interface_is_read_with_a_slash() -> None:
    values = {k.replace("eth1", "eth1/100"): v for k, v in settings(**{"net.ipv6.conf.eth1.disable_ipv6": "1"}).items()}
    (problem,) = interface_problems("eth1.100", read=values.get)
    assert "net.ipv6.conf.eth1.100.disable_ipv6=0" in problem


def test_missing_interface_is_reported() -> None:
    assert "no IPv6 settings" in interface_problems("nope0", read={}.get)[0]


def test_check_raises_one_config_error_listing_every_problem() -> None:
    values = settings(**{"net.ipv6.conf.eth1.disable_ipv6": "1", "net.ipv6.conf.eth1.accept_ra": "2"})
    with pytest.raises(ConfigError) as info:
        check_interfaces(["eth1", "eth1"], read=values.get)
    text = str(info.value)
    assert "disable_ipv6=0" in text and "accept_ra" in text
    assert text.count("disable_ipv6=0") == 1
