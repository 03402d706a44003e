"""A complete route reflector embedded in a program: a Speaker whose routes go through a Rib.

    python examples/route_reflector.py 127.0.0.1 1790 127.0.0.2 127.0.0.3

Listens on the first address and port; every further address is an iBGP route-reflector
client of AS 64496. Prints session events and, every ten seconds, each client's prefixes.
"""
from __future__ import annotations

import asyncio
import logging
import sys

from bgpcore.program.rr import RibHandler
from bgpcore.rib.manager import Rib, RibConfig
from bgpcore.session.events import SessionDown, SessionEstablished
from bgpcore.transport.config import NeighborConfig, SpeakerConfig
from bgpcore.transport.speaker import Speaker

ASN = 64496


async def main(address: str, port: int, clients: list[str]) -> None:
    rib = Rib(RibConfig(local_asn=ASN, router_id=address, shards=1, track_changes=False))
    handler = RibHandler(rib, rr_clients=frozenset(clients))
    neighbors = tuple(NeighborConfig(address=c, remote_as=ASN, passive=True) for c in clients)
    speaker = Speaker(SpeakerConfig(local_as=ASN, router_id=address, listen=((address, port),), neighbors=neighbors),
                      handler=handler)
    handler.speaker = speaker
    await speaker.start()

    async def report() -> None:
        while True:
            await asyncio.sleep(10)
            print({c: handler.prefix_count(c) for c in clients}, f"{len(rib)} prefixes in the Loc-RIB")

    reporter = asyncio.create_task(report())
    try:
        async for item in speaker.events():
            if isinstance(item.event, (SessionEstablished, SessionDown)):
                print(item.peer, type(item.event).__name__)
    finally:
        reporter.cancel()
        await speaker.stop()
        rib.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    try:
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
    except KeyboardInterrupt:
        pass
