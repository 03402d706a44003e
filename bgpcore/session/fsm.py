"""The RFC 4271 §8 finite state machine as data: ``(State, Input) -> (Action, State)``.

``Session`` turns what happened (bytes, timers, commands) into an ``Input``, looks up the pair
here and runs the named ``Action``. A pair missing from ``TRANSITIONS`` takes the RFC 4271 §8.2.2
default of its state (:func:`transition`): ignored in Idle, elsewhere an FSM error that drops the
connection (with a NOTIFICATION once an OPEN was sent). ``docs/fsm.md`` is drawn from this table.
"""
from __future__ import annotations

from enum import Enum, IntEnum
from typing import Final


class State(IntEnum):
    """RFC 4271 §8.2.2 states, numbered as the BGP MIB does."""

    IDLE = 1
    CONNECT = 2
    ACTIVE = 3
    OPENSENT = 4
    OPENCONFIRM = 5
    ESTABLISHED = 6


class Input(IntEnum):
    """FSM inputs, numbered as the RFC 4271 §8.1 events they stand for (extensions above 100)."""

    MANUAL_START = 1
    MANUAL_STOP = 2
    AUTOMATIC_START = 3
    MANUAL_START_PASSIVE = 4
    AUTOMATIC_START_PASSIVE = 5
    AUTOMATIC_STOP = 8
    CONNECT_RETRY_TIMER_EXPIRES = 9
    HOLD_TIMER_EXPIRES = 10
    KEEPALIVE_TIMER_EXPIRES = 11
    DELAY_OPEN_TIMER_EXPIRES = 12
    IDLE_HOLD_TIMER_EXPIRES = 13
    TCP_CONNECTION_CONFIRMED = 17
    TCP_CONNECTION_FAILS = 18
    BGP_OPEN = 19
    BGP_OPEN_WITH_DELAY_OPEN = 20
    BGP_HEADER_ERR = 21
    BGP_OPEN_MSG_ERR = 22
    OPEN_COLLISION_DUMP = 23
    NOTIF_MSG_VER_ERR = 24
    NOTIF_MSG = 25
    KEEPALIVE_MSG = 26
    UPDATE_MSG = 27
    UPDATE_MSG_ERR = 28
    TCP_CONNECTION_CONFIRMED_DELAY_OPEN = 101
    """A connection came up while DelayOpen is configured (RFC 4271 event 17 with DelayOpen set)."""
    ROUTE_REFRESH_MSG = 102
    """A ROUTE-REFRESH arrived (RFC 2918)."""


class Action(Enum):
    """What ``Session`` does on a transition; ``session._ACTIONS`` maps each to one method."""

    IGNORE = "ignore"
    START_CONNECT = "start_connect"
    START_LISTEN = "start_listen"
    REFUSE_CONNECTION = "refuse_connection"
    RETRY_CONNECT = "retry_connect"
    CONNECT_FAILED = "connect_failed"
    START_DELAY_OPEN = "start_delay_open"
    SEND_OPEN = "send_open"
    OPEN_DURING_DELAY = "open_during_delay"
    ACCEPT_OPEN = "accept_open"
    ESTABLISH = "establish"
    SEND_KEEPALIVE = "send_keepalive"
    RESTART_HOLD = "restart_hold"
    DELIVER_UPDATE = "deliver_update"
    DELIVER_REFRESH = "deliver_refresh"
    STOP = "stop"
    SEND_CEASE = "send_cease"
    SEND_ERROR = "send_error"
    SEND_HOLD_EXPIRED = "send_hold_expired"
    SEND_COLLISION_CEASE = "send_collision_cease"
    NOTIFICATION_RECEIVED = "notification_received"
    CONNECTION_LOST = "connection_lost"
    FSM_ERROR = "fsm_error"


S, I, A = State, Input, Action
_STARTS: Final = (I.MANUAL_START, I.AUTOMATIC_START, I.MANUAL_START_PASSIVE, I.AUTOMATIC_START_PASSIVE)


def _ignore_starts(state: State) -> dict[tuple[State, Input], tuple[Action, State]]:
    """RFC 4271 §8.2.2: start events are ignored in every state but Idle."""
    return {(state, i): (A.IGNORE, state) for i in _STARTS}


def _pre_open(state: State) -> dict[tuple[State, Input], tuple[Action, State]]:
    """Connect and Active: no OPEN sent yet, so nothing to tell the peer on the way down."""
    return {
        **_ignore_starts(state),
        (state, I.MANUAL_STOP): (A.STOP, S.IDLE),
        (state, I.AUTOMATIC_STOP): (A.STOP, S.IDLE),
        (state, I.CONNECT_RETRY_TIMER_EXPIRES): (A.RETRY_CONNECT, S.CONNECT),
        (state, I.DELAY_OPEN_TIMER_EXPIRES): (A.SEND_OPEN, S.OPENSENT),
        (state, I.TCP_CONNECTION_CONFIRMED): (A.SEND_OPEN, S.OPENSENT),
        (state, I.TCP_CONNECTION_CONFIRMED_DELAY_OPEN): (A.START_DELAY_OPEN, state),
        (state, I.TCP_CONNECTION_FAILS): (A.CONNECT_FAILED, S.ACTIVE),
        (state, I.BGP_OPEN_WITH_DELAY_OPEN): (A.OPEN_DURING_DELAY, S.OPENCONFIRM),
        (state, I.BGP_HEADER_ERR): (A.SEND_ERROR, S.IDLE),
        (state, I.BGP_OPEN_MSG_ERR): (A.SEND_ERROR, S.IDLE),
        (state, I.NOTIF_MSG_VER_ERR): (A.CONNECTION_LOST, S.IDLE),
    }


