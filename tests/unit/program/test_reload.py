"""``bgpcore reload`` (and SIGHUP) apply only the difference: the daemon runs in-process on
loopback with ``bgpcore.Router`` peers; sessions whose configuration did not change stay up."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bgpcore import NeighborConfig, Router, RouterConfig, parse_config
from bgpcore.errors import BgpError
from bgpcore.program.config import load_config
from bgpcore.program.control import request
from bgpcore.program.daemon import Daemon
from bgpcore.program.reload import plan_reload

HUB = "127.0.0.1"
A, B, C, D = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
NET = "198.51.100.0/24"
FROM_B = "203.0.113.0/24"
FROM_D = "192.0.2.0/24"


def hub_toml(tmp_path: Path, *, neighbors: str, policies: str = "") -> str:
    return f"""
[speaker]
asn = 65000
router_id = "{HUB}"
listen = ["{HUB}"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"

[[networks]]
prefix = "{NET}"

[[policy]]
name = "med-50"
[[policy.term]]
set_med = 50

[[policy]]
name = "lp-250"
[[policy.term]]
set_local_pref = 250
{policies}
{neighbors}
"""


def neighbor(address: str, asn: int, extra: str = "") -> str:
    return f'[[neighbor]]\naddress = "{address}"\nasn = {asn}\npassive = true\n{extra}\n'


async def _until(predicate: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _peer(address: str, asn: int, port: int) -> Router:
    return Router(RouterConfig(local_as=asn, router_id=address, listen=(), neighbors=(
        NeighborConfig(address=HUB, remote_as=65000, port=port, source_address=address, hold_time_s=30),)))


def _state(router: Router) -> str:
    return router.neighbors()[0].state


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Path, int]]:
    path = tmp_path / "hub.toml"
    path.write_text(hub_toml(tmp_path, neighbors=neighbor(A, 65001) + neighbor(B, 65002)
                             + neighbor(D, 65004, "soft_reconfiguration = true")))
    daemon = Daemon(load_config(path), str(path))
    await daemon.start()
    try:
        yield daemon, path, daemon.router.listening[0][1]
    finally:
        await daemon.stop()
    assert not (tmp_path / "ctl.sock").exists()


async def test_reload_adds_removes_and_changes_policies_while_untouched_sessions_stay_up(
        lab: tuple[Daemon, Path, int], tmp_path: Path) -> None:
    daemon, path, port = lab
    a, b, c, d = _peer(A, 65001, port), _peer(B, 65002, port), _peer(C, 65003, port), _peer(D, 65004, port)
    await a.start()
    await b.start()
    await d.start()
    try:
        await _until(lambda: all(_state(r) == "ESTABLISHED" for r in (a, b, d)))
        b.announce(FROM_B)
        d.announce(FROM_D)
        await _until(lambda: daemon.router.route(FROM_B) and daemon.router.route(FROM_D) and b.route(NET))
        assert b.route(NET)[0].attrs.med is None
        up_b = daemon.router.neighbor(B).uptime_s
        up_d = daemon.router.neighbor(D).uptime_s
        assert up_b is not None and up_d is not None
        refreshes_from_b = daemon.router.neighbor(B).messages_in.get("ROUTE_REFRESH", 0)

        # A goes away, C comes, B gets an export and an import policy, D an import policy
        path.write_text(hub_toml(tmp_path, neighbors=neighbor(B, 65002, 'export_policy = "med-50"\n'
                                                                         'import_policy = "lp-250"')
                                 + neighbor(C, 65003)
                                 + neighbor(D, 65004, 'soft_reconfiguration = true\nimport_policy = "lp-250"')))
        await asyncio.sleep(0.2)
        result = await asyncio.to_thread(request, daemon.control.path, "reload")
        assert result["added"] == [C] and result["removed"] == [A]
        assert result["changed"] == {B: ["soft-in", "soft-out"], D: ["soft-in", "soft-out"]}
        assert result["not_applied"] == []
        await c.start()
        await _until(lambda: _state(c) == "ESTABLISHED")
        # A was told it was de-configured (Cease/3)
        await _until(lambda: _state(a) != "ESTABLISHED")
        assert "PEER_DECONFIGURED" in (a.neighbors()[0].last_error or "")
        # B's routes now carry the export policy's MED; B's route, re-sent after a
        # ROUTE-REFRESH, and D's, from its stored Adj-RIB-In, the import policy's LOCAL_PREF
        await _until(lambda: b.route(NET) and b.route(NET)[0].attrs.med == 50)
        await _until(lambda: daemon.router.route(FROM_B)[0].attrs.local_pref == 250)
        await _until(lambda: daemon.router.route(FROM_D)[0].attrs.local_pref == 250)
        assert b.neighbors()[0].messages_in.get("ROUTE_REFRESH", 0) >= 1  # B was asked (B receives it)
        assert daemon.router.neighbor(B).messages_in.get("ROUTE_REFRESH", 0) == refreshes_from_b
        assert d.neighbors()[0].messages_in.get("ROUTE_REFRESH", 0) == 0  # D's routes came from the store
        # the sessions of B and D were never reset: uptime kept growing
        for peer, before in ((B, up_b), (D, up_d)):
            status = daemon.router.neighbor(peer)
            assert status.state == "ESTABLISHED" and status.established_count == 1
            assert status.uptime_s is not None and status.uptime_s > before
        assert {n.peer for n in daemon.router.neighbors()} == {B, C, D}
        # a reload of the same file changes nothing
        again = await asyncio.to_thread(request, daemon.control.path, "reload")
        assert again["added"] == again["removed"] == [] and again["changed"] == {}
    finally:
        for r in (a, b, c, d):
            await r.stop()


async def test_a_bad_configuration_is_reported_and_changes_nothing(lab: tuple[Daemon, Path, int],
                                                                    tmp_path: Path) -> None:
    daemon, path, _ = lab
    before = {n.peer for n in daemon.router.neighbors()}
    path.write_text(hub_toml(tmp_path, neighbors=neighbor(B, 65002, 'export_policy = "no-such-policy"')))
    with pytest.raises(BgpError) as caught:
        await asyncio.to_thread(request, daemon.control.path, "reload")
    message = str(caught.value)
    assert "reload refused, running configuration kept" in message and "no-such-policy" in message
    assert "\n" not in message
    assert {n.peer for n in daemon.router.neighbors()} == before
    path.write_text("[speaker\n")
    with pytest.raises(BgpError, match="reload refused"):
        await asyncio.to_thread(request, daemon.control.path, "reload")
    daemon.reload_logged()  # SIGHUP's path: logged, never raised
    assert {n.peer for n in daemon.router.neighbors()} == before


async def test_a_changed_session_setting_restarts_only_that_neighbor(lab: tuple[Daemon, Path, int],
                                                                     tmp_path: Path) -> None:
    daemon, path, port = lab
    b = _peer(B, 65002, port)
    await b.start()
    try:
        await _until(lambda: _state(b) == "ESTABLISHED")
        path.write_text(hub_toml(tmp_path, neighbors=neighbor(A, 65001) + neighbor(B, 65002, "hold_time = 60")
                                 + neighbor(D, 65004, "soft_reconfiguration = true")))
        result = await asyncio.to_thread(request, daemon.control.path, "reload")
        assert result["changed"] == {B: ["restart"]}
        assert daemon.router.speaker.neighbor_config(B).hold_time_s == 60
        await _until(lambda: daemon.router.neighbor(B).state == "ESTABLISHED", 30)
    finally:
        await b.stop()


def test_plan_lists_what_needs_a_restart(tmp_path: Path) -> None:
    old = parse_config(hub_toml(tmp_path, neighbors=neighbor(A, 65001)))
    new = parse_config(hub_toml(tmp_path, neighbors=neighbor(A, 65001)).replace('router_id = "127.0.0.1"',
                                                                                 'router_id = "127.0.0.9"'))
    plan = plan_reload(old, new)
    assert plan.not_applied == ("speaker.router_id", "speaker.cluster_id")
    assert not plan.added and not plan.removed and not plan.changed
    moved = parse_config(hub_toml(tmp_path, neighbors=neighbor(A, 65001)).replace(f'prefix = "{NET}"',
                                                                                   'prefix = "198.51.100.0/25"'))
    plan = plan_reload(old, moved)
    assert plan.withdraw == (NET,) and [n.prefix for n in plan.announce] == ["198.51.100.0/25"]


async def test_reload_without_a_file_is_refused(tmp_path: Path) -> None:
    daemon = Daemon(parse_config(hub_toml(tmp_path, neighbors="")))
    with pytest.raises(BgpError, match="not started from a configuration file"):
        daemon.reload()
