"""BGP to FIB end to end: a feeder session -> a router -> the kernel, bgpcore beside FRR and BIRD.

Run as root: ``python benchmarks/bench_fib_e2e.py --routes 600000 --rounds 2 [--only bgpcore,frr,bird]``.

For each router, in turn and interleaved over rounds, the harness makes two namespaces joined by
one veth pair: ``dut`` (192.0.2.1/24, the router) and ``feed`` (192.0.2.2 the feeder, 192.0.2.3 an
idle peer). The router is ``bgpcore run`` with ``[fib]``, FRR bgpd + zebra, or BIRD 2 with a
``kernel`` protocol; each has two eBGP neighbors, passive, and exports nothing.

1. The idle peer opens a session with hold time 3 s, sends a KEEPALIVE every second and records
   when each of the router's KEEPALIVEs arrives.
2. The feeder opens a session and streams N IPv4 prefixes (``generator.py``'s length mix, next
   hop 192.0.2.2) as fast as TCP takes them. **Install wall**: first UPDATE sent -> the kernel
   holds all N routes (counted from RTM_NEWROUTE/DELROUTE events of the router's protocol in the
   dut namespace, then checked exactly with a dump).
3. The feeder closes its TCP connection. **Withdraw wall**: close -> the kernel holds none of them
   (events, then a dump). **Keepalive gap**: the longest time between two KEEPALIVEs the idle
   peer received from the close until the kernel was empty (the router sends one each second).
4. **CPU**: user + system seconds of the router's processes per phase; **RSS**: their peak
   (VmHWM, summed over bgpd + zebra for FRR).

Prints a Markdown table and, with ``--json FILE``, writes the results.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bgpcore.constants import MsgType  # noqa: E402
from bgpcore.fib import netlink as nl  # noqa: E402
from bgpcore.fib.kernel import NetlinkSocket, netns  # noqa: E402
from bgpcore.wire.capabilities import FourOctetAs, Multiprotocol  # noqa: E402
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST  # noqa: E402
from bgpcore.wire.messages import KEEPALIVE  # noqa: E402
from bgpcore.wire.open import Open, encode_open  # noqa: E402
from bgpcore.wire.update import encode_end_of_rib, encode_updates  # noqa: E402

import feeder  # noqa: E402
from bench_rr import _tree, cpu_seconds, peak_rss_mib  # noqa: E402  (one copy of the /proc readers)
import generator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BGPCORE_BENCH_CACHE", "/tmp/bgpcore-bench"))
DUT_IP, FEED_IP, IDLE_IP = "192.0.2.1", "192.0.2.2", "192.0.2.3"
DUT_AS, FEED_AS, IDLE_AS = 64500, 64501, 64502
RTNLGRP_IPV4_ROUTE = 7
RTPROT_BIRD = 12
PROTOCOLS = {"bgpcore": 186, "frr": 186, "bird": RTPROT_BIRD}


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


# --- the table ---------------------------------------------------------------------------------

def table_file(n: int) -> Path:
    """N IPv4 prefixes in UPDATEs from AS 64501 with next hop 192.0.2.2 (cached)."""
    path = CACHE / f"e2e-v4_{n}.bgp"
    if path.exists():
        return path
    messages: list[bytes] = []
    for group in generator.generate_table(ipv4=n, ipv6=0, seed=1):
        segs = group.attributes.as_path
        tail = tuple(a for _t, asns in segs for a in asns)[:4]
        attrs = group.attributes._replace(as_path=((2, (FEED_AS, *tail)),), local_pref=None)
        messages += encode_updates(attrs, IPV4_UNICAST, (FEED_IP,), group.keys, DEFAULT_CONTEXT)
    generator.write_messages(path, messages)
    return path


# --- routers -----------------------------------------------------------------------------------

def _spawn(ns: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})), start_new_session=True)


def start_bgpcore(ns: str, d: Path) -> list[subprocess.Popen[bytes]]:
    conf = f"""[speaker]
