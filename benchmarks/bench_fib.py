"""FIB install benchmark: 1M IPv4 routes into a namespace's kernel, bgpcore against `ip -batch`.

Run as root: ``python benchmarks/bench_fib.py [--routes N] [--json FILE]``. It creates a network
namespace with one veth pair, then for each scenario installs and deletes N /24 routes, first
with bgpcore's Fib, then with ``ip -batch`` (one RTM_NEWROUTE per line, each waiting for its ACK)
doing the same work, and removes the namespace at the end.

Scenarios: ``single`` (one next hop; bgpcore sends plain routes), ``ecmp2`` (two next hops via a
nexthop group; ``ip`` gets ``nexthop add`` lines first and routes with ``nhid``).

Figures: wall seconds, routes/s and CPU seconds (user + system of the installing process, which
includes the kernel's work done inside its ``sendmsg`` calls). Building the FibRoute values
(``ipaddress`` objects, done by the caller in bgpcore) and writing the batch file for ``ip`` are
reported apart and not counted.
"""
from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpcore.fib.install import Fib, FibRoute, NextHop  # noqa: E402

NS = f"bcbench{os.getpid()}"
BASE = int(ipaddress.IPv4Address("16.0.0.0"))
GATEWAYS = ("192.0.2.2", "192.0.2.3")


def ip(*args: str, check: bool = True) -> str:
    res = subprocess.run(["ip", "-n", NS, *args], capture_output=True, text=True)
    if check and res.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr}")
    return res.stdout


def count_routes() -> int:
    out = subprocess.run(f"ip -n {NS} -4 route show proto bgp | grep -c '^[0-9]'", shell=True,
                         capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def _self_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _children_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime, r.ru_stime


def measure(work: Callable[[], object], cpu: Callable[[], tuple[float, float]]) -> dict[str, float]:
    u0, s0 = cpu()
    t0 = time.perf_counter()
    work()
    wall = time.perf_counter() - t0
    u1, s1 = cpu()
    return {"wall_s": round(wall, 2), "user_s": round(u1 - u0, 2), "sys_s": round(s1 - s0, 2),
            "cpu_s": round(u1 - u0 + s1 - s0, 2)}


def prefixes(n: int) -> list[str]:
    return [f"{ipaddress.IPv4Address(BASE + (i << 8))}/24" for i in range(n)]


def run_bgpcore(n: int, scenario: str) -> dict[str, Any]:
    hops = tuple(NextHop(gw, ifname="vA") for gw in (GATEWAYS if scenario == "ecmp2" else GATEWAYS[:1]))
    t0 = time.perf_counter()
    routes = [FibRoute(ipaddress.IPv4Network((BASE + (i << 8), 24)), hops) for i in range(n)]
    build = time.perf_counter() - t0
    fib = Fib(namespace=NS, nexthop_objects=scenario == "ecmp2")
    fib.start()
    results: dict[str, Any] = {"build_routes_s": round(build, 2)}
    outcome: list[Any] = []
    results["install"] = measure(lambda: outcome.append(fib.apply(routes)), _self_cpu)
    assert not outcome[0].failed and not outcome[0].pending, outcome[0]
    results["installed"] = count_routes()
    results["delete"] = measure(fib.stop, _self_cpu)
    results["left"] = count_routes()
    return results


def run_ip_batch(n: int, scenario: str, workdir: Path) -> dict[str, Any]:
    add, delete = workdir / "add.batch", workdir / "del.batch"
    t0 = time.perf_counter()
    with add.open("w") as f:
        if scenario == "ecmp2":
            f.write(f"nexthop add id 1 via {GATEWAYS[0]} dev vA proto bgp\n")
            f.write(f"nexthop add id 2 via {GATEWAYS[1]} dev vA proto bgp\n")
            f.write("nexthop add id 3 group 1/2 proto bgp\n")
            f.writelines(f"route add {p} nhid 3 proto bgp metric 20\n" for p in prefixes(n))
        else:
            f.writelines(f"route add {p} via {GATEWAYS[0]} dev vA proto bgp metric 20\n" for p in prefixes(n))
    with delete.open("w") as f:
        f.writelines(f"route del {p} proto bgp metric 20\n" for p in prefixes(n))
        if scenario == "ecmp2":
            f.write("nexthop del id 3\nnexthop del id 1\nnexthop del id 2\n")
    results: dict[str, Any] = {"write_batch_s": round(time.perf_counter() - t0, 2)}
    results["install"] = measure(lambda: ip("-batch", str(add)), _children_cpu)
    results["installed"] = count_routes()
    results["delete"] = measure(lambda: ip("-batch", str(delete)), _children_cpu)
    results["left"] = count_routes()
    return results


def setup() -> None:
    subprocess.run(["ip", "netns", "add", NS], check=True)
    ip("link", "set", "lo", "up")
    ip("link", "add", "vA", "type", "veth", "peer", "name", "vB")
    ip("link", "set", "vA", "up")
    ip("link", "set", "vB", "up")
    ip("addr", "add", "192.0.2.1/24", "dev", "vA")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=1_000_000)
    parser.add_argument("--scenarios", default="single,ecmp2")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_fib needs root (it creates a network namespace)")
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "routes": args.routes,
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPU, Linux {platform.release()}",
        "python": platform.python_version(), "iproute2": subprocess.run(["ip", "-V"], capture_output=True, text=True).stdout.strip(),
        "results": {}}
    setup()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for scenario in args.scenarios.split(","):
                gc.collect()
                ours = run_bgpcore(args.routes, scenario)
                theirs = run_ip_batch(args.routes, scenario, Path(tmp))
                for side in (ours, theirs):
                    for phase in ("install", "delete"):
                        side[phase]["routes_per_s"] = round(args.routes / side[phase]["wall_s"])
                report["results"][scenario] = {"bgpcore": ours, "ip_batch": theirs}
                print(json.dumps({scenario: report["results"][scenario]}, indent=1), flush=True)
    finally:
        subprocess.run(["ip", "netns", "del", NS])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=1))


if __name__ == "__main__":
    main()
