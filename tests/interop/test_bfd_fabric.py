"""BFD (RFC 5880/5881) on every session of the unnumbered fabric, against FRR 8.4 bfdd.

Built by ``examples/fabric_lab.py`` with ``bfd=Bfd(interval_ms, multiplier)``: FRR nodes run
zebra + bfdd + bgpd with ``neighbor swpN bfd`` and a ``bfd`` profile, bgpcore nodes ``bgpcore
run`` with ``bfd = {...}`` in ``[[interfaces]]``; every session is single-hop BFD between the
two link-local addresses of a link.

* In both roles (bgpcore servers under FRR spines, bgpcore spines over FRR servers) FRR's
  ``show bfd peers json`` shows every session Up over the link-local addresses with the
  intervals agreed both ways, and ``bgpcore show bfd --json`` on the other end agrees
  (discriminators, intervals, detection time).
* Silent drop: nftables drops everything in and out of server h1's uplink eth1 (netdev
  ingress + egress hooks; the carrier stays up, so only BFD or the hold timer can notice).
  The time until h1's kernel route to h2's loopback is down to the one next hop via eth2 is
  measured three times per setting, for bgpcore servers and, in the same run, for FRR servers
  with the same BFD settings (a figure for comparison, not asserted). After the drop is lifted
  full ECMP must come back every time. The medians are printed (``-s``) and recorded in
  docs/benchmarks.md, "BFD failover on the unnumbered fabric".
"""
from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from bgpcore.fib import kernel
from bgpcore.fib.routes import show_fib

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fabric_lab.py"
_spec = importlib.util.spec_from_file_location("fabric_lab", EXAMPLE)
assert _spec is not None and _spec.loader is not None
fabric_lab = sys.modules.get("fabric_lab") or importlib.util.module_from_spec(_spec)
if "fabric_lab" not in sys.modules:
    sys.modules["fabric_lab"] = fabric_lab
    _spec.loader.exec_module(fabric_lab)

FRR_DIR = Path("/usr/lib/frr")
pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not (FRR_DIR / "bfdd").exists(), reason="FRR bgpd + bfdd are not installed")]

CONVERGE_S = 40.0
TRIALS = 3
DROP_TABLE = "bgpcore_bfd_drop"
# (interval ms, multiplier, asserted bound on the median failover of bgpcore servers, s)
SETTINGS = [(300, 3, 1.1), (100, 3, float(os.environ.get("BGPCORE_BFD_FAST_LIMIT_S", "0.5")))]
RESULTS: dict[str, dict[str, list[float]]] = {}
"""Figures of the failover test, by setting and server kind, for the summary line."""