asn = {DUT_AS}
router_id = "{DUT_IP}"
listen = ["{DUT_IP}"]
port = 179
control_socket = "{d / 'bgpcore.sock'}"

[fib]

[[policy]]
name = "nothing"
default = "reject"

[[policy.term]]
action = "reject"

[[neighbor]]
address = "{FEED_IP}"
asn = {FEED_AS}
passive = true
export_policy = "nothing"

[[neighbor]]
address = "{IDLE_IP}"
asn = {IDLE_AS}
passive = true
hold_time = 3
export_policy = "nothing"
"""
    (d / "bgpcore.toml").write_text(conf)
    return [_spawn(ns, [sys.executable, "-m", "bgpcore", "run", "--config", str(d / "bgpcore.toml")],
                   d / "bgpcore.log", {"PYTHONPATH": str(ROOT)})]


def start_frr(ns: str, d: Path) -> list[subprocess.Popen[bytes]]:
    shutil.chown(d, "frr", "frr")
    (d / "zebra.conf").write_text("hostname dut\n")
    conf = ["frr defaults traditional", "hostname dut", "route-map NONE deny 10", f"router bgp {DUT_AS}",
            f" bgp router-id {DUT_IP}", " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast",
            f" neighbor {FEED_IP} remote-as {FEED_AS}", f" neighbor {FEED_IP} passive",
            f" neighbor {IDLE_IP} remote-as {IDLE_AS}", f" neighbor {IDLE_IP} passive",
            f" neighbor {IDLE_IP} timers 1 3",
            " address-family ipv4 unicast", f"  neighbor {FEED_IP} activate", f"  neighbor {FEED_IP} route-map NONE out",
            f"  neighbor {IDLE_IP} activate", f"  neighbor {IDLE_IP} route-map NONE out", " exit-address-family"]
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
                       "-z", str(d / "zserv.api"), "-S", "--vty_socket", str(d), "-A", "127.0.0.1", "-P", "0"],
                  d / "bgpd.log")
    return [bgpd, zebra]


def start_bird(ns: str, d: Path) -> list[subprocess.Popen[bytes]]:
    conf = [f"router id {DUT_IP};", "protocol device {}",
            "protocol kernel { ipv4 { export all; }; }",
            "template bgp t {", f"  local {DUT_IP} as {DUT_AS};", "  passive on;", "  ipv4 { import all; export none; };", "}",
            f"protocol bgp feed from t {{ neighbor {FEED_IP} as {FEED_AS}; }}",
            f"protocol bgp quiet from t {{ neighbor {IDLE_IP} as {IDLE_AS}; hold time 3; keepalive time 1; }}"]
    (d / "bird.conf").write_text("\n".join(conf) + "\n")
    return [_spawn(ns, ["bird", "-f", "-c", str(d / "bird.conf"), "-s", str(d / "bird.ctl"), "-P", str(d / "bird.pid")],
                   d / "bird.log")]


ROUTERS: dict[str, Callable[[str, Path], list[subprocess.Popen[bytes]]]] = {
    "bgpcore": start_bgpcore, "frr": start_frr, "bird": start_bird}


# --- the kernel oracle ---------------------------------------------------------------------------

class RouteCounter(threading.Thread):
    """Counts the router's IPv4 routes in the dut namespace from route events, with times."""

    def __init__(self, ns: str, protocol: int) -> None:
        super().__init__(daemon=True)
        self.ns, self.protocol = ns, protocol
        self.sock = NetlinkSocket(groups=[RTNLGRP_IPV4_ROUTE], namespace=ns)
        for opt in (33, 8):  # SO_RCVBUFFORCE, SO_RCVBUF
            try:
                self.sock.sock.setsockopt(socket.SOL_SOCKET, opt, 512 << 20)
                break
            except OSError:
                pass
        self.count = 0
        self.lost = False
        self.stopping = False
        self.cond = threading.Condition()

    def run(self) -> None:
        """The kernel sends one route event per datagram: every datagram queued is read before
        the sum is published, so a lock and a wake-up per event never make this thread the
        slowest part of a router's withdraw (it was, at about 100 k events/s)."""
        buf = bytearray(1 << 20)
        sock, proto = self.sock.sock, self.protocol
        sock.setblocking(False)
        recv_into = sock.recv_into
        hdr = nl.NLMSG_HDR.unpack_from
        new, gone, main = nl.MsgType.NEWROUTE, nl.MsgType.DELROUTE, nl.RT_TABLE_MAIN
        while not self.stopping:
            if not select.select([sock], [], [], 0.2)[0]:
                continue
            delta = 0
            for _ in range(1 << 16):  # publish at least every 65,536 datagrams
                try:
                    n = recv_into(buf)
                except BlockingIOError:
                    break
                except OSError:
                    self.lost = True
                    break
                pos = 0
                while pos + 16 <= n:
                    length, msg_type = hdr(buf, pos)[:2]
                    if length < 16:
                        break
                    if buf[pos + 21] == proto and buf[pos + 20] == main:
                        if msg_type == new:
                            delta += 1
                        elif msg_type == gone:
                            delta -= 1
                    pos += (length + 3) & ~3
            if delta:
                with self.cond:
                    self.count += delta
                    self.cond.notify_all()

    def wait_for(self, pred: Callable[[int], bool], timeout_s: float) -> float | None:
        """The monotonic time at which ``pred(count)`` first held (None on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not pred(self.count):
                left = deadline - time.monotonic()
                if left <= 0 or self.lost:
                    return None
                self.cond.wait(min(left, 0.5))
            return time.monotonic()


def kernel_count(ns: str, protocol: int) -> int:
    """Routes of ``protocol`` in the main IPv4 table, by a netlink dump."""
    with NetlinkSocket(namespace=ns) as sock:
        request = nl.RouteMessage(family=socket.AF_INET, table=nl.RT_TABLE_MAIN, protocol=protocol, type=0).encode(
            nl.MsgType.GETROUTE, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 0)
        return sum(1 for t, body in sock.dump(request) if t == nl.MsgType.NEWROUTE and body[5] == protocol
                   and body[4] == nl.RT_TABLE_MAIN)


def wait_kernel(counter: RouteCounter, ns: str, protocol: int, target: int, timeout_s: float) -> float | None:
    """When the kernel held exactly ``target`` routes: events first, then a dump confirms it."""
    t = counter.wait_for(lambda c: c == target if target == 0 else c >= target, timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if kernel_count(ns, protocol) == target:
            return t if t is not None else time.monotonic()
        t = None  # the events overcounted (replacements): poll the dump from here on
        time.sleep(0.2)
    return None


# --- peers -------------------------------------------------------------------------------------

class IdlePeer(threading.Thread):
    """A session with hold time 3 s that only keeps itself alive and records KEEPALIVE times."""

    def __init__(self, ns: str) -> None:
        super().__init__(daemon=True)
        self.ns = ns
        self.sock = socket.socket()
        self.times: list[float] = []
        self.down: str | None = None
        self.stopping = False

    def open(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            self.sock.close()
            with netns(self.ns):
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind((IDLE_IP, 0))
            try:
                self.sock.settimeout(2)
                self.sock.connect((DUT_IP, 179))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        caps = (Multiprotocol(1, 1), FourOctetAs(IDLE_AS))
        self.sock.sendall(encode_open(Open(IDLE_AS, 3, IDLE_IP, caps)) + KEEPALIVE)
        self.sock.settimeout(0.25)
        self.start()

    def run(self) -> None:
        buf = b""
        next_ka = time.monotonic() + 1.0
        while not self.stopping:
            now = time.monotonic()
            if now >= next_ka:
                try:
                    self.sock.sendall(KEEPALIVE)
                except OSError as exc:
                    self.down = f"send: {exc}"
                    return
                next_ka = now + 1.0
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as exc:
                self.down = f"recv: {exc}"
                return
            if not data:
                self.down = "closed by the router"
                return
            t = time.monotonic()
            buf += data
            while len(buf) >= 19 and len(buf) >= (length := (buf[16] << 8) | buf[17]):
                msg_type, body, buf = buf[18], buf[19:length], buf[length:]
                if msg_type == MsgType.KEEPALIVE:
                    self.times.append(t)
                elif msg_type == MsgType.NOTIFICATION:
                    self.down = f"NOTIFICATION {body[:2].hex()}"

    def longest_gap(self, start: float, end: float) -> float | None:
        times = [t for t in self.times if start - 1.5 <= t <= end + 0.01]
        inside = [b - a for a, b in zip(times, times[1:]) if b >= start]
        return max(inside) if inside else None

    def close(self) -> None:
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _drain(sock: socket.socket) -> None:
    """Read (and drop) what the router sends the feeder: KEEPALIVEs, End-of-RIB."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def feed(ns: str, table: Path) -> tuple[socket.socket, float, float]:
    """Open the feeder's session and stream the table; (socket, first UPDATE time, last byte time)."""
    data = table.read_bytes()
    with netns(ns):
        sock, _rest = feeder.connect(DUT_IP, 179, FEED_IP, FEED_AS, FEED_IP)
    threading.Thread(target=_drain, args=(sock,), daemon=True).start()
    view = memoryview(data)
    t0 = time.monotonic()
    for start, end in feeder._message_aligned(data, 1 << 20):
        sock.sendall(view[start:end])
    sock.sendall(encode_end_of_rib(IPV4_UNICAST, DEFAULT_CONTEXT))
    return sock, t0, time.monotonic()


