"""The AF_NETLINK/NETLINK_ROUTE socket: requests, dumps, batches, ACKs, and link/neighbour state.

Built on the stdlib ``socket`` module only. What the rest of bgpcore calls:

- :class:`NetlinkSocket` -- one rtnetlink socket. ``request(msg)`` sends one message and waits
  for its ACK; ``dump(msg)`` yields every reply of a dump; ``send_batch(msgs)`` packs many
  messages per ``sendmsg`` and returns the refusals keyed by sequence number. Refusals become
  :class:`bgpcore.errors.FibError` naming the errno and the kernel's extended-ack text
  (``NETLINK_EXT_ACK`` is switched on). A batch whose refusals overflowed the receive buffer
  raises :class:`BatchOverrun` after draining, and later batches are made smaller.
- :func:`list_links` -- every interface: ifindex, name, up/down, carrier, MAC.
- :class:`LinkMonitor` -- subscribes to RTNLGRP_LINK (optionally also neighbour and address
  groups) and yields :class:`~bgpcore.fib.netlink.LinkMessage` events (``NeighbourMessage`` /
  ``AddressMessage`` for the optional groups); non-blocking, so asyncio code uses
  ``async for event in monitor.events()`` (``loop.add_reader`` underneath) and synchronous code
  calls ``monitor.read()`` when ``monitor.fileno()`` is readable.
- :func:`list_neighbours` -- ARP/ND entries of an interface (address, MAC, router flag, state);
  :func:`add_neighbour` writes a permanent one.
- :func:`addresses` -- addresses of an interface (find our IPv6 link-local with
  ``[a for a in addresses(ifindex) if a.is_link_local]``).
- :func:`netns` -- a context manager that opens sockets inside a named network namespace
  (``/run/netns/NAME``): a netlink socket belongs to the namespace it was created in.

Every call here blocks only for the kernel's synchronous answer (rtnetlink handles a request
inside ``sendmsg``), so they are safe to call from the event loop for modest work.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno as errno_mod
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Final, Iterable, Iterator

from bgpcore.errors import FibError
from bgpcore.fib import netlink as nl

NETLINK_ROUTE: Final = 0
_RECV_BUF: Final = 1 << 16
_WANT_BUF: Final = 8 << 20
_ERROR_COST: Final = 1024  # upper bound of receive-buffer bytes one refusal occupies
_CLONE_NEWNET: Final = 0x40000000




@contextlib.contextmanager
def netns(name: str | None) -> Iterator[None]:
    """Create sockets inside network namespace ``name`` (``/run/netns/NAME`` or a path).

    Switches only the calling thread (``setns``) and switches back on exit; sockets made inside
    keep their namespace. ``None`` leaves the namespace alone.
    """
    if name is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    path = name if "/" in name else f"/run/netns/{name}"
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
        try:
            yield
        finally:
            libc.setns(own, _CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


def _set_buffer(sock: socket.socket, force_opt: int, opt: int, size: int) -> int:
    try:
        sock.setsockopt(socket.SOL_SOCKET, force_opt, size)  # root: past the sysctl maximum
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, opt, size)
    return sock.getsockopt(socket.SOL_SOCKET, opt)


_SO_SNDBUFFORCE: Final = 32
_SO_RCVBUFFORCE: Final = 33


class NetlinkSocket:
    """An rtnetlink socket with sequence numbers, ACK matching and batching.

    Args:
        groups: multicast groups (RTNLGRP_*) to join; events then arrive with the replies, so
            a socket used for requests usually has none.
        namespace: open the socket in this named network namespace.
        blocking: False for a monitor registered with an event loop.
    """

    def __init__(self, groups: Iterable[int] = (), namespace: str | None = None, blocking: bool = True) -> None:
        with netns(namespace):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        try:
            for opt in (nl.NETLINK_EXT_ACK, nl.NETLINK_CAP_ACK, nl.NETLINK_GET_STRICT_CHK):
                try:
                    self.sock.setsockopt(nl.SOL_NETLINK, opt, 1)
                except OSError:
                    pass  # older kernels: plain errors, unfiltered dumps
            self.sndbuf = _set_buffer(self.sock, _SO_SNDBUFFORCE, socket.SO_SNDBUF, _WANT_BUF)
            self.rcvbuf = _set_buffer(self.sock, _SO_RCVBUFFORCE, socket.SO_RCVBUF, _WANT_BUF)
            self.sock.bind((0, 0))
            for group in groups:
                self.sock.setsockopt(nl.SOL_NETLINK, nl.NETLINK_ADD_MEMBERSHIP, group)
            self.sock.setblocking(blocking)
        except BaseException:
            self.sock.close()
            raise
        self._last_seq = 0
        self._buf = bytearray(_RECV_BUF)
        # a batch may not hold more messages than the receive buffer has room to refuse
        self.batch_messages = max(16, min(4096, self.rcvbuf // _ERROR_COST))
        self.batch_bytes = max(4096, min(1 << 20, self.sndbuf // 2 - 64))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def next_seq(self) -> int:
        return self.reserve_seq(1)

    def reserve_seq(self, count: int) -> int:
        """``count`` consecutive sequence numbers (never wrapping inside the run); the first."""
        first = self._last_seq + 1
        if first + count > 0xFFFFFFFF:
            first = 1
        self._last_seq = first + count - 1
        return first

    def recv(self, flags: int = 0) -> memoryview:
        """One datagram from the kernel (blocking sockets wait unless ``flags`` has MSG_DONTWAIT)."""
        try:
            n = self.sock.recv_into(self._buf, 0, flags)
        except OSError as exc:
            if exc.errno == errno_mod.ENOBUFS:
                raise FibError(exc.errno, "ENOBUFS: netlink receive buffer overrun; kernel state must be re-read") from exc
            raise
        return memoryview(self._buf)[:n]

    # -- one request ---------------------------------------------------------------------------

    def request(self, build: nl.RouteMessage | nl.NexthopMessage | nl.NeighbourMessage, msg_type: int,
                flags: int = 0, what: str = "") -> None:
        """Send one request with NLM_F_ACK and wait for its ACK.

        Raises:
            FibError: the kernel refused it (errno name and extended-ack text in the message).
        """
        seq = self.next_seq()
        self.sock.send(build.encode(msg_type, flags | nl.NLM_F_REQUEST | nl.NLM_F_ACK, seq))
        self._wait_ack(seq, what or nl.MsgType(msg_type).name)

    def _wait_ack(self, seq: int, what: str) -> None:
        while True:
            for msg_type, flags, msg_seq, body in nl.iter_messages(self.recv()):
                if msg_type == nl.MsgType.ERROR and msg_seq == seq:
                    err = nl.ErrorMessage.decode(body, flags)
                    if err.errno:
                        raise nl.fib_error(err, what)
                    return

    def query(self, message: bytes) -> list[tuple[int, memoryview]]:
        """Replies to one non-dump request (e.g. a route lookup), ended by the kernel's ACK.

        ``message`` is built with sequence number 0 and without NLM_F_ACK.

        Raises:
            FibError: the kernel refused the request.
        """
        seq = self.next_seq()
        flags = int.from_bytes(message[6:8], "little") | nl.NLM_F_ACK
        self.sock.send(message[:6] + flags.to_bytes(2, "little") + seq.to_bytes(4, "little") + message[12:])
        replies: list[tuple[int, memoryview]] = []
        while True:
            data = bytes(self.recv())
            for msg_type, msg_flags, msg_seq, body in nl.iter_messages(data):
                if msg_seq != seq:
                    continue
                if msg_type == nl.MsgType.ERROR:
                    err = nl.ErrorMessage.decode(body, msg_flags)
                    if err.errno:
                        raise nl.fib_error(err, "query")
                    return replies
                replies.append((msg_type, body))

    # -- dumps ---------------------------------------------------------------------------------

    def dump(self, message: bytes, retries: int = 5) -> list[tuple[int, memoryview]]:
        """Every ``(type, body)`` a dump request returns, retried when the dump was interrupted.

        ``message`` is built with sequence number 0; this call stamps its own.
        """
        for _ in range(retries):
            seq = self.next_seq()
            self.sock.send(message[:8] + seq.to_bytes(4, "little") + message[12:])
            replies, interrupted = self._read_dump(seq)
            if not interrupted:
                return replies
        raise FibError(errno_mod.EINTR, "dump interrupted by concurrent changes too many times")

    def _read_dump(self, seq: int) -> tuple[list[tuple[int, memoryview]], bool]:
        replies: list[tuple[int, memoryview]] = []
        interrupted = False
        while True:
            data = bytes(self.recv())  # replies outlive the receive buffer
            for msg_type, flags, msg_seq, body in nl.iter_messages(data):
                if msg_seq != seq:
                    continue
                interrupted |= bool(flags & nl.NLM_F_DUMP_INTR)
                if msg_type == nl.MsgType.DONE:
                    err = nl.ErrorMessage.decode_done(body, flags)
                    if err.errno:  # a dump refused at its start reports here
                        raise nl.fib_error(err, "dump")
                    return replies, interrupted
                if msg_type == nl.MsgType.ERROR:
                    err = nl.ErrorMessage.decode(body, flags)
                    if err.errno:
                        raise nl.fib_error(err, "dump")
                    return replies, interrupted
                replies.append((msg_type, body))

    # -- batches -------------------------------------------------------------------------------

    def send_batch(self, messages: Iterable[bytes]) -> dict[int, nl.ErrorMessage]:
        """Send messages (each with its own sequence number, no NLM_F_ACK) many per ``sendmsg``.

        Each packed datagram ends with an NLMSG_NOOP that asks for an ACK: when that ACK arrives
        every message before it has been handled, and only refusals were sent back.

        Returns:
            the refusals, keyed by the sequence number of the message they concern.

        Raises:
            BatchOverrun: the receive buffer overflowed and some refusals were lost (the
                batch is sized so that this does not happen with the buffer it got).
        """
        errors: dict[int, nl.ErrorMessage] = {}
        chunk: list[bytes] = []
        size = 0
        max_msgs, max_bytes = self.batch_messages, self.batch_bytes
        for msg in messages:
            chunk.append(msg)
            size += len(msg)
            if len(chunk) >= max_msgs or size >= max_bytes:
                self._send_chunk(chunk, errors)
                chunk, size = [], 0
        if chunk:
            self._send_chunk(chunk, errors)
        return errors

    def _send_chunk(self, chunk: list[bytes], errors: dict[int, nl.ErrorMessage]) -> None:
        fence = self.next_seq()
        chunk.append(_fence(fence))
        self.sock.send(b"".join(chunk))
        try:
            while True:
                if self._collect(self.recv(), fence, errors):
                    return
        except FibError as exc:
            if exc.errno != errno_mod.ENOBUFS:
                raise
        # Replies were dropped, maybe the fence's ACK too. The kernel drops everything for this
        # socket until its queue is empty: drain it, then a second fence marks the end.
        while True:
            try:
                self._collect(self.recv(socket.MSG_DONTWAIT), fence, errors)
            except BlockingIOError:
                break
        fence = self.next_seq()
        self.sock.send(_fence(fence))
        while not self._collect(self.recv(), fence, errors):
            pass
        rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.batch_messages = max(1, min(self.batch_messages // 2, rcvbuf // (2 * _ERROR_COST)))
        raise BatchOverrun(errno_mod.ENOBUFS, "ENOBUFS: refusals of a batch were lost; kernel state must be re-read")

    @staticmethod
    def _collect(data: memoryview, fence: int, errors: dict[int, nl.ErrorMessage]) -> bool:
        """Record the refusals in ``data``; True once the fence's ACK is among them."""
        for msg_type, flags, msg_seq, body in nl.iter_messages(data):
            if msg_type != nl.MsgType.ERROR:
                continue
            if msg_seq == fence:
                return True
            err = nl.ErrorMessage.decode(body, flags)
            if err.errno:
                errors[msg_seq] = err
        return False


