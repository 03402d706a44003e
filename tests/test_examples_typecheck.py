"""The examples type-check under ``mypy --strict``, use only the public API, and run.

* ``python -m mypy --strict examples/*.py`` reports no issue (mypy is in the test extras);
* the examples import from ``bgpcore`` itself, never from its modules (``bgpcore.x.y``);
* examples/rr.toml is a configuration ``bgpcore run`` accepts;
* examples/route_reflector.py, run on loopback, reflects a client's route to another client.
"""
from __future__ import annotations

import ast
import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bgpcore import BestPathChanged, NeighborConfig, Router, RouterConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
OWN_EXAMPLES = [ROOT / "examples" / "route_reflector.py", ROOT / "examples" / "peer_and_print.py"]


def test_examples_pass_mypy_strict() -> None:
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, EXAMPLES)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Success: no issues found"), proc.stdout


@pytest.mark.parametrize("path", OWN_EXAMPLES, ids=lambda p: p.name)
def test_examples_import_only_the_public_api(path: Path) -> None:
    import bgpcore

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bgpcore":
            assert node.module == "bgpcore", f"{path.name}:{node.lineno}: imports from {node.module}"
            for alias in node.names:
                assert alias.name in bgpcore.__all__, f"{path.name}:{node.lineno}: {alias.name} is not public"
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("bgpcore."), f"{path.name}:{node.lineno}: import {alias.name}"


def test_rr_toml_is_a_valid_configuration() -> None:
    config = load_config(ROOT / "examples" / "rr.toml")
    assert config.router.local_as == 64496
    assert sum(n.rr_client for n in config.router.neighbors) == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_route_reflector_example_reflects_between_clients() -> None:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples" / "route_reflector.py"), "127.0.0.1", str(port), "127.0.0.2",
        "127.0.0.3", "--duration", "4", "--report-every", "1", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f"('127.0.0.1', {port})" in first.decode(), first

        def client(address: str) -> Router:
            return Router(RouterConfig(local_as=64496, router_id=address, listen=(), neighbors=(
                NeighborConfig(address="127.0.0.1", remote_as=64496, port=port, source_address=address),)))

        async with client("127.0.0.2") as a, client("127.0.0.3") as b:
            events = b.events()
            a.announce("198.51.100.0/24")

            async def reflected() -> BestPathChanged:
                async for event in events:
                    if isinstance(event, BestPathChanged):
                        return event
                raise AssertionError("client stopped")

            change = await asyncio.wait_for(reflected(), 10)
            assert str(change.prefix) == "198.51.100.0/24"
            assert change.best.attrs.originator_id == "127.0.0.2"
            assert change.best.attrs.cluster_list == ("127.0.0.1",)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "127.0.0.2 up, router id 127.0.0.2" in text and "127.0.0.3 up, router id 127.0.0.3" in text
    assert "198.51.100.0/24 via 127.0.0.2 from 127.0.0.2" in text
    assert "{'127.0.0.2': 1, '127.0.0.3': 0} 1 prefixes in the Loc-RIB" in text, text
