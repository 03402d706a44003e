"""UPDATE codec throughput: prefixes/s and messages/s for decode and encode, with peak memory.

    python benchmarks/bench_codec.py                        # 1 M IPv4 + 200 k IPv6, pure Python
    python benchmarks/bench_codec.py --path both --repeat 3
    python benchmarks/bench_codec.py --ipv4 100000 --ipv6 20000 --profile decode
    python benchmarks/bench_codec.py --mrt ../shared/data/mrt/ripe-bgpdump/updates.et-header.2015.gz

Rates are per CPU second of the measuring process (``time.process_time``), so other load on
the machine distorts them less than wall time, which is shown too.

Each measurement runs in its own process so its peak RSS (``ru_maxrss``) is its own; the
"results" column is the RSS that the kept output adds (decoded values are kept until the
end, as a RIB would keep them; encoded messages likewise), "peak" is the whole process
including its input. The generated table is cached as raw
UPDATE messages under ``--cache`` (default ``build/bench``).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generator import generate_table, read_messages, table_file  # noqa: E402


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_kib() -> int:
    """Resident set size now (the second field of /proc/self/statm is in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def codec_module(path: str) -> ModuleType:
    """The UPDATE codec for ``py`` or ``fast``; fails when ``fast`` is asked and not built."""
    if path == "py":
        os.environ["BGPCORE_NO_EXTENSIONS"] = "1"
    try:
        accel = importlib.import_module("bgpcore.wire.accel")
    except ImportError:
        if path == "fast":
            raise SystemExit("bgpcore.wire.accel is not available: no fast path to measure")
        return importlib.import_module("bgpcore.wire.update")
    if path == "fast" and not getattr(accel, "ACCELERATED", False):
        raise SystemExit("the bgpcore_fast extension did not load (build it with pip install -e .)")
    return accel


def _count(update: Any) -> int:
    n = len(update.withdrawn) + len(update.nlri)
    if update.mp_reach is not None:
        n += len(update.mp_reach.nlri)
    if update.mp_unreach is not None:
        n += len(update.mp_unreach.nlri)
    return n


def _updates_from_mrt(path: Path) -> list[tuple[bytes, Any]]:
    """(body, context) of every UPDATE in the BGP4MP records of an MRT file."""
    from bgpcore.constants import MsgType
    from bgpcore.mrt import BgpMessage, read_mrt

    return [(r.message[19:], r.ctx) for r in read_mrt(path)
            if isinstance(r, BgpMessage) and len(r.message) > 19 and r.message[18] == MsgType.UPDATE]


def work_decode(codec: ModuleType, items: list[tuple[bytes, Any]], keep: list[Any]) -> int:
    """Decode every (body, context); an UPDATE that would reset the session counts no prefix."""
    from bgpcore.errors import ProtocolError

    decode = codec.decode_update
    prefixes = 0
    for body, ctx in items:
        try:
            update = decode(body, ctx)
        except ProtocolError as exc:
            keep.append(exc)
            continue
        keep.append(update)
        prefixes += _count(update)
    return prefixes


def work_encode(codec: ModuleType, groups: list[Any], keep: list[Any]) -> int:
    from bgpcore.wire import update as py_codec
    from bgpcore.wire.context import DEFAULT_CONTEXT as ctx

    encode = getattr(codec, "encode_updates", py_codec.encode_updates)
    prefixes = 0
    for g in groups:
        keep += encode(g.attributes, g.family, g.next_hop, g.keys, ctx)
        prefixes += len(g.keys)
    return prefixes


def worker(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line."""
    from bgpcore.wire.context import DEFAULT_CONTEXT

    codec = codec_module(args.path)
    items: list[Any]
    if args.op == "encode":
        items = generate_table(args.ipv4, args.ipv6, args.seed)
        run: Callable[[ModuleType, list[Any], list[Any]], int] = work_encode
    else:
        run = work_decode
        if args.mrt:
            items = _updates_from_mrt(args.mrt)
        else:
            items = [(m[19:], DEFAULT_CONTEXT) for m in read_messages(args.table)]
    if args.no_gc:
        gc.disable()
    baseline = _rss_kib()
    best = best_wall = float("inf")
    prefixes = messages = held = 0
    for _ in range(args.repeat):
        keep: list[Any] = []
        profiler = cProfile.Profile() if args.profile == args.op else None
        start, start_wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        prefixes = run(codec, items, keep)
        if profiler:
            profiler.disable()
        best = min(best, time.process_time() - start)
        best_wall = min(best_wall, time.perf_counter() - start_wall)
        messages = len(items) if args.op == "decode" else len(keep)
        held = max(held, _rss_kib() - baseline)
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(15)
        del keep
    print(json.dumps({"op": args.op, "path": args.path, "prefixes": prefixes, "messages": messages,
                      "seconds": best, "wall_seconds": best_wall, "held_kib": held, "maxrss_kib": _peak_rss_kib(),
                      "accelerated": getattr(codec, "ACCELERATED", False)}))


def measure(args: argparse.Namespace, op: str, path: str, table: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", op, "--path", path, "--table", str(table),
           "--ipv4", str(args.ipv4), "--ipv6", str(args.ipv6), "--seed", str(args.seed), "--repeat", str(args.repeat)]
    if args.mrt:
        cmd += ["--mrt", str(args.mrt)]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.no_gc:
        cmd.append("--no-gc")
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(res.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--path", choices=("py", "fast", "both"), default="py")
    parser.add_argument("--op", choices=("decode", "encode", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best is kept")
    parser.add_argument("--mrt", type=Path, help="decode the UPDATEs of this MRT file instead of the generated table")
    parser.add_argument("--profile", choices=("decode", "encode"), help="print a cProfile of that operation to stderr")
    parser.add_argument("--no-gc", action="store_true", help="disable the cyclic garbage collector in the timed runs")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--worker", choices=("decode", "encode"), help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.op = args.worker
        worker(args)
        return 0
    table = args.mrt if args.mrt else table_file(args.ipv4, args.ipv6, args.seed, args.cache)
    source = f"MRT {args.mrt.name}" if args.mrt else f"generated v4 {args.ipv4} + v6 {args.ipv6}, seed {args.seed}"
    print(f"# {source}, Python {sys.version.split()[0]}, best of {args.repeat}{', cyclic GC off' if args.no_gc else ''}")
    print("| op | path | prefixes | messages | CPU s | wall s | prefixes/s | messages/s | results MiB | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ops = ("decode", "encode") if args.op == "both" else (args.op,)
    if args.mrt:
        ops = ("decode",)
    for path in (("py", "fast") if args.path == "both" else (args.path,)):
        for op in ops:
            if path == "fast" and op == "encode" and not hasattr(codec_module("fast"), "encode_updates"):
                print("| encode | fast | (encoding has no fast path: same as py) ||||||||")
                continue
            r = measure(args, op, path, table)
            print(f"| {op} | {path} | {r['prefixes']} | {r['messages']} | {r['seconds']:.2f} | {r['wall_seconds']:.2f} | "
                  f"{r['prefixes'] / r['seconds']:,.0f} | {r['messages'] / r['seconds']:,.0f} | "
                  f"{r['held_kib'] / 1024:.0f} | {r['maxrss_kib'] / 1024:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