class BatchOverrun(FibError):
    """The kernel dropped replies to a batch: which of its messages failed is unknown."""


def _fence(seq: int) -> bytes:
    return nl.encode_message(nl.MsgType.NOOP, nl.NLM_F_REQUEST | nl.NLM_F_ACK, seq, b"")


# --- links, addresses, neighbours --------------------------------------------------------------

def _dump(sock: NetlinkSocket | None, namespace: str | None, message: bytes) -> list[tuple[int, memoryview]]:
    if sock is not None:
        return sock.dump(message)
    with NetlinkSocket(namespace=namespace) as own:
        return own.dump(message)


def list_links(sock: NetlinkSocket | None = None, namespace: str | None = None) -> list[nl.LinkMessage]:
    """Every interface: ``.ifindex``, ``.name``, ``.up``, ``.carrier``, ``.running``, ``.mac_text``."""
    request = nl.LinkMessage.encode_request(nl.MsgType.GETLINK, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 0)
    return [nl.LinkMessage.decode(body, t) for t, body in _dump(sock, namespace, request)
            if t == nl.MsgType.NEWLINK]


def link_by_name(name: str, sock: NetlinkSocket | None = None, namespace: str | None = None) -> nl.LinkMessage:
    """The interface called ``name``.

    Raises:
        FibError: ENODEV when there is none.
    """
    for link in list_links(sock, namespace):
        if link.name == name:
            return link
    raise FibError(errno_mod.ENODEV, f"ENODEV: no interface named {name!r}")


