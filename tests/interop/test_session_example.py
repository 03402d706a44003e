"""examples/peer_and_print.py runs as written against FRR."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from peers import CORE4, CORE6, PEER4, Frr, two_nodes, wait_until  # type: ignore[import-not-found]

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="FRR is not installed")]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "peer_and_print.py"


def test_peer_and_print_against_frr(lab: Any) -> None:
    core_ns, peer_ns = two_nodes(lab)
    frr = Frr(lab, peer_ns, f"""frr defaults traditional
hostname peer
router bgp 65002
 bgp router-id {PEER4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {CORE4} remote-as 65001
 neighbor {CORE4} timers connect 1
 address-family ipv4 unicast
  network 198.51.100.0/24
 exit-address-family
""")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", core_ns, sys.executable, str(EXAMPLE), "--local-as", "65001", "--router-id", CORE4,
         "--peer", PEER4, "--peer-as", "65002", "--announce", "203.0.113.0/24", "--next-hop-ipv6", CORE6,
         "--duration", "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lab.procs.append(proc)
    path = wait_until(lambda: frr.route("203.0.113.0/24").get("paths"), 15, what="the example's prefix at FRR")[0]
    assert path["aspath"]["string"] == "65001" and path["nexthops"][0]["ip"] == CORE4
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert f"{PEER4}: established, AS 65002" in stdout
    assert f"{PEER4}: announced 198.51.100.0/24 via {PEER4} as-path [65002]" in stdout
    wait_until(lambda: frr.state(CORE4) != "Established", 10, what="FRR sees the shutdown")
    assert "Administrative Shutdown" in frr.vtysh(f"show bgp neighbors {CORE4}") or \
        "peer_and_print example stopped" in frr.vtysh(f"show bgp neighbors {CORE4}")
