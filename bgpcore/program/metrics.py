"""Prometheus metrics of a running router, in the text exposition format, over the standard
library's HTTP server (``[metrics] listen = "127.0.0.1:9179"``; off when the table is absent).

The HTTP server runs in its own thread; each scrape asks the event loop's thread to render
the page (``run_coroutine_threadsafe``), so router state is only ever read on its own thread.
``render_metrics`` is a plain function of the router: tests and other servers can use it.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from bgpcore.errors import UsageError
from bgpcore.session.fsm import State
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family

if TYPE_CHECKING:
    from bgpcore.program.ops import Operations
    from bgpcore.router.core import Router

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAMILY_NAMES: dict[Family, str] = {IPV4_UNICAST: "ipv4-unicast", IPV6_UNICAST: "ipv6-unicast"}
_STATES = tuple(s.name for s in State)
_ESTABLISHED = State.ESTABLISHED.name


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Page:
    """Families of samples in exposition order: ``# HELP``, ``# TYPE``, then the samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, object], float | int]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class LoopLag:
    """How late the event loop runs a timer: sampled every ``period_s``."""

    def __init__(self, period_s: float = 0.5) -> None:
        self.period_s = period_s
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event loop lag")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period_s)
            self.lag_s = max(0.0, loop.time() - before - self.period_s)
            self.max_lag_s = max(self.max_lag_s, self.lag_s)


def render_metrics(router: Router, lag: LoopLag | None = None, ops: Operations | None = None) -> str:
    """The metrics page of ``router`` (Prometheus text format 0.0.4)."""
    from bgpcore import __version__

    page = _Page()
    config = router.config
    page.family("bgpcore_info", "gauge", "The router: version, AS and router id.",
                [({"version": __version__, "local_as": config.local_as, "router_id": config.router_id}, 1)])
    neighbors = router.neighbors()
    page.family("bgpcore_neighbor_state", "gauge", "1 for the neighbor's current FSM state.",
                [({"peer": s.peer, "state": state}, int(s.state == state)) for s in neighbors for state in _STATES])
    page.family("bgpcore_neighbor_up", "gauge", "1 when the session is Established.",
                [({"peer": s.peer}, int(s.state == _ESTABLISHED)) for s in neighbors])
    page.family("bgpcore_neighbor_uptime_seconds", "gauge", "Time since the session reached Established (0: down).",
                [({"peer": s.peer}, round(s.uptime_s or 0.0, 3)) for s in neighbors])
    page.family("bgpcore_neighbor_established_total", "counter", "Times the session reached Established.",
                [({"peer": s.peer}, s.established_count) for s in neighbors])
    page.family("bgpcore_neighbor_messages_received_total", "counter", "BGP messages received, by type.",
                [({"peer": s.peer, "type": t.lower()}, n) for s in neighbors for t, n in sorted(s.messages_in.items())])
    page.family("bgpcore_neighbor_messages_sent_total", "counter", "BGP messages sent, by type.",
                [({"peer": s.peer, "type": t.lower()}, n) for s in neighbors for t, n in sorted(s.messages_out.items())])
    page.family("bgpcore_neighbor_prefixes_received", "gauge", "Prefixes in the neighbor's Adj-RIB-In.",
                [({"peer": s.peer}, s.prefixes_received or 0) for s in neighbors])
    page.family("bgpcore_neighbor_prefixes_advertised", "gauge", "Prefixes advertised to the neighbor.",
                [({"peer": s.peer, "family": name}, _advertised(router, s.peer, fam))
                 for s in neighbors if s.state == _ESTABLISHED for fam, name in _FAMILY_NAMES.items()])
    page.family("bgpcore_rib_prefixes", "gauge", "Prefixes in the Loc-RIB.",
                [({"family": name}, router.route_count(fam)) for fam, name in _FAMILY_NAMES.items()])
    groups = router.rib.groups.by_id
    page.family("bgpcore_update_groups", "gauge", "Update groups (neighbors that share their output).",
                [({}, len(groups))])
    page.family("bgpcore_update_group_members", "gauge", "Neighbors in each update group.",
                [({"group": gid}, len(g.members)) for gid, g in sorted(groups.items())])
    fib = router.fib
    page.family("bgpcore_fib_enabled", "gauge", "1 when the router installs routes in the kernel.",
                [({}, int(fib is not None))])
    if fib is not None:
        page.family("bgpcore_fib_routes", "gauge", "Routes given to the kernel.", [({}, len(router.fib_routes()))])
        page.family("bgpcore_fib_pending_routes", "gauge", "Routes waiting for a next hop or interface.",
                    [({}, len(fib.pending))])
        page.family("bgpcore_fib_failed_routes", "gauge", "Routes the kernel refused (FIB errors).",
                    [({}, len(fib.failed))])
    if lag is not None:
        page.family("bgpcore_event_loop_lag_seconds", "gauge", "How late the event loop ran the last probe timer.",
                    [({}, round(lag.lag_s, 6))])
        page.family("bgpcore_event_loop_lag_max_seconds", "gauge", "Largest event-loop lag seen.",
                    [({}, round(lag.max_lag_s, 6))])
    if ops is not None:
        _ops_metrics(page, ops)
    return page.text()


def _advertised(router: Router, peer: str, family: Family) -> int:
    try:
        return len(router.advertised_routes(peer, family))
    except UsageError:
        return 0


def _ops_metrics(page: _Page, ops: Operations) -> None:
    if ops.bmp is not None:
        stations = ops.bmp.stations
        page.family("bgpcore_bmp_station_up", "gauge", "1 while connected to the BMP station.",
                    [({"station": s.name}, int(s.connected)) for s in stations])
        page.family("bgpcore_bmp_connects_total", "counter", "Connections made to the BMP station.",
                    [({"station": s.name}, s.connects) for s in stations])
        page.family("bgpcore_bmp_messages_sent_total", "counter", "BMP messages sent to the station.",
                    [({"station": s.name}, s.messages_sent) for s in stations])
    if ops.config.mrt is not None:
        page.family("bgpcore_mrt_rib_dumps_total", "counter", "MRT RIB dumps written.", [({}, ops.rib_dumps)])
        page.family("bgpcore_mrt_update_records_total", "counter", "BGP4MP records written to the update log.",
                    [({}, ops.update_log.records if ops.update_log is not None else 0)])


class MetricsServer:
    """``GET /metrics`` on ``listen`` (address, port; port 0 picks one, see ``address``)."""

    def __init__(self, router: Router, listen: tuple[str, int], ops: Operations | None = None) -> None:
        self.router = router
        self.listen = listen
        self.ops = ops
        self.lag = LoopLag()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    async def start(self) -> None:
        """Bind and serve. Raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()

        async def page() -> str:
            return render_metrics(self.router, self.lag, self.ops)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404, "try /metrics")
                    return
                try:
                    body = asyncio.run_coroutine_threadsafe(page(), loop).result(timeout=30).encode()
                except Exception as exc:  # the page could not be made: say so, keep serving
                    self.send_error(500, f"{type(exc).__name__}: {exc}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        host, port = self.listen
        server_class = ThreadingHTTPServer
        if ":" in host:
            import socket

            class V6Server(ThreadingHTTPServer):
                address_family = socket.AF_INET6
            server_class = V6Server
        self._server = server_class((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics http", daemon=True)
        self._thread.start()
        self.lag.start()

    async def stop(self) -> None:
        self.lag.stop()
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.get_running_loop().run_in_executor(None, server.shutdown)
            server.server_close()
        self._thread = None


__all__ = ["LoopLag", "MetricsServer", "render_metrics"]
