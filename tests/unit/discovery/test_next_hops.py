"""RFC 8950 next hops on unnumbered sessions: what goes to the FIB and what is advertised."""
from __future__ import annotations

from bgpcore.discovery.unnumbered import InterfacePeering, advertised_next_hop, fib_next_hop
from bgpcore.fib.install import NextHop


def test_link_local_twice_resolves_to_the_session_interface() -> None:
    assert fib_next_hop(("fe80::1", "fe80::1"), "eth1") == NextHop(gateway="fe80::1", ifname="eth1")


def test_global_plus_link_local_uses_the_link_local() -> None:
    assert fib_next_hop(("2001:db8::1", "fe80::2"), "eth2") == NextHop(gateway="fe80::2", ifname="eth2")


def test_lone_link_local_or_global_is_installed_on_the_interface() -> None:
    assert fib_next_hop(("fe80::3%eth1",), "eth1") == NextHop(gateway="fe80::3", ifname="eth1")
    assert fib_next_hop(("2001:db8::9",), "eth1") == NextHop(gateway="2001:db8::9", ifname="eth1")


def test_bird_style_unspecified_global_then_link_local() -> None:
    assert fib_next_hop(("::", "fe80::4"), "eth3") == NextHop(gateway="fe80::4", ifname="eth3")


def test_advertised_next_hop_is_link_local_twice_without_a_global() -> None:
    assert advertised_next_hop("fe80::a%eth1") == ("fe80::a", "fe80::a")
    assert advertised_next_hop("fe80::a", "2001:db8::a") == ("2001:db8::a", "fe80::a")


def test_interface_patterns_match_like_a_shell() -> None:
    peering = InterfacePeering(interfaces=("swp*", "eth1"), remote_as="external")
    assert peering.matches("swp1") and peering.matches("swp12") and peering.matches("eth1")
    assert not peering.matches("eth10") and not peering.matches("lo")
