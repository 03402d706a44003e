"""MRT files of ``bgpcore run`` read by ``bgpdump -m``: a RIB dump says what ``show routes --json``
says at the same moment, and the update log holds the UPDATEs and state changes received.

Two raw BGP peers feed a generated table (IPv4 and IPv6) plus a prefix both announce (a
multipath set of two); the router originates one network of its own.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bgpcore.mrt import BgpMessage, RibEntry, StateChange, read_mrt
from bgpcore.program.config import parse_config
from bgpcore.program.control import request
from bgpcore.program.daemon import Daemon
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST
from bgpcore.wire.nlri import key_to_network, network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates, encode_withdrawals

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from benchmarks.feeder import connect  # noqa: E402
from benchmarks.generator import encode_table, generate_table  # noqa: E402

pytestmark = pytest.mark.interop

A, B = "127.0.0.2", "127.0.0.3"
ORIGINS = {"IGP": 0, "EGP": 1, "INCOMPLETE": 2}


def _config(tmp_path: Path) -> str:
    return f"""
[speaker]
asn = 65000
router_id = "127.0.0.1"
listen = ["127.0.0.1"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"
track_changes = true

[decision]
maximum_paths = 2
multipath_relax = true

[[networks]]
prefix = "198.51.100.0/24"
next_hop = "127.0.0.1"
communities = ["65000:100"]

[[neighbor]]
address = "{A}"
asn = 65001
passive = true

[[neighbor]]
address = "{B}"
asn = 65002
passive = true

[mrt]
dump_dir = "{tmp_path / 'mrt'}"
rib_interval = 0
updates_interval = 3600
"""


async def _until(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _bgpdump(path: str) -> list[list[str]]:
    out = subprocess.run(["bgpdump", "-m", path], capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _from_show(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for route in result["routes"]:
        for p in route["paths"]:
            rows.append((route["prefix"], "0.0.0.0" if p["from"] == "local" else p["from"], p["as_path"], p["origin"],
                         (p["next_hop"] or ["0.0.0.0"])[0], p["local_pref"] or 0, p["med"] or 0,
                         " ".join(p["communities"])))
    return rows


def _from_bgpdump(lines: list[list[str]]) -> list[tuple[Any, ...]]:
    rows = []
    for f in lines:
        assert f[0] == "TABLE_DUMP2" and f[2] == "B", f
        rows.append((f[5], f[3], f[6], ORIGINS[f[7]], f[8], int(f[9]), int(f[10]), f[11]))
    return rows


async def test_bgpdump_reads_the_rib_dump_as_show_routes_json_and_the_update_log(tmp_path: Path) -> None:
    if shutil.which("bgpdump") is None:
        pytest.skip("needs bgpdump (scripts/install-test-deps.sh)")
    daemon = Daemon(parse_config(_config(tmp_path)))
    await daemon.start()
    socks: list[socket.socket] = []
    try:
        port = daemon.router.listening[0][1]
        a, _ = await asyncio.to_thread(connect, "127.0.0.1", port, A, 65001, A)
        b, _ = await asyncio.to_thread(connect, "127.0.0.1", port, B, 65002, B)
        socks += [a, b]
        table = generate_table(1500, 300, seed=3)
        await asyncio.to_thread(a.sendall, b"".join(encode_table(table)))
        shared = network_key("192.0.2.0/24")
        for sock, asn, hop in ((a, 65001, A), (b, 65002, B)):
            attrs = PathAttributes(origin=0, as_path=((2, (asn, 64999)),), med=10, communities=(asn << 16 | 1,))
            for m in encode_updates(attrs, IPV4_UNICAST, (hop,), [shared, network_key("203.0.113.0/24")],
                                    DEFAULT_CONTEXT):
                sock.sendall(m)
        for m in encode_withdrawals(IPV4_UNICAST, [network_key("203.0.113.0/24")], DEFAULT_CONTEXT):
            b.sendall(m)
        expected = sum(len(g.keys) for g in table) + 3  # + 192.0.2.0/24, 203.0.113.0/24, the network
        await _until(lambda: daemon.router.route_count() == expected and len(daemon.router.route("192.0.2.0/24")) == 2
                     and daemon.router.route("203.0.113.0/24")[0].source.address == A)
        assert daemon.ops is not None
        dump = await daemon.ops.dump_rib()
        shown = await asyncio.to_thread(request, str(tmp_path / "ctl.sock"), "show routes", limit=1_000_000)
        b.close()
        socks.remove(b)
        await _until(lambda: len(daemon.router.route("192.0.2.0/24")) == 1)
    finally:
        for sock in socks:
            sock.close()
        await daemon.stop()

    assert shown["total"] == expected
    dumped = _from_bgpdump(_bgpdump(dump))
    assert sorted(dumped) == sorted(_from_show(shown))
    assert sum(1 for row in dumped if row[0] == "192.0.2.0/24") == 2
    ours = subprocess.run([sys.executable, "-m", "bgpcore", "mrt", dump], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.splitlines()
    assert ours == ["|".join(f) for f in _bgpdump(dump)]  # `bgpcore mrt` prints what bgpdump -m prints
    records = list(read_mrt(dump))
    assert sum(isinstance(r, RibEntry) for r in records) == len(dumped)

    logs = sorted((tmp_path / "mrt").glob("updates.*"))
    assert len(logs) == 1
    lines = _bgpdump(str(logs[0]))
    announced = {(f[3], f[5]) for f in lines if f[2] == "A"}
    fed = {(A, str(key_to_network(k, g.family[0]))) for g in table for k in g.keys}
    assert fed <= announced and (B, "203.0.113.0/24") in announced
    assert (B, "203.0.113.0/24") in {(f[3], f[5]) for f in lines if f[2] == "W"}
    states = [(f[3], f[5], f[6]) for f in lines if f[2] == "STATE"]
    assert states == [(A, "5", "6"), (B, "5", "6"), (B, "6", "1"), (A, "6", "1")], states
    log_records = list(read_mrt(str(logs[0])))
    assert sum(isinstance(r, StateChange) for r in log_records) == 4
    assert all(r.ctx.asn4 for r in log_records if isinstance(r, BgpMessage))
