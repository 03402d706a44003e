"""Route-reflector benchmark: full-table ingest and reflection, bgpcore against FRR, BIRD, GoBGP.

Every endpoint has its own network namespace, veth and address, as on a real network: the
reflector's namespace holds one veth per peer (its side 198.51.100.2i+2/31, the peer's side
.2i+3/31; i = 0 is the feeder), so the reflector has a different local address on every
session. The feeder (``feeder.py send``) is a route-reflector client, like an upstream border
router in the same cluster; the K other clients (``feeder.py receive``, which enters each
client's namespace to open its socket, so 2 processes serve all K) count what they receive.
Reflection sends the feeder's routes to the K clients and none back to the feeder (RFC 4456:
"other than the originator"); the feeder counts what comes back.

Measured per run: seconds from the feeder's first UPDATE to the moment the last client holds
the whole table, verified exact per client (NLRI octets, prefix count and an
order-independent digest of the prefixes held, announced minus withdrawn, equal the table's), the
reflector's CPU seconds (every process of it: bgpd + zebra for FRR, shard workers for
bgpcore) and its peak RSS (sum of ``VmHWM``). Reflectors are interleaved: each round runs
every (K, reflector) once, so every reflector sees the same machine load. Run as root:

    python benchmarks/bench_rr.py                          # 1M IPv4 + 200k IPv6, K = 4 and 16, 3 rounds
    python benchmarks/bench_rr.py --ipv4 100000 --ipv6 20000 --clients 4 --only bgpcore,bird --rounds 1

The table's next hops (192.0.2.1, 2001:db8::1) are on a veth inside the reflector's
namespace, so daemons that check next-hop reachability find them connected.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.feeder import table_summary  # noqa: E402
from benchmarks.generator import table_file  # noqa: E402

ASN = 64496
RR_ID = "198.51.100.1"
PORT = 179
CACHE = Path(os.environ.get("BGPCORE_BENCH_CACHE", ROOT / "build" / "bench"))
DATA = ROOT.parent / "shared" / "data"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {res.stderr.strip()}")
    return res


def link(i: int) -> tuple[str, str]:
    """(reflector side, peer side) of endpoint ``i``'s /31 (0: the feeder, 1..K: the clients)."""
    return f"198.51.100.{2 * i + 2}", f"198.51.100.{2 * i + 3}"


def peers(k: int) -> list[str]:
    """The peers' addresses: the feeder first, then the K clients."""
    return [link(i)[1] for i in range(k + 1)]


# --- reflectors ------------------------------------------------------------------------------

@dataclass
class Reflector:
    """How to start one implementation as the reflector; ``start`` returns its main processes."""

    name: str
    start: Callable[[str, Path, list[str], argparse.Namespace], list[subprocess.Popen[bytes]]]
    available: Callable[[], bool]
    note: str = ""


