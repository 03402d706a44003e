"""The Cython fast path against the pure-Python codec, on the same UPDATEs, one core.

    python benchmarks/bench_fast.py                                    # generated 1 M IPv4 + 200 k IPv6
    python benchmarks/bench_fast.py --mrt ../shared/data/mrt/ripe-bgpdump/updates.et-header.2015.gz
    python benchmarks/bench_fast.py --ipv4 100000 --ipv6 20000 --repeat 3

For each path (``py`` runs with ``BGPCORE_NO_EXTENSIONS=1``) a fresh process measures:
``frame`` (split_messages over the whole byte stream), ``decode`` (decode_update of every
UPDATE, results dropped: the codec's own speed), ``decode+keep`` (results kept as a RIB
keeps them, cyclic GC on: what a program sees), and for the generated table ``encode``
(encode_updates of every attribute group). Times are the best of ``--repeat`` runs (one run
for ``decode+keep``); "kept" is the RSS the kept results add; peak RSS is the process's
``ru_maxrss``. ``--no-gc`` shows what the cyclic garbage collector costs a program that keeps
a table of decoded UPDATEs (it walks every kept list and tuple again at each full collection). Seconds are CPU seconds of the one process (``process_time``),
so other work on the machine does not count. The last column is how many times faster ``fast`` is.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generator import generate_table, table_file  # noqa: E402


def _load(args: argparse.Namespace) -> tuple[bytes, list[tuple[bytes, Any]]]:
    """The byte stream and its UPDATEs as (body, context)."""
    from bgpcore.wire.context import DEFAULT_CONTEXT

    if args.mrt:
        from bgpcore.mrt import BgpMessage, read_mrt

        records = [r for r in read_mrt(args.mrt) if isinstance(r, BgpMessage) and len(r.message) >= 19]
        stream = b"".join(r.message for r in records)
        return stream, [(r.message[19:], r.ctx) for r in records if r.message[18] == 2]
    stream = args.table.read_bytes()
    from bgpcore.wire.framing import split_messages

    messages, _ = split_messages(stream, 65535)
    return stream, [(body, DEFAULT_CONTEXT) for msg_type, body in messages if msg_type == 2]


def _prefixes(update: Any) -> int:
    n = len(update.withdrawn) + len(update.nlri)
    for mp in (update.mp_reach, update.mp_unreach):
        if mp is not None:
            n += len(mp.nlri)
    return n


def _best(repeat: int, run: Callable[[], object]) -> float:
    """Least CPU time of ``repeat`` runs: on a shared machine, wall time also counts the neighbours."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(args: argparse.Namespace) -> None:
    """Every measurement of one path in this process; prints one JSON line."""
    from bgpcore.errors import ProtocolError
    from bgpcore.wire import accel

    stream, items = _load(args)
    decode, split = accel.decode_update, accel.split_messages
    if args.no_gc:
        gc.disable()

    def decode_all(keep: list[Any] | None = None) -> int:
        prefixes = 0
        for body, ctx in items:
            try:
                update = decode(body, ctx)
            except ProtocolError:
                continue
            if keep is not None:
                keep.append(update)
            prefixes += _prefixes(update)
        return prefixes

    prefixes = decode_all()
    result: dict[str, Any] = {"accelerated": accel.ACCELERATED, "messages": len(items), "prefixes": prefixes,
                              "stream_messages": len(split(stream, 65535)[0])}
    result["frame"] = _best(args.repeat, lambda: split(stream, 65535))

    def decode_and_drop() -> None:
        for body, ctx in items:
            try:
                decode(body, ctx)
            except ProtocolError:
                pass

    result["decode"] = _best(args.repeat, decode_and_drop)
    before = _rss_mib()
    start = time.process_time()
    kept: list[Any] = []
    decode_all(kept)
    result["decode+keep"] = time.process_time() - start
    result["kept_mib"] = _rss_mib() - before
    del kept
    if not args.mrt:
        groups = generate_table(args.ipv4, args.ipv6, args.seed)
        encode = accel.encode_updates
        from bgpcore.wire.context import DEFAULT_CONTEXT as ctx


        def encode_all() -> None:
            for g in groups:
                encode(g.attributes, g.family, g.next_hop, g.keys, ctx)

        result["encode"] = _best(args.repeat, encode_all)
        result["groups"] = len(groups)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(args: argparse.Namespace, path: str) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("BGPCORE_NO_EXTENSIONS", None)
    if path == "py":
        env["BGPCORE_NO_EXTENSIONS"] = "1"
    cmd = [sys.executable, __file__, "--worker", "--repeat", str(args.repeat), "--ipv4", str(args.ipv4),
           "--ipv6", str(args.ipv6), "--seed", str(args.seed)]
    cmd += ["--mrt", str(args.mrt)] if args.mrt else ["--table", str(args.table)]
    if args.no_gc:
        cmd.append("--no-gc")
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    if (path == "fast") != result["accelerated"]:
        raise SystemExit(f"asked for the {path} path but accel.ACCELERATED is {result['accelerated']}")
    return result


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    any_result = next(iter(results.values()))
    source = f"MRT {args.mrt.name}" if args.mrt else f"generated v4 {args.ipv4} + v6 {args.ipv6}, seed {args.seed}"
    print(f"# {source}: {any_result['messages']} UPDATEs, {any_result['prefixes']} prefixes; "
          f"Python {platform.python_version()}, {platform.machine()}, best of {args.repeat}"
          f"{', cyclic GC off' if args.no_gc else ''}")
    print("| work | path | CPU s | prefixes/s | messages/s | kept MiB | peak RSS MiB | fast/py |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    works = ["frame", "decode", "decode+keep"] + ([] if args.mrt else ["encode"])
    for work in works:
        for path, r in results.items():
            seconds = r[work]
            messages = {"frame": r["stream_messages"], "encode": r.get("groups", 0)}.get(work, r["messages"])
            prefixes = "" if work == "frame" else f"{r['prefixes'] / seconds:,.0f}"
            ratio = ""
            if path == "fast" and "py" in results:
                ratio = f"{results['py'][work] / seconds:.1f}x"
            unit = "groups/s" if work == "encode" else ""
            kept = f"{r['kept_mib']:.0f}" if work == "decode+keep" else ""
            print(f"| {work} | {path} | {seconds:.3f} | {prefixes} | {messages / seconds:,.0f}{' ' + unit if unit else ''} | "
                  f"{kept} | {r['peak_mib']:.0f} | {ratio} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--path", choices=("py", "fast", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; the best is kept")
    parser.add_argument("--mrt", type=Path, help="decode the BGP4MP UPDATEs of this MRT file instead of the generated table")
    parser.add_argument("--no-gc", action="store_true", help="disable the cyclic garbage collector in the workers")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if not args.mrt:
        args.table = table_file(args.ipv4, args.ipv6, args.seed, args.cache)
    paths = ("py", "fast") if args.path == "both" else (args.path,)
    report(args, {path: measure(args, path) for path in paths})
    return 0


if __name__ == "__main__":
    sys.exit(main())
