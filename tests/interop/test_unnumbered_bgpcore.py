"""Unnumbered fabric with bgpcore on every node: both ends of every session are bgpcore.

Each session is found from both sides by Router Advertisements and opened from both sides,
so RFC 4271 collision resolution runs on every link. Every node is ``bgpcore run`` (the
spines with ``transit = true``: best path, multipath, re-advertisement); the spines install
each server loopback via that server's link-local address and the anycast /32 through both
servers (ECMP); the servers reach each other through both spines and fail over when a link
goes down. Sessions are read with ``bgpcore show neighbors --json``.
"""
from __future__ import annotations

import statistics
import subprocess
import time
from typing import Any


from test_unnumbered_frr import (RouteWatch, _assert_link_local_only, _diagnose, _flap_times, _link_local, _wait,
                                 fabric_lab)

CONVERGE_S = 40.0


def _hops(fabric: Any, node: Any, prefix: str) -> dict[str, str]:
    """dev -> IPv6 link-local gateway of each next hop of ``prefix`` in the node's kernel."""
    out = {}
    for route in fabric.routes(node, prefix):
        for hop in route.get("nexthops") or [route]:
            via = hop.get("via") or {}
            if via.get("family") == "inet6" and via.get("host", "").startswith("fe80:"):
                out[hop["dev"]] = via["host"]
    return out


def _spine_routes_complete(fabric: Any) -> bool:
    for spine in fabric.spines:
        for index, server in enumerate(fabric.servers):
            if set(_hops(fabric, spine, server.loopback)) != {spine.uplinks[index]}:
                return False
        if set(_hops(fabric, spine, fabric_lab.ANYCAST)) != set(spine.uplinks):
            return False
    return True


def _build_and_wait_for_sessions(lab: Any) -> Any:
    fabric = fabric_lab.Fabric(lab, spines="bgpcore", servers="bgpcore")
    fabric.build()
    try:
        _wait(lambda: all(n.established() == set(n.uplinks) for n in fabric.nodes), CONVERGE_S,
              "a session on every link")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_diagnose(fabric)}") from None
    return fabric


def test_bgpcore_peers_bgpcore_by_interface_one_session_each(lab: Any) -> None:
    started = time.monotonic()
    fabric = _build_and_wait_for_sessions(lab)
    print(f"\nbgpcore fabric: a session on every link {time.monotonic() - started:.1f} s after start")
    _assert_link_local_only(fabric)
    for node in fabric.nodes:
        # ``bgpcore show neighbors --json``: one session per uplink, each on its interface
        neighbors = node.neighbors()
        assert len(neighbors) == len(node.uplinks), neighbors
        peers = {n["interface"]: n for n in neighbors}
        assert sorted(peers) == sorted(node.uplinks)
        for ifname, peer in peers.items():
            # the neighbor is the link-local address of whoever is at the other end of that link
            other, port = fabric.far_end(node, ifname)
            assert peer["peer"].partition("%")[0] == _link_local(fabric, other, port), peer
            assert peer["state"] == "ESTABLISHED" and peer["remote_as"] == "external", peer
            assert peer["router_id"] == other.loopback.split("/")[0], peer


def test_bgpcore_spines_install_routes_with_ecmp_and_fail_over(lab: Any) -> None:
    fabric = _build_and_wait_for_sessions(lab)
    started = time.monotonic()
    try:
        _wait(lambda: _spine_routes_complete(fabric), 15, "spine routes to every server and the anycast")
    except AssertionError:
        for node in fabric.nodes:
            log = (node.dir / "bgpcore.log").read_text().splitlines()
            print(node.name, node.neighbors(), fabric.lab.exec(node.ns, "ip", "route").stdout, *log[-40:], sep="\n")
        raise

    for spine in fabric.spines:
        for index, server in enumerate(fabric.servers):
            port, uplink = spine.uplinks[index], server.uplinks[fabric.spines.index(spine)]
            # the next hop is the server's link-local address on the link between the two
            assert _hops(fabric, spine, server.loopback) == {port: _link_local(fabric, server, uplink)}
            assert _hops(fabric, server, spine.loopback) == {uplink: _link_local(fabric, spine, port)}
            assert fabric.ping(spine, server), f"{spine.name} -> {server.name}"
            assert fabric.ping(server, spine), f"{server.name} -> {spine.name}"
        assert sorted(n["interface"] for n in spine.neighbors()) == sorted(spine.uplinks)

    # a spine's own link down: the server behind it is gone at once, the anycast keeps the other path
    s1 = fabric.spines[0]
    h1 = fabric.servers[0]
    watch = RouteWatch(s1.ns)
    try:
        t0 = time.monotonic()
        subprocess.run(["ip", "-n", s1.ns, "link", "set", "swp1", "down"], check=True)
        watch.wait(h1.loopback, lambda d: not d)
        gone_s = time.monotonic() - t0
        watch.wait(fabric_lab.ANYCAST, lambda d: d == {"swp2"})
        anycast_s = time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run(["ip", "-n", s1.ns, "link", "set", "swp1", "up"], check=True)
        watch.wait(h1.loopback, lambda d: d == {"swp1"}, CONVERGE_S)
        watch.wait(fabric_lab.ANYCAST, lambda d: d == {"swp1", "swp2"}, CONVERGE_S)
        back_s = time.monotonic() - t0
    finally:
        watch.close()
    print(f"spine own link down: server route gone {gone_s * 1000:.1f} ms, anycast to one path "
          f"{anycast_s * 1000:.1f} ms; link up: both paths back in {back_s:.2f} s")
    assert fabric.ping(s1, h1)


def test_servers_reach_each_other_through_bgpcore_spines_and_fail_over(lab: Any) -> None:
    fabric = _build_and_wait_for_sessions(lab)
    _wait(fabric.converged, CONVERGE_S, "every server reaching every loopback through both spines")
    h1, h2 = fabric.servers
    assert fabric.ping(h1, h2) and fabric.ping(h2, h1)
    times = _flap_times(fabric)
    for kind, values in times.items():
        print(f"bgpcore-only fabric {kind:15} median {statistics.median(values) * 1000:.1f} ms "
              f"({', '.join(f'{v * 1000:.1f}' for v in values)})")