def _wait(predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def _build(lab: Any, *, spines: str, servers: str, prefix: str, interval_ms: int, mult: int) -> Any:
    fabric = fabric_lab.Fabric(lab, spines=spines, servers=servers, prefix=prefix,
                               bfd=fabric_lab.Bfd(interval_ms, mult))
    fabric.build()
    return fabric


def _settled(fabric: Any) -> bool:
    return bool(fabric.converged() and fabric.bfd_up())


def _link_local(fabric: Any, node: Any, ifname: str) -> str:
    info = json.loads(fabric.lab.exec(node.ns, "ip", "-j", "-6", "addr", "show", "dev", ifname, "scope", "link").stdout)
    return str(info[0]["addr_info"][0]["local"])


def _diagnose(fabric: Any) -> str:
    lines = []
    for node in fabric.nodes:
        lines.append(f"== {node.name} ({node.kind}) established {sorted(node.established())}")
        lines.append(json.dumps(fabric.bfd_peers(node), sort_keys=True))
        lines.append(fabric.lab.exec(node.ns, "ip", "route", check=False).stdout)
        for log in ("bgpcore.log", "bfdd.log", "bgpd.log"):
            path = node.dir / log
            if path.exists():
                lines += [f"-- {log}"] + [l for l in path.read_text(errors="replace").splitlines()
                                          if "UpdateReceived" not in l][-40:]
    return "\n".join(lines)


# ============================================================== sessions up, intervals agreed


def _check_agreed(fabric: Any, interval_ms: int, mult: int) -> int:
    """Every link: FRR's view (``show bfd peers json``) and bgpcore's (``show bfd --json``) of
    its BFD session agree; returns the number of FRR sessions checked."""
    checked = 0
    for node in fabric.nodes:
        if node.kind != "frr":
            continue
        raw = node.vtysh("show bfd peers json")
        assert isinstance(raw, list), f"{node.name}: show bfd peers json: {raw!r}"
        assert sorted(p["interface"] for p in raw) == sorted(node.uplinks), raw
        for p in raw:
            ifname = p["interface"]
            far, far_if = fabric.far_end(node, ifname)
            assert p["status"] == "up", p
            assert p["peer"] == _link_local(fabric, far, far_if), p
            assert p["local"] == _link_local(fabric, node, ifname), p
            assert not p.get("multihop") and p["peer"].startswith("fe80:") and p["local"].startswith("fe80:"), p
            assert (p["transmit-interval"], p["receive-interval"], p["detect-multiplier"]) == (interval_ms, interval_ms,
                                                                                             mult), p
            assert (p["remote-transmit-interval"], p["remote-receive-interval"],
                    p["remote-detect-multiplier"]) == (interval_ms, interval_ms, mult), p
            assert p["diagnostic"] == "ok" or p["diagnostic"] == "control detection time expired", p
            theirs = fabric.bfd_peers(far)[far_if]  # the bgpcore end of the same link
            assert theirs["status"] == "up" and not theirs["poll"], theirs
            assert theirs["peer"] == p["local"], (theirs, p)
            assert theirs["id"] == p["remote-id"] and theirs["remote_id"] == p["id"], (theirs, p)
            assert theirs["tx_ms"] == theirs["rx_ms"] == interval_ms and theirs["mult"] == mult, theirs
            assert theirs["remote_tx_ms"] == theirs["remote_rx_ms"] == interval_ms, theirs
            assert theirs["remote_mult"] == mult and theirs["detect_ms"] == mult * interval_ms, theirs
            checked += 1
    return checked


def test_bfd_up_over_link_local_on_every_session_in_both_roles(lab: Any) -> None:
    interval_ms, mult = 300, 3
    fabrics = {"bgpcore servers, FRR spines": _build(lab, spines="frr", servers="bgpcore", prefix="a",
                                                      interval_ms=interval_ms, mult=mult),
               "bgpcore spines, FRR servers": _build(lab, spines="bgpcore", servers="frr", prefix="b",
                                                      interval_ms=interval_ms, mult=mult)}
    for name, fabric in fabrics.items():
        try:
            _wait(lambda: _settled(fabric), CONVERGE_S, f"{name}: every session and its BFD Up", 0.2)
            assert _check_agreed(fabric, interval_ms, mult) == 4
            # and BFD reached the bgpcore configuration of every session (both uplinks of each node)
            for node in fabric.nodes:
                if node.kind == "bgpcore":
                    assert sorted(fabric.bfd_peers(node)) == sorted(node.uplinks)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}\n{_diagnose(fabric)}") from None


# ============================================================== silent drop failover


