"""Run a bgpcore Speaker from JSON config; events out and query answers as JSON lines on stdout.

    python bgpcore_runner.py CONFIG.json

Commands arrive on stdin, one JSON object per line: ``{"id": 1, "cmd": "routes", "peer": "192.0.2.2"}``;
each gets ``{"reply": 1, "result": ...}`` (or ``"error"``). Events are ``{"event": "StateChanged", ...}``.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from typing import Any

from bgpcore.session.events import (
    NotificationReceived, RouteRefreshReceived, SessionDown, SessionEstablished, StateChanged, UpdateReceived,
)
from bgpcore.transport.config import neighbor_from_dict, speaker_config_from_dict
from bgpcore.transport.routes import SimpleRoutes
from bgpcore.transport.neighbor import PeerEvent
from bgpcore.transport.speaker import Speaker
from bgpcore.wire.nlri import key_to_network
from bgpcore.wire.types import PathAttributes


def _community(text: str) -> int:
    high, low = text.split(":")
    return int(high) << 16 | int(low)


def _attributes(args: dict[str, Any]) -> PathAttributes:
    return PathAttributes(
        med=args.get("med"),
        local_pref=args.get("local_pref"),
        communities=tuple(_community(c) for c in args.get("communities", ())),
        large_communities=tuple(tuple(c) for c in args.get("large_communities", ())),  # type: ignore[misc]
        as_path=tuple((2, tuple(seg)) for seg in args.get("as_path", ())),
    )


def _route_json(attrs: PathAttributes, next_hop: tuple[str, ...]) -> dict[str, Any]:
    return {
        "next_hop": list(next_hop), "origin": attrs.origin, "as_path": [[t, list(a)] for t, a in attrs.as_path],
        "med": attrs.med, "local_pref": attrs.local_pref,
        "communities": [f"{c >> 16}:{c & 0xFFFF}" for c in attrs.communities],
        "large_communities": [list(c) for c in attrs.large_communities],
    }


class Runner:
    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        handler = speaker.handler
        assert isinstance(handler, SimpleRoutes)
        self.routes = handler

    def emit(self, obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()

    def received(self, peer: str) -> dict[str, Any]:
        out = {}
        for (afi, _), table in self.routes.received.get(peer, {}).items():
            for key, (attrs, hop) in table.items():
                out[str(key_to_network(key, afi))] = _route_json(attrs, hop)
        return out

    def on_event(self, item: PeerEvent) -> None:
        ev, peer = item.event, item.peer
        if isinstance(ev, StateChanged):
            self.emit({"event": "StateChanged", "peer": peer, "old": ev.old.name, "new": ev.new.name})
        elif isinstance(ev, SessionEstablished):
            p = ev.params
            self.emit({"event": "SessionEstablished", "peer": peer, "remote_as": p.remote_as, "hold_time_s": p.hold_time_s,
                       "families": [list(f) for f in p.families]})
        elif isinstance(ev, SessionDown):
            self.emit({"event": "SessionDown", "peer": peer, "reason": ev.reason, "sent": ev.sent, "received": ev.received,
                       "was_established": ev.was_established, "routes_after": len(self.received(peer))})
        elif isinstance(ev, NotificationReceived):
            n = ev.notification
            self.emit({"event": "NotificationReceived", "peer": peer, "code": n.code, "subcode": n.subcode, "name": n.name,
                       "message": n.shutdown_message})
        elif isinstance(ev, UpdateReceived):
            u = ev.update
            self.emit({"event": "UpdateReceived", "peer": peer, "action": u.action.name, "problems": list(u.problems)})
        elif isinstance(ev, RouteRefreshReceived):
            self.emit({"event": "RouteRefreshReceived", "peer": peer, "afi": ev.afi, "safi": ev.safi})

    def command(self, msg: dict[str, Any]) -> Any:
        cmd = msg["cmd"]
        s = self.speaker
        if cmd == "ping":
            return "pong"
        if cmd == "neighbor":
            return dataclasses.asdict(s.neighbor(msg["peer"]))
        if cmd == "neighbors":
            return [dataclasses.asdict(n) for n in s.neighbors()]
        if cmd == "routes":
            return self.received(msg["peer"])
        if cmd == "announce":
            s.announce(msg["prefix"], next_hop=msg.get("next_hop"), attributes=_attributes(msg))
            return True
        if cmd == "withdraw":
            s.withdraw(msg["prefix"])
            return True
        if cmd == "reset":
            s.reset_neighbor(msg["peer"], soft_in=msg.get("soft_in", False), soft_out=msg.get("soft_out", False),
                             message=msg.get("message", ""))
            return True
        if cmd == "shutdown":
            s.shutdown_neighbor(msg["peer"], msg.get("message", ""))
            return True
        if cmd == "enable":
            s.enable_neighbor(msg["peer"])
            return True
        if cmd == "add_neighbor":
            return s.add_neighbor(neighbor_from_dict(msg["config"]))
        if cmd == "remove_neighbor":
            s.remove_neighbor(msg["peer"], msg.get("message", ""))
            return True
        raise ValueError(f"unknown command {cmd}")


async def main(path: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with open(path) as f:
        config = speaker_config_from_dict(json.load(f))
    speaker = Speaker(config)
    runner = Runner(speaker)
    events = speaker.events()
    await speaker.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def pump_events() -> None:
        async for item in events:
            runner.on_event(item)

    task = loop.create_task(pump_events())
    while line := await reader.readline():
        msg = json.loads(line)
        await asyncio.sleep(0)  # events already queued go out before the answer
        while not events.queue.empty():
            runner.on_event(events.queue.get_nowait())
        try:
            runner.emit({"reply": msg["id"], "result": runner.command(msg)})
        except Exception as exc:  # noqa: BLE001 - report to the test, keep running
            runner.emit({"reply": msg["id"], "error": f"{type(exc).__name__}: {exc}"})
    task.cancel()
    await speaker.stop("runner stopped")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
