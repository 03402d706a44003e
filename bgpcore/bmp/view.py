"""A station's view of a BMP stream: fed bytes, it keeps what a collector would (no I/O).

For tests and tools: which peers came up and went down, each peer's pre-policy routes, the
Loc-RIB, the last statistics, and whether the stream began with Initiation and ended with
Termination.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from bgpcore.bmp.codec import BmpMessage, MessageType, PeerType, decode_tlvs, split_messages
from bgpcore.wire.capabilities import AddPath
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, Family
from bgpcore.wire.open import decode_open
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update

LOC_RIB = "loc-rib"
"""The key of the Loc-RIB instance in ``BmpView.routes``."""

_V4 = frozenset({IPV4_UNICAST})


@dataclass
class BmpView:
    """Everything learnt from the bytes given to ``feed``."""

    initiations: int = 0
    terminated: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)
    """("up" | "down", peer address or ``LOC_RIB``), in order."""
    routes: dict[str, dict[tuple[Family, bytes], tuple[PathAttributes | None, tuple[str, ...]]]] = field(
        default_factory=dict)
    end_of_rib: dict[str, set[Family]] = field(default_factory=dict)
    statistics: dict[str, dict[int, bytes]] = field(default_factory=dict)
    messages: int = 0
    _buffer: bytes = b""
    _contexts: dict[str, CodecContext] = field(default_factory=dict)

    def feed(self, data: bytes) -> list[BmpMessage]:
        self._buffer += data
        messages, used = split_messages(self._buffer)
        self._buffer = self._buffer[used:]
        for m in messages:
            self.apply(m)
        return messages

    @staticmethod
    def peer_name(message: BmpMessage) -> str:
        assert message.peer is not None
        return LOC_RIB if message.peer.peer_type == PeerType.LOC_RIB else message.peer.address

    def apply(self, m: BmpMessage) -> None:
        self.messages += 1
        if m.type == MessageType.INITIATION:
            self.initiations += 1
            return
        if m.type == MessageType.TERMINATION:
            self.terminated = True
            return
        name = self.peer_name(m)
        if m.type == MessageType.PEER_UP:
            self.events.append(("up", name))
            self.routes[name] = {}
            self.end_of_rib[name] = set()
            self._contexts[name] = self._context(m.body)
        elif m.type == MessageType.PEER_DOWN:
            self.events.append(("down", name))
            self.routes.pop(name, None)
        elif m.type == MessageType.STATISTICS_REPORT:
            (count,) = struct.unpack_from("!I", m.body)
            self.statistics[name] = dict(decode_tlvs(m.body[4:]))
        elif m.type == MessageType.ROUTE_MONITORING:
            self._route_monitoring(name, m.body)

    def _context(self, body: bytes) -> CodecContext:
        """Decode with ADD-PATH where the sent OPEN receives and the received OPEN sends it."""
        pos = 20
        sent_len = struct.unpack_from("!H", body, pos + 16)[0]
        sent = decode_open(body[pos + 19:pos + sent_len])
        recv_len = struct.unpack_from("!H", body, pos + sent_len + 16)[0]
        received = decode_open(body[pos + sent_len + 19:pos + sent_len + recv_len])

        def modes(caps: tuple[object, ...], bit: int) -> set[Family]:
            return {(e[0], e[1]) for c in caps if isinstance(c, AddPath) for e in c.entries if e[2] & bit}

        addpath = modes(sent.capabilities, 1) & modes(received.capabilities, 2)
        return CodecContext(asn4=True, addpath=frozenset(addpath), extended_nexthop=_V4, extended_message=True)

    def _route_monitoring(self, name: str, pdu: bytes) -> None:
        update = decode_update(pdu[19:], self._contexts.get(name, CodecContext(extended_nexthop=_V4)))
        table = self.routes.setdefault(name, {})
        eor = update.end_of_rib()
        if eor is not None:
            self.end_of_rib.setdefault(name, set()).add(eor)
            return
        for key in update.withdrawn:
            table.pop((IPV4_UNICAST, key), None)
        if update.mp_unreach is not None:
            for key in update.mp_unreach.nlri:
                table.pop(((update.mp_unreach.afi, update.mp_unreach.safi), key), None)
        attrs = update.attributes
        if attrs is not None:
            for key in update.nlri:
                table[(IPV4_UNICAST, key)] = (attrs._replace(next_hop=None), (attrs.next_hop or "",))
            if update.mp_reach is not None:
                family = (update.mp_reach.afi, update.mp_reach.safi)
                for key in update.mp_reach.nlri:
                    table[(family, key)] = (attrs, update.mp_reach.next_hop)

    def prefixes(self, name: str) -> set[tuple[Family, bytes]]:
        return set(self.routes.get(name, {}))


__all__ = ["LOC_RIB", "BmpView"]