@dataclass(frozen=True, slots=True)
class Address:
    """An address on an interface, as ``ip addr`` lists it."""

    ifindex: int
    interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    scope: int
    flags: int

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return self.interface.ip

    @property
    def is_link_local(self) -> bool:
        return self.interface.ip.is_link_local


def addresses(ifindex: int | None = None, family: int = socket.AF_UNSPEC, sock: NetlinkSocket | None = None,
              namespace: str | None = None) -> list[Address]:
    """Addresses of interface ``ifindex`` (all interfaces when None), via RTM_GETADDR."""
    request = nl.AddressMessage.encode_request(0, family, ifindex or 0)
    out = []
    for t, body in _dump(sock, namespace, request):
        if t != nl.MsgType.NEWADDR:
            continue
        msg = nl.AddressMessage.decode(body)
        if ifindex is not None and msg.ifindex != ifindex:
            continue
        raw = msg.local or msg.address
        if raw is None:
            continue
        ip = ipaddress.ip_address(raw)
        out.append(Address(msg.ifindex, ipaddress.ip_interface(f"{ip}/{msg.prefixlen}"), msg.scope, msg.flags))
    return out


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An ARP/ND entry: who answers for ``address`` on ``ifindex`` and at which MAC."""

    ifindex: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    mac: str | None
    router: bool
    state: str


def list_neighbours(ifindex: int | None = None, family: int = socket.AF_UNSPEC, sock: NetlinkSocket | None = None,
                    namespace: str | None = None) -> list[Neighbour]:
    """ARP/ND entries of ``ifindex`` (all when None), via RTM_GETNEIGH."""
    request = nl.NeighbourMessage(family=family, ifindex=0).encode(
        nl.MsgType.GETNEIGH, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 0)
    out = []
    for t, body in _dump(sock, namespace, request):
        if t != nl.MsgType.NEWNEIGH:
            continue
        msg = nl.NeighbourMessage.decode(body)
        if msg.dst is None or (ifindex is not None and msg.ifindex != ifindex):
            continue
        out.append(Neighbour(msg.ifindex, ipaddress.ip_address(msg.dst), nl.mac_text(msg.lladdr),
                             msg.router, msg.state_name))
    return out


def add_neighbour(sock: NetlinkSocket, ifindex: int, address: str, mac: bytes) -> None:
    """A permanent ARP/ND entry (create or replace): the next hop 169.254.0.1 trick needs one."""
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    msg = nl.NeighbourMessage(family=family, ifindex=ifindex, state=nl.NUD_PERMANENT, dst=ip.packed, lladdr=mac)
    sock.request(msg, nl.MsgType.NEWNEIGH, nl.NLM_F_CREATE | nl.NLM_F_REPLACE, f"neighbour {address}")


# --- link events -------------------------------------------------------------------------------

LinkEvent = nl.LinkMessage | nl.NeighbourMessage | nl.AddressMessage
LinkHandler = Callable[[list[LinkEvent], bool], None]
"""Takes a batch of events and whether the kernel dropped some before them (then re-read the state)."""


class LinkMonitor:
    """Link (and optionally neighbour) events from the kernel's multicast groups.

    ``read()`` returns what is queued without blocking; ``events()`` is an async iterator for
    asyncio code; ``subscribe()`` shares one monitor between several consumers (a router's FIB
    and its unnumbered discovery read one socket). When the kernel had to drop events (receive buffer full) ``overrun`` becomes
    True and the caller re-reads the state with :func:`list_links`. ``snapshot()`` lists the links as they are now, so a caller can subscribe
    first, then read the current state, then apply events without missing one in between.
    """

    def __init__(self, neighbours: bool = False, addresses: bool = False, namespace: str | None = None) -> None:
        groups = [nl.RTNLGRP_LINK] + ([nl.RTNLGRP_NEIGH] if neighbours else [])
        groups += [nl.RTNLGRP_IPV4_IFADDR, nl.RTNLGRP_IPV6_IFADDR] if addresses else []
        self._sock = NetlinkSocket(groups, namespace=namespace, blocking=False)
        self._namespace = namespace
        self.overrun = False  # set when the kernel dropped events: re-read the state
        self._handlers: list[LinkHandler] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.fileno())
            self._loop = None
        self._handlers.clear()
        self._sock.close()

    def subscribe(self, handler: LinkHandler) -> None:
        """Hand every batch of events to ``handler`` (read on the running event loop)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self.fileno(), self._dispatch)
        self._handlers.append(handler)

    def unsubscribe(self, handler: LinkHandler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def _dispatch(self) -> None:
        events = self.read()
        overrun, self.overrun = self.overrun, False
        if not events and not overrun:
            return
        for handler in list(self._handlers):
            try:
                handler(events, overrun)
            except Exception:  # noqa: BLE001 - one consumer's failure must not starve the others
                logging.getLogger("bgpcore.fib").exception("link events: %r failed", handler)

    def __enter__(self) -> LinkMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> list[nl.LinkMessage]:
        return list_links(namespace=self._namespace) if self._namespace else list_links()

    def read(self) -> list[LinkEvent]:
        """Every event queued now (empty when none); never blocks."""
        out: list[LinkEvent] = []
        while True:
            try:
                data = self._sock.recv()
            except (BlockingIOError, InterruptedError):
                return out
            except FibError as exc:
                if exc.errno != errno_mod.ENOBUFS:
                    raise
                self.overrun = True
                continue
            for msg_type, _flags, _seq, body in nl.iter_messages(data):
                if msg_type in (nl.MsgType.NEWLINK, nl.MsgType.DELLINK):
                    out.append(nl.LinkMessage.decode(body, msg_type))
                elif msg_type in (nl.MsgType.NEWNEIGH, nl.MsgType.DELNEIGH):
                    out.append(nl.NeighbourMessage.decode(body))
                elif msg_type == nl.MsgType.NEWADDR:
                    out.append(nl.AddressMessage.decode(body))

    async def events(self) -> AsyncIterator[nl.LinkMessage | nl.NeighbourMessage | nl.AddressMessage]:
        """Yield events as they arrive, waiting on the event loop (``loop.add_reader``)."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(self.fileno(), ready.set)
        try:
            while True:
                ready.clear()  # the reader is level-triggered: data left unread sets it again
                for event in self.read():
                    yield event
                await ready.wait()
        finally:
            loop.remove_reader(self.fileno())
