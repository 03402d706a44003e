"""One BGP session without I/O: bytes and time in, events and bytes out.

Shaped like h11's ``Connection`` and aioquic's ``QuicConnection``: the caller feeds what the
socket delivered (``receive_data``), what it wants (``send``) and the clock (``handle_timer``),
then writes ``data_to_send()`` and sleeps until ``next_deadline()``. The state machine is the
table in ``fsm.py``; this class turns inputs into table lookups and runs the named actions.

A ``ProtocolError`` from the codec is caught here and only here: it becomes a NOTIFICATION,
state Idle and a ``SessionDown`` event, with one log line saying what the peer got wrong.
"""
from __future__ import annotations

import ipaddress
import logging
import random
from collections import Counter
from operator import itemgetter
from typing import Callable, Final

from bgpcore.constants import MAX_MESSAGE_LEN, CeaseSubcode, ErrorCode, FsmSubcode, MsgType, OpenSubcode, error_name
from bgpcore.errors import (
    Cease,
    ErrorAction,
    FsmError,
    HoldTimerExpired,
    MessageHeaderError,
    OpenMessageError,
    ProtocolError,
    UpdateMessageError,
    UsageError,
)
from bgpcore.session.events import (
    Command,
    ConnectionFailed,
    ConnectionMade,
    ConnectRequested,
    DisconnectRequested,
    DumpCollision,
    Event,
    NotificationReceived,
    OpenReceived,
    RequestRefresh,
    Reset,
    RouteRefreshReceived,
    SendUpdates,
    SessionDown,
    SessionEstablished,
    StateChanged,
    Start,
    Stop,
    UpdateReceived,
)
from bgpcore.session.fsm import Action, Input, State, transition
from bgpcore.session.negotiate import OpenPolicy, SessionParams, build_open, check_open, negotiate
from bgpcore.session.timers import Timer, TimerSettings, Timers, backoff, jittered
from bgpcore.wire import accel
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.notification import Notification, decode_notification, encode_notification, shutdown_data
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.refresh import RouteRefresh, decode_refresh, encode_refresh
from bgpcore.wire.types import Update

log = logging.getLogger("bgpcore.session")

_FSM_SUBCODES: Final = {
    State.OPENSENT: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
    State.OPENCONFIRM: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
    State.ESTABLISHED: FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
}
_TIMER_INPUTS: Final = {
    Timer.CONNECT_RETRY: Input.CONNECT_RETRY_TIMER_EXPIRES,
    Timer.HOLD: Input.HOLD_TIMER_EXPIRES,
    Timer.KEEPALIVE: Input.KEEPALIVE_TIMER_EXPIRES,
    Timer.DELAY_OPEN: Input.DELAY_OPEN_TIMER_EXPIRES,
}


_TYPE_OCTET: Final = itemgetter(18)
_MSG_TYPES: Final[dict[int, MsgType]] = {int(t): t for t in MsgType}  # a dict hit, not an enum lookup per message

def keeps_outgoing(local_id: str, remote_id: str) -> bool:
    """RFC 4271 §6.8: on a collision the connection opened by the higher BGP identifier stays.

    Returns True when our outgoing connection wins (our identifier is higher).
    """
    return int(ipaddress.IPv4Address(local_id)) > int(ipaddress.IPv4Address(remote_id))


