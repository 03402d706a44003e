"""OPEN building and policy checks, and the edges of Session's interface."""
from __future__ import annotations

import struct

import pytest

from bgpcore.constants import CapCode, ErrorCode, MsgType, RouteRefreshSubcode
from bgpcore.errors import UsageError
from bgpcore.session.events import (
    Command, ConnectionMade, ConnectRequested, DisconnectRequested, RequestRefresh, SessionDown, Start,
)
from bgpcore.session.fsm import State
from bgpcore.session.negotiate import build_open, capability_code, negotiate
from bgpcore.session.timers import TimerSettings, Timer, Timers
from bgpcore.wire.capabilities import (
    EnhancedRouteRefresh, FourOctetAs, Fqdn, GracefulRestart, RouteRefresh, UnknownCapability,
)
from bgpcore.wire.framing import frame
from bgpcore.wire.open import Open

from session_pair import A_POLICY, make_session, replace  # type: ignore[import-not-found]


def test_capability_codes_include_unknown_ones() -> None:
    assert capability_code(UnknownCapability(200, b"x")) == 200
    assert capability_code(RouteRefresh()) == CapCode.ROUTE_REFRESH


@pytest.mark.parametrize("kw", [{"local_as": 70000, "four_octet_as": False}, {"remote_as": "everyone"}])
def test_policy_refuses_impossible_settings(kw: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        replace(A_POLICY, **kw)


def test_open_carries_only_what_the_policy_offers() -> None:
    plain = build_open(replace(A_POLICY, route_refresh=False, enhanced_route_refresh=False, four_octet_as=False))
    assert not any(isinstance(c, (RouteRefresh, EnhancedRouteRefresh, FourOctetAs)) for c in plain.capabilities)
    full = build_open(replace(A_POLICY, graceful_restart_time_s=120, hostname="core1"))
    assert GracefulRestart(0, 120, ()) in full.capabilities and Fqdn("core1", "") in full.capabilities


def test_negotiation_reports_the_peers_graceful_restart_and_hostname() -> None:
    local = build_open(A_POLICY)
    remote = Open(65002, 90, "192.0.2.2", (GracefulRestart(8, 90, ((1, 1, 128),)), Fqdn("peer", "example")))
    params = negotiate(local, remote, 65001)
    assert params.graceful_restart == GracefulRestart(8, 90, ((1, 1, 128),))
    assert params.peer_hostname == "peer" and not params.route_refresh
    assert params.hold_time_s == 9 and not params.recv_ctx.asn4  # the peer offered no 4-octet AS


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_session(A_POLICY).send(Command(), 0)


def test_refresh_before_established_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_session(A_POLICY).send(RequestRefresh(afi=1, safi=1), 0)


def _open_sent() -> object:
    s = make_session(A_POLICY)
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    assert s.pending_output > 0 and s.data_to_send() and s.pending_output == 0
    return s


def test_notification_without_subcode_is_a_header_error() -> None:
    s = _open_sent()
    events = s.receive_data(frame(MsgType.NOTIFICATION, b"\x06"), 0)  # type: ignore[attr-defined]
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.MESSAGE_HEADER, 2) and s.state is State.IDLE  # type: ignore[attr-defined]


def test_a_codec_bug_ends_only_this_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from bgpcore.session import session as module

    def broken(body: bytes) -> object:
        raise IndexError("bug")
    monkeypatch.setattr(module, "decode_open", broken)
    s = _open_sent()
    events = s.receive_data(frame(MsgType.OPEN, b"\x04" + b"\0" * 9), 0)  # type: ignore[attr-defined]
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.OPEN_MESSAGE, 0)


def test_bad_route_refresh_length_resets_with_route_refresh_error(established: object) -> None:
    p = established
    # a BoRR marker must be exactly 4 octets (RFC 7313 §5)
    events = p.b.receive_data(frame(MsgType.ROUTE_REFRESH, struct.pack("!HBBB", 1, 1, 1, 0)), p.now)  # type: ignore[attr-defined]
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.ROUTE_REFRESH_MESSAGE, RouteRefreshSubcode.INVALID_MESSAGE_LENGTH)


def test_connect_retry_during_delay_open_drops_the_connection_and_connects_again() -> None:
    s = make_session(A_POLICY, timers=TimerSettings(delay_open_s=30, connect_retry_s=5))
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    s._timers.start(Timer.CONNECT_RETRY, 0, 5)  # as if it had kept running
    events = s.handle_timer(5)
    assert any(isinstance(e, DisconnectRequested) for e in events) and any(isinstance(e, ConnectRequested) for e in events)
    assert s.state is State.CONNECT and not s.connected


def test_timers_report_their_deadlines() -> None:
    t = Timers()
    t.start(Timer.HOLD, 10, 3)
    assert t.deadline(Timer.HOLD) == 13 and t.deadline(Timer.KEEPALIVE) is None