def _spawn(ns: str, cmd: list[str], log: Path, user_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **(user_env or {}))
    with open(log, "ab") as out:
        return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def start_bird(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    conf = [f"router id {RR_ID};", "protocol device {}",
            'protocol direct { ipv4; ipv6; interface "vNH"; }',
            "template bgp rrc {", f"  local as {ASN};", f"  rr cluster id {RR_ID}; passive on; rr client;",
            "  ipv4 { import all; export where source = RTS_BGP; };",
            "  ipv6 { import all; export where source = RTS_BGP; };", "}"]
    conf += [f"protocol bgp p{i} from rrc {{ neighbor {peer} as {ASN}; local {link(i)[0]}; }}"
             for i, peer in enumerate(peers)]
    (d / "bird.conf").write_text("\n".join(conf) + "\n")
    return [_spawn(ns, ["bird", "-f", "-c", str(d / "bird.conf"), "-s", str(d / "bird.ctl"), "-P", str(d / "bird.pid")],
                   d / "bird.log")]


def start_frr(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    shutil.chown(d, "frr", "frr")
    (d / "zebra.conf").write_text("hostname rr\n")
    conf = ["frr defaults traditional", "hostname rr", f"router bgp {ASN}", f" bgp router-id {RR_ID}",
            f" bgp cluster-id {RR_ID}", " no bgp default ipv4-unicast", " neighbor C peer-group",
            f" neighbor C remote-as {ASN}", " neighbor C passive"]
    conf += [f" neighbor {peer} peer-group C" for peer in peers]
    for af in ("ipv4", "ipv6"):
        conf += [f" address-family {af} unicast", "  neighbor C activate", "  neighbor C route-reflector-client",
                 " exit-address-family"]
    (d / "bgpd.conf").write_text("\n".join(conf) + "\n")
    for f in d.iterdir():
        shutil.chown(f, "frr", "frr")
    zebra = _spawn(ns, ["/usr/lib/frr/zebra", "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
                        "-z", str(d / "zserv.api"), "-u", "frr", "-g", "frr", "--vty_socket", str(d),
                        "-A", "127.0.0.1", "-P", "0"], d / "zebra.log")
    deadline = time.monotonic() + 10
    while not (d / "zserv.api").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    bgpd = _spawn(ns, ["/usr/lib/frr/bgpd", "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"),
                       "-z", str(d / "zserv.api"), "-n", "--vty_socket", str(d), "-A", "127.0.0.1", "-P", "0",
                       "-p", str(PORT)], d / "bgpd.log")
    return [bgpd, zebra]


def start_gobgp(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    conf = ["[global.config]", f"  as = {ASN}", f'  router-id = "{RR_ID}"', f"  port = {PORT}"]
    for peer in peers:
        conf += ["[[neighbors]]", "  [neighbors.config]", f'    neighbor-address = "{peer}"', f"    peer-as = {ASN}",
                 "  [neighbors.transport.config]", "    passive-mode = true"]
        conf += ["  [neighbors.route-reflector.config]", "    route-reflector-client = true",
                 f'    route-reflector-cluster-id = "{RR_ID}"']
        for af in ("ipv4-unicast", "ipv6-unicast"):
            conf += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]", f'      afi-safi-name = "{af}"']
    (d / "gobgpd.toml").write_text("\n".join(conf) + "\n")
    return [_spawn(ns, ["gobgpd", "-f", str(d / "gobgpd.toml"), "-t", "toml", "-p", "--api-hosts", "127.0.0.1:50051",
                        "--pprof-disable"], d / "gobgpd.log")]


def start_bgpcore(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    lines = ["[speaker]", f"asn = {ASN}", f'router_id = "{RR_ID}"', f'cluster_id = "{RR_ID}"', 'listen = ["0.0.0.0"]',
             f"port = {PORT}", f"shards = {args.shards_now}", f'control_socket = "{d / "control.sock"}"', ""]
    for peer in peers:
        lines += ["[[neighbor]]", f'address = "{peer}"', f"asn = {ASN}", "rr_client = true", "passive = true", ""]
    (d / "rr.toml").write_text("\n".join(lines))
    env = {"PYTHONPATH": str(ROOT), "BGPCORE_BENCH_CACHE": str(CACHE)}
    cmd = [sys.executable, "-m", "bgpcore", "run", "--config", str(d / "rr.toml")]
    if args.profile:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(CACHE / f"rr-{args.shards_now}.prof"), *cmd[1:]]
    return [_spawn(ns, cmd, d / "bgpcore.log", env)]


REFLECTORS = {
    "bgpcore": Reflector("bgpcore", start_bgpcore, lambda: True),
    "bird": Reflector("bird", start_bird, lambda: shutil.which("bird") is not None),
    "frr": Reflector("frr", start_frr, lambda: Path("/usr/lib/frr/bgpd").exists()),
    "gobgp": Reflector("gobgp", start_gobgp, lambda: shutil.which("gobgpd") is not None),
}


# --- measuring -------------------------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (``ip netns exec`` execs in place, workers are children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / ticks


def peak_rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


@dataclass
class Result:
    reflector: str
    workload: str
    clients: int
    shards: int | None
    round: int = 1
    seconds: float | None = None
    cpu_s: float | None = None
    rss_mib: float | None = None
    note: str = ""
    full: int = 0
    exact: int = 0
    back: int | None = None
    """Prefixes the feeder received back (split horizon: 0)."""
    updates: int = 0
    """UPDATEs the last client to be full had received by then (how the reflector packs)."""


def _reader(proc: subprocess.Popen[bytes], lines: queue.Queue[dict[str, object]]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        try:
            lines.put(json.loads(raw))
        except ValueError:
            pass


class Topology:
    """The reflector's namespace and one namespace per endpoint, each joined to the reflector
    by its own veth; removed on close, with what runs in them."""

    def __init__(self, k: int) -> None:
        self.name = f"bcrr{os.getpid()}"
        self.endpoints = [f"{self.name}p{i}" for i in range(k + 1)]
        self.made: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        rr = self.name
        for ns in (rr, *self.endpoints):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for cmd in (["ip", "addr", "add", f"{RR_ID}/32", "dev", "lo"],
                    ["ip", "link", "add", "vNH", "type", "veth", "peer", "name", "vNH2"],
                    ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"],
                    ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"],
                    ["ip", "addr", "add", "192.0.2.100/24", "dev", "vNH"],
                    ["ip", "addr", "add", "2001:db8::100/64", "dev", "vNH", "nodad"],
                    ["ip", "link", "set", "vNH", "up"], ["ip", "link", "set", "vNH2", "up"]):
            sh("ip", "netns", "exec", rr, *cmd)
        for i, ns in enumerate(self.endpoints):
            ours, theirs = link(i)
            sh("ip", "link", "add", f"r{i}", "netns", rr, "type", "veth", "peer", "name", "e0", "netns", ns)
            sh("ip", "-n", rr, "addr", "add", f"{ours}/31", "dev", f"r{i}")
            sh("ip", "-n", ns, "addr", "add", f"{theirs}/31", "dev", "e0")
            sh("ip", "-n", rr, "link", "set", f"r{i}", "up")
            sh("ip", "-n", ns, "link", "set", "e0", "up")

    def spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), BGPCORE_BENCH_CACHE=str(CACHE)))
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)
        self.made = []


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Table:
    label: str
    path: Path
    octets: int
    prefixes: int
    digest: int


