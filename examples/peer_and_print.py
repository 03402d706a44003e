#!/usr/bin/env python3
"""Peer with one BGP router, print the routes it sends as they arrive, announce one prefix.

    python examples/peer_and_print.py --local-as 65001 --router-id 192.0.2.1 \\
        --peer 192.0.2.2 --peer-as 65002 --announce 203.0.113.0/24

Stops on Ctrl-C (sending Cease/Administrative Shutdown with a message), or after --duration seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpcore import (  # noqa: E402
    IPV4_UNICAST,
    IPV6_UNICAST,
    NeighborConfig,
    NotificationReceived,
    PathAttributes,
    SessionDown,
    SessionEstablished,
    Speaker,
    SpeakerConfig,
    Update,
    UpdateReceived,
    key_to_network,
)


def describe(update: Update) -> list[str]:
    """One line per announced or withdrawn prefix."""
    lines: list[str] = []
    for key in update.withdrawn:
        lines.append(f"withdrawn {key_to_network(key, 1)}")
    if update.mp_unreach is not None:
        lines += [f"withdrawn {key_to_network(k, update.mp_unreach.afi)}" for k in update.mp_unreach.nlri]
    attrs = update.attributes or PathAttributes()
    path = " ".join(str(asn) for _, asns in attrs.as_path for asn in asns)
    extra = f"as-path [{path}]"
    if attrs.med is not None:
        extra += f" med {attrs.med}"
    if attrs.communities:
        extra += " communities " + ",".join(f"{c >> 16}:{c & 0xFFFF}" for c in attrs.communities)
    if attrs.large_communities:
        extra += " large-communities " + ",".join(":".join(map(str, c)) for c in attrs.large_communities)
    for key in update.nlri:
        lines.append(f"announced {key_to_network(key, 1)} via {attrs.next_hop} {extra}")
    if update.mp_reach is not None:
        hop = " ".join(update.mp_reach.next_hop)
        lines += [f"announced {key_to_network(k, update.mp_reach.afi)} via {hop} {extra}" for k in update.mp_reach.nlri]
    if not lines and update.end_of_rib():
        lines.append(f"end-of-rib {update.end_of_rib()}")
    return lines


async def main(args: argparse.Namespace) -> None:
    neighbor = NeighborConfig(
        address=args.peer, remote_as=int(args.peer_as) if args.peer_as.isdigit() else args.peer_as,
        port=args.peer_port, hold_time_s=args.hold_time, passive=args.passive, password=args.password,
        families=(IPV4_UNICAST, IPV6_UNICAST), next_hop_ipv4=args.next_hop_ipv4, next_hop_ipv6=args.next_hop_ipv6)
    listen = tuple((a, args.port) for a in args.listen)
    speaker = Speaker(SpeakerConfig(local_as=args.local_as, router_id=args.router_id, listen=listen, neighbors=(neighbor,)))
    events = speaker.events()
    await speaker.start()
    for prefix in args.announce:
        speaker.announce(prefix)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)

    async def show() -> None:
        async for item in events:
            ev = item.event
            if isinstance(ev, SessionEstablished):
                print(f"{item.peer}: established, AS {ev.params.remote_as}, hold {ev.params.hold_time_s} s", flush=True)
            elif isinstance(ev, UpdateReceived):
                for line in describe(ev.update):
                    print(f"{item.peer}: {line}", flush=True)
            elif isinstance(ev, NotificationReceived):
                print(f"{item.peer}: NOTIFICATION {ev.notification.name}", flush=True)
            elif isinstance(ev, SessionDown):
                print(f"{item.peer}: down: {ev.reason}", flush=True)

    task = asyncio.create_task(show())
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await speaker.stop("peer_and_print example stopped")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--local-as", type=int, required=True)
    p.add_argument("--router-id", required=True, help="our BGP identifier (dotted quad)")
    p.add_argument("--peer", required=True, help="the router's address")
    p.add_argument("--peer-as", required=True, help="its AS number, or 'internal' / 'external'")
    p.add_argument("--peer-port", type=int, default=179)
    p.add_argument("--listen", action="append", default=None, help="address to listen on (repeatable)")
    p.add_argument("--port", type=int, default=179, help="port to listen on")
    p.add_argument("--passive", action="store_true", help="only wait for the router to connect")
    p.add_argument("--password", help="TCP-MD5 password")
    p.add_argument("--hold-time", type=int, default=90)
    p.add_argument("--announce", action="append", default=[], help="prefix to announce (repeatable)")
    p.add_argument("--next-hop-ipv4", help="next hop for IPv4 routes on an IPv6 session")
    p.add_argument("--next-hop-ipv6", help="next hop for IPv6 routes on an IPv4 session")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until Ctrl-C)")
    args = p.parse_args(argv)
    if args.listen is None:
        args.listen = ["0.0.0.0", "::"]
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
