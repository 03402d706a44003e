from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, Mapping

import pytest

from bgpcore.errors import BgpError
from bgpcore.program.control import Arg, Command, ControlServer, flag, non_negative_int, request, text


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
            s.sendall(b'{"version": 1, "command": "echo", "args": {"a": 1}}\nnot json\n{"command": "echo"}\n')
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


# -- protocol version 1 and argument checks ---------------------------------------------------------

def _typed() -> list[Command]:
    def show(prefix: str, limit: int, longer: bool) -> Any:
        return {"prefix": prefix, "limit": limit, "longer": longer}

    return [Command("show x", show, (Arg("prefix", text), Arg("limit", non_negative_int, 100),
                                     Arg("longer", flag, False)))]


@pytest.mark.parametrize(("line", "error"), [
    (b'{"version": 2, "command": "show x"}', "unsupported protocol version 2; this instance speaks version 1"),
    (b'{"version": 1}', "bad request: 'command'"),
    (b'[1, 2]', "bad request: a request is a JSON object"),
    (b'{"command": 7}', "bad request: command must be a string"),
    (b'{"command": "show x", "args": [1]}', "bad request: args must be an object"),
    (b'{"command": "show x", "args": {}}', "show x: missing argument 'prefix'"),
    (b'{"command": "show x", "args": {"prefix": "p", "limit": -1}}', "show x: limit: must be a non-negative integer, not -1"),
    (b'{"command": "show x", "args": {"prefix": "p", "limit": true}}', "show x: limit: must be a non-negative integer, not True"),
    (b'{"command": "show x", "args": {"prefix": "p", "limit": "5"}}', "show x: limit: must be a non-negative integer, not '5'"),
    (b'{"command": "show x", "args": {"prefix": 5}}', "show x: prefix: must be a string, not 5"),
    (b'{"command": "show x", "args": {"prefix": "p", "longer": 1}}', "show x: longer: must be true or false, not 1"),
    (b'{"command": "show x", "args": {"prefix": "p", "bogus": 1}}', "show x: unknown argument 'bogus' (known: limit, longer, prefix)"),
])
def test_bad_requests_get_one_line_errors(line: bytes, error: str) -> None:
    reply = ControlServer("unused", _typed()).answer(line)
    assert reply == {"ok": False, "error": error}


def test_checked_arguments_reach_the_command_with_defaults() -> None:
    server = ControlServer("unused", _typed())
    reply = server.answer(b'{"version": 1, "command": "show x", "args": {"prefix": "p"}}')
    assert reply == {"ok": True, "result": {"prefix": "p", "limit": 100, "longer": False}}


def test_an_internal_error_is_one_line_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Any:
        raise KeyError("multi\nline")

    reply = ControlServer("unused", [Command("boom", broken)]).answer(b'{"command": "boom"}')
    assert reply["ok"] is False and "\n" not in reply["error"] and reply["error"].startswith("boom: internal error")
    assert "control command boom failed" in caplog.text


async def test_start_up_failures_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(BgpError, match=f"control socket {tmp_path}/missing/c.sock: directory {tmp_path}/missing does not exist"):
        await ControlServer(str(tmp_path / "missing" / "c.sock"), _handlers()).start()
    (tmp_path / "file").write_text("")
    with pytest.raises(BgpError, match="the path exists and is not a socket"):
        await ControlServer(str(tmp_path / "file"), _handlers()).start()
    assert (tmp_path / "file").exists()


# -- the daemon's commands, in-process on loopback with bgpcore.Router peers --------------------------

HUB, X, Y = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def _hub(tmp_path: Path) -> str:
    return f"""
[speaker]
asn = 65000
router_id = "{HUB}"
listen = ["{HUB}"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"

[[neighbor]]
address = "{X}"
asn = 65001
passive = true
soft_reconfiguration = true

[[neighbor]]
address = "{Y}"
asn = 65002
passive = true
"""


