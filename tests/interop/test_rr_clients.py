"""bgpcore as the route reflector of FRR, BIRD and GoBGP clients, on one LAN in namespaces,
and bgpcore as a client of an FRR reflector.

Each client originates one prefix; every other client must show it with ORIGINATOR_ID = the
originating client's router id and CLUSTER_LIST = bgpcore's cluster id, as the client itself
reports it (vtysh JSON, birdc, gobgp JSON). BIRD also sends a prefix whose CLUSTER_LIST already
holds our cluster id: the reflector must drop it, so no client and no ``show routes`` has it.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from peers import REPO, Bird, Frr, GoBgp, wait_until  # type: ignore[import-not-found]

pytestmark = pytest.mark.interop

sys.path.insert(0, str(REPO))
from bgpcore.program.control import request  # noqa: E402

RR, FRR, BIRD, GOBGP = "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"
CLUSTER = "198.51.100.1"
ASN = 64496
FROM_FRR, FROM_BIRD, FROM_GOBGP, LOOPED = "203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26", "203.0.113.192/26"


def _lan(lab: Any, members: tuple[tuple[str, str], ...] = (("frr", FRR), ("bird", BIRD), ("gobgp", GOBGP))
         ) -> dict[str, str]:
    """A namespace ``rr`` holding the bridge (and RR's address), one namespace per member, one /24."""
    rr = lab.ns("rr")
    lab.exec(rr, "ip", "link", "add", "br0", "type", "bridge")
    lab.exec(rr, "ip", "link", "set", "br0", "up")
    lab.addr(rr, "br0", f"{RR}/24")
    spaces = {"rr": rr}
    for name, address in members:
        ns = lab.ns(name)
        lab.link(rr, f"v{name}", ns, "eth0")
        lab.exec(rr, "ip", "link", "set", f"v{name}", "master", "br0")
        lab.addr(ns, "eth0", f"{address}/24")
        spaces[name] = ns
    return spaces


def start_bgpcore(lab: Any, ns: str, neighbors: list[tuple[str, bool]], router_id: str = CLUSTER,
                  shards: int = 1) -> Path:
    """``bgpcore run`` in ``ns`` (``shards`` > 1: RIB worker processes); returns its control socket."""
    d = Path(lab.dir) / f"{ns}-rr"
    d.mkdir(exist_ok=True)
    text = (f'[speaker]\nasn = {ASN}\nrouter_id = "{router_id}"\nlisten = ["0.0.0.0"]\n'
            f'control_socket = "{d / "ctl.sock"}"\nshards = {shards}\n')
    for address, client in neighbors:
        text += f'\n[[neighbor]]\naddress = "{address}"\nasn = {ASN}\nrr_client = {str(client).lower()}\nhold_time = 9\n'
    (d / "rr.toml").write_text(text)
    lab.spawn(ns, sys.executable, "-m", "bgpcore", "run", "--config", str(d / "rr.toml"), log=f"{ns}-bgpcore.log",
              env={"PYTHONPATH": str(REPO)})
    wait_until(lambda: (d / "ctl.sock").exists(), 20, 0.1, "bgpcore control socket")
    return d / "ctl.sock"


def _frr(lab: Any, ns: str) -> Frr:
    return Frr(lab, ns, f"""frr defaults traditional
hostname client
router bgp {ASN}
 bgp router-id {FRR}
 no bgp network import-check
 neighbor {RR} remote-as {ASN}
 neighbor {RR} timers connect 2
 address-family ipv4 unicast
  network {FROM_FRR}
 exit-address-family
""")


def _bird(lab: Any, ns: str) -> Bird:
    return Bird(lab, ns, f"""router id {BIRD};
protocol device {{}}
protocol direct {{ ipv4; interface "eth0"; }}
protocol static {{ ipv4; route {FROM_BIRD} blackhole; route {LOOPED} blackhole; }}
filter to_rr {{
  if net = {LOOPED} then {{ bgp_originator_id = 192.0.2.77; bgp_cluster_list.add({CLUSTER}); }}
  accept;
}}
protocol bgp reflector {{
  local {BIRD} as {ASN}; neighbor {RR} as {ASN};
  connect retry time 2;
  ipv4 {{ import all; export filter to_rr; next hop self; }};
}}
""")


def _gobgp(lab: Any, ns: str) -> GoBgp:
    return GoBgp(lab, ns, f"""[global.config]
  as = {ASN}
  router-id = "{GOBGP}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{RR}"
    peer-as = {ASN}
  [neighbors.timers.config]
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
""")


def _frr_reflection(frr: Frr, prefix: str) -> tuple[str, list[str]] | None:
    """(originatorId, clusterList) of the first path FRR shows for ``prefix``."""
    paths = frr.route(prefix).get("paths", [])
    if not paths:
        return None
    p = paths[0]
    return p.get("originatorId", ""), p.get("clusterList", {}).get("list", [])


def _bird_reflection(bird: Bird, prefix: str) -> tuple[str, list[str]] | None:
    out = bird.routes(prefix)
    if prefix not in out:
        return None
    fields = {}
    for line in out.splitlines():
        if ":" in line and line.strip().startswith("BGP."):
            key, value = line.strip().split(":", 1)
            fields[key] = value.strip()
    return fields.get("BGP.originator_id", ""), fields.get("BGP.cluster_list", "").split()


def _gobgp_reflection(gobgp: GoBgp, prefix: str) -> tuple[str, list[str]] | None:
    entry = gobgp.rib().get(prefix)
    if not entry:
        return None
    attrs = {a.get("type"): a for a in entry[0].get("attrs", [])}
    return str(attrs.get(9, {}).get("value", "")), list(attrs.get(10, {}).get("value", []))


@pytest.mark.skipif(not all(shutil.which(b) for b in ("bird", "gobgpd")) or not Path("/usr/lib/frr/bgpd").exists(),
                    reason="needs FRR, BIRD 2 and GoBGP installed")
@pytest.mark.parametrize("shards", [1, 2])
def test_bgpcore_reflects_between_frr_bird_and_gobgp_and_drops_a_cluster_loop(lab: Any, shards: int) -> None:
    ns = _lan(lab)
    ctl = start_bgpcore(lab, ns["rr"], [(FRR, True), (BIRD, True), (GOBGP, True)], shards=shards)
    frr, bird, gobgp = _frr(lab, ns["frr"]), _bird(lab, ns["bird"]), _gobgp(lab, ns["gobgp"])
    gobgp.cli_text("global", "rib", "add", "-a", "ipv4", FROM_GOBGP, "nexthop", GOBGP)

    def all_established() -> bool:
        states = {n["peer"]: n["state"] for n in request(str(ctl), "show neighbors")}
        return states == {FRR: "ESTABLISHED", BIRD: "ESTABLISHED", GOBGP: "ESTABLISHED"}

    wait_until(all_established, 60, 0.5, "bgpcore's three clients Established")
    expected = {FROM_FRR: FRR, FROM_BIRD: BIRD, FROM_GOBGP: GOBGP}
    views = {"frr": (frr, _frr_reflection, FRR), "bird": (bird, _bird_reflection, BIRD),
             "gobgp": (gobgp, _gobgp_reflection, GOBGP)}
    for name, (daemon, reflection, own) in views.items():
        for prefix, originator in expected.items():
            if originator == own:
                continue
            seen = wait_until(lambda: reflection(daemon, prefix), 30, 0.5, f"{prefix} at {name}")
            assert seen == (originator, [CLUSTER]), f"{name} shows {prefix} as {seen}"
    # BIRD did send the looped prefix: the reflector says why it dropped it
    log = Path(lab.dir) / f"{ns['rr']}-bgpcore.log"
    wait_until(lambda: f"carries our cluster id {CLUSTER}" in log.read_text(), 10, 0.2, "the loop drop in the log")
    assert _frr_reflection(frr, LOOPED) is None
    assert _gobgp_reflection(gobgp, LOOPED) is None
    assert request(str(ctl), "show routes", prefix=LOOPED) == {"total": 0, "routes": []}
    shown = request(str(ctl), "show routes", prefix=FROM_BIRD)["routes"][0]["paths"][0]
    assert shown["from"] == BIRD and shown["next_hop"] == [BIRD]


FRR_CLUSTER = "192.0.2.250"


@pytest.mark.skipif(not shutil.which("bird") or not Path("/usr/lib/frr/bgpd").exists(),
                    reason="needs FRR and BIRD 2 installed")
def test_bgpcore_as_client_of_an_frr_reflector(lab: Any) -> None:
    """FRR reflects BIRD's route to bgpcore, and bgpcore's view shows FRR's reflection attributes."""
    ns = _lan(lab, (("core", "192.0.2.5"), ("bird", BIRD)))
    frr = Frr(lab, ns["rr"], f"""frr defaults traditional
hostname reflector
router bgp {ASN}
 bgp router-id {RR}
 bgp cluster-id {FRR_CLUSTER}
 neighbor C peer-group
 neighbor C remote-as {ASN}
 neighbor 192.0.2.5 peer-group C
 neighbor {BIRD} peer-group C
 address-family ipv4 unicast
  neighbor C route-reflector-client
 exit-address-family
""")
    _bird(lab, ns["bird"])
    ctl = start_bgpcore(lab, ns["core"], [(RR, False)], router_id="192.0.2.5")
    wait_until(lambda: frr.state("192.0.2.5") == "Established", 60, 0.5, "FRR sees bgpcore Established")
    answer = wait_until(lambda: request(str(ctl), "show routes", prefix=FROM_BIRD)["routes"], 30, 0.5,
                        f"{FROM_BIRD} at bgpcore")
    path = answer[0]["paths"][0]
    assert path["from"] == RR and path["originator_id"] == BIRD and path["cluster_list"] == [FRR_CLUSTER]
    assert path["next_hop"] == [BIRD]
    neighbor = request(str(ctl), "show neighbors")[0]
    assert neighbor["state"] == "ESTABLISHED" and neighbor["rr_client"] is False
    assert neighbor["prefixes_received"] == request(str(ctl), "show routes")["total"] >= 2


def _frr_client(lab: Any, ns: str, router_id: str, rr: str, prefixes: list[str]) -> Frr:
    """An FRR client that keeps what it receives as received (soft reconfiguration inbound, which
    FRR fills before its own ORIGINATOR_ID loop check), so it can count routes sent back to it."""
    networks = "\n".join(f"  network {p}" for p in prefixes)
    return Frr(lab, ns, f"""frr defaults traditional
hostname client
router bgp {ASN}
 bgp router-id {router_id}
 no bgp network import-check
 neighbor {rr} remote-as {ASN}
 neighbor {rr} timers connect 2
 address-family ipv4 unicast
{networks}
  neighbor {rr} soft-reconfiguration inbound
 exit-address-family
""")


@pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="needs FRR installed")
def test_frr_clients_on_their_own_links_get_the_others_routes_and_none_of_their_own(lab: Any) -> None:
    """Three FRR clients, each on its own link (bgpcore has a different address on every session):
    every client receives exactly the other clients' prefixes; none of its own comes back."""
    rr = lab.ns("rr")
    clients = []
    for i in range(3):
        ours, theirs = f"198.51.100.{4 * i + 1}", f"198.51.100.{4 * i + 2}"
        ns = lab.ns(f"c{i}")
        lab.link(rr, f"vc{i}", ns, "eth0")
        lab.addr(rr, f"vc{i}", f"{ours}/30")
        lab.addr(ns, "eth0", f"{theirs}/30")
        own = [f"203.0.113.{64 * i + 16 * j}/28" for j in range(4)]
        clients.append((theirs, ours, own, ns))
    ctl = start_bgpcore(lab, rr, [(address, True) for address, *_ in clients])
    frrs = [_frr_client(lab, ns, address, ours, own) for address, ours, own, ns in clients]
    wait_until(lambda: all(n["state"] == "ESTABLISHED" for n in request(str(ctl), "show neighbors"))
               and len(request(str(ctl), "show neighbors")) == 3, 60, 0.5, "three FRR clients Established")
    everything = {p for *_, own, _ in clients for p in own}

    def received(i: int) -> set[str]:
        frr, (address, ours, own, ns) = frrs[i], clients[i]
        table = frr.json(f"show bgp ipv4 unicast neighbors {ours} received-routes json")
        return set(table.get("receivedRoutes", {}))

    for i, (address, ours, own, ns) in enumerate(clients):
        wait_until(lambda: received(i) == everything - set(own), 30, 0.5, f"client {i} holds the others' prefixes")
    # let anything late arrive, then check again: nothing of its own ever came back
    wait_until(lambda: request(str(ctl), "show routes")["total"] == len(everything), 10, 0.2, "bgpcore's table")
    for i, (address, ours, own, ns) in enumerate(clients):
        assert received(i) == everything - set(own), f"client {i}"
        stats = frrs[i].neighbor(ours).get("addressFamilyInfo", {}).get("ipv4Unicast", {})
        assert stats.get("acceptedPrefixCounter") == len(everything) - len(own)
