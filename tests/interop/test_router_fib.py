"""``bgpcore run`` with a ``[fib]``: what the kernel holds when a peer goes away.

A router namespace runs ``python -m bgpcore run --config router.toml`` (one ``[[neighbor]]``,
graceful restart on, ``[fib]`` installing everything); a peer namespace across a veth holds
a plain TCP BGP speaker written with bgpcore's codec, driven by the test. The peer announces
two prefixes; the kernel of the router namespace (``ip -j route show proto bgp``) is the oracle.

* The peer's connection dies without a NOTIFICATION (TCP reset) after graceful restart was
  negotiated: the routes stay in the kernel, stale, for the peer's restart time, then leave
  it when the peer does not come back (RFC 4724 helper mode).
* The peer sends a NOTIFICATION, or its connection dies without graceful restart having been
  negotiated: the routes leave the kernel at once.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from bgpcore.constants import MsgType
from bgpcore.errors import BgpError
from bgpcore.fib.kernel import netns
from bgpcore.program.control import request
from bgpcore.wire.capabilities import FourOctetAs, GracefulRestart, Multiprotocol
from bgpcore.wire.context import IPV4_UNICAST, CodecContext
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.nlri import network_key
from bgpcore.wire.notification import Notification, encode_notification
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_end_of_rib, encode_updates

from fib_oracle import hops_of
from netns import Lab

ROOT = Path(__file__).resolve().parents[2]
ROUTER_AS, PEER_AS = 64501, 64502
ROUTER_IP, PEER_IP = "192.0.2.1", "192.0.2.2"
PREFIXES = ("203.0.113.0/24", "198.51.100.128/25")
RESTART_TIME_S = 4  # what the peer advertises in its graceful restart capability


class RawPeer:
    """A BGP speaker made of a TCP socket opened inside the peer's namespace and the codec."""

    def __init__(self, ns: str, graceful_restart: bool) -> None:
        with netns(ns):  # the socket belongs to the namespace it was made in
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.bind((PEER_IP, 0))
        self.sock.connect((ROUTER_IP, 179))
        caps: tuple[Any, ...] = (Multiprotocol(1, 1), FourOctetAs(PEER_AS))
        if graceful_restart:
            caps += (GracefulRestart(0, RESTART_TIME_S, ((1, 1, 0x80),)),)
        self.sock.sendall(encode_open(Open(PEER_AS, 30, PEER_IP, caps)) + KEEPALIVE)
        reader = MessageReader()
        types: list[int] = []
        while MsgType.KEEPALIVE not in types:  # the router's OPEN, then its KEEPALIVE: Established
            data = self.sock.recv(65536)
            assert data, "the router closed the connection instead of opening the session"
            types += [t for t, _ in reader.feed(data)]
        assert MsgType.OPEN in types and MsgType.NOTIFICATION not in types, types
        self.sock.setblocking(False)
        self.last_keepalive = time.monotonic()

    def announce(self, prefixes: tuple[str, ...]) -> None:
        ctx = CodecContext()
        attrs = PathAttributes(origin=0, as_path=((2, (PEER_AS,)),))
        out = b"".join(encode_updates(attrs, IPV4_UNICAST, (PEER_IP,), [network_key(p) for p in prefixes], ctx))
        self.sock.sendall(out + encode_end_of_rib(IPV4_UNICAST, ctx))

    def keepalive(self) -> None:
        """Keep the router's hold timer (9 s) from firing while the test waits; drain its output."""
        try:
            while self.sock.recv(65536):
                pass
        except BlockingIOError:
            pass
        if time.monotonic() - self.last_keepalive > 1:
            self.sock.sendall(KEEPALIVE)
            self.last_keepalive = time.monotonic()

    def reset(self) -> None:
        """The connection just dies: a TCP reset (SO_LINGER 0), no NOTIFICATION."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def cease(self) -> None:
        """NOTIFICATION Cease/Administrative Shutdown, then close."""
        self.sock.setblocking(True)
        self.sock.sendall(encode_notification(Notification(6, 2, b"")))
        time.sleep(0.1)
        self.sock.close()


class RouterLab:
    """Router and peer namespaces, a veth between them, ``bgpcore run`` in the router's."""

    def __init__(self, lab: Lab, graceful_restart: bool) -> None:
        self.lab = lab
        self.router = lab.ns("r")
        self.peer = lab.ns("p")
        lab.link(self.router, "vR", self.peer, "vP")
        lab.addr(self.router, "vR", f"{ROUTER_IP}/24")
        lab.addr(self.peer, "vP", f"{PEER_IP}/24")
        self.socket = str(lab.dir / "router.sock")
        neighbor = [f'address = "{PEER_IP}"', f"asn = {PEER_AS}", "passive = true", "hold_time = 9"]
        if graceful_restart:
            neighbor.append(f"graceful_restart = {RESTART_TIME_S}")
        config = "\n".join([
            "[speaker]", f"asn = {ROUTER_AS}", f'router_id = "{ROUTER_IP}"', f'listen = ["{ROUTER_IP}"]',
            f'control_socket = "{self.socket}"', "",
            "[fib]", 'install = "all"', "",
            "[[neighbor]]", *neighbor, ""])
        (lab.dir / "router.toml").write_text(config)
        path = os.environ.get("PYTHONPATH", "")
        self.proc = lab.spawn(self.router, sys.executable, "-m", "bgpcore", "run", "--config",
                              str(lab.dir / "router.toml"), log="router.log",
                              env={"PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)})
        self.wait(lambda: self.state() is not None, 15, "bgpcore run to answer on its control socket")

    def state(self) -> str | None:
        """The neighbor's session state from ``show neighbors``; None while the router is not up."""
        try:
            neighbors = request(self.socket, "show neighbors", timeout_s=2)
        except (BgpError, OSError):
            return None
        return next((str(n["state"]) for n in neighbors if n["peer"].startswith(PEER_IP)), "")

    def kernel(self) -> set[str]:
        """The proto-bgp IPv4 routes in the router namespace's main table."""
        return set(hops_of(self.lab, self.router))

    def wait(self, predicate: Callable[[], object], timeout_s: float, what: str,
             peer: RawPeer | None = None) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if predicate():
                return time.monotonic() - start
            if peer is not None:
                peer.keepalive()
            time.sleep(0.02)
        log = (self.lab.dir / "router.log").read_text(errors="replace").splitlines()[-30:]
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; kernel holds "
                             f"{sorted(self.kernel())}, session {self.state()}\n" + "\n".join(log))

    def session_with_routes(self, graceful_restart: bool) -> RawPeer:
        peer = RawPeer(self.peer, graceful_restart)
        peer.announce(PREFIXES)
        self.wait(lambda: self.kernel() >= set(PREFIXES), 10, "the peer's routes in the kernel", peer)
        routes = hops_of(self.lab, self.router)
        for prefix in PREFIXES:
            assert routes[prefix] == frozenset({(PEER_IP, "vR", 1)}), routes
        fib = request(self.socket, "show fib")
        assert fib["installed"] and {r["prefix"] for r in fib["routes"]} == set(PREFIXES), fib
        return peer


@pytest.fixture
def gr_lab(lab: Lab) -> RouterLab:
    return RouterLab(lab, graceful_restart=True)


def test_graceful_restart_keeps_routes_in_the_kernel_until_the_restart_time_expires(gr_lab: RouterLab) -> None:
    peer = gr_lab.session_with_routes(graceful_restart=True)
    dropped = time.monotonic()
    peer.reset()
    gr_lab.wait(lambda: gr_lab.state() not in ("ESTABLISHED", None), 5, "the router to see the session die")
    down_s = time.monotonic() - dropped
    # stale, not gone: the kernel keeps forwarding while the peer restarts
    while time.monotonic() - dropped < RESTART_TIME_S - 0.5:
        assert gr_lab.kernel() >= set(PREFIXES), \
            f"routes left the kernel {time.monotonic() - dropped:.2f} s after the reset, before the restart time"
        time.sleep(0.1)
    gr_lab.wait(lambda: not gr_lab.kernel() & set(PREFIXES), 4, "the stale routes to leave the kernel")
    gone_s = time.monotonic() - dropped
    print(f"\nsession down {down_s * 1000:.0f} ms after the reset; stale routes left the kernel "
          f"{gone_s:.2f} s after it (restart time {RESTART_TIME_S} s)")
    assert RESTART_TIME_S - 0.5 <= gone_s <= RESTART_TIME_S + 2.5
    assert gr_lab.proc.poll() is None, "bgpcore run exited"


def test_notification_removes_routes_from_the_kernel_at_once(gr_lab: RouterLab) -> None:
    peer = gr_lab.session_with_routes(graceful_restart=True)
    peer.cease()
    took = gr_lab.wait(lambda: not gr_lab.kernel() & set(PREFIXES), 2, "the routes to leave the kernel")
    print(f"\nNOTIFICATION: routes left the kernel in {took * 1000:.0f} ms")
    assert gr_lab.state() != "ESTABLISHED"


def test_reset_without_graceful_restart_removes_routes_from_the_kernel_at_once(lab: Lab) -> None:
    router = RouterLab(lab, graceful_restart=False)
    peer = router.session_with_routes(graceful_restart=False)
    peer.reset()
    took = router.wait(lambda: not router.kernel() & set(PREFIXES), 2, "the routes to leave the kernel")
    print(f"\nreset without graceful restart: routes left the kernel in {took * 1000:.0f} ms")
    assert router.state() != "ESTABLISHED"


def test_peer_back_within_the_restart_time_keeps_its_routes_and_purges_the_rest(gr_lab: RouterLab) -> None:
    peer = gr_lab.session_with_routes(graceful_restart=True)
    peer.reset()
    gr_lab.wait(lambda: gr_lab.state() not in ("ESTABLISHED", None), 5, "the router to see the session die")
    # back before the restart time, announcing only the first prefix, then End-of-RIB
    peer = _reconnect(gr_lab, timeout_s=RESTART_TIME_S - 1)
    assert gr_lab.kernel() >= set(PREFIXES), "stale routes kept until End-of-RIB"
    peer.announce(PREFIXES[:1])
    gr_lab.wait(lambda: PREFIXES[1] not in gr_lab.kernel(), 3, "End-of-RIB to purge the route not sent again", peer)
    assert PREFIXES[0] in gr_lab.kernel()
    # the restart timer must not purge the refreshed route once it would have expired
    end = time.monotonic() + RESTART_TIME_S + 0.5
    while time.monotonic() < end:
        peer.keepalive()
        time.sleep(0.1)
    assert PREFIXES[0] in gr_lab.kernel() and gr_lab.state() == "ESTABLISHED"
    peer.cease()


def _reconnect(router: RouterLab, timeout_s: float) -> RawPeer:
    """The peer opens its session again (the router may refuse while it still tears down)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return RawPeer(router.peer, graceful_restart=True)
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_show_fib_json_lists_what_the_kernel_holds(gr_lab: RouterLab) -> None:
    """``bgpcore show fib --json`` from the command line agrees with the kernel."""
    peer = gr_lab.session_with_routes(graceful_restart=True)
    res = subprocess.run([sys.executable, "-m", "bgpcore", "show", "fib", "--json", "--socket", gr_lab.socket],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    shown = json.loads(res.stdout)
    assert {r["prefix"]: r["next_hop"] for r in shown["routes"]} == {p: [PEER_IP] for p in PREFIXES}, shown
    peer.cease()
