from __future__ import annotations

import random
import struct

import pytest

from bgpcore.constants import CapCode, CeaseSubcode, ErrorCode, FsmSubcode, HeaderSubcode, MsgType, OpenSubcode, UpdateSubcode
from bgpcore.errors import UsageError
from bgpcore.session.events import (
    ConnectionFailed,
    ConnectionMade,
    ConnectRequested,
    DisconnectRequested,
    DumpCollision,
    NotificationReceived,
    OpenReceived,
    RequestRefresh,
    Reset,
    RouteRefreshReceived,
    SendUpdates,
    SessionDown,
    SessionEstablished,
    Start,
    Stop,
    UpdateReceived,
)
from bgpcore.session.fsm import State
from bgpcore.session.negotiate import OpenPolicy
from bgpcore.session.session import Session, keeps_outgoing
from bgpcore.session.timers import Timer, TimerSettings
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.framing import frame
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.nlri import network_key
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates, encode_withdrawals

from session_pair import A_POLICY, B_POLICY, Pair, make_session, replace  # type: ignore[import-not-found]


def _pair(a: OpenPolicy = A_POLICY, b: OpenPolicy = B_POLICY, **kw: object) -> Pair:
    return Pair(make_session(a, label="a", **kw), make_session(b, label="b", **kw))


def _notes(p: Pair, name: str) -> list[tuple[int, int]]:
    return [(e.notification.code, e.notification.subcode) for e in p.of(name, NotificationReceived)]  # type: ignore[attr-defined]


def test_sessions_reach_established_fed_whole_and_bytewise(pair: Pair) -> None:
    pair.connect()
    assert pair.a.state is State.ESTABLISHED and pair.b.state is State.ESTABLISHED
    params = pair.a.params
    assert params is not None
    assert (params.hold_time_s, params.keepalive_s, params.remote_as, params.remote_id) == (9, 3, 65002, "192.0.2.2")
    assert params.recv_ctx.asn4 and params.send_ctx.asn4 and params.families == (IPV4_UNICAST,)
    assert params.route_refresh and not params.ibgp
    assert len(pair.of("a", SessionEstablished)) == 1 and len(pair.of("b", OpenReceived)) == 1
    assert pair.a.messages_out[MsgType.OPEN] == 1 and pair.b.messages_in[MsgType.KEEPALIVE] == 1


def test_keepalives_keep_an_idle_session_up(established: Pair) -> None:
    established.advance(60)
    assert established.a.state is State.ESTABLISHED and established.b.state is State.ESTABLISHED
    # keepalive every hold/3 = 3 s with jitter in [0.75, 1]: 20 to 27 in 60 s
    assert 20 <= established.a.messages_out[MsgType.KEEPALIVE] - 1 <= 27


def test_silent_peer_trips_hold_timer_and_session_restarts(established: Pair) -> None:
    p = established
    p.now += 9
    events = p.a.handle_timer(p.now)
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.HOLD_TIMER_EXPIRED, 0) and down[0].was_established
    assert any(isinstance(e, DisconnectRequested) for e in events)
    assert p.a.state is State.IDLE
    assert p.a.data_to_send()[-21:][18:20] == bytes((MsgType.NOTIFICATION, ErrorCode.HOLD_TIMER_EXPIRED))
    p.now += 1.0
    assert any(isinstance(e, ConnectRequested) for e in p.a.handle_timer(p.now))
    assert p.a.state is State.CONNECT


@pytest.mark.parametrize("remote_as, ok", [(65002, True), (65003, False), ("external", True), ("internal", False)])
def test_peer_as_rule(remote_as: object, ok: bool) -> None:
    p = _pair(replace(A_POLICY, remote_as=remote_as))
    p.connect()
    assert (p.a.state is State.ESTABLISHED) is ok
    if not ok:
        assert _notes(p, "b") == [(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS)]
        assert p.b.state is State.IDLE


def test_internal_peer_with_our_identifier_is_refused() -> None:
    a = OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as="internal")
    b = OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as="internal")
    p = _pair(a, b)
    p.connect()
    down = p.of("b", SessionDown)
    assert [e.sent for e in down] == [(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER)]  # type: ignore[attr-defined]


def test_internal_peers_establish_as_ibgp() -> None:
    p = _pair(OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as="internal"),
              OpenPolicy(local_as=65001, router_id="192.0.2.2", remote_as=65001))
    p.connect()
    assert p.a.params is not None and p.a.params.ibgp


def test_hold_time_below_our_minimum_is_unacceptable() -> None:
    p = _pair(A_POLICY, replace(B_POLICY, min_hold_time_s=10))
    p.connect()
    assert _notes(p, "a") == [(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME)]


