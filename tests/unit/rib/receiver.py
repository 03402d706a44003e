"""A simulated receiving peer: decodes what the RIB sends and keeps the resulting table."""
from __future__ import annotations

from bgpcore.constants import HEADER_LEN
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, DEFAULT_CONTEXT, Family
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update


class Receiver:
    def __init__(self, ctx: CodecContext = DEFAULT_CONTEXT) -> None:
        self.ctx = ctx
        self.table: dict[tuple[Family, bytes], tuple[PathAttributes, tuple[str, ...]]] = {}
        self.end_of_rib: list[Family] = []
        self.updates = 0

    def feed(self, messages: list[bytes]) -> None:
        for message in messages:
            update = decode_update(message[HEADER_LEN:], self.ctx)
            self.updates += 1
            eor = update.end_of_rib()
            if eor is not None:
                self.end_of_rib.append(eor)
                continue
            for key in update.withdrawn:
                self.table.pop((IPV4_UNICAST, key), None)
            if update.mp_unreach is not None:
                family = (update.mp_unreach.afi, update.mp_unreach.safi)
                for key in update.mp_unreach.nlri:
                    self.table.pop((family, key), None)
            attrs = update.attributes
            if attrs is None:
                continue
            if update.nlri:
                assert attrs.next_hop is not None
                for key in update.nlri:
                    self.table[(IPV4_UNICAST, key)] = (attrs._replace(next_hop=None), (attrs.next_hop,))
            if update.mp_reach is not None:
                family = (update.mp_reach.afi, update.mp_reach.safi)
                for key in update.mp_reach.nlri:
                    self.table[(family, key)] = (attrs, update.mp_reach.next_hop)
