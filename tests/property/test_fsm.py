"""Every state meets every input: the only outcomes are a table row or the state's default."""
from __future__ import annotations

import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.constants import MsgType
from bgpcore.session import fsm
from bgpcore.session.events import (
    ConnectionFailed, ConnectionMade, DumpCollision, Reset, SessionDown, StateChanged, Start, Stop,
)
from bgpcore.session.fsm import TRANSITIONS, Action, Input, State, default_transition, transition
from bgpcore.session.negotiate import OpenPolicy
from bgpcore.session.session import Session
from bgpcore.session.timers import TimerSettings
from bgpcore.wire.framing import frame
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.notification import Notification, encode_notification
from bgpcore.errors import FsmError
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.types import Update
from bgpcore.wire.refresh import RouteRefresh, encode_refresh

POLICY = OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as=65002, hold_time_s=9)
PEER_OPEN = encode_open(Open(65002, 9, "192.0.2.2"))
WRONG_AS_OPEN = encode_open(Open(65009, 9, "192.0.2.2"))
END_OF_RIB = frame(MsgType.UPDATE, struct.pack("!HH", 0, 0))
STIMULI = {
    "start": lambda s, now: s.send(Start(), now),
    "start_passive": lambda s, now: s.send(Start(passive=True), now),
    "stop": lambda s, now: s.send(Stop(message="bye"), now),
    "reset": lambda s, now: s.send(Reset(), now),
    "connection_made": lambda s, now: s.send(ConnectionMade(), now),
    "connection_failed": lambda s, now: s.send(ConnectionFailed(), now),
    "collision": lambda s, now: s.send(DumpCollision(), now),
    "open": lambda s, now: s.receive_data(PEER_OPEN, now),
    "wrong_as_open": lambda s, now: s.receive_data(WRONG_AS_OPEN, now),
    "keepalive": lambda s, now: s.receive_data(KEEPALIVE, now),
    "update": lambda s, now: s.receive_data(END_OF_RIB, now),
    "notification": lambda s, now: s.receive_data(encode_notification(Notification(6, 2)), now),
    "refresh": lambda s, now: s.receive_data(encode_refresh(RouteRefresh(1, 1)), now),
    "garbage": lambda s, now: s.receive_data(b"\x01" * 19, now),
}
ALLOWED = {(old, new) for (old, _), (_, new) in TRANSITIONS.items()} | {
    (state, default_transition(state)[1]) for state in State}


def test_every_pair_is_a_row_or_the_default() -> None:
    for state in State:
        for event in Input:
            action, new = transition(state, event)
            assert (action, new) == TRANSITIONS.get((state, event), default_transition(state))
            if (state, event) not in TRANSITIONS:
                assert (action, new) == ((Action.IGNORE, State.IDLE) if state is State.IDLE else (Action.FSM_ERROR, State.IDLE))


def test_every_action_has_a_handler() -> None:
    for action in Action:
        assert callable(getattr(Session, "_do_" + action.value))
    assert fsm.TRANSITIONS is TRANSITIONS


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(STIMULI)), st.floats(0, 20)), max_size=25), st.integers(0, 2**32))
def test_any_stimulus_sequence_follows_the_table(steps: list[tuple[str, float]], seed: int) -> None:
    s = Session(POLICY, timers=TimerSettings(connect_retry_s=2, idle_hold_s=1), rng=random.Random(seed))
    now = 0.0
    seen = {State.IDLE}
    for name, wait in steps:
        now += wait
        events = s.handle_timer(now) + STIMULI[name](s, now)
        for ev in events:
            if isinstance(ev, StateChanged):
                assert (ev.old, ev.new) in ALLOWED
                seen.add(ev.new)
            if isinstance(ev, SessionDown):
                assert s.state in (State.IDLE, State.ACTIVE)
        s.data_to_send()
        assert s.state in State
        if s.state in (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED):
            assert s.connected and s.next_deadline() is not None
    s.send(Stop(), now)
    assert s.state is State.IDLE and s.next_deadline() is None and not s.connected


def test_handshake_stimuli_reach_established() -> None:
    s = Session(POLICY, rng=random.Random(0))
    for name in ("start", "connection_made", "open", "keepalive", "update", "refresh"):
        STIMULI[name](s, 0.0)
    assert s.state is State.ESTABLISHED


def _established() -> Session:
    s = Session(POLICY, rng=random.Random(0))
    for name in ("start", "connection_made", "open", "keepalive"):
        STIMULI[name](s, 0.0)
    s.data_to_send()
    return s


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([MsgType.UPDATE, MsgType.OPEN, MsgType.ROUTE_REFRESH, MsgType.NOTIFICATION]))
def test_any_message_body_from_the_peer_never_raises(body: bytes, msg_type: int) -> None:
    s = _established()
    events = s.receive_data(frame(msg_type, body), 1.0)
    downs = [e for e in events if isinstance(e, SessionDown)]
    if s.state is State.ESTABLISHED:
        assert not downs
    else:
        assert s.state is State.IDLE and len(downs) == 1
        out = s.data_to_send()
        if msg_type != MsgType.NOTIFICATION:  # we answer every error with exactly one NOTIFICATION
            assert out[18] == MsgType.NOTIFICATION and downs[0].sent is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_from_the_peer_never_raise(data: bytes) -> None:
    s = _established()
    s.receive_data(data, 1.0)
    assert s.state in (State.ESTABLISHED, State.IDLE)


RECIPES = {
    State.IDLE: (),
    State.CONNECT: ("start",),
    State.ACTIVE: ("start_passive",),
    State.OPENSENT: ("start", "connection_made"),
    State.OPENCONFIRM: ("start", "connection_made", "open"),
    State.ESTABLISHED: ("start", "connection_made", "open", "keepalive"),
}


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(list(State)), st.sampled_from(list(Input)))
def test_each_state_and_input_lands_where_the_table_says(state: State, event: Input) -> None:
    s = Session(POLICY, rng=random.Random(0))
    for name in RECIPES[state]:
        STIMULI[name](s, 0.0)
    assert s.state is state
    # what the session would have decoded before raising this input
    s.remote_open = decode_open(PEER_OPEN[19:])
    s._update = Update([], None, [])
    s._refresh = RouteRefresh(1, 1)
    s._notification = Notification(6, 2)
    s._error = FsmError(0)
    s._input(event)
    assert s.state is transition(state, event)[1]
