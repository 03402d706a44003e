"""Neighbors identified by interface: two bgpcore speakers over IPv6 link-local addresses only.

The session's identity is (link-local address, interface); IPv4 routes travel with an IPv6
next hop (RFC 8950 extended next hop), as on an unnumbered link.
"""
from __future__ import annotations

from typing import Any

import pytest

from peers import BgpcoreNode, wait_until  # type: ignore[import-not-found]

pytestmark = pytest.mark.interop
LL_A, LL_B = "fe80::a", "fe80::b"


def _config(asn: int, router_id: str, peer: str, interface: str, passive: bool) -> dict[str, Any]:
    return {"local_as": asn, "router_id": router_id, "listen": [["::", 179]], "neighbors": [{
        "address": peer, "interface": interface, "remote_as": "external", "hold_time_s": 6, "passive": passive,
        "families": ["ipv4-unicast", "ipv6-unicast"], "extended_nexthop": ["ipv4-unicast"],
        "timers": {"connect_retry_s": 1, "idle_hold_s": 0.5}}]}


def test_link_local_neighbors_by_interface(lab: Any) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", f"{LL_A}/64")
    lab.addr(b, "vB", f"{LL_B}/64")
    node_a = BgpcoreNode(lab, a, _config(65001, "192.0.2.1", LL_B, "vA", passive=False))
    node_b = BgpcoreNode(lab, b, _config(65002, "192.0.2.2", LL_A, "vB", passive=True))
    peer_of_a, peer_of_b = f"{LL_B}%vA", f"{LL_A}%vB"
    wait_until(lambda: node_a.state(peer_of_a) == "ESTABLISHED" and node_b.state(peer_of_b) == "ESTABLISHED", 20,
               what="Established over link-local")
    assert node_b.neighbor(peer_of_b)["remote_address"] == LL_A
    node_a.query("announce", prefix="198.51.100.0/24", med=5)
    node_a.query("announce", prefix="2001:db8:300::/48")
    routes = wait_until(lambda: len(r := node_b.routes(peer_of_b)) == 2 and r, 10, what="routes over link-local")
    assert routes["198.51.100.0/24"]["next_hop"][0] == LL_A and routes["198.51.100.0/24"]["med"] == 5
    assert routes["2001:db8:300::/48"]["next_hop"][0] == LL_A
    node_a.query("withdraw", prefix="198.51.100.0/24")
    wait_until(lambda: list(node_b.routes(peer_of_b)) == ["2001:db8:300::/48"], 10, what="withdrawal")


def test_listen_range_accepts_a_link_local_peer_on_its_interface(lab: Any) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", f"{LL_A}/64")
    lab.addr(b, "vB", f"{LL_B}/64")
    template = {k: v for k, v in _config(0, "", "", "", False)["neighbors"][0].items() if k not in ("address", "interface")}
    node_b = BgpcoreNode(lab, b, {"local_as": 65002, "router_id": "192.0.2.2", "listen": [["::", 179]],
                                  "listen_ranges": [{"prefix": "fe80::/64", "template": template}]})
    node_a = BgpcoreNode(lab, a, _config(65001, "192.0.2.1", LL_B, "vA", passive=False))
    wait_until(lambda: node_a.state(f"{LL_B}%vA") == "ESTABLISHED", 20, what="Established with a dynamic neighbor")
    dynamic = node_b.query("neighbors")
    assert [(n["peer"], n["dynamic"], n["state"]) for n in dynamic] == [(f"{LL_A}%vB", True, "ESTABLISHED")]
