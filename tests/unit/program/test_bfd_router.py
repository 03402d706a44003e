"""BFD in the router: two Routers on loopback with BFD 100 ms x 3.

BGP comes up and BFD reaches Up; silencing one side's BFD makes the other close the BGP session
with Cease/10 (BFD Down, RFC 9384) within the detection time, and the routes learned over it
leave the RIB. Strict mode holds BGP until BFD is Up. Also the ``bfd`` configuration key, the
``show bfd`` answer and the host name sent in the FQDN capability.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bgpcore.bfd import State
from bgpcore.errors import ConfigError
from bgpcore.program.config import parse_config
from bgpcore.program.daemon import Daemon
from bgpcore.program.render import render
from bgpcore.router.bfd import BfdLink, bfd_listen_addresses
from bgpcore.router.config import Network, RouterConfig
from bgpcore.router.core import Router
from bgpcore.transport.config import BfdSettings, NeighborConfig, neighbor_from_dict

A, B = "127.0.0.1", "127.0.0.2"
PREFIX = "198.51.100.0/24"
FAST = BfdSettings(interval_ms=100, multiplier=3)


def _free_udp_port() -> int:
    """A UDP port free on both loopback addresses."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s1:
            s1.bind((A, 0))
            port = s1.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s2:
                try:
                    s2.bind((B, port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free UDP port")


async def _wait(check: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.01) -> float:
    """Poll ``check`` until true; returns the time it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval_s)
    return time.monotonic() - start


def _state(router: Router, peer: str) -> str:
    return router.neighbor(peer).state


def _bfd_row(router: Router) -> dict[str, object]:
    assert router.bfd is not None
    rows = router.bfd.status_dicts()
    assert len(rows) == 1
    return rows[0]


async def _pair(bfd_a: BfdSettings | None, bfd_b: BfdSettings | None) -> tuple[Router, Router]:
    """Router A (passive, AS 65001) and B (connects, AS 65002, originates PREFIX), started."""
    port = _free_udp_port()
    a = Router(RouterConfig(local_as=65001, router_id="192.0.2.1", listen=((A, 0),), neighbors=(
        NeighborConfig(address=B, remote_as=65002, passive=True, source_address=A, hold_time_s=30, bfd=bfd_a),)))
    if a.bfd is None:
        a.bfd = BfdLink(a.speaker, listen_addresses=(A,))
    a.bfd.listen_port = a.bfd.remote_port = port
    await a.start()
    bgp_port = a.speaker.listening[0][1]
    b = Router(RouterConfig(local_as=65002, router_id="192.0.2.2", listen=((B, 0),), networks=(Network(prefix=PREFIX),),
                            neighbors=(NeighborConfig(address=A, remote_as=65001, port=bgp_port, source_address=B,
                                                      hold_time_s=30, bfd=bfd_b),)))
    if b.bfd is None:
        b.bfd = BfdLink(b.speaker, listen_addresses=(B,))
    b.bfd.listen_port = b.bfd.remote_port = port
    await b.start()
    return a, b


@contextlib.asynccontextmanager
async def _routers(bfd_a: BfdSettings | None, bfd_b: BfdSettings | None) -> AsyncIterator[tuple[Router, Router]]:
    a, b = await _pair(bfd_a, bfd_b)
    try:
        yield a, b
    finally:
        await b.stop()
        await a.stop()


async def _up_and_settled(a: Router, b: Router) -> None:
    await _wait(lambda: _state(a, B) == "ESTABLISHED" and _state(b, A) == "ESTABLISHED", 10, "BGP Established")
    await _wait(lambda: a.route(PREFIX), 5, "A learns B's route")
    for r in (a, b):
        # Up, and the poll sequence from the 1 s slow rate to 100 ms is over on both sides
        await _wait(lambda r=r: _bfd_row(r)["state"] == "up" and not _bfd_row(r)["poll_in_progress"]  # type: ignore[misc]
                    and _bfd_row(r)["detection_time_us"] == 300_000, 10, "BFD Up at 100 ms x 3")


async def test_bfd_down_closes_bgp_with_cease_10_within_detection_time() -> None:
    async with _routers(FAST, FAST) as (a, b):
        await _up_and_settled(a, b)
        row = _bfd_row(a)
        assert row["peer"] == B and row["neighbor"] == B and row["tx_interval_us"] == 100_000
        assert row["remote_discriminator"] == _bfd_row(b)["local_discriminator"]
        await asyncio.sleep(0.5)  # steady: no flap at the fast rate
        assert _state(a, B) == "ESTABLISHED" and _bfd_row(a)["down_count"] == 0

        assert b.bfd is not None and b.bfd.endpoint is not None
        b.bfd.endpoint.close()  # B's BFD goes silent; its BGP session and TCP are fine
        silenced = time.monotonic()
        down_s = await _wait(lambda: _state(a, B) != "ESTABLISHED", 2, "A closes the BGP session", 0.005)
        print(f"BGP down {down_s:.3f} s after BFD went silent")
        assert down_s < 0.5, f"BGP went down {down_s:.3f} s after BFD went silent"
        await _wait(lambda: not a.route(PREFIX), 1, "B's route leaves A's RIB", 0.005)
        gone_s = time.monotonic() - silenced
        assert gone_s < 0.6, gone_s
        assert _bfd_row(a)["state"] == "down" and _bfd_row(a)["local_diag"] == "control_detection_time_expired"
        error = a.neighbor(B).last_error or ""
        assert "BFD" in error or "BFD_DOWN" in error, error
        # B is told why: Cease subcode 10
        await _wait(lambda: _state(b, A) != "ESTABLISHED", 2, "B sees the NOTIFICATION")
        assert "BFD_DOWN" in (b.neighbor(A).last_error or "") or "10" in (b.neighbor(A).last_error or ""), \
            b.neighbor(A).last_error


async def test_bgp_comes_back_when_bfd_is_up_again() -> None:
    async with _routers(FAST, FAST) as (a, b):
        await _up_and_settled(a, b)
        assert b.bfd is not None and b.bfd.endpoint is not None
        handle_peer = next(iter(b.bfd._tracked))  # noqa: SLF001 - silence only B's sending side
        sock = b.bfd.endpoint._peers[handle_peer].sock  # noqa: SLF001
        real_send = sock.sendto
        dropping = True

        def sendto(data: bytes, dest: object) -> int:
            return len(data) if dropping else real_send(data, dest)  # type: ignore[call-overload]

        b.bfd.endpoint._peers[handle_peer].sock = _Wrapped(sock, sendto)  # type: ignore[assignment]  # noqa: SLF001
        await _wait(lambda: _state(a, B) != "ESTABLISHED", 2, "A closes the BGP session")
        dropping = False
        await _wait(lambda: _state(a, B) == "ESTABLISHED" and a.route(PREFIX), 10, "BGP back after BFD Up")
        assert _bfd_row(a)["up_count"] == 2


class _Wrapped:
    """A socket whose ``sendto`` is replaced."""

    def __init__(self, sock: socket.socket, sendto: Callable[[bytes, object], int]) -> None:
        self._sock, self.sendto = sock, sendto

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


async def test_strict_holds_bgp_until_bfd_is_up() -> None:
    strict = BfdSettings(interval_ms=100, multiplier=3, strict=True)
    async with _routers(strict, None) as (a, b):  # B runs no BFD: A's never comes Up
        await asyncio.sleep(1.5)
        assert _state(a, B) == "IDLE" and _bfd_row(a)["state"] == "down" and _bfd_row(a)["bgp_held"] is True
        assert not a.route(PREFIX)
    async with _routers(strict, FAST) as (a, b):
        await _up_and_settled(a, b)
        assert _bfd_row(a)["bgp_held"] is False


async def test_no_bfd_configured_no_endpoint_and_hostname_sent() -> None:
    a = Router(RouterConfig(local_as=65001, router_id="192.0.2.1", listen=((A, 0),), neighbors=(
        NeighborConfig(address=B, remote_as=65002, passive=True),)))
    assert a.bfd is None
    assert a.speaker.config.neighbors[0].hostname == socket.gethostname()
    named = Router(RouterConfig(local_as=65001, router_id="192.0.2.1", listen=((A, 0),), neighbors=(
        NeighborConfig(address=B, remote_as=65002, hostname=""),)))
    assert named.speaker.config.neighbors[0].hostname == ""  # "" sends none
    async with _routers(None, None) as (a, b):
        assert a.bfd is not None and a.bfd.status_dicts() == []  # the test's own link, no sessions
        await _wait(lambda: _state(a, B) == "ESTABLISHED", 10, "BGP Established")
        driver = a.speaker._find(B).up_driver  # noqa: SLF001 - the negotiated OPEN of the session
        assert driver is not None and driver.session.params is not None
        hostname = driver.session.params.peer_hostname
        assert hostname == socket.gethostname()


def test_bfd_settings_checked() -> None:
    assert BfdSettings() == BfdSettings(interval_ms=300, multiplier=3, strict=False)
    for bad in ({"interval_ms": 9}, {"multiplier": 0}, {"multiplier": 256}, {"interval_ms": True}):
        with pytest.raises(ConfigError, match="bfd"):
            BfdSettings(**bad)
    assert neighbor_from_dict({"address": B, "remote_as": 1, "bfd": True}).bfd == BfdSettings()
    assert neighbor_from_dict({"address": B, "remote_as": 1, "bfd": {"interval_ms": 50}}).bfd == BfdSettings(interval_ms=50)
    with pytest.raises(ConfigError, match="bfd"):
        NeighborConfig(address=B, remote_as=1, bfd=True)  # type: ignore[arg-type]


def test_listen_addresses_follow_bgp() -> None:
    assert bfd_listen_addresses(((A, 0), (B, 0))) == (A, B)
    assert bfd_listen_addresses((("0.0.0.0", 179), ("::", 179))) == ("0.0.0.0", "::")
    assert bfd_listen_addresses(()) == ("0.0.0.0", "::")


_BASE = '[speaker]\nasn = 65000\nrouter_id = "192.0.2.1"\n'


def test_config_bfd_key_everywhere() -> None:
    config = parse_config(_BASE + """
[[peer_group]]
name = "fabric"
bfd = { interval_ms = 100, multiplier = 5 }
[[neighbor]]
address = "192.0.2.2"
asn = 65001
bfd = true
[[neighbor]]
address = "192.0.2.3"
asn = 65001
peer_group = "fabric"
[[neighbor]]
address = "192.0.2.4"
asn = 65001
bfd = false
[[interfaces]]
names = ["swp*"]
bfd = { strict = true }
[[listen_range]]
prefix = "198.51.100.0/24"
asn = "external"
bfd = { interval_ms = 50 }
""").router
    assert [n.bfd for n in config.neighbors] == [BfdSettings(), BfdSettings(interval_ms=100, multiplier=5), None]
    assert config.interfaces[0].options["bfd"] == BfdSettings(strict=True)
    assert config.listen_ranges[0].template.bfd == BfdSettings(interval_ms=50)
    assert Router(config).bfd is not None
    assert Router(parse_config(_BASE).router).bfd is None


@pytest.mark.parametrize(("value", "message"), [
    ("{ interval_ms = 5 }", r"test.toml:7: neighbor\[1\].bfd: interval_ms: an integer from 10"),
    ("{ multiplier = 0 }", r"neighbor\[1\].bfd: multiplier: an integer from 1 to 255"),
    ('"yes"', r"neighbor\[1\].bfd: true, false or a table"),
    ("{ foo = 1 }", r"neighbor\[1\].bfd: unknown key 'foo'"),
    ("{ strict = 1 }", r"neighbor\[1\].bfd: strict: true or false"),
])
def test_config_bfd_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_BASE + f'[[neighbor]]\naddress = "192.0.2.2"\nasn = 65001\nbfd = {value}\n', "test.toml")


async def test_show_bfd_through_the_daemon(tmp_path: Path) -> None:
    config = parse_config(_BASE + f"""listen = ["{A}"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"
[[neighbor]]
address = "{B}"
asn = 65001
passive = true
bfd = {{ interval_ms = 100 }}
""")
    daemon = Daemon(config)
    assert daemon.router.bfd is not None
    daemon.router.bfd.listen_port = daemon.router.bfd.remote_port = _free_udp_port()
    await daemon.start()
    try:
        rows = daemon.bfd()
        assert len(rows) == 1 and rows[0]["peer"] == B and rows[0]["state"] == "down"
        assert rows[0]["configured_interval_ms"] == 100 and rows[0]["desired_min_tx_us"] == 1_000_000  # slow while down
        text = render("bfd", rows)
        assert B in text and "down" in text and "1 BFD session" in text
    finally:
        await daemon.stop()
    assert State.UP.name == "UP"