class Session:
    """The RFC 4271 §8 FSM of one neighbor, for one TCP connection at a time.

    Args:
        policy: our OPEN and what we accept from the peer.
        timers: timer settings (ConnectRetry back-off, DelayOpen, IdleHold damping).
        rng: source of timer jitter; pass a seeded ``random.Random`` for repeatable runs.
        label: names the peer in log lines.
        passive: never connect out; wait for the peer (RFC 4271 event 4).
        auto_restart: after the session goes down (not by ``Stop``), start again once the
            IdleHold timer expires.
    """

    def __init__(self, policy: OpenPolicy, *, timers: TimerSettings | None = None, rng: random.Random | None = None,
                 label: str = "peer", passive: bool = False, auto_restart: bool = True) -> None:
        self.policy = policy
        self.settings = timers or TimerSettings()
        self.label = label
        self.passive = passive
        self.auto_restart = auto_restart
        self.state = State.IDLE
        self.local_open: Open = build_open(policy)
        self.remote_open: Open | None = None
        self.params: SessionParams | None = None
        self.messages_in: Counter[MsgType] = Counter()
        self.messages_out: Counter[MsgType] = Counter()
        self.last_error: str | None = None
        self.established_at: float | None = None
        self.established_count = 0
        self._rng = rng or random.Random()
        self._timers = Timers()
        self._inbuf = bytearray()
        self._max_message_len = MAX_MESSAGE_LEN
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._connected = False
        self._admin_down = True
        self._connect_failures = 0
        self._flaps = 0
        self._listen_first = False
        self._now = 0.0
        self._keepalive_due: float | None = None  # the KeepaliveTimer deadline ``handle_timer`` found
        self._keepalive_lead = 0.0  # how late the KeepaliveTimer has fired lately, in seconds
        self._error: ProtocolError | None = None
        self._cease: tuple[int, str, bytes | None] = (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "", None)
        self._update: Update | None = None
        self._refresh: RouteRefresh | None = None
        self._notification: Notification | None = None

    # ------------------------------------------------------------------ public interface

    @property
    def admin_down(self) -> bool:
        """Stopped by ``Stop`` (or never started): the session will not come up by itself."""
        return self._admin_down

    @property
    def connected(self) -> bool:
        """The session holds a TCP connection (from ConnectionMade until it lets it go)."""
        return self._connected

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the connection; returns what happened.

        Never raises for anything the peer sent: errors end the session with the right
        NOTIFICATION (in ``data_to_send()``) and a ``SessionDown`` event.
        """
        self._now = now
        if not self._connected or not data:
            return self._take_events()
        buf = self._inbuf
        buf += data
        try:
            messages, used = accel.split_messages(buf, self._max_message_len)
            del buf[:used]
        except MessageHeaderError as err:
            messages = []
            self._fail(Input.BGP_HEADER_ERR, err)
        for msg_type, body in messages:
            if not self._connected:
                break
            self._receive_message(msg_type, body)
        return self._take_events()

    def send(self, command: Command, now: float) -> list[Event]:
        """Act on a command from the speaker or the transport; returns what happened.

        Raises:
            UsageError: ``SendUpdates``/``RequestRefresh`` outside Established, or a
                refresh the peer did not negotiate.
        """
        self._now = now
        match command:
            case Start():
                self._admin_down = False
                self.passive = command.passive or self.passive
                self._timers.stop(Timer.IDLE_HOLD)
                self._input(Input.MANUAL_START_PASSIVE if self.passive else Input.MANUAL_START)
            case Stop():
                self._admin_down = True
                self._cease = (command.subcode, command.message, command.data)
                self._input(Input.MANUAL_STOP)
            case Reset():
                self._cease = (CeaseSubcode.ADMINISTRATIVE_RESET, command.message, None)
                self._input(Input.AUTOMATIC_STOP)
            case SendUpdates():
                self._send_updates(command.messages)
            case RequestRefresh():
                self._request_refresh(command.afi, command.safi)
            case ConnectionMade():
                self._input(Input.TCP_CONNECTION_CONFIRMED_DELAY_OPEN if self.settings.delay_open_s > 0
                            else Input.TCP_CONNECTION_CONFIRMED)
            case ConnectionFailed():
                if self._connected or self.state in (State.CONNECT, State.ACTIVE):
                    self.last_error = command.reason
                    self._input(Input.TCP_CONNECTION_FAILS)
            case DumpCollision():
                self._input(Input.OPEN_COLLISION_DUMP)
            case _:
                raise UsageError(f"unknown command {command!r}")
        return self._take_events()

    def handle_timer(self, now: float) -> list[Event]:
        """Fire every timer due at ``now``."""
        self._now = now
        self._keepalive_due = self._timers.deadline(Timer.KEEPALIVE)
        for timer in self._timers.pop_expired(now):
            if timer is Timer.IDLE_HOLD:
                listen = self.passive or self._listen_first
                self._input(Input.AUTOMATIC_START_PASSIVE if listen else Input.AUTOMATIC_START)
            else:
                self._input(_TIMER_INPUTS[timer])
        return self._take_events()

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called (monotonic seconds), or None."""
        return self._timers.next_deadline()

    def data_to_send(self) -> bytes:
        """Bytes to write to the connection, in order; empties the buffer."""
        data = b"".join(self._out)
        self._out.clear()
        return data

    @property
    def pending_output(self) -> int:
        """Bytes queued but not yet taken by ``data_to_send``."""
        return sum(map(len, self._out))  # a few chunks: one per batch of UPDATEs

    # ------------------------------------------------------------------ input side

    def _receive_message(self, msg_type: int, body: bytes) -> None:
        self.messages_in[_MSG_TYPES[msg_type]] += 1
        if msg_type == MsgType.KEEPALIVE:
            self._input(Input.KEEPALIVE_MSG)
        elif msg_type == MsgType.UPDATE:
            self._receive_update(body)
        elif msg_type == MsgType.OPEN:
            self._receive_open(body)
        elif msg_type == MsgType.NOTIFICATION:
            self._receive_notification(body)
        else:
            self._receive_refresh(body)

    def _guard(self, fail_input: Input, decode: Callable[[], None]) -> None:
        """Run ``decode``; a codec error becomes ``fail_input``, a codec bug is logged likewise."""
        try:
            decode()
        except ProtocolError as err:
            self._fail(fail_input, err)
        except Exception as exc:  # noqa: BLE001 - a codec bug must not take the speaker down
            log.exception("%s: codec failed on a message from the peer", self.label)
            error_cls = OpenMessageError if fail_input is Input.BGP_OPEN_MSG_ERR else UpdateMessageError
            self._fail(fail_input, error_cls(0, reason=f"undecodable message ({type(exc).__name__})"))

    def _receive_open(self, body: bytes) -> None:
        def decode() -> None:
            remote = decode_open(body)
            check_open(self.policy, remote)
            self.remote_open = remote
        self.remote_open = None
        self._guard(Input.BGP_OPEN_MSG_ERR, decode)
        if self.remote_open is not None and self._connected:
            delayed = self._timers.running(Timer.DELAY_OPEN)
            self._input(Input.BGP_OPEN_WITH_DELAY_OPEN if delayed else Input.BGP_OPEN)

    def _receive_update(self, body: bytes) -> None:
        if self.state is not State.ESTABLISHED or self.params is None:
            self._input(Input.UPDATE_MSG)
            return
        ctx = self.params.recv_ctx

        def decode() -> None:
            self._update = accel.decode_update(body, ctx)
        self._update = None
        self._guard(Input.UPDATE_MSG_ERR, decode)
        if self._update is not None:
            self._input(Input.UPDATE_MSG)

    def _receive_notification(self, body: bytes) -> None:
        note = decode_notification(body)  # framing already refused one without code and subcode
        self._notification = note
        version_error = (note.code == ErrorCode.OPEN_MESSAGE and note.subcode == OpenSubcode.UNSUPPORTED_VERSION_NUMBER)
        self._input(Input.NOTIF_MSG_VER_ERR if version_error else Input.NOTIF_MSG)

    def _receive_refresh(self, body: bytes) -> None:
        if self.state is not State.ESTABLISHED:
            self._input(Input.ROUTE_REFRESH_MSG)
            return

        def decode() -> None:
            self._refresh = decode_refresh(body)
        self._refresh = None
        self._guard(Input.UPDATE_MSG_ERR, decode)
        if self._refresh is not None:
            self._input(Input.ROUTE_REFRESH_MSG)

    def _fail(self, fsm_input: Input, err: ProtocolError) -> None:
        log.warning("%s: %s (%s) from the peer: %s", self.label, error_name(err.code, err.subcode),
                    type(err).__name__, err.reason)
        self._error = err
        self._input(fsm_input)

    # ------------------------------------------------------------------ output side

    def _send_updates(self, messages: tuple[bytes, ...]) -> None:
        if self.state is not State.ESTABLISHED:
            raise UsageError(f"{self.label}: cannot send UPDATEs in state {self.state.name}")
        data = b"".join(messages)  # one copy for a whole batch: a full table is 10^5 messages per peer
        self._out.append(data)
        for msg_type, count in Counter(map(_TYPE_OCTET, messages)).items():  # counted in C
            self.messages_out[_MSG_TYPES[msg_type]] += count
        self._restart_keepalive()

    def _request_refresh(self, afi: int, safi: int) -> None:
        params = self.params
        if self.state is not State.ESTABLISHED or params is None:
            raise UsageError(f"{self.label}: cannot request a refresh in state {self.state.name}")
        if not params.route_refresh or (afi, safi) not in params.families:
            raise UsageError(f"{self.label}: peer did not negotiate route refresh for {(afi, safi)}")
        self._queue(MsgType.ROUTE_REFRESH, encode_refresh(RouteRefresh(afi, safi)))

    def _queue(self, msg_type: MsgType, message: bytes) -> None:
        self._out.append(message)
        self.messages_out[msg_type] += 1

    def _queue_notification(self, note: Notification) -> None:
        self._queue(MsgType.NOTIFICATION, encode_notification(note))
        self.last_error = f"sent {note.name}"

    # ------------------------------------------------------------------ the state machine

    def _input(self, fsm_input: Input) -> None:
        action, new_state = transition(self.state, fsm_input)
        old = self.state
        _ACTIONS[action](self, fsm_input)
        self.state = new_state
        if new_state is not old:
            log.info("%s: %s -> %s on %s", self.label, old.name, new_state.name, fsm_input.name)
            self._events.append(StateChanged(old=old, new=new_state))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _start_connect_retry(self) -> None:
        if self.passive:
            return
        duration = backoff(self.settings.connect_retry_s, self._connect_failures, self.settings.connect_retry_max_s)
        self._timers.start(Timer.CONNECT_RETRY, self._now, jittered(duration, self._rng))

    def _restart_hold(self) -> None:
        if self.params is not None and self.params.hold_time_s:
            self._timers.start(Timer.HOLD, self._now, self.params.hold_time_s)

    def _restart_keepalive(self, due: float | None = None) -> None:
        """Arm the KeepaliveTimer. ``due``: the deadline that just expired; the next one counts
        from it rather than from a loop turn that ran late, so the lateness of one turn does
        not lengthen the gap between two KEEPALIVEs (unless it exceeds the next interval).

        The timer is also set early by how late it has fired lately (at most a tenth of the
        interval, halved at each firing), so that on a busy loop the gap between KEEPALIVEs
        stays within the jittered interval instead of exceeding it by the loop's delay."""
        if self.params is not None and self.params.keepalive_s:
            interval = jittered(self.params.keepalive_s, self._rng)
            if due is not None and 0 <= self._now - due < interval:
                lateness = min(self._now - due, 0.1 * self.params.keepalive_s)
                self._keepalive_lead = max(lateness, 0.5 * self._keepalive_lead)
                self._timers.start(Timer.KEEPALIVE, due, interval - self._keepalive_lead)
            else:
                self._timers.start(Timer.KEEPALIVE, self._now, interval)

    def _go_down(self, reason: str, sent: Notification | None = None, received: Notification | None = None) -> None:
        """Leave the connection and schedule the automatic restart (RFC 4271 §8.1.1 damping)."""
        was_open = self.state >= State.OPENSENT
        was_established = self.state is State.ESTABLISHED
        self._timers.stop_all()
        if self._connected:
            self._events.append(DisconnectRequested())
        self._connected = False
        self._reset_input()
        if was_open:
            self.last_error = reason
            log.warning("%s: session down in %s: %s", self.label, self.state.name, reason)
            self._events.append(SessionDown(
                reason=reason, was_established=was_established,
                sent=(sent.code, sent.subcode) if sent else None,
                received=(received.code, received.subcode) if received else None,
            ))
        collision = any(n is not None and n.code == ErrorCode.CEASE
                        and n.subcode == CeaseSubcode.CONNECTION_COLLISION_RESOLUTION for n in (sent, received))
        if collision and self.remote_open is not None:
            # both sides lost a connection each: the lower identifier listens first next time,
            # so the two do not collide again (RFC 4271 event 5, passive TCP establishment)
            self._listen_first = not keeps_outgoing(self.policy.router_id, self.remote_open.bgp_id)
        stable = (was_established and self.established_at is not None
                  and self._now - self.established_at >= self.settings.stable_s)
        self._flaps = 0 if stable else self._flaps + 1
        self.params = None
        self.established_at = None
        if not self._admin_down and self.auto_restart:
            wait = backoff(self.settings.idle_hold_s, self._flaps, self.settings.idle_hold_max_s)
            self._timers.start(Timer.IDLE_HOLD, self._now, jittered(wait, self._rng))

    def _reset_input(self) -> None:
        self._inbuf = bytearray()
        self._max_message_len = MAX_MESSAGE_LEN

    def _negotiate(self) -> None:
        assert self.remote_open is not None
        self.params = negotiate(self.local_open, self.remote_open, self.policy.local_as,
                                reset_unnegotiated=self.policy.reset_unnegotiated)
        self._max_message_len = self.params.recv_ctx.max_message_len
        self._events.append(OpenReceived(open=self.remote_open))
        self._timers.stop(Timer.HOLD, Timer.KEEPALIVE)
        self._restart_hold()
        self._restart_keepalive()

    # ------------------------------------------------------------------ actions (fsm.Action)

    def _do_ignore(self, _: Input) -> None:
        pass

    def _do_start_connect(self, _: Input) -> None:
        self._start_connect_retry()
        self._events.append(ConnectRequested())

    def _do_start_listen(self, _: Input) -> None:
        self._start_connect_retry()

    def _do_refuse_connection(self, _: Input) -> None:
        self._events.append(DisconnectRequested())

    def _do_retry_connect(self, _: Input) -> None:
        if self._connected:
            self._events.append(DisconnectRequested())
            self._connected = False
            self._reset_input()
        self._connect_failures += 1
        self._timers.stop(Timer.DELAY_OPEN, Timer.HOLD)
        self._start_connect_retry()
        self._events.append(ConnectRequested())

    def _do_connect_failed(self, _: Input) -> None:
        if self.state is State.OPENSENT:
            self._events.append(SessionDown(reason=self.last_error or "connection closed"))
        self._connected = False
        self._reset_input()
        self._connect_failures += 1
        self._timers.stop(Timer.DELAY_OPEN, Timer.HOLD, Timer.KEEPALIVE)
        self._start_connect_retry()

    def _do_start_delay_open(self, _: Input) -> None:
        self._connected = True
        self._timers.stop(Timer.CONNECT_RETRY)
        self._timers.start(Timer.DELAY_OPEN, self._now, self.settings.delay_open_s)
        self._timers.start(Timer.HOLD, self._now, self.settings.open_hold_s)

    def _do_send_open(self, _: Input) -> None:
        self._connected = True
        self._timers.stop(Timer.CONNECT_RETRY, Timer.DELAY_OPEN)
        self._queue(MsgType.OPEN, encode_open(self.local_open))
        self._timers.start(Timer.HOLD, self._now, self.settings.open_hold_s)

    def _do_open_during_delay(self, _: Input) -> None:
        self._timers.stop(Timer.CONNECT_RETRY, Timer.DELAY_OPEN)
        self._queue(MsgType.OPEN, encode_open(self.local_open))
        self._queue(MsgType.KEEPALIVE, KEEPALIVE)
        self._negotiate()

    def _do_accept_open(self, _: Input) -> None:
        self._queue(MsgType.KEEPALIVE, KEEPALIVE)
        self._negotiate()

    def _do_establish(self, _: Input) -> None:
        assert self.params is not None
        self._connect_failures = 0
        self._listen_first = False
        self.established_at = self._now
        self.established_count += 1
        self.last_error = None
        self._restart_hold()
        self._events.append(SessionEstablished(params=self.params))

    def _do_send_keepalive(self, _: Input) -> None:
        self._queue(MsgType.KEEPALIVE, KEEPALIVE)
        self._restart_keepalive(self._keepalive_due)
        self._keepalive_due = None

    def _do_restart_hold(self, _: Input) -> None:
        self._restart_hold()

    def _do_deliver_update(self, _: Input) -> None:
        update = self._update
        assert update is not None
        self._restart_hold()
        if update.action is not ErrorAction.NONE:
            log.warning("%s: UPDATE with errors, %s: %s", self.label, update.action.name, "; ".join(update.problems))
        self._events.append(UpdateReceived(update=update))

    def _do_deliver_refresh(self, _: Input) -> None:
        refresh, params = self._refresh, self.params
        assert refresh is not None and params is not None
        self._restart_hold()
        if (refresh.afi, refresh.safi) not in params.families:
            log.warning("%s: ROUTE-REFRESH for unnegotiated family %s/%s ignored", self.label, refresh.afi, refresh.safi)
            return
        self._events.append(RouteRefreshReceived(afi=refresh.afi, safi=refresh.safi, subtype=refresh.subtype))

    def _do_stop(self, _: Input) -> None:
        self._go_down("stopped before OPEN")

    def _do_send_cease(self, _: Input) -> None:
        subcode, message, data = self._cease
        if data is None:
            data = shutdown_data(message) if message else b""
        note = Notification(ErrorCode.CEASE, subcode, data)
        self._queue_notification(note)
        text = f"sent {note.name}" + (f' "{message}"' if message else "")
        self._go_down(text, sent=note)

    def _do_send_error(self, _: Input) -> None:
        err = self._error or FsmError(FsmSubcode.UNSPECIFIED)
        note = Notification.from_error(err)
        self._queue_notification(note)
        self._go_down(f"sent {note.name}: {err.reason}", sent=note)

    def _do_send_hold_expired(self, _: Input) -> None:
        note = Notification.from_error(HoldTimerExpired(0))
        self._queue_notification(note)
        self._go_down("hold timer expired", sent=note)

    def _do_send_collision_cease(self, _: Input) -> None:
        note = Notification.from_error(Cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION))
        self._queue_notification(note)
        self.auto_restart = False
        self._go_down("connection collision resolution", sent=note)

    def _do_notification_received(self, _: Input) -> None:
        note = self._notification
        assert note is not None
        self._events.append(NotificationReceived(notification=note))
        text = f"received {note.name}"
        if note.shutdown_message:
            text += f' "{note.shutdown_message}"'
        self._go_down(text, received=note)

    def _do_connection_lost(self, fsm_input: Input) -> None:
        if fsm_input is Input.NOTIF_MSG_VER_ERR:
            self._do_notification_received(fsm_input)
            return
        self._go_down(self.last_error or "connection closed")

    def _do_fsm_error(self, fsm_input: Input) -> None:
        subcode = _FSM_SUBCODES.get(self.state)
        if subcode is None:
            self._go_down(f"unexpected {fsm_input.name} in {self.state.name}")
            return
        note = Notification.from_error(FsmError(subcode))
        self._queue_notification(note)
        self._go_down(f"sent {note.name}: unexpected {fsm_input.name}", sent=note)