async def _until(predicate: Any, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_daemon_commands_over_the_socket(tmp_path: Path) -> None:
    from bgpcore import NeighborConfig, PathAttributes, Router, RouterConfig, parse_config
    from bgpcore.program.daemon import Daemon
    from bgpcore.session.timers import TimerSettings

    daemon = Daemon(parse_config(_hub(tmp_path)))
    await daemon.start()
    port = daemon.router.listening[0][1]
    peers = {a: Router(RouterConfig(local_as=asn, router_id=a, listen=(), neighbors=(
        NeighborConfig(address=HUB, remote_as=65000, port=port, source_address=a,
                       timers=TimerSettings(connect_retry_s=1, idle_hold_s=0.2)),))) for a, asn in ((X, 65001), (Y, 65002))}
    x, y = peers[X], peers[Y]

    async def ask(command: str, **args: Any) -> Any:
        return await asyncio.to_thread(request, daemon.control.path, command, **args)

    try:
        for r in peers.values():
            await r.start()
        await _until(lambda: all(r.neighbors()[0].state == "ESTABLISHED" for r in peers.values()))
        x.announce("203.0.113.0/24", attributes=PathAttributes(communities=(65001 << 16 | 1,)))
        x.announce("203.0.113.128/25")
        y.announce("203.0.113.0/24")
        await _until(lambda: len(daemon.router.rib.candidates(*_fk("203.0.113.0/24"))) == 2
                     and daemon.router.route("203.0.113.128/25"))

        detail = await ask("show neighbor", neighbor=X)
        assert detail["state"] == "ESTABLISHED" and detail["peer_as"] == 65001 and detail["router_id"] == X
        assert detail["uptime_s"] > 0 and detail["soft_reconfiguration"] is True
        assert {"name": "Multiprotocol", "afi": 1, "safi": 1} in detail["capabilities"]["sent"]
        assert {c["name"] for c in detail["capabilities"]["received"]} >= {"Multiprotocol", "RouteRefresh", "FourOctetAs"}
        negotiated = detail["capabilities"]["negotiated"]
        assert negotiated["families"] and negotiated["route_refresh"] is True and negotiated["four_octet_as"] is True
        assert detail["timers"]["hold_time_s"] == 90 and detail["timers"]["keepalive_s"] == 30
        assert detail["messages"]["in"]["UPDATE"] >= 2 and detail["messages"]["out"]["OPEN"] == 1
        assert detail["prefixes"] == {"accepted": 2, "received": 2, "max_prefix": None,
                                      "advertised": len(daemon.router.advertised_routes(X))}
        assert detail["last_notification_sent"] is None and detail["last_notification_received"] is None

        rib_in = await ask("show adj-rib-in", neighbor=X)
        assert [r["prefix"] for r in rib_in["routes"]] == ["203.0.113.0/24", "203.0.113.128/25"]
        assert rib_in["routes"][0]["as_path"] == "65001"
        assert (await ask("show adj-rib-in", neighbor=X, received=True, family="ipv4-unicast"))["total"] == 2
        assert (await ask("show adj-rib-in", neighbor=X, limit=1))["routes"][0]["prefix"] == "203.0.113.0/24"
        with pytest.raises(BgpError, match="kept only with soft_reconfiguration"):
            await ask("show adj-rib-in", neighbor=Y, received=True)
        rib_out = await ask("show adj-rib-out", neighbor=Y)
        assert rib_out["total"] == 2 and rib_out["routes"][1] == {"prefix": "203.0.113.128/25", "next_hop": [HUB]}

        longer = await ask("show routes", prefix="203.0.113.0/24", longer=True)
        assert [r["prefix"] for r in longer["routes"]] == ["203.0.113.0/24", "203.0.113.128/25"]
        shorter = await ask("show routes", prefix="203.0.113.128/25", shorter=True)
        assert [r["prefix"] for r in shorter["routes"]] == ["203.0.113.0/24", "203.0.113.128/25"]
        assert (await ask("show routes", prefix="203.0.113.0/25", shorter=True))["total"] == 1
        match = await ask("show routes", prefix="203.0.113.200")
        assert match["routes"][0]["prefix"] == "203.0.113.128/25"
        with pytest.raises(BgpError, match="longer and shorter exclude each other"):
            await ask("show routes", prefix="203.0.113.0/24", longer=True, shorter=True)
        with pytest.raises(BgpError, match="limit: must be a non-negative integer, not -1"):
            await ask("show routes", limit=-1)

        explained = await ask("show route explain", prefix="203.0.113.0/24")
        best, other = explained["paths"]
        assert best["best"] and best["from"] == X and best["step"] == "ROUTER_ID"
        assert not other["best"] and other["from"] == Y and other["lost_to"] == 0 and other["step"] == "ROUTER_ID"
        assert (await ask("show route explain", prefix="192.0.2.0/24"))["paths"] == []
        with pytest.raises(BgpError, match="not a prefix"):
            await ask("show route explain", prefix="192.0.2.1/24")

        await ask("announce", prefix="198.51.100.0/24", communities=["65000:7"], med=5, as_path=["64999"])
        await _until(lambda: y.route("198.51.100.0/24"))
        got = y.route("198.51.100.0/24")[0].attrs
        assert got.communities == (65000 << 16 | 7,) and got.as_path == ((2, (65000, 64999)),)
        await ask("withdraw", prefix="198.51.100.0/24")
        await _until(lambda: not y.route("198.51.100.0/24"))
        for bad, error in (({"prefix": "198.51.100.1/24"}, "not a prefix"),
                           ({"prefix": "198.51.100.0/24", "as_path": ["x"]}, "'x' is not an AS number"),
                           ({"prefix": "198.51.100.0/24", "med": -5}, "med: must be an integer from 0"),
                           ({"prefix": "198.51.100.0/24", "communities": ["nope"]}, "communities"),
                           ({"prefix": "198.51.100.0/24", "next_hop": "nowhere"}, "'nowhere' is not an address")):
            with pytest.raises(BgpError, match=error):
                await ask("announce", **bad)

        await ask("neighbor", neighbor=Y, action="shutdown", message="maintenance window 42")
        await _until(lambda: y.neighbors()[0].state != "ESTABLISHED")
        await _until(lambda: "maintenance window 42" in (y.neighbors()[0].last_error or ""))
        await _until(lambda: daemon.neighbor_log.sent.get(Y) is not None)
        sent = (await ask("show neighbor", neighbor=Y))["last_notification_sent"]
        assert sent["name"] == "CEASE/ADMINISTRATIVE_SHUTDOWN" and "maintenance window 42" in sent["text"]
        await asyncio.sleep(0.3)
        assert daemon.router.neighbor(Y).state != "ESTABLISHED"  # stays down until enabled
        await ask("neighbor", neighbor=Y, action="enable")
        await _until(lambda: daemon.router.neighbor(Y).state == "ESTABLISHED", 60)
        for action in ("soft-in", "soft-out"):
            assert await ask("neighbor", neighbor=X, action=action) == {"peer": X, "action": action}
        await ask("neighbor", neighbor=X, action="reset", message="new keys")
        await _until(lambda: "new keys" in (x.neighbors()[0].last_error or ""))
        await _until(lambda: daemon.router.neighbor(X).established_count == 2, 60)
        received = (await ask("show neighbor", neighbor=Y))
        assert received["established_count"] == 2

        for command, args, error in (
                ("show neighbor", {"neighbor": "10.9.9.9"}, "no neighbor 10.9.9.9"),
                ("show neighbor", {"neighbor": "eth-nothing"}, "neither a neighbor address nor an interface"),
                ("show neighbor", {}, "missing argument 'neighbor'"),
                ("neighbor", {"neighbor": X, "action": "explode"}, "action: must be one of reset, soft-in"),
                ("neighbor", {"neighbor": X, "action": "shutdown", "message": "x" * 300}, "at most 255 octets"),
                ("show adj-rib-out", {"neighbor": X, "family": "ipv5"}, "family: must be one of"),
                ("reload", {}, "not started from a configuration file"),
                ("show fib", {"limit": "ten"}, "limit: must be a non-negative integer")):
            with pytest.raises(BgpError, match=error):
                await ask(command, **args)
        version = await ask("show version")
        assert version["protocol"] == 1 and version["bgpcore"]
    finally:
        for r in peers.values():
            await r.stop()
        await daemon.stop()
    assert not (tmp_path / "ctl.sock").exists()


def _fk(prefix: str) -> Any:
    from bgpcore.transport.neighbor import family_key
    return family_key(prefix)
