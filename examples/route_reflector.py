#!/usr/bin/env python3
"""A route reflector embedded in a program: a bgpcore Router whose neighbors are RR clients.

    python examples/route_reflector.py 127.0.0.1 1790 127.0.0.2 127.0.0.3

Listens on the first address and port; every further address is an iBGP route-reflector
client of AS 64496 (the clients connect to it). Prints sessions coming and going and each
new best path, and every ten seconds the prefixes received from each client. Stops on Ctrl-C
or SIGTERM, or after --duration seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bgpcore import BestPathChanged, BestPathWithdrawn, NeighborConfig, PeerDown, PeerUp, Router, RouterConfig

ASN = 64496


def reflector_config(address: str, port: int, clients: list[str]) -> RouterConfig:
    """The reflector: listens on ``address``:``port``, waits for its clients to connect."""
    return RouterConfig(
        local_as=ASN, router_id=address, listen=((address, port),),
        neighbors=tuple(NeighborConfig(address=c, remote_as=ASN, rr_client=True, passive=True) for c in clients))


def summary(router: Router) -> str:
    """Prefixes received from each client, and the size of the Loc-RIB."""
    counts = {n.peer: n.prefixes_received or 0 for n in router.neighbors()}
    return f"{counts} {router.route_count()} prefixes in the Loc-RIB"


async def watch(router: Router) -> None:
    async for event in router.events():
        if isinstance(event, PeerUp):
            print(f"{event.peer} up, router id {event.router_id}", flush=True)
        elif isinstance(event, PeerDown):
            print(f"{event.peer} down: {event.reason}", flush=True)
        elif isinstance(event, BestPathChanged):
            print(f"{event.prefix} via {' '.join(event.best.next_hop)} from {event.best.source.address}", flush=True)
        elif isinstance(event, BestPathWithdrawn):
            print(f"{event.prefix} withdrawn", flush=True)


async def report(router: Router, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        print(summary(router), flush=True)


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    async with Router(reflector_config(args.address, args.port, args.clients)) as router:
        print(f"reflector listening on {router.speaker.listening}", flush=True)
        tasks = [asyncio.create_task(watch(router)), asyncio.create_task(report(router, args.report_every))]
        await stop.wait()
        print(summary(router), flush=True)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("address", help="address to listen on; also the router id (an IPv4 address)")
    p.add_argument("port", type=int, help="port to listen on (0: any free port)")
    p.add_argument("clients", nargs="+", help="addresses of the route-reflector clients")
    p.add_argument("--report-every", type=float, default=10.0, help="seconds between summaries")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until Ctrl-C)")
    return p.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parse_args()))
