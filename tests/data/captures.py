"""Test helpers over the shared captures: TCP streams out of pcap files, MRT-aware contexts."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

from scapy.all import IP, TCP, Ether, IPv6, Packet, PcapReader, Raw  # type: ignore[import-untyped]

from bgpcore.constants import BGP_PORT, AddPathMode, MsgType
from bgpcore.mrt import BgpMessage
from bgpcore.wire.capabilities import AddPath, ExtendedMessage, ExtendedNextHop, FourOctetAs
from bgpcore.wire.context import CodecContext
from bgpcore.wire.open import decode_open

Flow = tuple[str, int, str, int]
JUNIPER_MAGIC = b"MGC"


def _unwrap(pkt: Packet) -> Packet:
    """The Ethernet frame inside a Juniper capture header (link type JUNIPER_ETHER)."""
    if isinstance(pkt, Raw) and bytes(pkt)[:3] == JUNIPER_MAGIC:
        raw = bytes(pkt)
        start = 6 + int.from_bytes(raw[4:6], "big") if raw[3] & 0x80 else 4
        return Ether(raw[start:])
    return pkt


def tcp_streams(path: Path) -> dict[Flow, list[bytes]]:
    """Each direction's BGP byte runs, segments ordered by sequence number.

    Retransmitted or overlapping segments are laid over the bytes already placed; a hole
    (bytes never captured) or an overlap with different bytes ends one run and the next
    segment starts another: test captures often splice segments of different sessions
    under one address pair.
    """
    segments: dict[Flow, list[tuple[int, bytes]]] = {}
    with PcapReader(str(path)) as reader:
        for pkt in map(_unwrap, reader):
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            tcp = pkt.getlayer(TCP)
            if ip is None or tcp is None or BGP_PORT not in (tcp.sport, tcp.dport):
                continue
            payload = bytes(tcp.payload)
            if isinstance(ip, IP) and ip.len:  # drop Ethernet padding
                payload = payload[: max(0, ip.len - ip.ihl * 4 - tcp.dataofs * 4)]
            if payload:
                segments.setdefault((ip.src, tcp.sport, ip.dst, tcp.dport), []).append((tcp.seq, payload))
    streams: dict[Flow, list[bytes]] = {}
    for flow, segs in segments.items():
        first = segs[0][0]
        segs.sort(key=lambda s: (s[0] - first) % 2**32)  # stable: capture order within a seq
        runs = streams[flow] = []
        base, buf = segs[0][0], bytearray()
        for seq, payload in segs:
            offset = (seq - base) % 2**32
            overlap = buf[offset:offset + len(payload)]
            if offset > len(buf) or overlap != payload[:len(overlap)]:
                runs.append(bytes(buf))
                base, buf, offset = seq, bytearray(), 0
            buf[offset:offset + len(payload)] = payload
        runs.append(bytes(buf))
    return streams


def with_dumped_add_path(records: Iterator[object]) -> Iterator[BgpMessage]:
    """BGP4MP messages whose context also honours ADD-PATH that the dumped OPENs announced.

    For dumps whose writer (BIRD) records ADD-PATH sessions with the plain MESSAGE
    subtypes: the families come from the OPEN, as the session learnt them (RFC 7911 §4).
    """
    sending: dict[str, frozenset[tuple[int, int]]] = {}
    for rec in records:
        if not isinstance(rec, BgpMessage):
            continue
        if rec.message[18] == MsgType.OPEN:
            caps = decode_open(rec.message[19:]).capabilities
            sending[rec.peer_address] = frozenset(
                (afi, safi) for cap in caps if isinstance(cap, AddPath)
                for afi, safi, mode in cap.entries if mode & AddPathMode.SEND)
        extra = sending.get(rec.peer_address)
        if extra and not extra <= rec.ctx.addpath:
            rec = rec._replace(ctx=dataclasses.replace(rec.ctx, addpath=rec.ctx.addpath | extra))
        yield rec


def negotiated_contexts(streams: dict[Flow, list[bytes]], default: CodecContext) -> dict[Flow, CodecContext]:
    """The receive context of each flow, from the OPENs both ends sent (RFC 6793, 7911, 8950, 8654).

    With only one OPEN captured, that side's capabilities decide; with none, ``default``.
    """
    opens: dict[Flow, tuple[object, ...]] = {}
    for flow, runs in streams.items():
        data = runs[0]
        pos = 0
        while pos + 19 <= len(data) and data[pos:pos + 16] == b"\xff" * 16:
            length = int.from_bytes(data[pos + 16:pos + 18], "big")
            if data[pos + 18] == MsgType.OPEN:
                try:
                    opens[flow] = decode_open(data[pos + 19:pos + length]).capabilities
                except Exception:
                    pass
                break
            pos += max(length, 19)
    contexts = {}
    for flow in streams:
        mine, theirs = opens.get(flow), opens.get((flow[2], flow[3], flow[0], flow[1]))
        if mine is None and theirs is None:
            contexts[flow] = default
            continue
        sides = [caps for caps in (mine, theirs) if caps is not None]

        def has(kind: type) -> bool:
            return all(any(isinstance(c, kind) for c in caps) for caps in sides)

        def add_path(caps: tuple[object, ...] | None, bit: int) -> set[tuple[int, int]] | None:
            if caps is None:
                return None
            return {(a, s) for c in caps if isinstance(c, AddPath) for a, s, m in c.entries if m & bit}

        send, receive = add_path(mine, AddPathMode.SEND), add_path(theirs, AddPathMode.RECEIVE)
        addpath = set() if send is None else send if receive is None else send & receive
        nexthop = {(a, s) for caps in sides for c in caps if isinstance(c, ExtendedNextHop) for a, s, _ in c.entries}
        contexts[flow] = CodecContext(asn4=has(FourOctetAs), addpath=frozenset(addpath),
                                      extended_nexthop=frozenset(nexthop), extended_message=has(ExtendedMessage))
    return contexts
