"""TCP-MD5 (RFC 2385) between bgpcore and FRR: the right password connects, a wrong one never does."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from peers import CORE4, CORE6, PEER4, PEER6, BgpcoreNode, Frr, core_config, two_nodes, wait_until  # type: ignore[import-not-found]

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="FRR is not installed")]


def _frr(lab: Any, ns: str, core: str, password: str) -> Frr:
    return Frr(lab, ns, f"""frr defaults traditional
hostname peer
router bgp 65002
 bgp router-id {PEER4}
 no bgp ebgp-requires-policy
 neighbor {core} remote-as 65001
 neighbor {core} password {password}
 neighbor {core} timers 2 6
 neighbor {core} timers connect 1
""")


@pytest.mark.parametrize("transport", ["ipv4", "ipv6"])
def test_md5_password_right_and_wrong(lab: Any, transport: str) -> None:
    core_ns, peer_ns = two_nodes(lab)
    core, addr = (CORE4, PEER4) if transport == "ipv4" else (CORE6, PEER6)
    frr = _frr(lab, peer_ns, core, "right-secret")
    node = BgpcoreNode(lab, core_ns, core_config(addr, password="right-secret"))
    wait_until(lambda: node.state(addr) == "ESTABLISHED" and frr.state(core) == "Established", 30,
               what="Established with TCP-MD5")
    # the same neighbor again with a wrong password: the kernel drops every segment
    node.query("remove_neighbor", peer=addr)
    wrong = core_config(addr, password="wrong-secret")["neighbors"][0]
    node.query("add_neighbor", config=wrong)
    wait_until(lambda: frr.state(core) != "Established", 20, what="FRR notices the removal")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        assert node.state(addr) != "ESTABLISHED" and frr.state(core) != "Established"
        time.sleep(0.5)
    assert node.neighbor(addr)["established_count"] == 0
    # and back to the right one
    node.query("remove_neighbor", peer=addr)
    node.query("add_neighbor", config=core_config(addr, password="right-secret")["neighbors"][0])
    wait_until(lambda: node.state(addr) == "ESTABLISHED", 30, what="Established again with the right password")
