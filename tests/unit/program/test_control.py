from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, Mapping

import pytest

from bgpcore.errors import BgpError
from bgpcore.program.control import ControlServer, request


def _handlers() -> dict[str, Any]:
    def echo(args: Mapping[str, Any]) -> Any:
        return {"got": dict(args)}

    def broken(args: Mapping[str, Any]) -> Any:
        raise BgpError("no such prefix")

    return {"echo": echo, "broken": broken}


async def test_request_gets_the_handler_result_over_the_socket(tmp_path: Path) -> None:
    server = ControlServer(str(tmp_path / "c.sock"), _handlers())
    await server.start()
    try:
        result = await asyncio.to_thread(request, server.path, "echo", prefix="192.0.2.0/24")
        assert result == {"got": {"prefix": "192.0.2.0/24"}}
        assert (tmp_path / "c.sock").stat().st_mode & 0o777 == 0o600
    finally:
        await server.stop()
    assert not (tmp_path / "c.sock").exists()


async def test_errors_come_back_as_bgp_errors(tmp_path: Path) -> None:
    server = ControlServer(str(tmp_path / "c.sock"), _handlers())
    await server.start()
    try:
        with pytest.raises(BgpError, match="no such prefix"):
            await asyncio.to_thread(request, server.path, "broken")
        with pytest.raises(BgpError, match="unknown command 'show bananas'; known: broken, echo"):
            await asyncio.to_thread(request, server.path, "show bananas")
    finally:
        await server.stop()


async def test_several_requests_on_one_connection_and_a_bad_line(tmp_path: Path) -> None:
    server = ControlServer(str(tmp_path / "c.sock"), _handlers())
    await server.start()

    def talk() -> list[dict[str, Any]]:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(server.path)
            s.sendall(b'{"command": "echo", "args": {"a": 1}}\nnot json\n{"command": "echo"}\n')
            data = b""
            while data.count(b"\n") < 3:
                data += s.recv(4096)
        return [json.loads(line) for line in data.splitlines()]

    try:
        first, second, third = await asyncio.to_thread(talk)
    finally:
        await server.stop()
    assert first == {"ok": True, "result": {"got": {"a": 1}}}
    assert second["ok"] is False and second["error"].startswith("bad request")
    assert third == {"ok": True, "result": {"got": {}}}


async def test_stale_socket_is_replaced_but_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a crashed instance
    first = ControlServer(str(path), _handlers())
    await first.start()
    try:
        with pytest.raises(BgpError, match="in use by a running instance"):
            await ControlServer(str(path), _handlers()).start()
    finally:
        await first.stop()


def test_request_without_a_running_instance_says_so(tmp_path: Path) -> None:
    with pytest.raises(BgpError, match="no bgpcore instance on"):
        request(str(tmp_path / "none.sock"), "show neighbors")