# --- one run -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    router: str
    routes: int
    round: int
    install_s: float | None = None
    withdraw_s: float | None = None
    install_cpu_s: float | None = None
    withdraw_cpu_s: float | None = None
    rss_mib: float | None = None
    keepalive_gap_s: float | None = None
    install_keepalive_gap_s: float | None = None
    idle_session: str = "up"
    note: str = ""


PROFILE_DIR: Path | None = None  # --profile: py-spy samples of the bgpcore node per phase


def _profile(router: str, pid: int, phase: str, n: int, rnd: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the router (bgpcore only) until SIGINT: collapsed stacks per phase."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if PROFILE_DIR is None or router != "bgpcore" or not Path(spy).exists():
        return None
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    out = PROFILE_DIR / f"{phase}-{n}-r{rnd}.txt"
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def _stop_profile(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_one(router: str, n: int, table: Path, rnd: int, timeout_s: float) -> Result:
    result = Result(router, n, rnd)
    tag = f"e2e{os.getpid()}"
    dut, fns = f"{tag}d", f"{tag}f"
    work = Path(tempfile.mkdtemp(prefix=f"bench-e2e-{router}-"))
    procs: list[subprocess.Popen[bytes]] = []
    idle: IdlePeer | None = None
    counter: RouteCounter | None = None
    sock: socket.socket | None = None
    try:
        for ns in (dut, fns):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        sh("ip", "link", "add", "vD", "netns", dut, "type", "veth", "peer", "name", "vF", "netns", fns)
        sh("ip", "-n", dut, "addr", "add", f"{DUT_IP}/24", "dev", "vD")
        sh("ip", "-n", fns, "addr", "add", f"{FEED_IP}/24", "dev", "vF")
        sh("ip", "-n", fns, "addr", "add", f"{IDLE_IP}/24", "dev", "vF")
        sh("ip", "-n", dut, "link", "set", "vD", "up")
        sh("ip", "-n", fns, "link", "set", "vF", "up")
        counter = RouteCounter(dut, PROTOCOLS[router])
        counter.start()
        procs = ROUTERS[router](dut, work)
        time.sleep(1.0)
        pids = [p for proc in procs for p in _tree(proc.pid)]
        idle = IdlePeer(fns)
        idle.open()
        time.sleep(1.5)
        spy = _profile(router, procs[0].pid, "install", n, rnd)
        cpu0 = cpu_seconds(pids)
        sock, t_first, _t_sent = feed(fns, table)
        t_full = wait_kernel(counter, dut, PROTOCOLS[router], n, timeout_s)
        _stop_profile(spy)
        if t_full is None:
            result.note = f"kernel held {kernel_count(dut, PROTOCOLS[router])} of {n} routes after {timeout_s:.0f} s"
            return result
        result.install_s = round(t_full - t_first, 2)
        result.install_keepalive_gap_s = _round(idle.longest_gap(t_first, t_full))
        pids = [p for proc in procs for p in _tree(proc.pid)]
        cpu1 = cpu_seconds(pids)
        result.install_cpu_s = round(cpu1 - cpu0, 2)
        time.sleep(2.0)
        spy = _profile(router, procs[0].pid, "withdraw", n, rnd)
        cpu1 = cpu_seconds(pids)
        t_close = time.monotonic()
        sock.shutdown(socket.SHUT_RDWR)  # a FIN now, whatever the drain thread is doing
        sock.close()
        sock = None
        t_empty = wait_kernel(counter, dut, PROTOCOLS[router], 0, timeout_s)
        if t_empty is None:
            result.note = f"kernel still held {kernel_count(dut, PROTOCOLS[router])} routes after {timeout_s:.0f} s"
            return result
        result.withdraw_s = round(t_empty - t_close, 2)
        result.withdraw_cpu_s = round(cpu_seconds(pids) - cpu1, 2)
        _stop_profile(spy)
        time.sleep(0.3)
        result.keepalive_gap_s = _round(idle.longest_gap(t_close, t_empty))
        result.rss_mib = round(peak_rss_mib(pids), 1)
        if idle.down:
            result.idle_session = idle.down
        return result
    finally:
        if sock is not None:
            sock.close()
        if idle is not None:
            idle.close()
        if counter is not None:
            counter.stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for ns in (dut, fns):
            sh("ip", "netns", "del", ns, check=False)
        for log in work.glob("*.log"):
            shutil.copy(log, CACHE / f"e2e-{router}-{log.name}")
        shutil.rmtree(work, ignore_errors=True)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 2) if vals else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, nargs="+", default=[600_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="bgpcore,frr,bird")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json")
    parser.add_argument("--profile", help="directory for py-spy stacks of the bgpcore node (install, withdraw)")
    args = parser.parse_args(argv)
    global PROFILE_DIR
    PROFILE_DIR = Path(args.profile) if args.profile else None
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    routers = [r for r in args.only.split(",") if r]
    results: list[Result] = []
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Linux {platform.release()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    for n in args.routes:
        table = table_file(n)
        for rnd in range(args.rounds):
            order = routers[rnd % len(routers):] + routers[:rnd % len(routers)]  # interleaved
            for router in order:
                r = run_one(router, n, table, rnd, args.timeout)
                results.append(r)
                print(json.dumps(dataclasses.asdict(r)), flush=True)
    print()
    print("| routes | router | install wall s | install CPU s | withdraw wall s | withdraw CPU s | peak RSS MiB "
          "| longest KEEPALIVE gap in withdraw s | idle session |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.routes:
        for router in routers:
            rs = [r for r in results if r.routes == n and r.router == router]
            print(f"| {n:,} | {router} | {_median([r.install_s for r in rs])} | {_median([r.install_cpu_s for r in rs])} "
                  f"| {_median([r.withdraw_s for r in rs])} | {_median([r.withdraw_cpu_s for r in rs])} "
                  f"| {_median([r.rss_mib for r in rs])} | {max((r.keepalive_gap_s or 0) for r in rs) if rs else None} "
                  f"| {', '.join(sorted({r.idle_session for r in rs}))} |")
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