class RouteWatch:
    """One prefix's next-hop devices in a namespace's kernel (a netlink dump, like ``ip -j route``)."""

    def __init__(self, ns: str) -> None:
        self.sock = kernel.NetlinkSocket(namespace=ns)
        self.names = {link.ifindex: link.name for link in kernel.list_links(self.sock)}

    def devices(self, prefix: str) -> set[str]:
        for route in show_fib(sock=self.sock):
            if str(route.prefix) == prefix:
                return {self.names.get(h.ifindex or 0, "?") for h in route.nexthops}
        return set()

    def wait(self, prefix: str, predicate: Callable[[set[str]], bool], timeout_s: float) -> float:
        """Seconds until ``predicate(devices)`` holds, polling every 2 ms."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if predicate(self.devices(prefix)):
                return time.monotonic() - start
            time.sleep(0.002)
        raise AssertionError(f"{prefix}: still {self.devices(prefix)} after {timeout_s} s")

    def close(self) -> None:
        self.sock.close()


def _drop(fabric: Any, node: Any, ifname: str) -> float:
    """Drop every frame into and out of ``ifname`` (nftables netdev ingress + egress), carrier
    untouched; returns the monotonic time just before."""
    rules = (f'table netdev {DROP_TABLE} {{\n'
             f' chain in {{ type filter hook ingress device "{ifname}" priority 0; policy drop; }}\n'
             f' chain out {{ type filter hook egress device "{ifname}" priority 0; policy drop; }}\n}}\n')
    started = time.monotonic()
    subprocess.run(["ip", "netns", "exec", node.ns, "nft", "-f", "-"], input=rules, text=True, check=True)
    return started


def _carrier(fabric: Any, node: Any, ifname: str) -> bool:
    link = json.loads(fabric.lab.exec(node.ns, "ip", "-j", "link", "show", "dev", ifname).stdout)[0]
    return link.get("operstate") == "UP" and "LOWER_UP" in link.get("flags", [])


def _lift(fabric: Any, node: Any) -> float:
    started = time.monotonic()
    subprocess.run(["ip", "netns", "exec", node.ns, "nft", "delete", "table", "netdev", DROP_TABLE], check=True)
    return started


def _failover_times(fabric: Any) -> dict[str, list[float]]:
    """Silent drop on h1's eth1, TRIALS times: seconds until h1's route to h2's loopback is down
    to eth2 alone, and seconds from lifting the drop until both next hops are back."""
    h1, h2 = fabric.servers
    target = h2.loopback
    both = set(h1.uplinks)
    watch = RouteWatch(h1.ns)
    out: dict[str, list[float]] = {"failover": [], "restore": []}
    stage = "start"
    try:
        for trial in range(TRIALS):
            stage = f"trial {trial}: full ECMP and every BFD session Up before the drop"
            _wait(lambda: _settled(fabric), CONVERGE_S, stage, 0.2)
            time.sleep(0.5)  # some intervals at the agreed rate
            stage = f"trial {trial}: failover"
            t0 = _drop(fabric, h1, "eth1")
            watch.wait(target, lambda d: d == {"eth2"}, 10.0)
            out["failover"].append(time.monotonic() - t0)
            assert {hop["dev"] for r in fabric.routes(h1, target) for hop in r.get("nexthops") or [r]} == {"eth2"}
            assert fabric.bfd_peers(h1)["eth1"]["status"] != "up"
            assert _carrier(fabric, h1, "eth1"), "the drop must keep the carrier"
            stage = f"trial {trial}: full ECMP after lifting the drop"
            t0 = _lift(fabric, h1)
            watch.wait(target, lambda d: d == both, CONVERGE_S)
            out["restore"].append(time.monotonic() - t0)
    except AssertionError as exc:
        raise AssertionError(f"{h1.kind} servers, {stage}: {exc}\n{_diagnose(fabric)}") from None
    finally:
        watch.close()
    return out


def _ms(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:.0f} ms (range {min(values) * 1000:.0f}-"
            f"{max(values) * 1000:.0f}: " + ", ".join(f"{v * 1000:.0f}" for v in values) + ")")


@pytest.mark.parametrize("interval_ms,mult,limit_s", SETTINGS, ids=[f"{i}msx{m}" for i, m, _ in SETTINGS])
def test_silent_drop_failover_within_detection_time(lab: Any, interval_ms: int, mult: int, limit_s: float) -> None:
    ours = _build(lab, spines="frr", servers="bgpcore", prefix="b", interval_ms=interval_ms, mult=mult)
    theirs = _build(lab, spines="frr", servers="frr", prefix="f", interval_ms=interval_ms, mult=mult)
    try:
        results = {"bgpcore": _failover_times(ours), "frr": _failover_times(theirs)}
    finally:
        ours.stop()
        theirs.stop()
    RESULTS[f"{interval_ms}x{mult}"] = {f"{k} {what}": v for k, r in results.items() for what, v in r.items()}
    print(f"\nBFD {interval_ms} ms x {mult}, silent drop on h1 eth1, h1's route to h2 down to one next hop:")
    for kind, r in results.items():
        print(f"  {kind:8} servers: failover {_ms(r['failover'])}; full ECMP back {_ms(r['restore'])}")
    median = statistics.median(results["bgpcore"]["failover"])
    assert median <= limit_s, f"bgpcore servers: median failover {median:.3f} s > {limit_s} s at {interval_ms} ms x {mult}"
