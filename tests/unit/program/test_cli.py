"""``bgpcore run``, ``bgpcore show`` and ``bgpcore demo`` as a user runs them: real processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def bgpcore(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bgpcore", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout_s, cwd=ROOT)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A ``bgpcore run`` whose two neighbors never come (passive, nobody connects)."""
    config = tmp_path / "rr.toml"
    config.write_text(f"""[speaker]
asn = 64496
router_id = "127.0.0.1"
listen = ["127.0.0.1"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"

[[neighbor]]
address = "127.0.0.21"
asn = 64496
rr_client = true
passive = true

[[neighbor]]
address = "127.0.0.22"
asn = 64497
passive = true
""")
    log = open(tmp_path / "rr.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bgpcore", "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
    deadline = time.monotonic() + 20
    while not (tmp_path / "ctl.sock").exists():
        assert proc.poll() is None, (tmp_path / "rr.log").read_text()
        assert time.monotonic() < deadline, "control socket never appeared"
        time.sleep(0.05)
    yield config, tmp_path / "rr.log"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    log.close()


def test_show_neighbors_text_and_json(running: tuple[Path, Path]) -> None:
    config, log = running
    text = bgpcore("show", "neighbors", "--config", str(config))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("Neighbor")
    assert any(line.startswith("127.0.0.21") and line.rstrip().endswith("yes") for line in lines)
    as_json = bgpcore("show", "neighbors", "--config", str(config), "--json")
    rows = {r["peer"]: r for r in json.loads(as_json.stdout)}
    assert rows["127.0.0.21"]["rr_client"] is True and rows["127.0.0.22"]["remote_as"] == 64497
    assert all(r["state"] != "ESTABLISHED" for r in rows.values())
    assert "UPDATE codec: " in log.read_text()  # the start line says which codec path runs


def test_show_routes_of_an_empty_rib(running: tuple[Path, Path]) -> None:
    config, _ = running
    one = bgpcore("show", "routes", "203.0.113.0/24", "--config", str(config), "--json")
    assert json.loads(one.stdout) == {"total": 0, "routes": []}
    bad = bgpcore("show", "routes", "not-a-prefix", "--config", str(config))
    assert bad.returncode == 1 and "'not-a-prefix' is not a prefix" in bad.stderr
    fib = bgpcore("show", "fib", "--config", str(config))
    assert "0 routes (not installed" in fib.stdout


def test_show_without_an_instance_fails_clearly(tmp_path: Path) -> None:
    res = bgpcore("show", "neighbors", "--socket", str(tmp_path / "none.sock"))
    assert res.returncode == 1 and "no bgpcore instance on" in res.stderr


def test_run_with_bad_config_names_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[speaker]\nasn = 64496\nrouter_id = "192.0.2.1"\nshards = 0\n')
    res = bgpcore("run", "--config", str(config))
    assert res.returncode == 2  # a configuration error
    assert f"{config}:4: speaker.shards: an integer from 1 to 64" in res.stderr


def test_demo_reflects_a_small_table_to_every_client(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "bgpcore", "demo", "--prefixes", "3000", "--clients", "2"],
                         capture_output=True, text=True, env={**ENV, "XDG_CACHE_HOME": str(tmp_path)}, timeout=120,
                         cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3000 prefixes reflected to 2 clients in" in res.stdout
    assert "peak memory" in res.stdout and "100.0%" in res.stdout
    rows = [line for line in res.stdout.splitlines() if line.startswith("127.0.0.")]
    assert len(rows) == 3 and all("ESTABLISHED" in r for r in rows)
    feeder = next(r for r in rows if r.startswith("127.0.0.2 "))
    assert feeder.split()[4] == "3000"  # PfxRcd from the feeder


def test_version() -> None:
    from bgpcore import __version__

    res = bgpcore("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"bgpcore {__version__}"


def test_cli_argument_errors_are_short(running: tuple[Path, Path]) -> None:
    config, _ = running
    for args, error in ((("show", "routes", "--limit", "-1"), "argument --limit: must be a non-negative integer, not '-1'"),
                        (("show", "neighbor"), "usage: bgpcore show neighbor ADDR|IFACE"),
                        (("show", "route", "192.0.2.0/24"), "usage: bgpcore show route PREFIX explain"),
                        (("show", "fib", "--longer"), "--longer and --shorter go with 'show routes PREFIX'"),
                        (("announce", "192.0.2.0/24", "med", "-3"), "med must be an integer from 0 to 4294967295"),
                        (("announce", "192.0.2.0/24", "colour", "red"), "unknown keyword 'colour'"),
                        (("neighbor", "127.0.0.21", "soft-in", "why"), "neighbor soft-in takes no message")):
        res = bgpcore(*args, "--config", str(config))
        assert res.returncode == 2, (args, res.stderr)
        assert error in res.stderr and "Traceback" not in res.stderr
        errors = [line for line in res.stderr.splitlines() if line and not line.startswith(("usage:", " "))]
        assert len(errors) == 1  # argparse's usage, then one line


def test_show_neighbor_explain_announce_and_neighbor_actions(running: tuple[Path, Path]) -> None:
    config, log = running
    detail = bgpcore("show", "neighbor", "127.0.0.21", "--config", str(config))
    assert detail.returncode == 0, detail.stderr
    assert detail.stdout.startswith("BGP neighbor 127.0.0.21, remote AS 64496")
    assert "capabilities sent: Multiprotocol(afi=1,safi=1)" in detail.stdout
    assert "last notification received: none" in detail.stdout
    missing = bgpcore("show", "neighbor", "127.0.0.99", "--config", str(config))
    assert missing.returncode == 1 and missing.stderr.strip() == "bgpcore: no neighbor 127.0.0.99"
    announced = bgpcore("announce", "198.51.100.0/24", "next-hop", "127.0.0.1", "communities", "64496:1", "64496:2",
                        "local-pref", "200", "as-path", "64511", "--config", str(config))
    assert announced.returncode == 0, announced.stderr
    routes = json.loads(bgpcore("show", "routes", "198.51.100.7", "--config", str(config), "--json").stdout)
    path = routes["routes"][0]["paths"][0]
    assert routes["routes"][0]["prefix"] == "198.51.100.0/24"
    assert path["communities"] == ["64496:1", "64496:2"] and path["local_pref"] == 200 and path["as_path"] == "64511"
    explain = bgpcore("show", "route", "198.51.100.0/24", "explain", "--config", str(config))
    assert explain.returncode == 0 and "#0 best from local" in explain.stdout
    longer = json.loads(bgpcore("show", "routes", "198.51.0.0/16", "--longer", "--config", str(config), "--json").stdout)
    assert longer["total"] == 1
    assert bgpcore("withdraw", "198.51.100.0/24", "--config", str(config)).returncode == 0
    assert json.loads(bgpcore("show", "routes", "--config", str(config), "--json").stdout)["total"] == 0
    shut = bgpcore("neighbor", "127.0.0.22", "shutdown", "planned", "maintenance", "--config", str(config))
    assert shut.returncode == 0, shut.stderr
    assert bgpcore("neighbor", "127.0.0.22", "enable", "--config", str(config)).returncode == 0
    assert '127.0.0.22: shutdown "planned maintenance" (control socket)' in log.read_text()


def _start(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bgpcore", "run", "--config", str(config), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=ROOT)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "control socket never appeared"
        time.sleep(0.05)


def _minimal(tmp_path: Path, listen: str = "127.0.0.1", port: int = 0, control: str | None = None,
             neighbors: str = "") -> Path:
    config = tmp_path / "r.toml"
    config.write_text(f"""[speaker]
asn = 64496
router_id = "192.0.2.1"
listen = ["{listen}"]
port = {port}
control_socket = "{control or tmp_path / 'ctl.sock'}"
{neighbors}""")
    return config


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_json_logs_sighup_reload_and_a_clean_exit(tmp_path: Path, sig: signal.Signals) -> None:
    config = _minimal(tmp_path)
    proc = _start(config, "--log-format", "json")
    _wait_for(tmp_path / "ctl.sock", proc)
    config.write_text(config.read_text() + '[[neighbor]]\naddress = "127.0.0.31"\nasn = 64497\npassive = true\n')
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        shown = bgpcore("show", "neighbors", "--config", str(config), "--json")
        if shown.returncode == 0 and json.loads(shown.stdout):
            break
        assert time.monotonic() < deadline, shown.stderr
        time.sleep(0.1)
    config.write_text("[speaker\n")
    proc.send_signal(signal.SIGHUP)  # a broken file: logged, the router keeps running
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    records = [json.loads(line) for line in out.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["message"].startswith("reload: 1 neighbor(s) added") for r in records)
    assert any("reload refused, running configuration kept" in r["message"] and r["level"] == "ERROR"
               for r in records)
    assert not (tmp_path / "ctl.sock").exists()


def test_start_up_failures_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    import socket as _socket

    def run(config: Path) -> subprocess.CompletedProcess[str]:
        return bgpcore("run", "--config", str(config))

    holder = _socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    try:
        res = run(_minimal(tmp_path, port=busy))
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert f"bgpcore: cannot listen on 127.0.0.1:{busy}: [Errno 98]" in res.stderr
        assert not (tmp_path / "ctl.sock").exists()
    finally:
        holder.close()
    res = run(_minimal(tmp_path, listen="192.0.2.77", port=1179))
    assert res.returncode == 1 and "bgpcore: cannot listen on 192.0.2.77:1179: [Errno 99]" in res.stderr
    assert not (tmp_path / "ctl.sock").exists()
    res = run(_minimal(tmp_path, control=str(tmp_path / "no" / "ctl.sock")))
    assert res.returncode == 1
    assert res.stderr.strip() == (f"bgpcore: control socket {tmp_path}/no/ctl.sock: directory {tmp_path}/no "
                                  "does not exist")
    res = run(_minimal(tmp_path, neighbors='[[neighbor]]\naddress = "127.0.0.31"\n'))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "r.toml:7: neighbor[1]: missing asn" in res.stderr
    # a stale socket (no instance behind it) is replaced; a live one is refused
    stale = _socket.socket(_socket.AF_UNIX)
    stale.bind(str(tmp_path / "ctl.sock"))
    stale.close()
    config = _minimal(tmp_path)
    first = _start(config)
    deadline = time.monotonic() + 20
    while bgpcore("show", "version", "--config", str(config)).returncode != 0:
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    try:
        res = run(config)
        assert res.returncode == 1
        assert res.stderr.strip() == f"bgpcore: control socket {tmp_path}/ctl.sock is in use by a running instance"
        assert (tmp_path / "ctl.sock").exists()  # the running instance's socket is left alone
    finally:
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=15)
    assert first.returncode == 0 and "removing a stale socket" in out and "Traceback" not in out
    assert not (tmp_path / "ctl.sock").exists()
