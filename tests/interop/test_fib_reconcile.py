"""Restart: routes a killed installer left behind are adopted when still wanted, removed if not.

The first installer runs as a separate process inside the namespace (this file run as a
script) and is killed by PID with SIGKILL, so it has no chance to clean up.
"""
from __future__ import annotations

import ipaddress
import json
import signal
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bgpcore.fib.install import Fib, FibRoute, NextHop  # noqa: E402

net = ipaddress.ip_network


def _routes(spec: dict[str, list[str]]) -> list[FibRoute]:
    return [FibRoute(net(p), tuple(NextHop(gw, ifname="vA") for gw in gws)) for p, gws in spec.items()]


FIRST = {
    "203.0.113.0/25": ["192.0.2.2"],              # still wanted, same next hop: adopted
    "203.0.113.128/25": ["192.0.2.2", "192.0.2.3"],  # still wanted, same ECMP set: adopted
    "198.51.100.0/25": ["192.0.2.2"],             # wanted via another next hop: replaced
    "198.51.100.128/25": ["192.0.2.4"],           # no longer wanted: removed
    "2001:db8:400::/48": ["2001:db8::2"],         # still wanted: adopted
    "2001:db8:401::/48": ["2001:db8::3"],         # no longer wanted: removed
}
SECOND = {
    "203.0.113.0/25": ["192.0.2.2"],
    "203.0.113.128/25": ["192.0.2.3", "192.0.2.2"],
    "198.51.100.0/25": ["192.0.2.5"],
    "2001:db8:400::/48": ["2001:db8::2"],
    "192.0.2.128/25": ["192.0.2.6"],              # new
}


def _expected(spec: dict[str, list[str]]) -> dict[str, set[tuple[str, str, int]]]:
    return {p: {(gw, "vA", 1) for gw in gws} for p, gws in spec.items()}


def _setup(lab):  # type: ignore[no-untyped-def]
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    lab.addr(a, "vA", "2001:db8::1/64")
    return a


@pytest.mark.parametrize("nexthop_objects", [False, True], ids=["plain", "nhobj"])
def test_routes_of_a_killed_installer_are_adopted_or_removed(lab, nexthop_objects: bool) -> None:  # type: ignore[no-untyped-def]
    from fib_oracle import hops_of, kernel_nexthops
    from netns import wait_for

    a = _setup(lab)
    proc = lab.spawn(a, sys.executable, __file__, json.dumps(FIRST), str(nexthop_objects), log="installer.log")
    wait_for(lambda: hops_of(lab, a) == _expected(FIRST), timeout=20, what="the first installer's routes")
    lab.stop(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert hops_of(lab, a) == _expected(FIRST)  # a crash leaves the routes in place

    fib = Fib(namespace=a, nexthop_objects=nexthop_objects)
    result = fib.start(_routes(SECOND))
    assert hops_of(lab, a) == _expected(SECOND)
    assert result.unchanged == 3 and not result.failed
    assert result.installed == 2 and result.removed == 2
    if nexthop_objects:
        ours = {i for i, row in kernel_nexthops(lab, a).items() if row.get("protocol") == "bgp"}
        used = {row["nhid"] for row in _json_routes(lab, a)}
        groups = {m["id"] for i in used for m in kernel_nexthops(lab, a)[i].get("group", [])}
        assert ours == used | groups  # no object left without a user
    fib.stop()
    assert hops_of(lab, a) == {}


def _json_routes(lab, ns):  # type: ignore[no-untyped-def]
    rows = []
    for version in ("-4", "-6"):
        rows += json.loads(lab.exec(ns, "ip", version, "-j", "route", "show", "proto", "bgp").stdout or "[]")
    return rows


def test_graceful_restart_keeps_routes_at_stop_and_the_next_run_adopts_them(lab) -> None:  # type: ignore[no-untyped-def]
    from fib_oracle import hops_of

    a = _setup(lab)
    first = Fib(namespace=a, keep_on_stop=True)
    first.start(_routes(FIRST))
    first.stop()
    assert hops_of(lab, a) == _expected(FIRST)
    second = Fib(namespace=a)
    second.start()  # nothing desired yet: the old routes keep forwarding until sync()
    assert hops_of(lab, a) == _expected(FIRST)
    result = second.apply(_routes(SECOND))
    assert result.unchanged == 3
    second.sync()
    assert hops_of(lab, a) == _expected(SECOND)
    second.stop()
    assert hops_of(lab, a) == {}


if __name__ == "__main__":  # the installer process: install, then wait to be killed
    spec = json.loads(sys.argv[1])
    fib = Fib(nexthop_objects=sys.argv[2] == "True")
    fib.start(_routes(spec))
    print("installed", flush=True)
    while True:
        time.sleep(60)
