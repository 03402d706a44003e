"""`bgpcore run` as a route reflector on loopback: real TCP sessions from codec-built peers."""
from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from bgpcore.constants import MsgType
from bgpcore.program.config import parse_config
from bgpcore.program.control import request
from bgpcore.program.daemon import Daemon
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes, Update
from bgpcore.wire.update import decode_update, encode_updates

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.feeder import connect  # noqa: E402

A, B, C = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _config(tmp_path: Path) -> str:
    text = f"""
[speaker]
asn = 64496
router_id = "127.0.0.1"
cluster_id = "192.0.2.99"
listen = ["127.0.0.1"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"
"""
    for address, client in ((A, True), (B, True), (C, False)):
        text += f'\n[[neighbor]]\naddress = "{address}"\nasn = 64496\npassive = true\nrr_client = {str(client).lower()}\n'
    return text


def _announce(sock: socket.socket, prefix: str, **attrs: object) -> None:
    path = PathAttributes(origin=0, as_path=(), local_pref=100, **attrs)  # type: ignore[arg-type]
    for message in encode_updates(path, IPV4_UNICAST, ("192.0.2.1",), [network_key(prefix)], DEFAULT_CONTEXT):
        sock.sendall(message)


def _next_route(sock: socket.socket, early: bytes, timeout_s: float = 10.0) -> Update:
    """The first UPDATE with IPv4 NLRI the reflector sends on ``sock``."""
    sock.settimeout(timeout_s)
    buf = early
    while True:
        while len(buf) >= 19 and len(buf) >= (length := int.from_bytes(buf[16:18], "big")):
            msg_type, body, buf = buf[18], buf[19:length], buf[length:]
            if msg_type == MsgType.UPDATE:
                update = decode_update(body, DEFAULT_CONTEXT)
                if update.nlri:
                    return update
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("reflector closed the session")
        buf += data


@pytest.fixture
async def reflector(tmp_path: Path):  # type: ignore[no-untyped-def]
    rr = Daemon(parse_config(_config(tmp_path), "test.toml"))
    await rr.start()
    yield rr
    await rr.stop()


async def test_client_route_reaches_clients_and_non_clients_with_originator_and_cluster_list(
        reflector: Daemon) -> None:
    port = reflector.router.speaker.listening[0][1]
    peers = {}
    for address in (A, B, C):
        peers[address] = await asyncio.to_thread(connect, "127.0.0.1", port, address, 64496, address)
    a_sock = peers[A][0]
    await asyncio.to_thread(_announce, a_sock, "203.0.113.0/24")
    for address in (B, C):
        update = await asyncio.to_thread(_next_route, *peers[address])
        assert update.nlri == [network_key("203.0.113.0/24")]
        assert update.attributes is not None
        assert update.attributes.originator_id == A
        assert update.attributes.cluster_list == ("192.0.2.99",)
        assert update.attributes.next_hop == "192.0.2.1"
    shown = await asyncio.to_thread(request, reflector.config.control_socket, "show routes", prefix="203.0.113.0/24")
    assert shown["total"] == 1 and shown["routes"][0]["paths"][0]["from"] == A
    for s, _ in peers.values():
        s.close()


async def test_route_carrying_our_cluster_id_is_dropped(reflector: Daemon) -> None:
    port = reflector.router.speaker.listening[0][1]
    a_sock, _ = await asyncio.to_thread(connect, "127.0.0.1", port, A, 64496, A)
    b_sock, b_early = await asyncio.to_thread(connect, "127.0.0.1", port, B, 64496, B)
    await asyncio.to_thread(_announce, a_sock, "198.51.100.0/24", originator_id="10.0.0.9",
                            cluster_list=("192.0.2.7", "192.0.2.99"))
    await asyncio.to_thread(_announce, a_sock, "203.0.113.128/25")
    update = await asyncio.to_thread(_next_route, b_sock, b_early)
    assert update.nlri == [network_key("203.0.113.128/25")]  # the looped route never came first
    shown = await asyncio.to_thread(request, reflector.config.control_socket, "show routes", prefix="198.51.100.0/24")
    assert shown == {"total": 0, "routes": []}
    neighbors = {n["peer"]: n for n in await asyncio.to_thread(request, reflector.config.control_socket, "show neighbors")}
    assert neighbors[A]["state"] == "ESTABLISHED" and neighbors[A]["rr_client"] is True
    assert neighbors[A]["prefixes_received"] == 1
    assert neighbors[C]["state"] != "ESTABLISHED" and neighbors[C]["rr_client"] is False
    a_sock.close()
    b_sock.close()
