"""The router core on loopback: events with the decision's reason, the stream's end, config checks."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bgpcore import (
    BestPathChanged,
    ConfigError,
    NeighborConfig,
    Network,
    Origin,
    PathAttributes,
    PeerDown,
    PeerUp,
    Reason,
    Router,
    RouterConfig,
    RouterEvent,
    UsageError,
)

HUB, A, B = "127.0.0.1", "127.0.0.2", "127.0.0.3"
PREFIX = "198.51.100.0/24"


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _spoke(address: str, port: int) -> Router:
    return Router(RouterConfig(local_as=65000, router_id=address, listen=(), neighbors=(
        NeighborConfig(address=HUB, remote_as=65000, port=port, source_address=address),)))


async def _hub_and_spokes(shards: int = 1, rr_client: bool = False
                          ) -> tuple[Router, Router, Router, list[RouterEvent], asyncio.Task[None]]:
    """A started hub with spokes A and B as its iBGP neighbors, and the hub's events as they come."""
    hub = Router(RouterConfig(local_as=65000, router_id=HUB, listen=((HUB, 0),), shards=shards, neighbors=tuple(
        NeighborConfig(address=a, remote_as=65000, passive=True, rr_client=rr_client) for a in (A, B))))
    await hub.start()
    seen: list[RouterEvent] = []
    events = hub.events()

    async def collect() -> None:
        async for event in events:
            seen.append(event)

    collector = asyncio.get_running_loop().create_task(collect())
    port = hub.speaker.listening[0][1]
    a, b = _spoke(A, port), _spoke(B, port)
    await a.start()
    await b.start()
    return hub, a, b, seen, collector


async def test_best_path_events_name_the_deciding_step_and_the_stream_ends_at_stop() -> None:
    hub, a, b, seen, collector = await _hub_and_spokes()
    try:
        await _until(lambda: sum(isinstance(e, PeerUp) for e in seen) == 2)
        a.announce(PREFIX, next_hop=A, attributes=PathAttributes(origin=Origin.IGP, local_pref=100))
        await _until(lambda: bool(hub.route(PREFIX)))
        b.announce(PREFIX, next_hop=B, attributes=PathAttributes(origin=Origin.IGP, local_pref=300))
        await _until(lambda: hub.route(PREFIX)[0].source.address == B)
        await _until(lambda: len([e for e in seen if isinstance(e, BestPathChanged)]) >= 2)
        first, second = [e for e in seen if isinstance(e, BestPathChanged)][:2]
        assert first.reason is Reason.ONLY_PATH and first.best.source.address == A
        assert second.reason is Reason.LOCAL_PREF and second.best.source.address == B
        assert str(second.prefix) == PREFIX and second.best.attrs.local_pref == 300
        await b.stop()
        await _until(lambda: any(isinstance(e, PeerDown) for e in seen))
        await _until(lambda: hub.route(PREFIX)[0].source.address == A)
        down = next(e for e in seen if isinstance(e, PeerDown))
        assert down.peer == B and "CEASE" in down.reason and not down.graceful
    finally:
        await a.stop()
        await hub.stop()
    await asyncio.wait_for(collector, 5)  # the subscription ended with the router


async def test_with_shard_workers_every_change_and_reflected_route_arrives_without_more_input() -> None:
    """RIB shards in worker processes: the results they send back (best-path changes, update
    group rounds) reach the events and the sessions on their own, whichever call took them in."""
    hub, a, b, seen, collector = await _hub_and_spokes(shards=2, rr_client=True)
    prefixes = [f"10.{i // 256}.{i % 256}.0/24" for i in range(300)]
    try:
        await _until(lambda: sum(isinstance(e, PeerUp) for e in seen) == 2)
        for prefix in prefixes:
            a.announce(prefix, next_hop=A, attributes=PathAttributes(origin=Origin.IGP, local_pref=100))
        await _until(lambda: all(b.route(p) for p in prefixes), 20)
        await _until(lambda: {str(e.prefix) for e in seen if isinstance(e, BestPathChanged)} == set(prefixes), 5)
        reflected = b.route(prefixes[-1])[0]
        assert reflected.attrs.originator_id == A and reflected.attrs.cluster_list == (HUB,)
    finally:
        await a.stop()
        await b.stop()
        await hub.stop()
    await asyncio.wait_for(collector, 5)


@pytest.mark.parametrize("build, words", [
    (lambda: NeighborConfig(address="not-an-ip", remote_as=65000), ["neighbor address", "not-an-ip"]),
    (lambda: NeighborConfig(address="192.0.2.1", remote_as=0), ["192.0.2.1", "remote-as"]),
    (lambda: NeighborConfig(address="192.0.2.1", remote_as=65000, hold_time_s=2), ["hold_time_s"]),
    (lambda: NeighborConfig(address="192.0.2.1", remote_as=65000, max_prefix=0), ["max_prefix"]),
    (lambda: RouterConfig(local_as=65000, router_id="banana"), ["router_id", "banana"]),
    (lambda: RouterConfig(local_as=2**32, router_id="192.0.2.1"), ["local_as"]),
    (lambda: RouterConfig(local_as=65000, router_id="192.0.2.1", listen=(("nowhere", 179),)), ["listen"]),
    (lambda: RouterConfig(local_as=65000, router_id="192.0.2.1", cluster_id="x"), ["cluster_id"]),
    (lambda: Network(prefix="198.51.100.1/24"), ["198.51.100.1/24", "host bits"]),
])
def test_config_objects_refuse_nonsense_at_construction_naming_the_field(
        build: Callable[[], object], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert isinstance(info.value, UsageError)
    for word in words:
        assert word in str(info.value)
    assert "\n" not in str(info.value)
