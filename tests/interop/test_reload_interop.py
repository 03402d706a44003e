"""``bgpcore reload`` against real peers: a neighbor removed (an FRR gets Cease/Peer
De-configured), one added (another FRR comes up), and a new export policy toward an FRR and a
BIRD peer, applied by re-sending (soft out): their sessions are never reset (uptime grows
across the reload, one established session each) and their RIBs show the policy's result.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from peers import REPO, Bird, Frr, wait_until  # type: ignore[import-not-found]

pytestmark = pytest.mark.interop

sys.path.insert(0, str(REPO))
from bgpcore.program.control import request  # noqa: E402

CORE, FRR, BIRD, FRR2, FRR3 = "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"
ASN = 64496
PEER_AS = {FRR: 64501, BIRD: 64502, FRR2: 64503, FRR3: 64504}
NET = "198.51.100.0/24"


def _lan(lab: Any, members: dict[str, str]) -> dict[str, str]:
    core = lab.ns("core")
    lab.exec(core, "ip", "link", "add", "br0", "type", "bridge")
    lab.exec(core, "ip", "link", "set", "br0", "up")
    lab.addr(core, "br0", f"{CORE}/24")
    spaces = {"core": core}
    for name, address in members.items():
        ns = lab.ns(name)
        lab.link(core, f"v{name}", ns, "eth0")
        lab.exec(core, "ip", "link", "set", f"v{name}", "master", "br0")
        lab.addr(ns, "eth0", f"{address}/24")
        spaces[name] = ns
    return spaces


def _config(ctl: Path, neighbors: list[str], export: bool) -> str:
    text = (f'[speaker]\nasn = {ASN}\nrouter_id = "{CORE}"\nlisten = ["0.0.0.0"]\ncontrol_socket = "{ctl}"\n\n'
            f'[[networks]]\nprefix = "{NET}"\n\n'
            '[[policy]]\nname = "tag"\n[[policy.term]]\nadd_communities = ["64496:77"]\nprepend = 2\n')
    for address in neighbors:
        text += f'\n[[neighbor]]\naddress = "{address}"\nasn = {PEER_AS[address]}\nhold_time = 9\n'
        if export and address in (FRR, BIRD):
            text += 'export_policy = "tag"\n'
    return text


def _frr(lab: Any, ns: str, address: str) -> Frr:
    return Frr(lab, ns, f"""frr defaults traditional
hostname {ns}
router bgp {PEER_AS[address]}
 bgp router-id {address}
 no bgp ebgp-requires-policy
 neighbor {CORE} remote-as {ASN}
 neighbor {CORE} timers connect 2
""")


def _bird(lab: Any, ns: str) -> Bird:
    return Bird(lab, ns, f"""router id {BIRD};
protocol device {{}}
protocol bgp core {{
  local {BIRD} as {PEER_AS[BIRD]}; neighbor {CORE} as {ASN};
  connect retry time 2;
  ipv4 {{ import all; export none; }};
}}
""")


@pytest.mark.skipif(not shutil.which("bird") or not Path("/usr/lib/frr/bgpd").exists(),
                    reason="needs FRR and BIRD 2 installed")
def test_reload_against_frr_and_bird(lab: Any) -> None:
    spaces = _lan(lab, {"frr": FRR, "bird": BIRD, "frr2": FRR2, "frr3": FRR3})
    d = Path(lab.dir) / "core"
    d.mkdir(exist_ok=True)
    ctl = d / "ctl.sock"
    config = d / "core.toml"
    config.write_text(_config(ctl, [FRR, BIRD, FRR2], export=False))
    lab.spawn(spaces["core"], sys.executable, "-m", "bgpcore", "run", "--config", str(config),
              log="core-bgpcore.log", env={"PYTHONPATH": str(REPO)})
    wait_until(lambda: ctl.exists(), 20, 0.1, "bgpcore control socket")
    frr, bird = _frr(lab, spaces["frr"], FRR), _bird(lab, spaces["bird"])
    frr2, frr3 = _frr(lab, spaces["frr2"], FRR2), _frr(lab, spaces["frr3"], FRR3)

    def state(peer: str) -> str:
        return {n["peer"]: n["state"] for n in request(str(ctl), "show neighbors")}.get(peer, "")

    wait_until(lambda: all(state(p) == "ESTABLISHED" for p in (FRR, BIRD, FRR2)), 60, 0.5, "sessions up")
    wait_until(lambda: frr.route(NET).get("paths"), 30, 0.5, "FRR has the network")
    wait_until(lambda: NET in bird.routes(NET), 30, 0.5, "BIRD has the network")
    assert "64496:77" not in json.dumps(frr.route(NET))
    before = {p: request(str(ctl), "show neighbor", neighbor=p)["uptime_s"] for p in (FRR, BIRD)}
    frr_up_before = frr.neighbor(CORE).get("bgpTimerUpMsec", 0)
    time.sleep(1.5)

    config.write_text(_config(ctl, [FRR, BIRD, FRR3], export=True))
    result = request(str(ctl), "reload")
    assert result["added"] == [FRR3] and result["removed"] == [FRR2]
    assert result["changed"] == {FRR: ["soft-out"], BIRD: ["soft-out"]} and result["not_applied"] == []

    # the new export policy reaches both untouched peers
    def frr_tagged() -> bool:
        paths = frr.route(NET).get("paths") or [{}]
        return "64496:77" in json.dumps(paths[0].get("community", {})) and \
            paths[0].get("aspath", {}).get("string") == "64496 64496 64496"

    wait_until(frr_tagged, 30, 0.5, "FRR shows the new export policy")
    wait_until(lambda: "(64496,77)" in bird.routes(NET), 30, 0.5, "BIRD shows the new export policy")
    assert "BGP.as_path: 64496 64496 64496" in bird.routes(NET)
    # the removed neighbor was told, the added one came up
    wait_until(lambda: frr2.state(CORE) != "Established", 30, 0.5, "FRR2 down")
    reset = json.dumps(frr2.neighbor(CORE))
    assert "Cease" in reset and ("De-configured" in reset or "Unconfigured" in reset or "Deconfigured" in reset), reset
    wait_until(lambda: state(FRR3) == "ESTABLISHED" and frr3.route(NET).get("paths"), 60, 0.5, "FRR3 up")
    assert "64496:77" not in json.dumps(frr3.route(NET))  # the policy is only on FRR and BIRD
    # FRR's and BIRD's sessions were never reset
    for peer in (FRR, BIRD):
        detail = request(str(ctl), "show neighbor", neighbor=peer)
        assert detail["state"] == "ESTABLISHED" and detail["established_count"] == 1
        assert detail["uptime_s"] > before[peer] + 1
    frr_side = frr.neighbor(CORE)
    assert frr_side.get("connectionsEstablished") == 1 and frr_side.get("bgpTimerUpMsec", 0) > frr_up_before
    assert bird.state("core") == "Established"
    assert {n["peer"] for n in request(str(ctl), "show neighbors")} == {FRR, BIRD, FRR3}
