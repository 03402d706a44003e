"""``bgpcore demo``: a route reflector reflecting a generated table to clients, on loopback.

Runs ``bgpcore run`` as its own process on 127.0.0.1 (a free port, no root needed), one
feeder (127.0.0.2) and N clients (127.0.0.10 onwards) built on the codec, from the source
tree's ``benchmarks/feeder.py``. Shows a progress bar while the clients fill up, then how long
the table took to reach every client and the reflector's peak memory.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from bgpcore.errors import BgpError

_CLIENT_BASE = 10


def _source_tree() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "feeder.py").is_file():
        raise BgpError("the demo needs the source tree's benchmarks/ (feeder and generator); run it from a checkout")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(port: int, clients: int, shards: int, control: Path) -> str:
    lines = ["[speaker]", "asn = 64496", 'router_id = "127.0.0.1"', 'listen = ["127.0.0.1"]', f"port = {port}",
             f"shards = {shards}", f'control_socket = "{control}"', ""]
    for address in ["127.0.0.2"] + [f"127.0.0.{_CLIENT_BASE + i}" for i in range(clients)]:
        lines += ["[[neighbor]]", f'address = "{address}"', "asn = 64496", "rr_client = true", "passive = true", ""]
    return "\n".join(lines)


def _lines(stream: IO[bytes], out: queue.Queue[dict[str, Any]]) -> None:
    for raw in stream:
        try:
            out.put(json.loads(raw))
        except ValueError:
            pass


def _tree_status(pid: int, field: str) -> int:
    """Sum of a /proc status field (kB) over a process and its children (shard workers)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
            for children in Path(f"/proc/{p}/task").glob("*/children"):
                todo += [int(c) for c in children.read_text().split()]
        except OSError:
            pass
    return total


def _bar(fraction: float, elapsed: float, width: int = 40) -> str:
    done = int(width * min(fraction, 1.0))
    return f"\r  [{'#' * done}{'.' * (width - done)}] {100 * min(fraction, 1.0):5.1f}%  {elapsed:5.1f} s"


def run_demo(prefixes: int, clients: int, shards: int, seed: int, timeout_s: float = 600.0) -> int:
    """Run the demo; returns 0 when every client received the whole table."""
    if not 1 <= clients <= 200:
        raise BgpError("--clients must be 1..200")
    root = _source_tree()
    sys.path.insert(0, str(root))
    from benchmarks.feeder import nlri_octets
    from benchmarks.generator import table_file

    ipv6 = prefixes // 6
    ipv4 = prefixes - ipv6
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bgpcore"
    print(f"generating a table of {ipv4} IPv4 + {ipv6} IPv6 prefixes (seed {seed}) ...", flush=True)
    table = table_file(ipv4, ipv6, seed, cache)
    expect = nlri_octets(table.read_bytes())
    work = Path(tempfile.mkdtemp(prefix="bgpcore-demo-"))
    port = _free_port()
    (work / "rr.toml").write_text(_config(port, clients, shards, work / "control.sock"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    feeder_py = str(root / "benchmarks" / "feeder.py")
    procs: list[subprocess.Popen[bytes]] = []
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def spawn(cmd: list[str], log_name: str | None = None) -> subprocess.Popen[bytes]:
        out = open(work / log_name, "wb") if log_name else subprocess.PIPE
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log_name else None,
                                stdin=subprocess.PIPE, env=env)
        procs.append(proc)
        if proc.stdout is not None:
            threading.Thread(target=_lines, args=(proc.stdout, events), daemon=True).start()
        return proc

    try:
        rr = spawn([sys.executable, "-m", "bgpcore", "run", "--config", str(work / "rr.toml")], "rr.log")
        print(f"reflector: 127.0.0.1 port {port}, {shards} shard(s), {clients} clients; log in {work / 'rr.log'}")
        spawn([sys.executable, feeder_py, "receive", "--peer", "127.0.0.1", "--port", str(port),
               "--source", f"127.0.0.{_CLIENT_BASE}", "--clients", str(clients), "--expect", str(expect),
               "--progress", "0.2"])
        _wait_for(events, "established", clients, 60.0, rr)
        spawn([sys.executable, feeder_py, "send", "--peer", "127.0.0.1", "--port", str(port),
               "--source", "127.0.0.2", "--table", str(table)])
        t0 = _progress(events, expect, clients, timeout_s, rr)
        cpu = _cpu_s(rr.pid)
        peak_kib = _tree_status(rr.pid, "VmHWM")
        seconds = time.monotonic() - t0 if t0 else 0.0
        print(f"\n{prefixes} prefixes reflected to {clients} clients in {seconds:.2f} s: "
              f"{prefixes / seconds:,.0f} prefixes/s ({prefixes * clients / seconds:,.0f} prefix-deliveries/s); "
              f"reflector CPU {cpu:.1f} s, peak memory {peak_kib / 1024:.0f} MiB")
        from bgpcore.program.control import request
        from bgpcore.program.render import render_neighbors
        print(render_neighbors(request(str(work / "control.sock"), "show neighbors")))
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for(events: queue.Queue[dict[str, Any]], kind: str, count: int, timeout_s: float,
              rr: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while seen < count:
        if rr.poll() is not None:
            raise BgpError(f"the reflector exited with status {rr.returncode}; see its log")
        try:
            if events.get(timeout=max(0.0, min(1.0, deadline - time.monotonic()))).get("event") == kind:
                seen += 1
        except queue.Empty:
            if time.monotonic() > deadline:
                raise BgpError(f"only {seen} of {count} clients reached Established") from None


def _progress(events: queue.Queue[dict[str, Any]], expect: int, clients: int, timeout_s: float,
              rr: subprocess.Popen[bytes]) -> float:
    """Draw the bar until every client is full; returns the feeder's first-UPDATE time."""
    t0 = 0.0
    full = 0
    deadline = time.monotonic() + timeout_s
    fraction = 0.0
    while full < clients:
        if rr.poll() is not None or time.monotonic() > deadline:
            raise BgpError("the reflector exited" if rr.returncode is not None else "timed out")
        try:
            event = events.get(timeout=0.5)
        except queue.Empty:
            continue
        kind = event.get("event")
        if kind == "first_update":
            t0 = float(event["t"])
        elif kind == "full":
            full += 1
        elif kind == "progress":
            fraction = min(event["announced"]) / expect
        if t0:
            print(_bar(1.0 if full == clients else fraction, time.monotonic() - t0), end="", flush=True)
    return t0