def test_missing_required_capability_names_it_in_the_notification() -> None:
    p = _pair(replace(A_POLICY, required=(CapCode.EXTENDED_MESSAGE,)))
    p.connect()
    notes = p.of("b", NotificationReceived)
    assert [(n.notification.code, n.notification.subcode) for n in notes] == [  # type: ignore[attr-defined]
        (ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_CAPABILITY)]
    assert notes[0].notification.data == bytes((CapCode.EXTENDED_MESSAGE, 0))  # type: ignore[attr-defined]


def test_zero_hold_time_means_no_keepalives_and_no_hold_timer() -> None:
    p = _pair(replace(A_POLICY, hold_time_s=0))
    p.connect()
    assert p.a.params is not None and p.a.params.hold_time_s == 0
    assert p.a.next_deadline() is None and p.b.next_deadline() is None
    p.advance(1000)
    assert p.a.state is State.ESTABLISHED


def test_hold_time_under_three_seconds_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        replace(A_POLICY, hold_time_s=2)


def test_negotiation_per_direction() -> None:
    a = replace(A_POLICY, families=(IPV4_UNICAST, IPV6_UNICAST), extended_message=True,
                extended_nexthop=(IPV4_UNICAST,), addpath=((1, 1, 3),))
    b = replace(B_POLICY, families=(IPV4_UNICAST,), extended_message=True, addpath=((1, 1, 1),))
    p = _pair(a, b)
    p.connect()
    pa, pb = p.a.params, p.b.params
    assert pa is not None and pb is not None
    assert pa.families == (IPV4_UNICAST,) and pa.send_ctx.extended_message
    assert pa.send_ctx.addpath == {IPV4_UNICAST} and not pa.recv_ctx.addpath
    assert pb.recv_ctx.addpath == {IPV4_UNICAST} and not pb.send_ctx.addpath
    assert pa.recv_ctx.extended_nexthop == {IPV4_UNICAST} and not pb.send_ctx.extended_nexthop
    assert p.a._max_message_len == 65535


def test_update_reaches_the_peer_with_its_attributes(established: Pair) -> None:
    p = established
    attrs = PathAttributes(origin=0, as_path=((2, (65001,)),), med=5, communities=(65001 << 16 | 7,),
                           large_communities=((65001, 1, 2),))
    keys = [network_key("198.51.100.0/24"), network_key("203.0.113.0/25")]
    assert p.a.params is not None
    p.a.send(SendUpdates(messages=tuple(encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), keys, p.a.params.send_ctx))), p.now)
    p.a.send(SendUpdates(messages=tuple(encode_withdrawals(IPV4_UNICAST, keys[:1], p.a.params.send_ctx))), p.now)
    p.pump()
    updates = [e.update for e in p.of("b", UpdateReceived)]  # type: ignore[attr-defined]
    assert sorted(updates[0].nlri) == sorted(keys)
    assert updates[0].attributes.med == 5 and updates[0].attributes.large_communities == ((65001, 1, 2),)
    assert updates[0].attributes.next_hop == "192.0.2.1"
    assert updates[1].withdrawn == keys[:1]


def test_malformed_update_resets_the_session_with_update_error(established: Pair) -> None:
    p = established
    # withdrawn routes length runs past the message: RFC 7606 §4 session reset
    body = struct.pack("!H", 50) + struct.pack("!H", 0)
    events = p.b.receive_data(frame(MsgType.UPDATE, body), p.now)
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST)
    assert p.b.state is State.IDLE


def test_treat_as_withdraw_keeps_the_session(established: Pair) -> None:
    p = established
    # ORIGIN with an invalid value: treat-as-withdraw (RFC 7606 §7.1)
    attrs = (bytes((0x40, 1, 1, 9)) + bytes((0x40, 2, 6, 2, 1)) + struct.pack("!I", 65001) + bytes((0x40, 3, 4, 192, 0, 2, 1)))
    body = struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + network_key("198.51.100.0/24")
    events = p.b.receive_data(frame(MsgType.UPDATE, body), p.now)
    updates = [e.update for e in events if isinstance(e, UpdateReceived)]
    assert p.b.state is State.ESTABLISHED
    assert updates and updates[0].withdrawn == [network_key("198.51.100.0/24")] and not updates[0].nlri


def test_garbage_marker_gives_header_error(established: Pair) -> None:
    p = established
    events = p.b.receive_data(b"\x00" * 19, p.now)
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down[0].sent == (ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED)


def test_update_before_established_is_an_fsm_error() -> None:
    s = make_session(A_POLICY)
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    assert s.state is State.OPENSENT
    s.data_to_send()
    s.receive_data(frame(MsgType.UPDATE, b"\0\0\0\0"), 0)
    out = s.data_to_send()
    assert out[18:21] == bytes((MsgType.NOTIFICATION, ErrorCode.FSM, FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT))
    assert s.state is State.IDLE


