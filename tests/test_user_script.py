"""A user's program against the public API, run as a user runs it: a subprocess, and mypy --strict.

``tests/scripts/embedded_rr.py`` imports only ``bgpcore`` names: a reflector with a feeder and
two clients on loopback, an event subscriber, an originated network, a withdraw and queries.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "scripts" / "embedded_rr.py"


def test_embedded_route_reflector_script_runs_end_to_end() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # both routes reached both clients before the withdraw; after it only the originated one is left
    assert seen["clients_have"] == [["203.0.113.0/24"], ["203.0.113.0/24"]]
    assert seen["reflected_originator_id"] == "127.0.0.2" and seen["reflected_cluster_list"] == ["127.0.0.1"]
    assert seen["reflected_local_pref"] == 200
    assert seen["event_prefixes"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert seen["event_reason"] == "ONLY_PATH" and seen["event_next_hop"] == ["127.0.0.2"]
    assert seen["lookup"] == ["198.51.100.0/24", "127.0.0.2"]
    assert seen["withdrawn"] == ["198.51.100.0/24"] and seen["after_withdraw"] == 1
    assert "Traceback" not in done.stderr


def test_embedded_route_reflector_script_passes_mypy_strict() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(SCRIPT)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
