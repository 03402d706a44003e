"""The Prometheus endpoint: a router with one fed neighbor and one down, scraped over HTTP and
parsed with prometheus_client's text parser."""
from __future__ import annotations

import asyncio
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bgpcore import NeighborConfig, Router, RouterConfig
from bgpcore.program.config import parse_config
from bgpcore.program.ops import Operations
from bgpcore.program.ops_config import MetricsConfig, OpsConfig
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates

parser = pytest.importorskip("prometheus_client.parser")
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.feeder import connect  # noqa: E402

HUB, FEEDER, ABSENT = "127.0.0.1", "127.0.0.2", "127.0.0.9"


async def _until(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


async def test_metrics_page_parses_and_counts_neighbors_routes_groups_and_lag() -> None:
    router = Router(RouterConfig(local_as=65000, router_id=HUB, listen=((HUB, 0),), neighbors=(
        NeighborConfig(address=FEEDER, remote_as=65001, passive=True),
        NeighborConfig(address=ABSENT, remote_as=65009, passive=True))))
    ops = Operations(router, OpsConfig(metrics=MetricsConfig(listen=(HUB, 0))))
    await ops.start()
    await router.start()
    sock: socket.socket | None = None
    try:
        from bgpcore.program.metrics import MetricsServer
        assert isinstance(ops.metrics, MetricsServer)
        url = "http://%s:%d/metrics" % ops.metrics.address
        sock, _ = await asyncio.to_thread(connect, HUB, router.listening[0][1], FEEDER, 65001, FEEDER)
        keys = [network_key(f"10.0.{i}.0/24") for i in range(25)]
        for m in encode_updates(PathAttributes(origin=0, as_path=((2, (65001,)),)), IPV4_UNICAST, (FEEDER,), keys,
                                DEFAULT_CONTEXT):
            sock.sendall(m)
        await _until(lambda: router.route_count() == 25)
        await asyncio.sleep(0.6)  # one lag probe
        m = await asyncio.to_thread(_scrape, url)
        peer = (("peer", FEEDER),)
        assert m[("bgpcore_neighbor_up", peer)] == 1 and m[("bgpcore_neighbor_up", (("peer", ABSENT),))] == 0
        assert m[("bgpcore_neighbor_state", (("peer", FEEDER), ("state", "ESTABLISHED")))] == 1
        assert m[("bgpcore_neighbor_state", (("peer", ABSENT), ("state", "ESTABLISHED")))] == 0
        assert m[("bgpcore_neighbor_prefixes_received", peer)] == 25
        assert m[("bgpcore_neighbor_uptime_seconds", peer)] > 0
        assert m[("bgpcore_neighbor_messages_received_total", (("peer", FEEDER), ("type", "update")))] >= 1
        assert ("bgpcore_neighbor_prefixes_advertised", (("family", "ipv4-unicast"), ("peer", FEEDER))) in m
        assert m[("bgpcore_rib_prefixes", (("family", "ipv4-unicast"),))] == 25
        assert m[("bgpcore_update_groups", ())] >= 1
        assert sum(v for (name, _), v in m.items() if name == "bgpcore_update_group_members") == 1
        assert m[("bgpcore_fib_enabled", ())] == 0
        assert 0 <= m[("bgpcore_event_loop_lag_seconds", ())] < 1
        with pytest.raises(urllib.error.HTTPError):
            await asyncio.to_thread(urllib.request.urlopen, url.replace("/metrics", "/nothing"), None, 5)
    finally:
        if sock is not None:
            sock.close()
        await router.stop()
        await ops.stop()


def test_metrics_table_is_off_by_default_and_listens_where_asked() -> None:
    base = '[speaker]\nasn = 65000\nrouter_id = "192.0.2.1"\n'
    assert parse_config(base).ops.metrics is None
    assert parse_config(base + "[metrics]\n").ops.metrics == MetricsConfig(listen=("127.0.0.1", 9179))
    assert parse_config(base + '[metrics]\nlisten = "[::1]:9100"\n').ops.metrics == MetricsConfig(listen=("::1", 9100))