def run_one(refl: Reflector, table: Table, k: int, args: argparse.Namespace, rnd: int) -> Result:
    result = Result(refl.name, table.label, k, args.shards_now if refl.name == "bgpcore" else None, rnd)
    topo: Topology | None = None
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{refl.name}-"))
    os.chmod(workdir, 0o777)
    daemons: list[subprocess.Popen[bytes]] = []
    events: queue.Queue[dict[str, object]] = queue.Queue()
    try:
        topo = Topology(k)
        daemons = refl.start(topo.name, workdir, peers(k), args)
        feeder_py = str(ROOT / "benchmarks" / "feeder.py")
        groups = max(1, min(k, args.receiver_processes))
        expect = ["--expect", str(table.octets), "--expect-prefixes", str(table.prefixes),
                  "--expect-digest", str(table.digest)]
        for g in range(groups):
            mine = [f"{topo.endpoints[i]}/{link(i)[1]}/{link(i)[0]}" for i in range(1, k + 1) if i % groups == g]
            proc = topo.spawn([sys.executable, feeder_py, "receive", *expect,
                               *[arg for e in mine for arg in ("--endpoint", e)]])
            threading.Thread(target=_reader, args=(proc, events), daemon=True).start()
        _wait(events, "established", k, 60.0, refl, workdir)
        pids = [p for d in daemons for p in _tree(d.pid)]
        cpu0 = cpu_seconds(pids)
        feeder = topo.spawn([sys.executable, feeder_py, "send", "--netns", topo.endpoints[0], "--peer", link(0)[0],
                             "--source", link(0)[1], "--table", str(table.path)])
        threading.Thread(target=_reader, args=(feeder, events), daemon=True).start()
        seen = _wait(events, "full", k, args.timeout, refl, workdir, want_first=True)
        pids = sorted({p for d in daemons for p in _tree(d.pid)} | set(pids))
        result.cpu_s = cpu_seconds(pids) - cpu0
        result.rss_mib = peak_rss_mib(pids)
        fulls = [e for e in seen if e["event"] == "full"]
        t0 = next(float(e["t"]) for e in seen if e["event"] == "first_update")  # type: ignore[arg-type]
        result.full = len(fulls)
        sent = [float(e["seconds"]) for e in seen if e["event"] == "sent"]  # type: ignore[arg-type]
        if len(fulls) == k:
            last = max(fulls, key=lambda e: float(e["t"]))  # type: ignore[arg-type]
            result.seconds = float(last["t"]) - t0  # type: ignore[arg-type]
            result.updates = int(last["updates"])  # type: ignore[call-overload]
            if sent:
                result.note = f"feeder done in {sent[0]:.1f} s"
        else:
            result.note = f"timeout after {args.timeout:.0f} s: {len(fulls)}/{k} clients full"
        time.sleep(1.0)  # anything the reflector would send back to the feeder has arrived by now
        assert feeder.stdin is not None
        feeder.stdin.close()
        done = seen + _wait(events, "feeder_done", 1, 10.0, refl, workdir)
        result.back = next(int(e["back_prefixes"]) for e in done if e["event"] == "feeder_done")  # type: ignore[call-overload]
        result.exact = len({e["source"] for e in done if e["event"] == "exact"})
        if result.exact < k:
            bad = next((e for e in fulls if not e.get("exact")), {})
            result.note += (f"; only {result.exact}/{k} exact (e.g. {bad.get('prefixes')} prefixes, "
                            f"{bad.get('withdrawn')} octets withdrawn)")
    except Exception as exc:  # one failing reflector must not hide the others' results
        result.note = f"failed: {exc}"
    finally:
        for d in daemons:
            stop(d)
        if topo is not None:
            topo.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  kept {workdir}", file=sys.stderr)
    return result


