"""The route reflector's RIB pipeline on a full table: receive, Loc-RIB, update group, encode.

    python benchmarks/bench_rib.py                          # 1 M IPv4 + 200 k IPv6, K = 4 and 16, py and fast, shards 1 and 2
    python benchmarks/bench_rib.py --ipv4 100000 --ipv6 20000 --clients 4 --path fast --shards 1
    python benchmarks/bench_rib.py --profile --path fast    # cProfile of receive + output, shards = 1

One feeder (an iBGP non-client, as a border router feeding a reflector) sends the generated
table (``benchmarks/generator.py``, cached in ``build/bench/``) to a ``Rib`` with K iBGP
route-reflector clients in one update group; ``next_messages(peer, 65536)`` is then pulled
for every peer, round robin, until every peer is drained (the feeder is pulled too: its
group walks the table and sends nothing back, as in a real program).

Each (codec path, shards, K) runs in a fresh process (``py`` with ``BGPCORE_NO_EXTENSIONS=1``);
figures are CPU µs per received prefix. "RIB loops" says whether ``bgpcore.rib.accel`` runs
the C loops of ``bgpcore_fast._rib`` (it does when ``bgpcore.wire.accel`` exports them):

- ``decode``: ``decode_update`` of every UPDATE body (done once, before the timed parts);
- ``receive``: ``Rib.receive`` of every decoded UPDATE (Adj-RIB-In, decision, Loc-RIB,
  dirty marking), plus ``flush``;
- ``output``: the ``next_messages`` loop (Adj-RIB-Out, grouping by attribute set, encode,
  the members reading the group's log); ``encode`` is the part of it spent in
  ``encode_updates``/``encode_withdrawals``: the calls are recorded during the run and
  replayed alone afterwards (shards = 1 only: workers encode in their own process);
- ``total`` = receive + output, and ``+decode``, the whole pipeline from wire to wire.

With shards > 1, CPU is the parent's plus every worker's (``/proc/PID/stat``), so it shows
the work; wall seconds show what the second core buys. GC: ``--gc freeze`` collects and
``gc.freeze()``\\ s the decoded input before timing and leaves the collector on with default
thresholds, as a program that froze once after start-up. ``--gc periodic`` (the default) also
freezes after every 1000 received UPDATEs and after every round of ``next_messages`` over the
peers, as shard workers do after every request: the RIB's objects are long-lived and acyclic
(reference counting frees them), so full collections need not walk them again and again.
``--gc off`` disables the collector in the parent for comparison.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generator import read_messages, table_file  # noqa: E402

FEEDER = 1
LOCAL = "10.0.0.254"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _cpu(rib: Any) -> float:
    """CPU seconds of this process and of the RIB's shard workers."""
    total = time.process_time()
    for shard in rib.shards:
        process = getattr(shard, "process", None)
        if process is not None and process.pid is not None:
            total += _proc_cpu(process.pid)
    return total


