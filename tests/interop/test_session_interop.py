"""bgpcore against FRR, BIRD 2, GoBGP and ExaBGP, over IPv4 and over IPv6 transport.

Each case runs one daemon in its own namespace, linked to bgpcore's namespace by a veth pair, and
checks in turn: Established with the capabilities both sides agree on; IPv4 and IPv6 routes with
MED, communities, large communities and AS path in both directions; withdrawals; a NOTIFICATION
from the peer; a frozen peer (SIGSTOP) caught by the hold timer; recovery after each.
"""
from __future__ import annotations

import base64
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from peers import (  # type: ignore[import-not-found]
    CORE4, CORE6, PEER4, PEER6, BgpcoreNode, Bird, ExaBgp, Frr, GoBgp, core_config, two_nodes, wait_until,
)

pytestmark = pytest.mark.interop

CORE_ROUTES = {"203.0.113.0/24": (50, "65001:100", (65001, 1, 2)), "2001:db8:200::/48": (60, "65001:200", (65001, 3, 4))}
PEER_ROUTES = {"198.51.100.0/24": PEER4, "2001:db8:100::/48": PEER6}
HOLD_S = 6


class Peer:
    """One daemon kind seen through the same few questions."""

    binary = ""
    core_options: dict[str, Any] = {}
    """Neighbor settings bgpcore needs for this peer."""

    def __init__(self, lab: Any, ns: str, core: str, peer: str) -> None:
        self.lab, self.ns, self.core, self.peer = lab, ns, core, peer
        self.daemon: Any = None

    def established(self) -> bool: ...
    def view(self) -> dict[str, Any]: ...
    def route(self, prefix: str) -> dict[str, Any] | None: ...
    def withdraw(self, prefix: str) -> None: ...
    def notify(self) -> None: ...