def test_bad_version_is_reported_with_our_version() -> None:
    s = make_session(A_POLICY)
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    s.data_to_send()
    body = encode_open(Open(65002, 90, "192.0.2.2"))[19:]
    s.receive_data(frame(MsgType.OPEN, bytes((3,)) + body[1:]), 0)
    out = s.data_to_send()
    assert out[19:23] == bytes((ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, 0, 4))


def test_stop_sends_shutdown_message_and_only_the_other_side_restarts(established: Pair) -> None:
    p = established
    p.events = {"a": [], "b": []}
    p.events["a"] += p.a.send(Stop(message="maintenance window"), p.now)
    p.pump()
    notes = p.of("b", NotificationReceived)
    assert notes[0].notification.shutdown_message == "maintenance window"  # type: ignore[attr-defined]
    assert notes[0].notification.subcode == CeaseSubcode.ADMINISTRATIVE_SHUTDOWN  # type: ignore[attr-defined]
    assert p.a.next_deadline() is None
    assert p.b.next_deadline() is not None
    assert "maintenance window" in (p.b.last_error or "")


def test_reset_restarts_after_idle_hold(established: Pair) -> None:
    p = established
    events = p.a.send(Reset(message="clear"), p.now)
    assert any(isinstance(e, SessionDown) for e in events)
    assert p.a.data_to_send()[19:21] == bytes((ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET))
    p.now += 1.0
    assert any(isinstance(e, ConnectRequested) for e in p.a.handle_timer(p.now))


def test_route_refresh_round_trip(established: Pair) -> None:
    p = established
    p.a.send(RequestRefresh(afi=1, safi=1), p.now)
    p.pump()
    assert [(e.afi, e.safi) for e in p.of("b", RouteRefreshReceived)] == [(1, 1)]  # type: ignore[attr-defined]
    with pytest.raises(UsageError):
        p.a.send(RequestRefresh(afi=2, safi=1), p.now)


def test_send_updates_outside_established_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_session(A_POLICY).send(SendUpdates(messages=(KEEPALIVE,)), 0)


def test_connect_retry_backs_off_with_jitter() -> None:
    s = Session(A_POLICY, timers=TimerSettings(connect_retry_s=2, connect_retry_max_s=16), rng=random.Random(1))
    assert any(isinstance(e, ConnectRequested) for e in s.send(Start(), 0.0))
    now, gaps = 0.0, []
    for _ in range(6):
        deadline = s.next_deadline()
        assert deadline is not None
        gaps.append(deadline - now)
        now = deadline
        assert any(isinstance(e, ConnectRequested) for e in s.handle_timer(now))
    bases = [2, 2, 4, 8, 16, 16]
    assert all(0.75 * b <= g <= b for g, b in zip(gaps, bases)), gaps


def test_connection_refused_waits_for_connect_retry_in_active() -> None:
    s = make_session(A_POLICY)
    s.send(Start(), 0)
    s.send(ConnectionFailed(reason="refused"), 0.1)
    assert s.state is State.ACTIVE and s.last_error == "refused"
    s.handle_timer(s.next_deadline() or 0)
    assert s.state is State.CONNECT


def test_passive_session_never_asks_to_connect() -> None:
    s = make_session(A_POLICY, passive=True)
    assert not any(isinstance(e, ConnectRequested) for e in s.send(Start(), 0))
    assert s.state is State.ACTIVE and s.next_deadline() is None


def test_flapping_peer_is_damped() -> None:
    p = _pair()
    p.connect()
    waits = []
    for _ in range(4):
        p.a.send(ConnectionFailed(), p.now)
        deadline = p.a.next_deadline()
        assert deadline is not None
        waits.append(deadline - p.now)
        p.now = deadline
        p.a.handle_timer(p.now)
        p.b.send(ConnectionFailed(), p.now)
        p.b.send(Start(passive=True), p.now)
        p.b.handle_timer(p.now + 100)
        p.a.send(ConnectionMade(), p.now)
        p.b.send(ConnectionMade(), p.now)
        p.pump()
        assert p.a.state is State.ESTABLISHED
    assert waits[0] <= 1.0 and waits[1] > 1.0 and waits[2] > 2.0 and waits[3] > 4.0


def test_delay_open_waits_for_the_peer_open() -> None:
    timers = TimerSettings(delay_open_s=5)
    a = make_session(A_POLICY, label="a", timers=timers)
    b = make_session(B_POLICY, label="b")
    p = Pair(a, b)
    p.a.send(Start(), 0)
    p.a.send(ConnectionMade(), 0)
    assert a.state is State.CONNECT and a.data_to_send() == b""
    p.b.send(Start(passive=True), 0)
    p.b.send(ConnectionMade(), 0)
    p.pump()
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED


def test_delay_open_expiry_sends_open() -> None:
    s = make_session(A_POLICY, timers=TimerSettings(delay_open_s=5))
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    s.handle_timer(5)
    assert s.state is State.OPENSENT and s.data_to_send()[18] == MsgType.OPEN


