#!/usr/bin/env python3
"""An unnumbered BGP fabric on one Linux box: two spines, two servers, no IPv4 on any link.

Run as root::

    python3 examples/fabric_lab.py                  # FRR spines, bgpcore servers
    python3 examples/fabric_lab.py --spines bgpcore # bgpcore everywhere
    python3 examples/fabric_lab.py --servers frr    # FRR everywhere, for comparison
    python3 examples/fabric_lab.py --keep           # leave it running until Ctrl-C
    python3 examples/fabric_lab.py --bfd 300x3      # BFD (300 ms x 3) on every fabric session

It creates a network namespace per node, joins them with veth pairs (only IPv6 link-local
addresses on them), puts a /32 loopback from 198.51.100.0/24 on each node plus an anycast /32
on both servers, starts the routing daemons, waits for the fabric to converge, prints each
server's routes and pings between the server loopbacks, then removes everything it made.

Each bgpcore node is ``python -m bgpcore run --config NODE.toml`` inside its namespace: the
TOML this script writes gives it unnumbered peering on its uplinks (``[[interfaces]]``), the
networks it originates and a ``[fib]`` table, so best paths (ECMP across uplinks) reach the
kernel. The lab asks each node for its sessions with ``bgpcore show neighbors --json``.

With ``--bfd INTERVALxMULT`` (``Fabric(bfd=Bfd(300, 3))``) every fabric session runs BFD
(RFC 5880/5881, single hop over the link-local addresses) and a BFD Down takes the BGP session
down: bgpcore nodes get ``bfd = { interval_ms, multiplier }`` in their ``[[interfaces]]``, FRR
nodes run bfdd as well, with a ``bfd`` profile of those intervals and ``neighbor swpN bfd``
plus ``neighbor swpN bfd profile fabric``. ``Fabric.bfd_peers(node)`` reads the sessions back
(FRR's ``show bfd peers json``, bgpcore's ``show bfd --json``) in one shape.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

ROOT = Path(__file__).resolve().parents[1]  # the source tree: ``python -m bgpcore`` runs from here
FRR = Path("/usr/lib/frr")
SPINE_AS = 65000
ANYCAST = "198.51.100.100/32"
BFD_PROFILE = "fabric"


@dataclass(frozen=True)
class Bfd:
    """BFD on every fabric session: desired min TX = required min RX = ``interval_ms``."""

    interval_ms: int = 300
    multiplier: int = 3

    @classmethod
    def parse(cls, text: str) -> Bfd:
        """``"300x3"`` (or ``"300"``, multiplier 3)."""
        interval, _, mult = text.lower().partition("x")
        return cls(int(interval), int(mult or 3))


# ============================================================== the lab: namespaces, links, daemons

class LabLike(Protocol):
    """What the fabric needs from a namespace manager (tests pass their ``lab`` fixture)."""

    dir: Path

    def ns(self, short: str) -> str: ...
    def link(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None: ...
    def exec(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...
    def spawn(self, ns: str, *cmd: str, log: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]: ...


class Namespaces:
    """A minimal namespace manager for running the lab by hand; removes what it made on close."""

    def __init__(self) -> None:
        self.tag = f"fl{os.getpid() % 10000}"
        self.dir = Path(tempfile.mkdtemp(prefix="fabric-lab-"))
        os.chmod(self.dir, 0o777)
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def ns(self, short: str) -> str:
        name = f"{self.tag}{short}"
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.exec(name, "ip", "link", "set", "lo", "up")
        for key in ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1"):
            self.exec(name, "sysctl", "-qw", key)
        return name

    def link(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        _run("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        self.exec(ns_a, "ip", "link", "set", if_a, "up")
        self.exec(ns_b, "ip", "link", "set", if_b, "up")

    def exec(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", ns, *cmd, check=check)

    def spawn(self, ns: str, *cmd: str, log: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = open(self.dir / log, "wb") if log else subprocess.DEVNULL
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for name in reversed(self.namespaces):
            for pid in _run("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run("ip", "netns", "del", name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {res.stderr.strip()}")
    return res


@dataclass
class Node:
    """One router of the fabric and how to ask it things."""

    name: str
    ns: str
    kind: str  # "frr" or "bgpcore"
    asn: int
    loopback: str
    uplinks: list[str] = field(default_factory=list)
    dir: Path = Path()
    proc: subprocess.Popen[bytes] | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def vtysh(self, command: str) -> Any:
        res = subprocess.run(["vtysh", "--vty_socket", str(self.dir), "-c", command], capture_output=True, text=True)
        return json.loads(res.stdout) if res.stdout.strip().startswith(("{", "[")) else res.stdout

    @property
    def control_socket(self) -> Path:
        return self.dir / "bgpcore.sock"

    def neighbors(self) -> list[dict[str, Any]]:
        """A bgpcore node's sessions as ``bgpcore show neighbors --json`` reports them
        (``peer``, ``state``, ``interface``...); [] while the node is not answering."""
        res = subprocess.run([sys.executable, "-m", "bgpcore", "show", "neighbors", "--json",
                              "--socket", str(self.control_socket)],
                             capture_output=True, text=True, env=_bgpcore_env())
        try:
            return list(json.loads(res.stdout)) if res.returncode == 0 else []
        except ValueError:
            return []

    def established(self) -> set[str]:
        """Interfaces whose BGP session is Established."""
        if self.kind == "frr":
            summary = self.vtysh("show bgp summary json")
            peers = summary.get("ipv4Unicast", {}).get("peers", {}) if isinstance(summary, dict) else {}
            return {name for name, p in peers.items() if p.get("state") == "Established"}
        return {n["interface"] for n in self.neighbors() if n.get("state") == "ESTABLISHED" and n.get("interface")}


def _bgpcore_env() -> dict[str, str]:
    """The environment for ``python -m bgpcore``: the source tree first on the import path, so
    the lab runs from a checkout without installing bgpcore."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _toml(value: object) -> str:
    """A TOML value (strings, numbers, booleans, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


class Fabric:
    """Two spines and two servers, every link unnumbered.

    Args:
        lab: namespace manager (``Namespaces`` here, the ``lab`` fixture in tests).
        spines / servers: ``"frr"`` or ``"bgpcore"`` for each tier.
        ra_interval_s: Router Advertisement interval of every node.
        prefix: put before every node name (two fabrics side by side in one lab).
        bfd: BFD intervals for every fabric session; None for no BFD.
    """

    def __init__(self, lab: LabLike, *, spines: str = "frr", servers: str = "bgpcore", ra_interval_s: int = 3,
                 prefix: str = "", bfd: Bfd | None = None) -> None:
        self.lab = lab
        self.ra_interval_s = ra_interval_s
        self.bfd = bfd
        self.spines = [Node(f"{prefix}s{i}", "", spines, SPINE_AS, f"198.51.100.{i}/32") for i in (1, 2)]
        self.servers = [Node(f"{prefix}h{i}", "", servers, 65100 + i, f"198.51.100.{10 + i}/32") for i in (1, 2)]

    @property
    def nodes(self) -> list[Node]:
        return self.spines + self.servers

    def build(self) -> None:
        """Namespaces, links and loopbacks; then start every daemon."""
        for node in self.nodes:
            node.ns = self.lab.ns(node.name)
            node.dir = self.lab.dir / node.name
            node.dir.mkdir()
            os.chmod(node.dir, 0o777)
            self.lab.exec(node.ns, "ip", "addr", "add", node.loopback, "dev", "lo")
        for node in self.servers:
            self.lab.exec(node.ns, "ip", "addr", "add", ANYCAST, "dev", "lo")
        for s, spine in enumerate(self.spines, 1):
            for h, server in enumerate(self.servers, 1):
                self.lab.link(spine.ns, f"swp{h}", server.ns, f"eth{s}")
                spine.uplinks.append(f"swp{h}")
                server.uplinks.append(f"eth{s}")
        for node in self.nodes:
            if node.kind == "frr":
                self._start_frr(node)
            else:
                self._start_bgpcore(node)

    def bgpcore_config(self, node: Node) -> str:
        """The ``bgpcore run`` configuration of a bgpcore node: unnumbered eBGP on every uplink,
        its loopback (and on servers the anycast) originated, ECMP best paths in the kernel."""
        transit = node in self.spines
        announce = [node.loopback] + ([] if transit else [ANYCAST])
        speaker = {"asn": node.asn, "router_id": node.loopback.split("/")[0], "listen": ["::", "0.0.0.0"],
                   "hold_time": 9, "ra_interval": self.ra_interval_s, "transit": transit,
                   "control_socket": str(node.control_socket)}
        lines = ["[speaker]", *(f"{k} = {_toml(v)}" for k, v in speaker.items()), "",
                 "[decision]", "maximum_paths = 8", "multipath_relax = true", "",
                 "[fib]", 'install = "all"', ""]
        for prefix in announce:
            lines += ["[[networks]]", f"prefix = {_toml(prefix)}", ""]
        lines += ["[[interfaces]]", f"names = {_toml(node.uplinks)}", 'asn = "external"',
                  'families = ["ipv4-unicast"]']
        if self.bfd is not None:
            lines.append(f"bfd = {{ interval_ms = {self.bfd.interval_ms}, multiplier = {self.bfd.multiplier} }}")
        lines.append("")
        return "\n".join(lines)

    def _start_bgpcore(self, node: Node) -> None:
        path = node.dir / "node.toml"
        path.write_text(self.bgpcore_config(node))
        node.proc = self.lab.spawn(node.ns, sys.executable, "-m", "bgpcore", "run", "--config", str(path),
                                   log=f"{node.name}/bgpcore.log", env={"PYTHONPATH": _bgpcore_env()["PYTHONPATH"]})
        node.procs.append(node.proc)

    def _start_frr(self, node: Node) -> None:
        d = node.dir
        ifaces = "".join(f"interface {i}\n ipv6 nd ra-interval {self.ra_interval_s}\n no ipv6 nd suppress-ra\n!\n"
                         for i in node.uplinks)
        (d / "zebra.conf").write_text(f"hostname {node.name}\nno zebra nexthop kernel enable\n{ifaces}")
        announce = [node.loopback] + ([] if node in self.spines else [ANYCAST])
        neighbors = "".join(f" neighbor {i} interface remote-as external\n neighbor {i} capability extended-nexthop\n"
                            for i in node.uplinks)
        if self.bfd is not None:
            neighbors += "".join(f" neighbor {i} bfd\n neighbor {i} bfd profile {BFD_PROFILE}\n" for i in node.uplinks)
            (d / "bfdd.conf").write_text(
                f"bfd\n profile {BFD_PROFILE}\n  detect-multiplier {self.bfd.multiplier}\n"
                f"  receive-interval {self.bfd.interval_ms}\n  transmit-interval {self.bfd.interval_ms}\n"
                f" exit\nexit\n")
        networks = "".join(f"  network {p}\n" for p in announce)
        (d / "bgpd.conf").write_text(
            f"frr defaults datacenter\nhostname {node.name}\n"
            f"router bgp {node.asn}\n bgp router-id {node.loopback.split('/')[0]}\n no bgp ebgp-requires-policy\n"
            f" bgp bestpath as-path multipath-relax\n{neighbors}"
            f" address-family ipv4 unicast\n{networks}  maximum-paths 8\n exit-address-family\n")
        for f in d.iterdir():
            os.chmod(f, 0o666)
        zebra = self.lab.spawn(node.ns, str(FRR / "zebra"), "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
                               "-z", str(d / "zserv.api"), "-u", "frr", "-g", "frr", "--vty_socket", str(d),
                               "-A", "127.0.0.1", "-P", "0", "--log", f"file:{d}/zebra.log",
                               log=f"{node.name}/zebra.out")
        deadline = time.monotonic() + 10
        while not (d / "zserv.api").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.bfd is not None:  # before bgpd, which registers its neighbors with bfdd through zebra
            bfdd = self.lab.spawn(node.ns, str(FRR / "bfdd"), "-f", str(d / "bfdd.conf"), "-i", str(d / "bfdd.pid"),
                                  "-z", str(d / "zserv.api"), "--vty_socket", str(d), "--bfdctl", str(d / "bfdd.sock"),
                                  "-A", "127.0.0.1", "-P", "0", "--log", f"file:{d}/bfdd.log",
                                  log=f"{node.name}/bfdd.out")
            node.procs.append(bfdd)
        bgpd = self.lab.spawn(node.ns, str(FRR / "bgpd"), "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"),
                              "-z", str(d / "zserv.api"), "-S", "--vty_socket", str(d), "-A", "127.0.0.1", "-P", "0",
                              "--log", f"file:{d}/bgpd.log", log=f"{node.name}/bgpd.out")
        node.procs[:0] = [zebra]
        node.procs.append(bgpd)

    # -- looking at it ---------------------------------------------------------------------------

    def routes(self, node: Node, prefix: str) -> list[dict[str, Any]]:
        """``ip -j route`` of one prefix in the node's namespace: what the kernel forwards with."""
        out = self.lab.exec(node.ns, "ip", "-j", "route", "show", prefix, check=False).stdout
        return json.loads(out) if out.strip() else []

    def next_hop_devices(self, node: Node, prefix: str) -> set[str]:
        """Devices of the usable next hops of ``prefix`` in the kernel: IPv6 link-local gateways
        (RTA_VIA), or FRR's 169.254.0.1 onlink stand-in for them."""
        devs = set()
        for route in self.routes(node, prefix):
            for hop in route.get("nexthops") or [route]:
                via = hop.get("via") or {}
                gateway = via.get("host", "") if isinstance(via, dict) else hop.get("gateway", "")
                gateway = gateway or hop.get("gateway", "")
                usable = not {"dead", "linkdown"} & set(hop.get("flags", []))
                if usable and (gateway.startswith("fe80:") or gateway == "169.254.0.1"):
                    devs.add(hop.get("dev", ""))
        return devs

    def bfd_peers(self, node: Node) -> dict[str, dict[str, Any]]:
        """The node's BFD sessions by interface, in one shape for both kinds of node: ``peer``
        (address), ``local`` (FRR only), ``status`` ("up", "down", ...), ``tx_ms`` / ``rx_ms``
        (the intervals in use), ``mult`` (our Detect Mult), ``remote_tx_ms`` / ``remote_rx_ms`` /
        ``remote_mult`` (what the peer advertised), ``detect_ms``, ``id`` / ``remote_id``."""
        out: dict[str, dict[str, Any]] = {}
        if node.kind == "frr":
            peers = node.vtysh("show bfd peers json")
            for p in peers if isinstance(peers, list) else []:
                if p.get("interface"):
                    out[p["interface"]] = {
                        "peer": p.get("peer"), "local": p.get("local"), "status": p.get("status"),
                        "tx_ms": p.get("transmit-interval"), "rx_ms": p.get("receive-interval"),
                        "mult": p.get("detect-multiplier"), "remote_tx_ms": p.get("remote-transmit-interval"),
                        "remote_rx_ms": p.get("remote-receive-interval"),
                        "remote_mult": p.get("remote-detect-multiplier"), "id": p.get("id"),
                        "remote_id": p.get("remote-id"), "detect_ms": None}
            return out
        res = subprocess.run([sys.executable, "-m", "bgpcore", "show", "bfd", "--json",
                              "--socket", str(node.control_socket)], capture_output=True, text=True, env=_bgpcore_env())
        try:
            rows = json.loads(res.stdout) if res.returncode == 0 else []
        except ValueError:
            rows = []
        for r in rows:
            if r.get("interface"):
                out[r["interface"]] = {
                    "peer": r.get("peer"), "local": r.get("local_address"), "status": r.get("state"),
                    "tx_ms": (r.get("tx_interval_us") or 0) // 1000, "rx_ms": (r.get("rx_interval_us") or 0) // 1000,
                    "mult": r.get("detect_mult"), "remote_tx_ms": (r.get("remote_desired_min_tx_us") or 0) // 1000,
                    "remote_rx_ms": (r.get("remote_required_min_rx_us") or 0) // 1000,
                    "remote_mult": r.get("remote_detect_mult"), "id": r.get("local_discriminator"),
                    "remote_id": r.get("remote_discriminator"), "detect_ms": (r.get("detection_time_us") or 0) // 1000,
                    "poll": r.get("poll_in_progress")}
        return out

    def bfd_up(self) -> bool:
        """Every fabric session's BFD Up on both ends, at the configured intervals."""
        if self.bfd is None:
            return True
        want = self.bfd.interval_ms
        for node in self.nodes:
            peers = self.bfd_peers(node)
            for ifname in node.uplinks:
                p = peers.get(ifname, {})
                if p.get("status") != "up" or p.get("poll") or p.get("tx_ms") != want or p.get("remote_tx_ms") != want:
                    return False
        return True

    def converged(self) -> bool:
        """Every session up and every server reaching every other loopback through both spines."""
        for node in self.nodes:
            if node.established() != set(node.uplinks):
                return False
        for server in self.servers:
            for other in self.nodes:
                if other is not server and self.next_hop_devices(server, other.loopback) != self._expected(server, other):
                    return False
        return True

    def far_end(self, node: Node, ifname: str) -> tuple[Node, str]:
        """The node and interface at the other end of ``node``'s link ``ifname``."""
        index = node.uplinks.index(ifname)
        if node in self.spines:
            server = self.servers[index]
            return server, server.uplinks[self.spines.index(node)]
        spine = self.spines[index]
        return spine, spine.uplinks[self.servers.index(node)]

    def _expected(self, server: Node, other: Node) -> set[str]:
        if other in self.spines:
            return {server.uplinks[self.spines.index(other)]}
        return set(server.uplinks)

    def ping(self, src: Node, dst: Node, count: int = 1) -> bool:
        res = self.lab.exec(src.ns, "ping", "-c", str(count), "-W", "2", "-i", "0.2", "-I",
                            src.loopback.split("/")[0], dst.loopback.split("/")[0], check=False)
        return res.returncode == 0

    def show(self) -> str:
        lines = []
        for server in self.servers:
            lines.append(f"--- {server.name} ({server.kind}) ip route")
            lines.append(self.lab.exec(server.ns, "ip", "route", "show", "proto", "bgp", check=False).stdout.rstrip())
        return "\n".join(lines)

    def stop(self) -> None:
        for node in self.nodes:
            for proc in node.procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in node.procs:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spines", choices=("frr", "bgpcore"), default="frr")
    parser.add_argument("--servers", choices=("frr", "bgpcore"), default="bgpcore")
    parser.add_argument("--keep", action="store_true", help="keep the lab running until Ctrl-C")
    parser.add_argument("--bfd", type=Bfd.parse, metavar="MSxMULT", help="BFD on every session, e.g. 300x3")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    lab = Namespaces()
    fabric = Fabric(lab, spines=args.spines, servers=args.servers, bfd=args.bfd)
    try:
        fabric.build()
        started = time.monotonic()
        try:
            wait_until(fabric.converged, 30, "convergence")
            print(f"converged in {time.monotonic() - started:.1f} s")
        except TimeoutError as exc:
            print(f"{exc}; sessions up: " + ", ".join(f"{n.name} {sorted(n.established())}" for n in fabric.nodes))
        if args.bfd is not None:
            try:
                wait_until(fabric.bfd_up, 20, "BFD up on every session")
            except TimeoutError as exc:
                print(exc)
            for node in fabric.nodes:
                for ifname, p in sorted(fabric.bfd_peers(node).items()):
                    print(f"bfd {node.name} {ifname} {p['peer']}: {p['status']}, {p['tx_ms']}/{p['rx_ms']} ms x "
                          f"{p['mult']}, peer {p['remote_tx_ms']}/{p['remote_rx_ms']} ms x {p['remote_mult']}")
        print(fabric.show())
        h1, h2 = fabric.servers
        print(f"ping {h1.loopback} -> {h2.loopback}:", "ok" if fabric.ping(h1, h2, 3) else "FAILED")
        if args.keep:
            print(f"namespaces: {' '.join(n.ns for n in fabric.nodes)}; Ctrl-C to remove them")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        fabric.stop()
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
