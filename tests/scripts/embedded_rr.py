"""A route reflector embedded in a user's program, written against ``bgpcore``'s public names only.

A reflector on 127.0.0.1 with a feeder (127.0.0.2) and two clients (127.0.0.3, 127.0.0.4), all
bgpcore routers on loopback: the feeder's route and a network the reflector originates reach
both clients, a subscriber sees the best-path events, a withdraw removes the route everywhere,
and the Loc-RIB answers queries. Prints one JSON line with what it saw; exits 1 on a timeout.
"""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from bgpcore import (
    IPV4_UNICAST,
    BestPathChanged,
    BestPathWithdrawn,
    NeighborConfig,
    Origin,
    PathAttributes,
    PeerUp,
    Reason,
    Router,
    RouterConfig,
    RouterEvent,
)

RR, FEEDER, CLIENTS = "127.0.0.1", "127.0.0.2", ("127.0.0.3", "127.0.0.4")
FED, ORIGINATED = "198.51.100.0/24", "203.0.113.0/24"


async def until(what: str, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


def peer_of(port: int, address: str) -> Router:
    """A router at ``address`` that connects to the reflector and accepts nothing."""
    return Router(RouterConfig(local_as=65000, router_id=address, listen=(), neighbors=(
        NeighborConfig(address=RR, remote_as=65000, port=port, source_address=address, hold_time_s=9),)))


async def main() -> int:
    clients = tuple(NeighborConfig(address=a, remote_as=65000, passive=True, rr_client=True) for a in CLIENTS)
    feeder_neighbor = NeighborConfig(address=FEEDER, remote_as=65000, passive=True, rr_client=True)
    reflector = Router(RouterConfig(local_as=65000, router_id=RR, listen=((RR, 0),),
                                    neighbors=(feeder_neighbor, *clients)))
    await reflector.start()
    seen: list[RouterEvent] = []
    events = reflector.events()

    async def collect() -> None:
        async for event in events:
            seen.append(event)

    collector = asyncio.get_running_loop().create_task(collect())
    port = reflector.speaker.listening[0][1]
    feeder, *receivers = [peer_of(port, a) for a in (FEEDER, *CLIENTS)]
    for router in (feeder, *receivers):
        await router.start()
    try:
        await until("sessions up", lambda: sum(isinstance(e, PeerUp) for e in seen) == 3)
        feeder.announce(FED, next_hop=FEEDER, attributes=PathAttributes(origin=Origin.IGP, local_pref=200))
        reflector.announce(ORIGINATED)
        await until("routes at the clients", lambda: all(r.route(FED) and r.route(ORIGINATED) for r in receivers))
        reflected = receivers[0].route(FED)[0]
        await until("best-path events", lambda: FED in {str(e.prefix) for e in seen
                                                          if isinstance(e, BestPathChanged)})
        changed = {str(e.prefix): e for e in seen if isinstance(e, BestPathChanged)}
        match = reflector.lookup("198.51.100.77")
        feeder.withdraw(FED)
        await until("withdrawn everywhere", lambda: not any(r.route(FED) for r in (reflector, *receivers)))
        await until("withdraw event", lambda: any(isinstance(e, BestPathWithdrawn) for e in seen))
        print(json.dumps({
            "clients_have": [sorted(str(n) for n, _ in r.routes(IPV4_UNICAST)) for r in receivers],
            "reflected_originator_id": reflected.attrs.originator_id,
            "reflected_cluster_list": list(reflected.attrs.cluster_list),
            "reflected_local_pref": reflected.attrs.local_pref,
            "event_prefixes": sorted(changed),
            "event_reason": changed[FED].reason.name,
            "event_next_hop": list(changed[FED].best.next_hop),
            "lookup": [str(match[0]), match[1][0].source.address] if match else None,
            "withdrawn": [str(e.prefix) for e in seen if isinstance(e, BestPathWithdrawn)],
            "after_withdraw": reflector.route_count(IPV4_UNICAST),
        }))
        return 0 if changed[FED].reason is Reason.ONLY_PATH else 1
    finally:
        for router in (*receivers, feeder):
            await router.stop()
        await reflector.stop()
        await asyncio.wait_for(collector, 5)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