def test_collision_dump_sends_cease_and_does_not_restart(established: Pair) -> None:
    p = established
    p.a.send(DumpCollision(), p.now)
    assert p.a.data_to_send()[19:21] == bytes((ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION))
    assert p.a.state is State.IDLE and p.a.next_deadline() is None


def test_collision_keeps_the_connection_of_the_higher_identifier() -> None:
    assert keeps_outgoing("192.0.2.2", "192.0.2.1")
    assert not keeps_outgoing("10.0.0.1", "192.0.2.1")


def test_idle_refuses_incoming_connections() -> None:
    s = make_session(A_POLICY)
    assert any(isinstance(e, DisconnectRequested) for e in s.send(ConnectionMade(), 0))
    assert s.state is State.IDLE


def test_bytes_after_the_session_went_down_are_ignored(established: Pair) -> None:
    p = established
    p.b.receive_data(b"\x00" * 19 + KEEPALIVE, p.now)
    assert p.b.state is State.IDLE and p.b.receive_data(KEEPALIVE, p.now) == []


def test_update_error_subcode_from_codec_is_sent(established: Pair) -> None:
    p = established
    # well-known ORIGIN missing from a non-empty UPDATE is at worst treat-as-withdraw; an
    # NLRI with prefix length 33 is Invalid Network Field, which resets
    body = struct.pack("!HH", 0, 0) + bytes((33, 1, 2, 3, 4, 5))
    events = p.b.receive_data(frame(MsgType.UPDATE, body), p.now)
    down = [e for e in events if isinstance(e, SessionDown)]
    assert down and down[0].sent == (ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD)


@pytest.mark.parametrize("peer_id, listens_first", [("192.0.2.9", True), ("192.0.2.0", False)])
def test_after_a_collision_the_lower_identifier_listens_first(peer_id: str, listens_first: bool) -> None:
    s = make_session(replace(A_POLICY, router_id="192.0.2.5"))
    s.send(Start(), 0)
    s.send(ConnectionMade(), 0)
    s.receive_data(encode_open(Open(65002, 9, peer_id)), 0)
    s.receive_data(frame(MsgType.NOTIFICATION, bytes((ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION))), 0)
    assert s.state is State.IDLE
    events = s.handle_timer(s.next_deadline() or 0)
    assert s.state is (State.ACTIVE if listens_first else State.CONNECT)
    assert any(isinstance(e, ConnectRequested) for e in events) is not listens_first
    if listens_first:  # it still connects out once ConnectRetry expires
        assert any(isinstance(e, ConnectRequested) for e in s.handle_timer(s.next_deadline() or 0))


def test_a_late_keepalive_turn_does_not_push_the_next_keepalive_back(established: Pair) -> None:
    """The next KeepaliveTimer deadline counts from the one that expired, not from when a busy
    loop got round to it; a turn later than a whole interval starts afresh."""
    a = established.a
    timers = a._timers
    due = timers.deadline(Timer.KEEPALIVE)
    assert due is not None
    sent = a.messages_out[MsgType.KEEPALIVE]
    a.handle_timer(due + 2.0)  # late, but by less than the shortest interval (0.75 * 3 s)
    assert a.messages_out[MsgType.KEEPALIVE] == sent + 1
    following = timers.deadline(Timer.KEEPALIVE)
    # hold 9 s: keepalive every 3 s, jittered, less the lateness seen (at most 0.3 s)
    assert following is not None and 0.75 * 3 - 0.3 <= following - due <= 3 - 0.3
    a.receive_data(KEEPALIVE, following)  # the peer is alive: no hold timer expiry below
    very_late = following + 3.5
    a.handle_timer(very_late)
    last = timers.deadline(Timer.KEEPALIVE)
    assert a.state is State.ESTABLISHED and last is not None and 0.75 * 3 <= last - very_late <= 3


def test_a_keepalive_timer_that_fires_late_is_set_early_by_that_much_and_lets_go(established: Pair) -> None:
    """On a loop that runs late, the next KEEPALIVE is aimed early by the recent lateness, so
    the gap between two KEEPALIVEs stays within the jittered interval; the lead halves at each
    firing once the loop is on time again."""
    a = established.a
    a._rng = random.Random()
    a._rng.random = lambda: 1.0  # type: ignore[method-assign]  # no jitter: the interval is 3 s
    timers = a._timers
    due = timers.deadline(Timer.KEEPALIVE)
    assert due is not None
    a.handle_timer(due + 0.05)
    following = timers.deadline(Timer.KEEPALIVE)
    assert following == pytest.approx(due + 3 - 0.05)
    a.handle_timer(following)  # on time: the lead halves
    assert timers.deadline(Timer.KEEPALIVE) == pytest.approx(following + 3 - 0.025)