def _after_open(state: State) -> dict[tuple[State, Input], tuple[Action, State]]:
    """OpenSent, OpenConfirm and Established share how they end."""
    return {
        **_ignore_starts(state),
        (state, I.MANUAL_STOP): (A.SEND_CEASE, S.IDLE),
        (state, I.AUTOMATIC_STOP): (A.SEND_CEASE, S.IDLE),
        (state, I.HOLD_TIMER_EXPIRES): (A.SEND_HOLD_EXPIRED, S.IDLE),
        (state, I.BGP_HEADER_ERR): (A.SEND_ERROR, S.IDLE),
        (state, I.BGP_OPEN_MSG_ERR): (A.SEND_ERROR, S.IDLE),
        (state, I.OPEN_COLLISION_DUMP): (A.SEND_COLLISION_CEASE, S.IDLE),
        (state, I.NOTIF_MSG): (A.NOTIFICATION_RECEIVED, S.IDLE),
        (state, I.NOTIF_MSG_VER_ERR): (A.NOTIFICATION_RECEIVED, S.IDLE),
        (state, I.TCP_CONNECTION_FAILS): (A.CONNECTION_LOST, S.IDLE),
    }


TRANSITIONS: Final[dict[tuple[State, Input], tuple[Action, State]]] = {
    (S.IDLE, I.MANUAL_START): (A.START_CONNECT, S.CONNECT),
    (S.IDLE, I.AUTOMATIC_START): (A.START_CONNECT, S.CONNECT),
    (S.IDLE, I.MANUAL_START_PASSIVE): (A.START_LISTEN, S.ACTIVE),
    (S.IDLE, I.AUTOMATIC_START_PASSIVE): (A.START_LISTEN, S.ACTIVE),
    (S.IDLE, I.MANUAL_STOP): (A.STOP, S.IDLE),
    (S.IDLE, I.TCP_CONNECTION_CONFIRMED): (A.REFUSE_CONNECTION, S.IDLE),
    (S.IDLE, I.TCP_CONNECTION_CONFIRMED_DELAY_OPEN): (A.REFUSE_CONNECTION, S.IDLE),
    **_pre_open(S.CONNECT),
    **_pre_open(S.ACTIVE),
    **_after_open(S.OPENSENT),
    (S.OPENSENT, I.TCP_CONNECTION_FAILS): (A.CONNECT_FAILED, S.ACTIVE),
    (S.OPENSENT, I.BGP_OPEN): (A.ACCEPT_OPEN, S.OPENCONFIRM),
    **_after_open(S.OPENCONFIRM),
    (S.OPENCONFIRM, I.KEEPALIVE_TIMER_EXPIRES): (A.SEND_KEEPALIVE, S.OPENCONFIRM),
    (S.OPENCONFIRM, I.KEEPALIVE_MSG): (A.ESTABLISH, S.ESTABLISHED),
    **_after_open(S.ESTABLISHED),
    (S.ESTABLISHED, I.KEEPALIVE_TIMER_EXPIRES): (A.SEND_KEEPALIVE, S.ESTABLISHED),
    (S.ESTABLISHED, I.KEEPALIVE_MSG): (A.RESTART_HOLD, S.ESTABLISHED),
    (S.ESTABLISHED, I.UPDATE_MSG): (A.DELIVER_UPDATE, S.ESTABLISHED),
    (S.ESTABLISHED, I.UPDATE_MSG_ERR): (A.SEND_ERROR, S.IDLE),
    (S.ESTABLISHED, I.ROUTE_REFRESH_MSG): (A.DELIVER_REFRESH, S.ESTABLISHED),
}


def default_transition(state: State) -> tuple[Action, State]:
    """RFC 4271 §8.2.2 "any other event": ignored in Idle, otherwise an FSM error to Idle."""
    if state is State.IDLE:
        return Action.IGNORE, State.IDLE
    return Action.FSM_ERROR, State.IDLE


def transition(state: State, event: Input) -> tuple[Action, State]:
    """The action to run and the next state for ``event`` in ``state``."""
    return TRANSITIONS.get((state, event)) or default_transition(state)


def diagram() -> str:
    """A Mermaid state diagram of ``TRANSITIONS`` (``docs/fsm.md`` embeds it)."""
    edges: dict[tuple[State, State], list[str]] = {}
    for (state, event), (action, new) in TRANSITIONS.items():
        if action is not Action.IGNORE:
            edges.setdefault((state, new), []).append(event.name)
    lines = ["stateDiagram-v2", "    [*] --> IDLE"]
    for (state, new), names in sorted(edges.items()):
        lines.append(f"    {state.name} --> {new.name}: {', '.join(sorted(names))}")
    lines.append("    note right of IDLE: any other input is ignored in Idle and is an FSM error (to Idle) elsewhere")
    return "\n".join(lines) + "\n"