def worker(args: argparse.Namespace) -> dict[str, Any]:
    from bgpcore.rib import Rib, RibConfig, RibPeer
    from bgpcore.rib import accel as rib_accel
    from bgpcore.rib import adj_out
    from bgpcore.wire import accel
    from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST

    families = frozenset({IPV4_UNICAST, IPV6_UNICAST})
    bodies = [m[19:] for m in read_messages(args.table) if m[18] == 2]
    start = time.process_time()
    updates = [accel.decode_update(body, DEFAULT_CONTEXT) for body in bodies]
    decode_s = time.process_time() - start
    prefixes = sum(len(u.nlri) + (len(u.mp_reach.nlri) if u.mp_reach else 0) for u in updates)
    del bodies

    recorded: list[tuple[Any, ...]] = []
    if args.shards == 1 and not args.profile:
        # record every encode call of the output path, to replay them alone afterwards
        # (through bgpcore.wire.accel, or names bound in adj_out by older versions)
        where = adj_out if hasattr(adj_out, "encode_updates") else accel
        real_updates, real_withdrawals = where.encode_updates, where.encode_withdrawals

        def rec_updates(*a: Any) -> list[bytes]:
            recorded.append((real_updates, a))
            return real_updates(*a)

        def rec_withdrawals(*a: Any) -> list[bytes]:
            recorded.append((real_withdrawals, a))
            return real_withdrawals(*a)

        where.encode_updates, where.encode_withdrawals = rec_updates, rec_withdrawals  # type: ignore[assignment]

    config = RibConfig(local_asn=64496, router_id=LOCAL, shards=args.shards, track_changes=False)
    rib = Rib(config)
    feeder = RibPeer(asn=64496, router_id="10.0.0.1", address="10.0.0.1", local_address=LOCAL, families=families)
    rib.peer_up(FEEDER, feeder)
    clients = list(range(2, 2 + args.clients))
    for n in clients:
        rib.peer_up(n, RibPeer(asn=64496, router_id=f"10.0.1.{n}", address=f"10.0.1.{n}", local_address=LOCAL,
                                rr_client=True, families=families))
    peers = [FEEDER, *clients]
    gc.collect()
    gc.freeze()
    if args.gc == "off":
        gc.disable()
    profile = cProfile.Profile() if args.profile else None

    wall = time.perf_counter()
    start = _cpu(rib)
    if profile:
        profile.enable()
    receive = rib.receive
    periodic = args.gc == "periodic"
    for count, update in enumerate(updates):
        receive(FEEDER, update)
        if periodic and count % 1000 == 999:
            gc.freeze()
    rib.flush()
    receive_s = _cpu(rib) - start
    receive_wall = time.perf_counter() - wall

    wall = time.perf_counter()
    start = _cpu(rib)
    sent = dict.fromkeys(peers, 0)
    messages = dict.fromkeys(peers, 0)
    active = list(peers)
    while active:
        still = []
        for peer in active:
            out = rib.next_messages(peer, 65536)
            if out:
                sent[peer] += sum(map(len, out))
                messages[peer] += len(out)
                still.append(peer)
        active = still
        if periodic:
            gc.freeze()
    output_s = _cpu(rib) - start
    output_wall = time.perf_counter() - wall
    if profile:
        profile.disable()
    gc.enable()

    encode_s = None
    if recorded:
        start = time.process_time()
        for fn, a in recorded:
            fn(*a)
        encode_s = time.process_time() - start
    best = len(rib)
    rib.close()
    if len({sent[n] for n in clients}) != 1:
        raise SystemExit(f"clients received different amounts: {sent}")
    result = {"accelerated": accel.ACCELERATED, "rib_c": rib_accel.ACCELERATED, "shards": args.shards, "clients": args.clients,
              "updates": len(updates), "prefixes": prefixes, "loc_rib": best,
              "decode": decode_s, "receive": receive_s, "output": output_s, "encode": encode_s,
              "receive_wall": receive_wall, "output_wall": output_wall,
              "client_bytes": sent[clients[0]], "client_messages": messages[clients[0]],
              "feeder_messages": messages[FEEDER]}
    if profile:
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(args.top)
    return result


def measure(args: argparse.Namespace, path: str, shards: int, clients: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("BGPCORE_NO_EXTENSIONS", None)
    if path == "py":
        env["BGPCORE_NO_EXTENSIONS"] = "1"
    cmd = [sys.executable, __file__, "--worker", "--table", str(args.table), "--shards", str(shards),
           "--clients", str(clients), "--gc", args.gc]
    if args.profile:
        cmd += ["--profile", "--top", str(args.top)]
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    if (path == "fast") != result["accelerated"]:
        raise SystemExit(f"asked for the {path} path but accel.ACCELERATED is {result['accelerated']}")
    result["path"] = path
    return result


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    first = results[0]
    print(f"# generated v4 {args.ipv4} + v6 {args.ipv6}, seed {args.seed}: {first['updates']} UPDATEs, "
          f"{first['prefixes']} prefixes; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"GC {args.gc}; CPU µs per prefix (wall s)")
    print("| path | RIB loops | shards | K | decode | receive | output | of which encode | total | +decode | "
          "receive wall s | output wall s | msgs/client |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        n = r["prefixes"] / 1e6
        enc = "" if r["encode"] is None else f"{r['encode'] / n:.2f}"
        total = (r["receive"] + r["output"]) / n
        loops = "C" if r.get("rib_c") else "py"
        print(f"| {r['path']} | {loops} | {r['shards']} | {r['clients']} | {r['decode'] / n:.2f} | {r['receive'] / n:.2f} | "
              f"{r['output'] / n:.2f} | {enc} | {total:.2f} | {total + r['decode'] / n:.2f} | "
              f"{r['receive_wall']:.2f} | {r['output_wall']:.2f} | {r['client_messages']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--path", choices=("py", "fast", "both"), default="both")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--gc", choices=("freeze", "periodic", "off"), default="periodic")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of receive + output (stderr)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.shards, args.clients = args.shards[0], args.clients[0]
        print(json.dumps(worker(args)))
        return 0
    args.table = table_file(args.ipv4, args.ipv6, args.seed, args.cache)
    paths = ("py", "fast") if args.path == "both" else (args.path,)
    results = [measure(args, path, shards, clients)
               for path in paths for shards in args.shards for clients in args.clients]
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
