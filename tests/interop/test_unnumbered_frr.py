"""Unnumbered fabric: FRR spines, bgpcore servers, nothing but IPv6 link-local on the links.

Built by ``examples/fabric_lab.py`` in namespaces the test creates: two spines (FRR 8.4,
zebra + bgpd, ``neighbor swpN interface remote-as external``) and two servers each running
``bgpcore run`` with a TOML of ``[[interfaces]]`` (unnumbered discovery) and ``[fib]`` (the
``Router`` installs its best paths, ECMP, in the kernel). The kernel (``ip -j route``) and FRR
(``show ip route json``) are the oracles; failover is timed against FRR servers in the same
topology, in the same run.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from bgpcore.fib import kernel
from bgpcore.fib.install import show_fib

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fabric_lab.py"
_spec = importlib.util.spec_from_file_location("fabric_lab", EXAMPLE)
assert _spec is not None and _spec.loader is not None
fabric_lab = importlib.util.module_from_spec(_spec)
sys.modules["fabric_lab"] = fabric_lab
_spec.loader.exec_module(fabric_lab)

pytestmark = pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="FRR is not installed")

CONVERGE_S = 40.0
FLAPS = 3


def _build(lab: Any, servers: str, spines: str = "frr", prefix: str = "") -> Any:
    fabric = fabric_lab.Fabric(lab, spines=spines, servers=servers, prefix=prefix)
    fabric.build()
    return fabric


def _wait(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _link_local(fabric: Any, node: Any, ifname: str) -> str:
    info = json.loads(fabric.lab.exec(node.ns, "ip", "-j", "-6", "addr", "show", "dev", ifname, "scope", "link").stdout)
    return str(info[0]["addr_info"][0]["local"])


def _assert_link_local_only(fabric: Any) -> None:
    for node in fabric.nodes:
        links = json.loads(fabric.lab.exec(node.ns, "ip", "-j", "addr", "show").stdout)
        for link in links:
            if link["ifname"] == "lo":
                continue
            for addr in link.get("addr_info", []):
                assert addr["family"] == "inet6" and addr["local"].startswith("fe80:"), \
                    f"{node.name} {link['ifname']} has {addr['local']}: only link-local addresses belong on links"


class RouteWatch:
    """Reads one prefix's next-hop devices from the kernel of a namespace, fast (netlink dump)."""

    def __init__(self, ns: str) -> None:
        self.sock = kernel.NetlinkSocket(namespace=ns)
        self.names = {link.ifindex: link.name for link in kernel.list_links(self.sock)}

    def devices(self, prefix: str) -> set[str]:
        for route in show_fib(sock=self.sock):
            if str(route.prefix) == prefix:
                return {self.names.get(h.ifindex or 0, "?") for h in route.nexthops}
        return set()

    def wait(self, prefix: str, predicate: Callable[[set[str]], bool], timeout_s: float = 15.0) -> float:
        """Seconds until ``predicate(devices)`` holds, polling every millisecond."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if predicate(self.devices(prefix)):
                return time.monotonic() - start
            time.sleep(0.001)
        raise AssertionError(f"{prefix}: still {self.devices(prefix)} after {timeout_s} s")

    def close(self) -> None:
        self.sock.close()


def _set_link(fabric: Any, node: Any, ifname: str, state: str) -> float:
    """Set a link up or down; returns the monotonic time just before the change was asked for."""
    started = time.monotonic()
    subprocess.run(["ip", "-n", node.ns, "link", "set", ifname, state], check=True)
    return started


def _diagnose(fabric: Any) -> str:
    lines = []
    for node in fabric.nodes:
        lines.append(f"== {node.name} ({node.kind}) established on {sorted(node.established())}")
        lines.append(fabric.lab.exec(node.ns, "ip", "route", check=False).stdout)
        log = node.dir / ("bgpcore.log" if node.kind == "bgpcore" else "bgpd.log")
        if log.exists():
            lines += [l for l in log.read_text().splitlines() if "UpdateReceived" not in l][-60:]
    return "\n".join(lines)


def _flap_times(fabric: Any) -> dict[str, list[float]]:
    """Failover times on server h1: its own uplink down, then spine s1's link to h2 down."""
    h1, h2 = fabric.servers
    s1 = fabric.spines[0]
    target = h2.loopback
    watch = RouteWatch(h1.ns)
    both = set(h1.uplinks)
    out: dict[str, list[float]] = {"own": [], "remote": [], "restore_own": [], "restore_remote": []}
    stage = "start"
    try:
        for flap in range(FLAPS):
            stage = f"flap {flap}: full ECMP before the flap"
            watch.wait(target, lambda d: d == both, CONVERGE_S)
            for kind, node, link, why in (("own", h1, "eth1", "over the other uplink"),
                                          ("remote", s1, "swp2", "around the broken spine link")):
                stage = f"flap {flap}: {kind} link down"
                t0 = _set_link(fabric, node, link, "down")
                watch.wait(target, lambda d: "eth1" not in d and bool(d))
                out[kind].append(time.monotonic() - t0)
                _wait(lambda: fabric.ping(h1, h2), 5, f"traffic from h1 to h2 {why}")
                stage = f"flap {flap}: {kind} link back up"
                t0 = _set_link(fabric, node, link, "up")
                watch.wait(target, lambda d: d == both, CONVERGE_S)
                out[f"restore_{kind}"].append(time.monotonic() - t0)
    except AssertionError as exc:
        raise AssertionError(f"{fabric.servers[0].kind} servers, {stage}: {exc}\n{_diagnose(fabric)}") from None
    finally:
        watch.close()
    return out


