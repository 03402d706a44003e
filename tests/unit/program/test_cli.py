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