class FrrPeer(Peer):
    binary = "/usr/lib/frr/bgpd"

    def start(self) -> None:
        x = self.core
        self.daemon = Frr(self.lab, self.ns, f"""frr defaults traditional
hostname peer
route-map ORIGINATE permit 10
 set metric 77
 set community 65002:7
 set large-community 65002:1:1
route-map NH4 permit 10
 set ip next-hop {PEER4}
route-map NH6 permit 10
 set ipv6 next-hop global {PEER6}
router bgp 65002
 bgp router-id {PEER4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {x} remote-as 65001
 neighbor {x} timers 2 {HOLD_S}
 neighbor {x} timers connect 1
 address-family ipv4 unicast
  network 198.51.100.0/24 route-map ORIGINATE
  neighbor {x} activate
  neighbor {x} route-map NH4 out
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100::/48 route-map ORIGINATE
  neighbor {x} activate
  neighbor {x} route-map NH6 out
 exit-address-family
""")

    def established(self) -> bool:
        return bool(self.daemon.state(self.core) == "Established")

    def view(self) -> dict[str, Any]:
        n = self.daemon.neighbor(self.core)
        caps = n["neighborCapabilities"]
        mp = caps.get("multiprotocolExtensions", {})
        return {"families": {f[:4] for f, v in mp.items() if v.get("advertisedAndReceived")},
                "asn4": caps.get("4byteAs") == "advertisedAndReceived",
                "route_refresh": str(caps.get("routeRefresh", "")).startswith("advertisedAndReceived"),
                "hold_time_s": n["bgpTimerHoldTimeMsecs"] // 1000, "peer_as": n["remoteAs"]}

    def route(self, prefix: str) -> dict[str, Any] | None:
        paths = self.daemon.route(prefix).get("paths")
        if not paths:
            return None
        p = paths[0]
        return {"as_path": p["aspath"]["segments"][0]["list"], "med": p.get("metric"),
                "communities": p.get("community", {}).get("list", []),
                "large": [tuple(int(x) for x in c.split(":")) for c in p.get("largeCommunity", {}).get("list", [])],
                "next_hop": p["nexthops"][0]["ip"]}

    def withdraw(self, prefix: str) -> None:
        family = "ipv6" if ":" in prefix else "ipv4"
        self.daemon.configure("router bgp 65002", f"address-family {family} unicast", f"no network {prefix}")

    def notify(self) -> None:
        self.daemon.vtysh(f"clear bgp {self.core}")


class BirdPeer(Peer):
    binary = "bird"

    def config(self, with_routes: set[str]) -> str:
        v4 = "\n".join(f"  route {p} unreachable;" for p in with_routes if ":" not in p)
        v6 = "\n".join(f"  route {p} unreachable;" for p in with_routes if ":" in p)
        six = ":" in self.core
        return f"""router id {PEER4};
log "{self.lab.dir}/{self.ns}-bird.log" all;
protocol device {{ }}
protocol direct {{ ipv4; ipv6; interface "vPeer"; }}
protocol static s4 {{ ipv4;
{v4}
}}
protocol static s6 {{ ipv6;
{v6}
}}
filter peer_attrs {{
  if proto = "s4" || proto = "s6" then {{
    bgp_med = 77; bgp_community.add((65002, 7)); bgp_large_community.add((65002, 1, 1)); accept;
  }}
  reject;
}}
protocol bgp core {{
  local {self.peer} as 65002;
  neighbor {self.core} as 65001;
  hold time {HOLD_S}; keepalive time 2; connect retry time 1; error wait time 1, 4; connect delay time 0;
  ipv4 {{ import all; export filter peer_attrs; {"next hop address " + PEER4 + ";" if six else ""} }};
  ipv6 {{ import all; export filter peer_attrs; {"" if six else "next hop address " + PEER6 + ";"} }};
}}
"""

    def start(self) -> None:
        self.routes = set(PEER_ROUTES)
        self.daemon = Bird(self.lab, self.ns, self.config(self.routes))

    def established(self) -> bool:
        return self.daemon.state("core") == "Established"

    def view(self) -> dict[str, Any]:
        lines = [line.strip() for line in self.daemon.protocol("core").splitlines()]
        theirs = lines[lines.index("Neighbor capabilities") + 1:next(i for i, x in enumerate(lines) if x.startswith("Session:"))]
        families = next(x.split(":", 1)[1].split() for x in theirs if x.startswith("AF announced:"))
        hold = next(int(x.split("/")[-1]) for x in lines if x.startswith("Hold timer:"))
        peer_as = next(int(x.split(":")[1]) for x in lines if x.startswith("Neighbor AS:"))
        return {"families": set(families), "asn4": "4-octet AS numbers" in theirs, "route_refresh": "Route refresh" in theirs,
                "hold_time_s": hold, "peer_as": peer_as}

    def route(self, prefix: str) -> dict[str, Any] | None:
        text = self.daemon.routes(prefix)
        if "BGP.as_path" not in text:
            return None
        attrs: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("BGP.") and ":" in line:
                k, v = line[4:].split(":", 1)
                attrs[k.strip()] = v.strip()
        return {"as_path": [int(a) for a in attrs["as_path"].split()], "med": int(attrs["med"]) if "med" in attrs else None,
                "communities": [f"{a}:{b}" for a, b in re.findall(r"\((\d+),(\d+)\)", attrs.get("community", ""))],
                "large": [tuple(int(x) for x in m) for m in
                          re.findall(r"\((\d+), (\d+), (\d+)\)", attrs.get("large_community", ""))],
                "next_hop": attrs["next_hop"].split()[0]}

    def withdraw(self, prefix: str) -> None:
        self.routes.discard(prefix)
        self.daemon.reconfigure(self.config(self.routes))

    def notify(self) -> None:
        self.daemon.cli("restart core")


class GoBgpPeer(Peer):
    binary = "gobgpd"

    def start(self) -> None:
        self.daemon = GoBgp(self.lab, self.ns, f"""[global.config]
  as = 65002
  router-id = "{PEER4}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{self.core}"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = {HOLD_S}
    keepalive-interval = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
""")
        for prefix, hop in PEER_ROUTES.items():
            self.daemon.cli_text("global", "rib", "add", prefix, "nexthop", hop, "med", "77", "community", "65002:7",
                                 "large-community", "65002:1:1", "-a", "ipv6" if ":" in prefix else "ipv4")

    def established(self) -> bool:
        return self.daemon.state(self.core) in ("6", "established")

    @staticmethod
    def _caps(caps: list[dict[str, Any]]) -> set[str]:
        """Capability names from GoBGP's protobuf ``Any`` list; Multiprotocol as ``mp-ipv4``/``mp-ipv6``."""
        names = set()
        for cap in caps:
            name = cap["type_url"].rsplit(".", 1)[-1]
            if name == "MultiProtocolCapability":
                raw = base64.b64decode(cap["value"])
                afi = raw[raw.index(b"\x08") + 1]  # field 1 (afi) of the family message
                name = "mp-ipv4" if afi == 1 else "mp-ipv6"
            names.add(name)
        return names

    def view(self) -> dict[str, Any]:
        n = self.daemon.neighbor(self.core)
        local, remote = self._caps(n["state"].get("local_cap", [])), self._caps(n["state"].get("remote_cap", []))
        both = local & remote
        return {"families": {c[3:] for c in both if c.startswith("mp-")}, "asn4": "FourOctetASNCapability" in both,
                "route_refresh": "RouteRefreshCapability" in both,
                "hold_time_s": int(n["timers"]["state"]["negotiated_hold_time"]), "peer_as": n["state"]["peer_asn"]}

    def route(self, prefix: str) -> dict[str, Any] | None:
        rib = self.daemon.rib("ipv6" if ":" in prefix else "ipv4")
        paths = [p for p in rib.get(prefix, []) if p.get("neighbor-ip")]
        if not paths:
            return None
        attrs = {a["type"]: a for a in paths[0]["attrs"]}
        hop = attrs[3]["nexthop"] if 3 in attrs else attrs[14]["nexthop"]
        return {"as_path": attrs[2]["as_paths"][0]["asns"], "med": attrs.get(4, {}).get("metric"),
                "communities": [f"{c >> 16}:{c & 0xFFFF}" for c in attrs.get(8, {}).get("communities", [])],
                "large": [(v["ASN"], v["LocalData1"], v["LocalData2"]) for v in attrs.get(32, {}).get("value", [])],
                "next_hop": hop}

    def withdraw(self, prefix: str) -> None:
        self.daemon.cli_text("global", "rib", "del", prefix, "-a", "ipv6" if ":" in prefix else "ipv4")

    def notify(self) -> None:
        # ``reset`` would hold the peer in Idle for idle-hold-time-after-reset (30 s);
        # disable + enable sends Cease/Administrative Shutdown and comes straight back
        self.daemon.cli_text("neighbor", self.core, "disable")
        time.sleep(0.5)
        self.daemon.cli_text("neighbor", self.core, "enable")


class ExaBgpPeer(Peer):
    binary = "exabgp"
    # ExaBGP 4.2.21 drops the connection on a ROUTE-REFRESH once Enhanced Route Refresh is
    # negotiated (Exa-Networks/exabgp#1237, fixed after 4.2); plain route refresh works
    core_options = {"enhanced_route_refresh": False}

    def start(self) -> None:
        self.daemon = ExaBgp(self.lab, self.ns, f"""neighbor {self.core} {{
  router-id {PEER4};
  local-address {self.peer};
  local-as 65002;
  peer-as 65001;
  hold-time {HOLD_S};
  family {{ ipv4 unicast; ipv6 unicast; }}
  capability {{ route-refresh; }}
  api {{ processes [ {{api}} ]; neighbor-changes; receive {{ parsed; update; open; notification; }} }}
}}
""", bind=self.peer)
        for prefix, hop in PEER_ROUTES.items():
            self.daemon.command(f"announce route {prefix} next-hop {hop} med 77 community [65002:7] "
                                "large-community [65002:1:1]")

    def established(self) -> bool:
        return self.daemon.state() == "up"

    def view(self) -> dict[str, Any]:
        opens = [m for m in self.daemon.messages() if m.get("type") == "open"]
        caps = opens[-1]["neighbor"]["open"]["capabilities"]
        fams = set()
        for cap in caps.values():
            if cap.get("name") == "multiprotocol":
                fams |= {f.replace("/", " ").split()[0] for f in cap.get("families", [])}
        names = {c.get("name") for c in caps.values()}
        return {"families": fams, "asn4": "asn4" in names, "route_refresh": "route-refresh" in names,
                "hold_time_s": min(HOLD_S, opens[-1]["neighbor"]["open"]["hold_time"]),
                "peer_as": opens[-1]["neighbor"]["open"]["asn"]}

    def route(self, prefix: str) -> dict[str, Any] | None:
        table: dict[str, dict[str, Any]] = {}
        for m in self.daemon.messages():
            if m.get("type") != "update":
                continue
            update = m["neighbor"]["message"].get("update")
            if not update:  # End-of-RIB
                continue
            for family in update.get("withdraw", {}).values():
                for entry in family:
                    table.pop(entry["nlri"], None)
            attrs = update.get("attribute", {})
            for family in update.get("announce", {}).values():
                for hop, entries in family.items():
                    for entry in entries:
                        table[entry["nlri"]] = {
                            "as_path": attrs.get("as-path", []), "med": attrs.get("med"),
                            "communities": [f"{a}:{b}" for a, b in attrs.get("community", [])],
                            "large": [tuple(c) for c in attrs.get("large-community", [])], "next_hop": hop}
        return table.get(prefix)

    def withdraw(self, prefix: str) -> None:
        self.daemon.command(f"withdraw route {prefix} next-hop {PEER_ROUTES[prefix]}")

    def notify(self) -> None:
        self.daemon.command(f"neighbor {self.core} teardown 2")


PEERS = {"frr": FrrPeer, "bird": BirdPeer, "gobgp": GoBgpPeer, "exabgp": ExaBgpPeer}


def _wait_session(node: BgpcoreNode, peer: Peer, address: str, timeout_s: float = 30) -> None:
    wait_until(lambda: node.state(address) == "ESTABLISHED" and peer.established(), timeout_s,
               what=f"Established with {type(peer).__name__}")


def _downs(node: BgpcoreNode) -> list[dict[str, Any]]:
    return node.events_of("SessionDown")


@pytest.mark.parametrize("transport", ["ipv4", "ipv6"])
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_session_with_real_peer(lab: Any, kind: str, transport: str) -> None:
    cls = PEERS[kind]
    if not (Path(cls.binary).exists() if cls.binary.startswith("/") else shutil.which(cls.binary)):
        pytest.skip(f"{cls.binary} is not installed")
    core_ns, peer_ns = two_nodes(lab)
    core, addr = (CORE4, PEER4) if transport == "ipv4" else (CORE6, PEER6)
    peer = cls(lab, peer_ns, core, addr)
    peer.start()
    node = BgpcoreNode(lab, core_ns, core_config(addr, **cls.core_options))
    try:
        _check_session(node, peer, addr)
    except BaseException:
        print(node.log_tail(80))
        print(peer.daemon.log_tail(40))
        raise


def _check_session(node: BgpcoreNode, peer: Peer, addr: str) -> None:
    _wait_session(node, peer, addr)

    # 1. the same capabilities seen from both ends
    mine, theirs = node.neighbor(addr), peer.view()
    assert {("ipv4" if afi == 1 else "ipv6") for afi, _ in mine["families"]} == theirs["families"] == {"ipv4", "ipv6"}
    assert theirs["asn4"] and "FourOctetAs" in mine["peer_capabilities"]
    assert theirs["route_refresh"] is True and "RouteRefresh" in mine["peer_capabilities"]
    assert mine["hold_time_s"] == theirs["hold_time_s"] == HOLD_S
    assert mine["peer_as"] == 65002 and theirs["peer_as"] == 65001

    # 2. routes both ways with their attributes
    for prefix, (med, community, large) in CORE_ROUTES.items():
        node.query("announce", prefix=prefix, med=med, communities=[community], large_communities=[list(large)])
    for prefix, (med, community, large) in CORE_ROUTES.items():
        got = wait_until(lambda p=prefix: peer.route(p), 20, what=f"{prefix} at the peer")
        assert got["as_path"] == [65001] and got["med"] == med
        assert got["communities"] == [community] and got["large"] == [large]
        assert got["next_hop"] == (CORE6 if ":" in prefix else CORE4)
    routes = wait_until(lambda: (r := node.routes(addr)) and all(p in r for p in PEER_ROUTES) and r, 20,
                        what="the peer's routes at bgpcore")
    for prefix, hop in PEER_ROUTES.items():
        r = routes[prefix]
        assert r["as_path"] == [[2, [65002]]] and r["med"] == 77
        assert r["communities"] == ["65002:7"] and r["large_communities"] == [[65002, 1, 1]]
        assert r["next_hop"][0] == hop
    assert not any(e["action"] != "NONE" for e in node.events_of("UpdateReceived"))

    # 3. withdrawals, both ways
    node.query("withdraw", prefix="203.0.113.0/24")
    wait_until(lambda: peer.route("203.0.113.0/24") is None, 20, what="withdrawal at the peer")
    assert peer.route("2001:db8:200::/48") is not None
    peer.withdraw("198.51.100.0/24")
    wait_until(lambda: "198.51.100.0/24" not in node.routes(addr), 20, what="withdrawal at bgpcore")
    assert "2001:db8:100::/48" in node.routes(addr)

    # 4. soft reset inbound: a ROUTE-REFRESH makes the peer send its routes again, session untouched
    before = node.neighbor(addr)
    node.query("reset", peer=addr, soft_in=True)
    wait_until(lambda: node.neighbor(addr)["messages_in"]["UPDATE"] > before["messages_in"]["UPDATE"], 20,
               what="routes sent again")
    after = node.neighbor(addr)
    assert after["established_count"] == before["established_count"] and after["state"] == "ESTABLISHED"
    assert "2001:db8:100::/48" in node.routes(addr)

    # 5. a NOTIFICATION from the peer: reset, routes gone, back again
    before = len(_downs(node))
    peer.notify()
    down = wait_until(lambda: _downs(node)[before:], 20, what="session reset by the peer")[0]
    assert down["received"] and down["received"][0] == 6 and down["was_established"]
    assert down["routes_after"] == 0
    _wait_session(node, peer, addr)
    wait_until(lambda: "2001:db8:100::/48" in node.routes(addr), 20, what="routes after re-establishment")
    wait_until(lambda: peer.route("2001:db8:200::/48"), 20, what="our route at the peer again")

    # 6. a frozen peer: our hold timer ends the session, its routes go, it comes back after SIGCONT
    before = len(_downs(node))
    peer.daemon.freeze()
    frozen_at = time.monotonic()
    try:
        down = wait_until(lambda: _downs(node)[before:], HOLD_S + 10, 0.1, what="hold timer expiry")[0]
        elapsed = time.monotonic() - frozen_at
        assert down["sent"] == [4, 0] and down["routes_after"] == 0
        assert HOLD_S - 3 <= elapsed <= HOLD_S + 3, elapsed
        assert node.routes(addr) == {}
    finally:
        peer.daemon.thaw()
    _wait_session(node, peer, addr, 40)
    wait_until(lambda: "2001:db8:100::/48" in node.routes(addr), 20, what="routes after the thaw")