def _wait(events: queue.Queue[dict[str, object]], kind: str, count: int, timeout_s: float, refl: Reflector,
          workdir: Path, want_first: bool = False) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    got = 0
    while got < count:
        left = deadline - time.monotonic()
        if left <= 0:
            if kind == "full":
                return seen + [{"event": "timeout"}] if want_first else seen
            raise RuntimeError(f"{refl.name}: only {got}/{count} {kind} after {timeout_s:.0f} s (logs in {workdir})")
        try:
            event = events.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        seen.append(event)
        if event.get("event") == kind:
            got += 1
        elif event.get("event") == "closed":
            raise RuntimeError(f"{refl.name} closed the session of {event.get('source')}")
    return seen


# --- workloads -------------------------------------------------------------------------------

def mrt_table(path: Path, cache: Path) -> tuple[Path, int]:
    """A real dump as the feeder's table: each prefix's last announcement in the file, with
    the attributes as collected (next hop and LOCAL_PREF set for iBGP), grouped by attribute set.
    Left out, so that every reflector can deliver the whole table: martian IPv4 prefixes (in
    0/8 other than the default route, 127/8, 224/3) and prefixes whose attributes include an
    unknown optional transitive attribute; FRR does not reflect either."""
    out = cache / f"mrt-{path.name}.v3.bgp"
    count_file = out.with_suffix(".count")
    if out.exists() and count_file.exists():
        return out, int(count_file.read_text())
    from benchmarks.generator import NEXT_HOP, write_messages
    from bgpcore.mrt import BgpMessage, RibEntry, decode_rib_attributes, read_mrt
    from bgpcore.wire.context import DEFAULT_CONTEXT, Family
    from bgpcore.wire.types import PathAttributes
    from bgpcore.wire.update import decode_update, encode_updates

    table: dict[tuple[Family, bytes], PathAttributes] = {}
    for rec in read_mrt(path):
        if isinstance(rec, RibEntry) and rec.safi == 1:
            attrs = decode_rib_attributes(rec).attributes
            table.setdefault(((rec.afi, 1), rec.prefix), attrs)
        elif isinstance(rec, BgpMessage) and rec.message[18:19] == b"\x02":
            upd = decode_update(rec.message[19:], rec.ctx)
            for key in upd.withdrawn:
                table.pop(((1, 1), key), None)
            if upd.mp_unreach is not None and upd.mp_unreach.safi == 1:
                for key in upd.mp_unreach.nlri:
                    table.pop(((upd.mp_unreach.afi, 1), key), None)
            if upd.attributes is None:
                continue
            for key in upd.nlri:
                table[((1, 1), key)] = upd.attributes
            if upd.mp_reach is not None and upd.mp_reach.safi == 1:
                for key in upd.mp_reach.nlri:
                    table[((upd.mp_reach.afi, 1), key)] = upd.attributes
    for family, key in [fk for fk, attrs in table.items() if (fk[0][0] == 1 and _martian(fk[1])) or attrs.unknown]:
        del table[(family, key)]
    groups: dict[tuple[Family, PathAttributes], list[bytes]] = {}
    for (family, key), attrs in table.items():
        clean = attrs._replace(next_hop=None, local_pref=100, originator_id=None, cluster_list=())
        groups.setdefault((family, clean), []).append(key)
    messages: list[bytes] = []
    for (family, attrs), keys in groups.items():
        messages += encode_updates(attrs, family, NEXT_HOP[family], keys, DEFAULT_CONTEXT)
    write_messages(out, messages)
    count_file.write_text(str(len(table)))
    return out, len(table)


