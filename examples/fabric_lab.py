#!/usr/bin/env python3
"""An unnumbered BGP fabric on one Linux box: two spines, two servers, no IPv4 on any link.

Run as root::

    python3 examples/fabric_lab.py                  # FRR spines, bgpcore servers
    python3 examples/fabric_lab.py --spines bgpcore # bgpcore everywhere
    python3 examples/fabric_lab.py --servers frr    # FRR everywhere, for comparison
    python3 examples/fabric_lab.py --keep           # leave it running until Ctrl-C

It creates a network namespace per node, joins them with veth pairs (only IPv6 link-local
addresses on them), puts a /32 loopback from 198.51.100.0/24 on each node plus an anycast /32
on both servers, starts the routing daemons, waits for the fabric to converge, prints each
server's routes and pings between the server loopbacks, then removes everything it made.

Each bgpcore node is this same file run as ``fabric_lab.py node CONFIG.json`` inside its
namespace: a ``Speaker`` whose neighbors come from unnumbered discovery on its uplinks, with
received routes installed in the kernel through ``bgpcore.fib`` (ECMP across uplinks).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpcore.constants import Origin  # noqa: E402
from bgpcore.discovery.unnumbered import InterfacePeering, Unnumbered, fib_next_hop  # noqa: E402
from bgpcore.fib.install import Fib, FibRoute  # noqa: E402
from bgpcore.program.rr import RibHandler  # noqa: E402
from bgpcore.rib.decision import DecisionOptions  # noqa: E402
from bgpcore.rib.manager import Rib, RibConfig  # noqa: E402
from bgpcore.route import BestChange  # noqa: E402
from bgpcore.transport.config import NeighborConfig, SpeakerConfig  # noqa: E402
from bgpcore.transport.routes import PeerId, SimpleRoutes  # noqa: E402
from bgpcore.transport.speaker import Speaker  # noqa: E402
from bgpcore.wire.context import IPV4_UNICAST, Family  # noqa: E402
from bgpcore.wire.nlri import key_to_network  # noqa: E402
from bgpcore.wire.types import PathAttributes, Update  # noqa: E402

log = logging.getLogger("fabric_lab")

FRR = Path("/usr/lib/frr")
SPINE_AS = 65000
ANYCAST = "198.51.100.100/32"


# ============================================================== one bgpcore node (in its namespace)

class FibRoutes(SimpleRoutes):
    """Routes received on unnumbered sessions go to the kernel: the shortest AS paths, ECMP."""

    def __init__(self, fib: Fib, local_as: int, interface_of: Callable[[PeerId], str]) -> None:
        super().__init__()
        self.fib = fib
        self.local_as = local_as
        self.interface_of = interface_of

    def receive(self, peer: PeerId, update: Update) -> None:
        super().receive(peer, update)
        keys = list(update.withdrawn) + list(update.nlri)
        for mp in (update.mp_reach, update.mp_unreach):
            if mp is not None and (mp.afi, mp.safi) == IPV4_UNICAST:
                keys += list(mp.nlri)
        self._install(keys)

    def peer_down(self, peer: PeerId, graceful: bool = False) -> None:
        keys = list(self.received.get(peer, {}).get(IPV4_UNICAST, {}))
        super().peer_down(peer, graceful)
        self._install(keys)

    def _install(self, keys: Iterable[bytes]) -> None:
        changes = []
        for key in dict.fromkeys(keys):
            paths = [(peer, table[IPV4_UNICAST][key]) for peer, table in self.received.items()
                     if key in table.get(IPV4_UNICAST, {})
                     and not _has_as(table[IPV4_UNICAST][key][0], self.local_as)]  # AS loop: RFC 4271 §9.1.2
            hops = ()
            if paths:
                shortest = min(_as_path_len(attrs) for _, (attrs, _) in paths)
                hops = tuple(sorted({fib_next_hop(nh, self.interface_of(peer)) for peer, (attrs, nh) in paths
                                     if _as_path_len(attrs) == shortest}, key=str))
            changes.append(FibRoute(key_to_network(key, 1), hops))
        if changes:
            result = self.fib.apply(changes)
            if result.failed:
                log.warning("FIB refused: %s", result.failed)


class FibRib(Rib):
    """A RIB (best path, multipath, re-advertisement) whose best-path changes also reach the kernel.

    Transit nodes use it: routes learned on one link are advertised on the others, and the
    multipath set of each prefix is installed as ECMP next hops, each resolved to the link
    its session runs on.
    """

    def __init__(self, config: RibConfig, fib: Fib, interface_of: Callable[[str], str]) -> None:
        super().__init__(config)
        self.fib = fib
        self.interface_of = interface_of

    def receive(self, peer_id: Any, update: Update) -> list[BestChange]:
        changes = super().receive(peer_id, update)
        self._install(changes)
        return changes

    def peer_down(self, peer_id: Any, graceful: bool = False, now: float = 0.0) -> list[BestChange]:
        changes = super().peer_down(peer_id, graceful, now)
        self._install(changes)
        return changes

    def _install(self, changes: list[BestChange]) -> None:
        routes = []
        for change in changes:
            if change.family != IPV4_UNICAST:
                continue
            hops = tuple(fib_next_hop(p.next_hop, self.interface_of(p.source.address))
                         for p in change.paths if not p.source.local)
            routes += [FibRoute(key_to_network(key, 1), hops) for key in change.keys]
        if routes:
            result = self.fib.apply(routes)
            if result.failed:
                log.warning("FIB refused: %s", result.failed)


def _has_as(attrs: PathAttributes, asn: int) -> bool:
    return any(asn in asns for _, asns in attrs.as_path)


def _as_path_len(attrs: PathAttributes) -> int:
    return sum(len(asns) if kind == 2 else 1 for kind, asns in attrs.as_path)


async def run_node(config: dict[str, Any]) -> None:
    """One bgpcore node: speaker, unnumbered discovery on its uplinks, FIB; until SIGTERM."""
    fib = Fib()
    fib.start()
    fib.attach()
    handler: Any
    if config.get("transit"):
        rib = FibRib(RibConfig(local_asn=config["asn"], router_id=config["router_id"], shards=1,
                               decision=DecisionOptions(maximum_paths=8, multipath_relax=True)), fib,
                     lambda address: interfaces.get(address.partition("%")[0], ""))
        handler = RibHandler(rib)
    else:
        handler = FibRoutes(fib, config["asn"], lambda peer: peer.partition("%")[2])
    speaker = Speaker(SpeakerConfig(local_as=config["asn"], router_id=config["router_id"]), handler=handler)
    if isinstance(handler, RibHandler):
        handler.speaker = speaker
    await speaker.start()
    peering = InterfacePeering(interfaces=tuple(config["interfaces"]), remote_as=config.get("remote_as", "external"),
                               options={"hold_time_s": config.get("hold_time_s", 9), "families": (IPV4_UNICAST,)})
    unnumbered = Unnumbered(speaker, [peering], make_config=NeighborConfig,
                            ra_interval_s=config.get("ra_interval_s", 3.0), transit=config.get("transit", False))
    status = Path(config["status"]) if config.get("status") else None

    def write_status(*_: object) -> None:
        if status is None:
            return
        state = {"peers": [{"interface": p.interface, "address": p.address, "peer": p.peer_id}
                           for p in unnumbered.peers()],
                 "sessions": {n.peer: n.state for n in speaker.neighbors()}}
        status.with_suffix(".tmp").write_text(json.dumps(state))
        status.with_suffix(".tmp").replace(status)

    interfaces: dict[str, str] = {}  # peer link-local address -> interface, for the FIB

    def on_change(peer: Any) -> None:
        interfaces.clear()
        interfaces.update({p.address: p.interface for p in unnumbered.peers() if p.address})
        write_status()

    unnumbered.on_change = on_change
    await unnumbered.start()
    for prefix in config.get("announce", ()):
        speaker.announce(prefix, attributes=PathAttributes(origin=Origin.IGP))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    events = speaker.events()
    watcher = loop.create_task(_watch_events(events, write_status))
    print(f"node AS {config['asn']} up", flush=True)
    await stop.wait()
    watcher.cancel()
    await unnumbered.stop()
    await speaker.stop()
    fib.stop()


async def _watch_events(events: Any, on_event: Callable[[], None]) -> None:
    async for item in events:
        log.info("%s: %s", item.peer, type(item.event).__name__)
        on_event()


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

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.dir / "status.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def established(self) -> set[str]:
        """Interfaces whose BGP session is Established."""
        if self.kind == "frr":
            summary = self.vtysh("show bgp summary json")
            peers = summary.get("ipv4Unicast", {}).get("peers", {}) if isinstance(summary, dict) else {}
            return {name for name, p in peers.items() if p.get("state") == "Established"}
        status = self.status()
        up = {peer for peer, state in status.get("sessions", {}).items() if state == "ESTABLISHED"}
        return {p["interface"] for p in status.get("peers", []) if p.get("peer") in up}


class Fabric:
    """Two spines and two servers, every link unnumbered.

    Args:
        lab: namespace manager (``Namespaces`` here, the ``lab`` fixture in tests).
        spines / servers: ``"frr"`` or ``"bgpcore"`` for each tier.
        ra_interval_s: Router Advertisement interval of every node.
    """

    def __init__(self, lab: LabLike, *, spines: str = "frr", servers: str = "bgpcore", ra_interval_s: int = 3,
                 prefix: str = "") -> None:
        self.lab = lab
        self.ra_interval_s = ra_interval_s
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

    def _start_bgpcore(self, node: Node) -> None:
        transit = node in self.spines
        announce = [node.loopback] + ([] if transit else [ANYCAST])
        config = {"asn": node.asn, "router_id": node.loopback.split("/")[0], "interfaces": node.uplinks,
                  "announce": announce, "transit": transit, "ra_interval_s": self.ra_interval_s,
                  "status": str(node.dir / "status.json")}
        path = node.dir / "node.json"
        path.write_text(json.dumps(config))
        node.proc = self.lab.spawn(node.ns, sys.executable, str(Path(__file__).resolve()), "node", str(path),
                                   log=f"{node.name}/bgpcore.log")
        node.procs.append(node.proc)

    def _start_frr(self, node: Node) -> None:
        d = node.dir
        ifaces = "".join(f"interface {i}\n ipv6 nd ra-interval {self.ra_interval_s}\n no ipv6 nd suppress-ra\n!\n"
                         for i in node.uplinks)
        (d / "zebra.conf").write_text(f"hostname {node.name}\nno zebra nexthop kernel enable\n{ifaces}")
        announce = [node.loopback] + ([] if node in self.spines else [ANYCAST])
        neighbors = "".join(f" neighbor {i} interface remote-as external\n neighbor {i} capability extended-nexthop\n"
                            for i in node.uplinks)
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
        bgpd = self.lab.spawn(node.ns, str(FRR / "bgpd"), "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"),
                              "-z", str(d / "zserv.api"), "-S", "--vty_socket", str(d), "-A", "127.0.0.1", "-P", "0",
                              "--log", f"file:{d}/bgpd.log", log=f"{node.name}/bgpd.out")
        node.procs += [zebra, bgpd]

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
    sub = parser.add_subparsers(dest="command")
    node = sub.add_parser("node", help="run one bgpcore node (inside its namespace)")
    node.add_argument("config", type=Path)
    parser.add_argument("--spines", choices=("frr", "bgpcore"), default="frr")
    parser.add_argument("--servers", choices=("frr", "bgpcore"), default="bgpcore")
    parser.add_argument("--keep", action="store_true", help="keep the lab running until Ctrl-C")
    args = parser.parse_args(argv)
    if args.command == "node":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        asyncio.run(run_node(json.loads(args.config.read_text())))
        return 0
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    lab = Namespaces()
    fabric = Fabric(lab, spines=args.spines, servers=args.servers)
    try:
        fabric.build()
        started = time.monotonic()
        try:
            wait_until(fabric.converged, 30, "convergence")
            print(f"converged in {time.monotonic() - started:.1f} s")
        except TimeoutError as exc:
            print(f"{exc}; sessions up: " + ", ".join(f"{n.name} {sorted(n.established())}" for n in fabric.nodes))
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
