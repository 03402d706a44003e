"""Route-reflector benchmark: full-table ingest and reflection, bgpcore against FRR, BIRD, GoBGP.

One network namespace per run holds the reflector, one feeder (``feeder.py send``, an iBGP
non-client, like an upstream border router) and K route-reflector clients (``feeder.py
receive``), all in AS 64496; reflection sends the feeder's routes to the clients only. The
feeder streams a table; the result is the time from its first UPDATE to the moment the last
client holds the whole table, plus the reflector's CPU seconds and peak RSS (every process of
it: bgpd + zebra for FRR, shard workers for bgpcore). Run as root:

    python benchmarks/bench_rr.py                         # 1M IPv4 + 200k IPv6, K = 4 and 16
    python benchmarks/bench_rr.py --ipv4 100000 --ipv6 20000 --clients 4 --only bgpcore,bird

Addresses: the reflector 198.51.100.1, feeder .2, clients .10 onwards (a /24 on lo); the
table's next hops (192.0.2.1, 2001:db8::1) are on a veth inside the namespace, so daemons that
check next-hop reachability find them connected.
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

from benchmarks.feeder import nlri_octets  # noqa: E402
from benchmarks.generator import table_file  # noqa: E402

ASN = 64496
RR = "198.51.100.1"
FEEDER = "198.51.100.2"
FIRST_CLIENT = 10
PORT = 179
CACHE = Path(os.environ.get("BGPCORE_BENCH_CACHE", ROOT / "build" / "bench"))
DATA = ROOT.parent / "shared" / "data"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {res.stderr.strip()}")
    return res


def clients(k: int) -> list[str]:
    return [f"198.51.100.{FIRST_CLIENT + i}" for i in range(k)]


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
    conf = [f"router id {RR};", "protocol device {}",
            'protocol direct { ipv4; ipv6; interface "vNH"; }',
            "template bgp rrc {", f"  local {RR} as {ASN};", f"  rr cluster id {RR}; passive on;",
            "  ipv4 { import all; export all; };", "  ipv6 { import all; export all; };", "}"]
    conf += [f"protocol bgp p{i} from rrc {{ neighbor {peer} as {ASN};{' rr client;' if peer != FEEDER else ''} }}"
             for i, peer in enumerate(peers)]
    (d / "bird.conf").write_text("\n".join(conf) + "\n")
    return [_spawn(ns, ["bird", "-f", "-c", str(d / "bird.conf"), "-s", str(d / "bird.ctl"), "-P", str(d / "bird.pid")],
                   d / "bird.log")]


def start_frr(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    shutil.chown(d, "frr", "frr")
    (d / "zebra.conf").write_text("hostname rr\n")
    conf = ["frr defaults traditional", "hostname rr", f"router bgp {ASN}", f" bgp router-id {RR}",
            f" bgp cluster-id {RR}", " no bgp default ipv4-unicast", " neighbor C peer-group",
            f" neighbor C remote-as {ASN}", " neighbor C passive"]
    conf += [f" neighbor {FEEDER} remote-as {ASN}", f" neighbor {FEEDER} passive"]
    conf += [f" neighbor {peer} peer-group C" for peer in peers if peer != FEEDER]
    for af in ("ipv4", "ipv6"):
        conf += [f" address-family {af} unicast", "  neighbor C activate", "  neighbor C route-reflector-client",
                 f"  neighbor {FEEDER} activate", " exit-address-family"]
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
    conf = ["[global.config]", f"  as = {ASN}", f'  router-id = "{RR}"', f"  port = {PORT}"]
    for peer in peers:
        conf += ["[[neighbors]]", "  [neighbors.config]", f'    neighbor-address = "{peer}"', f"    peer-as = {ASN}",
                 "  [neighbors.transport.config]", "    passive-mode = true"]
        if peer != FEEDER:
            conf += ["  [neighbors.route-reflector.config]", "    route-reflector-client = true",
                     f'    route-reflector-cluster-id = "{RR}"']
        for af in ("ipv4-unicast", "ipv6-unicast"):
            conf += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]", f'      afi-safi-name = "{af}"']
    (d / "gobgpd.toml").write_text("\n".join(conf) + "\n")
    return [_spawn(ns, ["gobgpd", "-f", str(d / "gobgpd.toml"), "-t", "toml", "-p", "--api-hosts", "127.0.0.1:50051",
                        "--pprof-disable"], d / "gobgpd.log")]


def start_bgpcore(ns: str, d: Path, peers: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    lines = ["[speaker]", f"asn = {ASN}", f'router_id = "{RR}"', f'cluster_id = "{RR}"', f'listen = ["{RR}"]',
             f"port = {PORT}", f"shards = {args.shards_now}", f'control_socket = "{d / "control.sock"}"', ""]
    for peer in peers:
        client = "false" if peer == FEEDER else "true"
        lines += ["[[neighbor]]", f'address = "{peer}"', f"asn = {ASN}", f"rr_client = {client}", "passive = true", ""]
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
    seconds: float | None = None
    cpu_s: float | None = None
    rss_mib: float | None = None
    note: str = ""
    full: int = 0


def _reader(proc: subprocess.Popen[bytes], lines: queue.Queue[dict[str, object]]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        try:
            lines.put(json.loads(raw))
        except ValueError:
            pass


class Namespace:
    """One namespace with the benchmark's addresses; removed on close, with what runs in it."""

    def __init__(self) -> None:
        self.name = f"bcrr{os.getpid()}"
        sh("ip", "netns", "add", self.name)
        self.procs: list[subprocess.Popen[bytes]] = []
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{RR}/24", "dev", "lo"],
                    ["ip", "link", "add", "vNH", "type", "veth", "peer", "name", "vNH2"],
                    ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"],
                    ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"],
                    ["ip", "addr", "add", "192.0.2.100/24", "dev", "vNH"],
                    ["ip", "addr", "add", "2001:db8::100/64", "dev", "vNH", "nodad"],
                    ["ip", "link", "set", "vNH", "up"], ["ip", "link", "set", "vNH2", "up"]):
            sh("ip", "netns", "exec", self.name, *cmd)

    def spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], stdout=subprocess.PIPE,
                                stdin=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), BGPCORE_BENCH_CACHE=str(CACHE)))
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)
        sh("ip", "netns", "del", self.name, check=False)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_one(refl: Reflector, table: Path, expect: int, workload: str, k: int, args: argparse.Namespace,
            timeout_s: float) -> Result:
    result = Result(refl.name, workload, k, args.shards_now if refl.name == "bgpcore" else None)
    ns = Namespace()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{refl.name}-"))
    os.chmod(workdir, 0o777)
    daemons: list[subprocess.Popen[bytes]] = []
    events: queue.Queue[dict[str, object]] = queue.Queue()
    try:
        daemons = refl.start(ns.name, workdir, [FEEDER, *clients(k)], args)
        feeder_py = str(ROOT / "benchmarks" / "feeder.py")
        groups = max(1, min(k, args.receiver_processes))
        first = 0
        for g in range(groups):
            n = k // groups + (1 if g < k % groups else 0)
            proc = ns.spawn([sys.executable, feeder_py, "receive", "--peer", RR, "--source", clients(k)[first],
                             "--clients", str(n), "--expect", str(nlri_octets(table.read_bytes()))])
            threading.Thread(target=_reader, args=(proc, events), daemon=True).start()
            first += n
        _wait(events, "established", k, 60.0, refl, workdir)
        pids = [p for d in daemons for p in _tree(d.pid)]
        cpu0 = cpu_seconds(pids)
        feeder = ns.spawn([sys.executable, feeder_py, "send", "--peer", RR, "--source", FEEDER, "--table", str(table)])
        threading.Thread(target=_reader, args=(feeder, events), daemon=True).start()
        seen = _wait(events, "full", k, timeout_s, refl, workdir, want_first=True)
        pids = sorted({p for d in daemons for p in _tree(d.pid)} | set(pids))
        result.cpu_s = cpu_seconds(pids) - cpu0
        result.rss_mib = peak_rss_mib(pids)
        fulls = [float(e["t"]) for e in seen if e["event"] == "full"]  # type: ignore[arg-type]
        t0 = next(float(e["t"]) for e in seen if e["event"] == "first_update")  # type: ignore[arg-type]
        result.full = len(fulls)
        sent = [float(e["seconds"]) for e in seen if e["event"] == "sent"]  # type: ignore[arg-type]
        if sent:
            result.note = f"feeder done in {sent[0]:.1f} s"
        if len(fulls) == k:
            result.seconds = max(fulls) - t0
        else:
            result.note = f"timeout after {timeout_s:.0f} s: {len(fulls)}/{k} clients full"
    except Exception as exc:  # one failing reflector must not hide the others' results
        result.note = f"failed: {exc}"
    finally:
        for d in daemons:
            stop(d)
        ns.close()
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
    return f"| {r.workload:<22} | {r.clients:>2} | {r.reflector:<8} | {shards:>6} | {secs} | {cpu} | {rss} | {r.note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", default="4,16", help="comma-separated K values (default 4,16)")
    parser.add_argument("--shards", default="1,2", help="bgpcore shard counts (default 1,2)")
    parser.add_argument("--only", default="bgpcore,bird,frr,gobgp", help="reflectors to run")
    parser.add_argument("--mrt", default=str(DATA / "mrt/ripe-bgpdump/updates.et-header.2015.gz"),
                        help="a real MRT dump as the second workload ('' to skip)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run before giving up")
    parser.add_argument("--gobgp-ipv4", type=int, default=100_000, help="GoBGP's smaller table (IPv4 prefixes)")
    parser.add_argument("--gobgp-ipv6", type=int, default=20_000)
    parser.add_argument("--receiver-processes", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="run bgpcore under cProfile (output in the cache)")
    parser.add_argument("--keep", action="store_true", help="keep the reflectors' work directories")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_rr needs root (network namespaces)", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    ks = [int(k) for k in args.clients.split(",")]
    names = [n for n in args.only.split(",") if n]
    workloads: list[tuple[str, Path, int, set[str]]] = []
    big = table_file(args.ipv4, args.ipv6, args.seed, CACHE)
    label = f"gen {args.ipv4 // 1000}k+{args.ipv6 // 1000}k"
    workloads.append((label, big, args.ipv4 + args.ipv6, set(names) - {"gobgp"}))
    if "gobgp" in names:
        small = table_file(args.gobgp_ipv4, args.gobgp_ipv6, args.seed, CACHE)
        workloads.append((f"gen {args.gobgp_ipv4 // 1000}k+{args.gobgp_ipv6 // 1000}k", small,
                          args.gobgp_ipv4 + args.gobgp_ipv6, set(names)))
    if args.mrt:
        path, count = mrt_table(Path(args.mrt), CACHE)
        workloads.append((f"mrt {Path(args.mrt).name[:14]} {count // 1000}k", path, count, set(names)))
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("# " + " ".join(sys.argv))
    print("| workload               |  K | reflector| shards |  seconds |  CPU s   | RSS MiB  | note")
    print("|---|---|---|---|---|---|---|---|")
    results: list[Result] = []
    for label, path, expect, who in workloads:
        for k in ks:
            for name in names:
                if name not in who:
                    continue
                refl = REFLECTORS[name]
                if not refl.available():
                    continue
                for shards in ([int(s) for s in args.shards.split(",")] if name == "bgpcore" else [1]):
                    args.shards_now = shards
                    r = run_one(refl, path, expect, label, k, args, args.timeout)
                    results.append(r)
                    print(fmt(r), flush=True)
    _ratios(results)
    return 0


def _ratios(results: list[Result]) -> None:
    """bgpcore's best time per (workload, K) against every other reflector in the same run."""
    for (w, k) in sorted({(r.workload, r.clients) for r in results}):
        ours = [r for r in results if r.workload == w and r.clients == k and r.reflector == "bgpcore" and r.seconds]
        if not ours:
            continue
        best = min(ours, key=lambda r: r.seconds or 0)
        for r in results:
            if r.workload == w and r.clients == k and r.reflector != "bgpcore" and r.seconds:
                print(f"# {w}, K={k}: bgpcore (shards={best.shards}) {best.seconds:.2f} s vs {r.reflector} "
                      f"{r.seconds:.2f} s: {r.seconds / (best.seconds or 1):.2f}x")


if __name__ == "__main__":
    sys.exit(main())