def _martian(key: bytes) -> bool:
    return key[0] > 0 and (len(key) == 1 or key[1] in (0, 127) or key[1] >= 224)


# --- report ----------------------------------------------------------------------------------

def fmt(r: Result) -> str:
    shards = "-" if r.shards is None else str(r.shards)
    secs = f"{r.seconds:8.2f}" if r.seconds is not None else "       -"
    cpu = f"{r.cpu_s:8.2f}" if r.cpu_s is not None else "       -"
    rss = f"{r.rss_mib:8.0f}" if r.rss_mib is not None else "       -"
    back = "-" if r.back is None else str(r.back)
    return (f"| {r.round} | {r.workload:<14} | {r.clients:>2} | {r.reflector:<8} | {shards:>6} | {secs} | {cpu} | {rss} "
            f"| {r.exact}/{r.clients} | {back} | {r.updates} | {r.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", default="4,16", help="comma-separated K values (default 4,16)")
    parser.add_argument("--shards", default="1", help="bgpcore shard counts (default 1)")
    parser.add_argument("--only", default="bgpcore,bird,frr", help="reflectors to run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--mrt", default="", help="a real MRT dump as the workload instead of the generated table")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run before giving up")
    parser.add_argument("--receiver-processes", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="run bgpcore under cProfile (output in the cache)")
    parser.add_argument("--keep", action="store_true", help="keep the reflectors' work directories")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_rr needs root (network namespaces)", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    ks = [int(k) for k in args.clients.split(",")]
    names = [n for n in args.only.split(",") if n and REFLECTORS[n].available()]
    if args.mrt:
        path, _ = mrt_table(Path(args.mrt), CACHE)
        label = f"mrt {Path(args.mrt).name[:10]}"
    else:
        path = table_file(args.ipv4, args.ipv6, args.seed, CACHE)
        label = f"gen {args.ipv4 // 1000}k+{args.ipv6 // 1000}k"
    table = Table(label, path, *table_summary(path.read_bytes()))
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}")
    print("# " + " ".join(sys.argv) + f"  ({table.prefixes} prefixes)")
    print("| round | workload | K | reflector | shards | seconds | CPU s | RSS MiB | exact | back | UPDATEs | note")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results: list[Result] = []
    for rnd in range(1, args.rounds + 1):
        for k in ks:
            for name in names:
                for shards in ([int(s) for s in args.shards.split(",")] if name == "bgpcore" else [1]):
                    args.shards_now = shards
                    r = run_one(REFLECTORS[name], table, k, args, rnd)
                    results.append(r)
                    print(fmt(r), flush=True)
    _summary(results)
    return 0


def _median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def _summary(results: list[Result]) -> None:
    """Medians per (K, reflector, shards) and bgpcore's ratios against the others (same run)."""
    print("\n| K | reflector | shards | runs | median s | median CPU s | max RSS MiB | exact | back |")
    print("|---|---|---|---|---|---|---|---|---|")
    med: dict[tuple[int, str, int | None], float] = {}
    for key in sorted({(r.clients, r.reflector, r.shards) for r in results}, key=lambda t: (t[0], t[1], t[2] or 0)):
        rows = [r for r in results if (r.clients, r.reflector, r.shards) == key]
        ok = [r for r in rows if r.seconds is not None]
        if not ok:
            print(f"| {key[0]} | {key[1]} | {key[2] or '-'} | 0/{len(rows)} | - | - | - | - | - |")
            continue
        med[key] = _median([r.seconds or 0.0 for r in ok])
        print(f"| {key[0]} | {key[1]} | {key[2] or '-'} | {len(ok)}/{len(rows)} | {med[key]:.2f} "
              f"| {_median([r.cpu_s or 0.0 for r in ok]):.2f} | {max(r.rss_mib or 0.0 for r in ok):.0f} "
              f"| {sum(r.exact for r in ok)}/{sum(r.clients for r in ok)} | {max(r.back or 0 for r in ok)} |")
    for (k, name, shards), ours in med.items():
        if name != "bgpcore":
            continue
        for (k2, other, _), theirs in med.items():
            if k2 == k and other != "bgpcore":
                print(f"# K={k}: bgpcore (shards={shards}) {ours:.2f} s vs {other} {theirs:.2f} s: "
                      f"{other} / bgpcore = {theirs / ours:.2f}")


if __name__ == "__main__":
    sys.exit(main())