def test_fabric_converges_with_link_local_only_and_ecmp(lab: Any) -> None:
    fabric = _build(lab, servers="bgpcore")
    started = time.monotonic()
    _wait(fabric.converged, CONVERGE_S, "every session up and ECMP on every server")
    print(f"\nfabric converged {time.monotonic() - started:.1f} s after start\n{fabric.show()}")
    _assert_link_local_only(fabric)

    h1, h2 = fabric.servers
    for server in fabric.servers:
        other = h2 if server is h1 else h1
        routes = fabric.routes(server, other.loopback)
        assert routes and len(routes[0]["nexthops"]) == 2, routes
        assert {hop["dev"] for hop in routes[0]["nexthops"]} == set(server.uplinks), routes
        for hop in routes[0]["nexthops"]:
            assert hop["via"]["family"] == "inet6" and hop["via"]["host"].startswith("fe80:"), hop
    # the kernel forwards IPv4 over the IPv6 next hops, both ways
    assert fabric.ping(h1, h2, 2), "ping h1 -> h2 loopback failed"
    assert fabric.ping(h2, h1, 2), "ping h2 -> h1 loopback failed"

    # FRR sees each bgpcore server's loopback via the server's link-local address on the right port
    for spine in fabric.spines:
        for server in fabric.servers:
            port = spine.uplinks[fabric.servers.index(server)]
            table = spine.vtysh(f"show ip route {server.loopback} json")[server.loopback]
            hops = [h for entry in table if entry.get("selected") for h in entry["nexthops"]]
            assert [h["interfaceName"] for h in hops] == [port], hops
            assert all(h["afi"] == "ipv6" and h["ip"].startswith("fe80:") for h in hops), hops
            bgp = spine.vtysh(f"show bgp ipv4 unicast {server.loopback} json")
            peer = bgp["paths"][0]["peer"]
            assert peer["interface"] == port and peer["routerId"] == server.loopback.split("/")[0], peer
            server_ll = _link_local(fabric, server, server.uplinks[fabric.spines.index(spine)])
            # 32-octet RFC 8950 next hop, link-local twice as FRR itself sends it: FRR lists both halves
            hops = {(h["ip"], h["scope"]) for h in bgp["paths"][0]["nexthops"]}
            assert hops == {(server_ll, "global"), (server_ll, "link-local")}, bgp["paths"][0]["nexthops"]
            caps = spine.vtysh(f"show bgp neighbors {port} json")[port]["neighborCapabilities"]
            assert caps["extendedNexthop"] == "advertisedAndReceived", caps
            assert "ipv4Unicast" in caps["extendedNexthopFamililesByPeer"], caps  # (sic: FRR's key)

    # anycast: the same /32 on both servers, reached from each spine through both
    for spine in fabric.spines:
        table = spine.vtysh(f"show ip route {fabric_lab.ANYCAST} json")[fabric_lab.ANYCAST]
        ports = {h["interfaceName"] for entry in table if entry.get("selected") for h in entry["nexthops"]
                 if h.get("active")}
        assert ports == set(spine.uplinks), f"{spine.name}: anycast via {ports}"
        kernel_routes = fabric.routes(spine, fabric_lab.ANYCAST)
        assert kernel_routes and len(kernel_routes[0].get("nexthops", [])) == 2, kernel_routes
        anycast = fabric_lab.ANYCAST.split("/")[0]
        res = fabric.lab.exec(spine.ns, "ping", "-c", "1", "-W", "2", "-I", spine.loopback.split("/")[0], anycast,
                              check=False)
        assert res.returncode == 0, f"{spine.name} cannot reach the anycast address: {res.stdout}"


def test_failover_no_slower_than_frr(lab: Any) -> None:
    ours = _build(lab, servers="bgpcore", prefix="b")
    theirs = _build(lab, servers="frr", prefix="f")
    _wait(ours.converged, CONVERGE_S, "bgpcore-server fabric to converge")
    _wait(theirs.converged, CONVERGE_S, "FRR-server fabric to converge")
    results = {"bgpcore": _flap_times(ours), "frr": _flap_times(theirs)}

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.1f} ms (" + ", ".join(f"{v * 1000:.1f}" for v in values) + ")"

    print()
    for name, times in results.items():
        for kind, values in times.items():
            print(f"failover {name:8} {kind:15} {ms(values)}")
    # full ECMP came back after every flap (the waits above assert it); then the speed target
    for kind in ("own", "remote"):
        ours_s = statistics.median(results["bgpcore"][kind])
        theirs_s = statistics.median(results["frr"][kind])
        assert ours_s <= max(theirs_s * 1.5, theirs_s + 0.010), \
            f"{kind} link failover: bgpcore {ours_s * 1000:.1f} ms, FRR {theirs_s * 1000:.1f} ms"
    assert ours.ping(*ours.servers, 2)
