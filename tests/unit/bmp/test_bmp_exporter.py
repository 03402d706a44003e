"""The BMP exporter against an in-test station: a router fed by a raw BGP peer on loopback,
monitored pre-policy and in its Loc-RIB; the station drops the connection and gets the whole
state again; Peer Down, Statistics and Termination arrive."""
from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from bgpcore import NeighborConfig, Router, RouterConfig
from bgpcore.bmp.codec import MessageType, StatType
from bgpcore.bmp.view import LOC_RIB, BmpView
from bgpcore.program.ops import Operations
from bgpcore.program.ops_config import BmpConfig, OpsConfig
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates, encode_withdrawals

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.feeder import connect  # noqa: E402

HUB, FEEDER = "127.0.0.1", "127.0.0.2"
V4 = [network_key(f"10.{i // 256}.{i % 256}.0/24") for i in range(300)]
V6 = [network_key(f"2001:db8:{i:x}::/48") for i in range(40)]


async def _until(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


class Station:
    """A collector that keeps one BmpView per connection."""

    def __init__(self) -> None:
        self.views: list[BmpView] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, HUB, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        view = BmpView()
        self.views.append(view)
        self.writers.append(writer)
        while data := await reader.read(65536):
            view.feed(data)

    @property
    def view(self) -> BmpView:
        return self.views[-1]


def _feed(sock: socket.socket) -> None:
    attrs = PathAttributes(origin=0, as_path=((2, (65001, 64512)),), med=7)
    for m in encode_updates(attrs, IPV4_UNICAST, (FEEDER,), V4, DEFAULT_CONTEXT):
        sock.sendall(m)
    for m in encode_updates(attrs, IPV6_UNICAST, ("2001:db8::2",), V6, DEFAULT_CONTEXT):
        sock.sendall(m)
    for m in encode_withdrawals(IPV4_UNICAST, V4[:10], DEFAULT_CONTEXT):
        sock.sendall(m)


async def test_station_sees_peers_and_routes_and_is_resynchronised_on_reconnect() -> None:
    station = Station()
    port = await station.start()
    router = Router(RouterConfig(local_as=65000, router_id=HUB, listen=((HUB, 0),), track_changes=True,
                                 neighbors=(NeighborConfig(address=FEEDER, remote_as=65001, passive=True),)))
    ops = Operations(router, OpsConfig(bmp=BmpConfig(stations=((HUB, port),), statistics_interval_s=0.3)))
    assert ops.bmp is not None
    for s in ops.bmp.stations:
        s.backoff_s = (0.1, 0.5)
    await ops.start()
    await router.start()
    sock: socket.socket | None = None
    try:
        listen_port = router.listening[0][1]
        sock, _ = await asyncio.to_thread(connect, HUB, listen_port, FEEDER, 65001, FEEDER)
        await asyncio.to_thread(_feed, sock)
        expected = {(IPV4_UNICAST, k) for k in V4[10:]} | {(IPV6_UNICAST, k) for k in V6}
        await _until(lambda: bool(station.views) and station.view.prefixes(FEEDER) == expected
                     and station.view.prefixes(LOC_RIB) == expected)
        view = station.view
        assert view.initiations == 1 and ("up", FEEDER) in view.events and ("up", LOC_RIB) in view.events
        attrs, hop = view.routes[FEEDER][(IPV6_UNICAST, V6[0])]
        assert hop == ("2001:db8::2",) and attrs is not None and attrs.med == 7
        await _until(lambda: FEEDER in station.view.statistics)
        stats = station.view.statistics[FEEDER]
        assert int.from_bytes(stats[StatType.ADJ_RIB_IN_ROUTES], "big") == len(expected)

        station.writers[-1].close()  # the station goes away: the exporter reconnects and resyncs
        await _until(lambda: len(station.views) == 2 and station.view.prefixes(FEEDER) == expected
                     and station.view.prefixes(LOC_RIB) == expected)
        assert station.view.initiations == 1 and station.view.end_of_rib[FEEDER] >= {IPV4_UNICAST, IPV6_UNICAST}

        sock.close()
        sock = None
        await _until(lambda: ("down", FEEDER) in station.view.events and not station.view.prefixes(LOC_RIB))
    finally:
        if sock is not None:
            sock.close()
        await router.stop()
        await ops.stop()
    await _until(lambda: station.view.terminated)
    assert station.server is not None
    station.server.close()


async def test_exporter_retries_until_the_station_listens() -> None:
    probe = socket.socket()
    probe.bind((HUB, 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there yet
    router = Router(RouterConfig(local_as=65000, router_id=HUB, listen=()))
    ops = Operations(router, OpsConfig(bmp=BmpConfig(stations=((HUB, port),), statistics_interval_s=0)))
    assert ops.bmp is not None
    station = ops.bmp.stations[0]
    station.backoff_s = (0.05, 0.2)
    await ops.start()
    try:
        await asyncio.sleep(0.4)
        assert not station.connected and station.last_error
        seen: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                seen.append(data)

        server = await asyncio.start_server(serve, HUB, port)
        await _until(lambda: station.connected and bool(seen))
        view = BmpView()
        messages = view.feed(b"".join(seen))
        assert messages[0].type == MessageType.INITIATION
        assert [m.type for m in messages[1:3]] == [MessageType.PEER_UP, MessageType.ROUTE_MONITORING]  # Loc-RIB, EoR
    finally:
        await ops.stop()
    server.close()
