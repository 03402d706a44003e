"""Helpers for the oracle tests: BGP byte streams into a pcap, and tshark's reading of it."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

from scapy.all import IP, TCP, Ether, wrpcap  # type: ignore[import-untyped]

from bgpcore.constants import BGP_PORT

Fields = list[tuple[str, str]]
"""One BGP message as tshark shows it: (field name, value) in display order, flattened."""

SPEAKER, PEER = "192.0.2.1", "192.0.2.2"


def write_stream_pcap(path: Path, stream: bytes, rng: random.Random, max_segment: int = 1400, min_segment: int = 1) -> None:
    """``stream`` as TCP segments from port 179 after a handshake, cut at random points.

    Sequence numbers follow the bytes, so tshark reassembles messages split across segments.
    """
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out, back = eth / IP(src=SPEAKER, dst=PEER), eth / IP(src=PEER, dst=SPEAKER)
    isn, peer_isn = 1000, 5000
    packets = [
        back / TCP(sport=40000, dport=BGP_PORT, flags="S", seq=peer_isn),
        out / TCP(sport=BGP_PORT, dport=40000, flags="SA", seq=isn, ack=peer_isn + 1),
        back / TCP(sport=40000, dport=BGP_PORT, flags="A", seq=peer_isn + 1, ack=isn + 1),
    ]
    pos = 0
    while pos < len(stream):
        size = rng.randint(min_segment, max_segment)
        chunk = stream[pos:pos + size]
        packets.append(out / TCP(sport=BGP_PORT, dport=40000, flags="PA", seq=isn + 1 + pos, ack=peer_isn + 1) / chunk)
        pos += len(chunk)
    wrpcap(str(path), packets)


def _flatten(node: Any, out: Fields) -> None:
    if isinstance(node, list) and all(isinstance(x, tuple) and len(x) == 2 for x in node):
        for key, value in node:
            if isinstance(value, list):
                _flatten(value, out)
            else:
                out.append((key, value))
    elif isinstance(node, list):
        for item in node:
            _flatten(item, out)


def tshark_messages(pcap: Path, *prefs: str) -> list[Fields]:
    """Every BGP message tshark finds in ``pcap``, in order, with duplicate fields kept."""
    tshark = shutil.which("tshark")
    assert tshark is not None
    args = [tshark, "-r", str(pcap), "-T", "json", "-Y", "bgp"]
    for pref in prefs:
        args += ["-o", pref]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    packets = json.loads(out, object_pairs_hook=lambda pairs: pairs)
    messages: list[Fields] = []
    for packet in packets:
        layers = dict(dict(packet)["_source"])["layers"]
        for key, value in layers:
            if key != "bgp":
                continue
            # several messages in one segment come as a list of per-message field lists
            many = isinstance(value, list) and value and not isinstance(value[0], tuple)
            for one in (value if many else [value]):
                fields: Fields = []
                _flatten(one, fields)
                messages.append(fields)
    return messages


def values(fields: Fields, name: str) -> list[str]:
    return [v for k, v in fields if k == name]


def value(fields: Fields, name: str) -> str | None:
    found = values(fields, name)
    return found[0] if found else None