_ACTIONS: Final[dict[Action, Callable[[Session, Input], None]]] = {
    Action.IGNORE: Session._do_ignore,
    Action.START_CONNECT: Session._do_start_connect,
    Action.START_LISTEN: Session._do_start_listen,
    Action.REFUSE_CONNECTION: Session._do_refuse_connection,
    Action.RETRY_CONNECT: Session._do_retry_connect,
    Action.CONNECT_FAILED: Session._do_connect_failed,
    Action.START_DELAY_OPEN: Session._do_start_delay_open,
    Action.SEND_OPEN: Session._do_send_open,
    Action.OPEN_DURING_DELAY: Session._do_open_during_delay,
    Action.ACCEPT_OPEN: Session._do_accept_open,
    Action.ESTABLISH: Session._do_establish,
    Action.SEND_KEEPALIVE: Session._do_send_keepalive,
    Action.RESTART_HOLD: Session._do_restart_hold,
    Action.DELIVER_UPDATE: Session._do_deliver_update,
    Action.DELIVER_REFRESH: Session._do_deliver_refresh,
    Action.STOP: Session._do_stop,
    Action.SEND_CEASE: Session._do_send_cease,
    Action.SEND_ERROR: Session._do_send_error,
    Action.SEND_HOLD_EXPIRED: Session._do_send_hold_expired,
    Action.SEND_COLLISION_CEASE: Session._do_send_collision_cease,
    Action.NOTIFICATION_RECEIVED: Session._do_notification_received,
    Action.CONNECTION_LOST: Session._do_connection_lost,
    Action.FSM_ERROR: Session._do_fsm_error,
}
"""The method each ``fsm.Action`` runs: every action of the table has exactly one."""
