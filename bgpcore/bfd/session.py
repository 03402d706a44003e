"""One BFD session (RFC 5880, asynchronous mode) without I/O: packets and time in, packets and events out.

Shaped like ``bgpcore.session.Session``: the caller feeds decoded Control packets
(``receive``), commands (``admin_down``, ``enable``, ``set_intervals``) and the clock
(``handle_timer``), then sends ``packets_to_send()`` and sleeps until ``next_deadline()``.
Each of those calls returns the ``BfdStateChanged`` events it caused. State changes are looked
up in ``bfd/fsm.TRANSITIONS``; this class keeps the §6.8.1 state variables and the timers.

Intervals (all µs): we advertise ``bfd.DesiredMinTxInterval`` (at least 1 s while not Up,
§6.8.3) and ``bfd.RequiredMinRxInterval``. A change of either while Up starts a Poll Sequence
(§6.5): packets carry P until one with F comes back. The direction that is always safe (sending
faster, expecting slower) takes effect at once, the other when the sequence ends.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from bgpcore.bfd.fsm import Input, transition
from bgpcore.bfd.packet import ControlPacket, Diag, State, encode_control
from bgpcore.errors import UsageError

SLOW_TX_US: Final = 1_000_000
"""§6.8.3: bfd.DesiredMinTxInterval is at least one second while the session is not Up."""
MAX_INTERVAL_US: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdStateChanged:
    """The session moved from ``old`` to ``new``; ``diag`` is our diagnostic after the change
    (why it went down), ``remote_diag`` the last one the peer sent; ``at`` is the clock then."""

    old: State
    new: State
    diag: Diag | int
    remote_diag: Diag | int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdSessionStatus:
    """A snapshot of one session for ``show bfd``; intervals in µs, times in seconds."""

    state: State
    remote_state: State
    local_diag: Diag | int
    remote_diag: Diag | int
    local_discriminator: int
    remote_discriminator: int
    detect_mult: int
    remote_detect_mult: int
    desired_min_tx_us: int
    required_min_rx_us: int
    remote_desired_min_tx_us: int
    remote_required_min_rx_us: int
    tx_interval_us: int | None
    """Negotiated transmit interval (before jitter): max(our desired TX, remote required RX)."""
    rx_interval_us: int | None
    """Negotiated receive interval: max(our required RX, remote desired TX); None before any packet."""
    detection_time_us: int | None
    poll_in_progress: bool
    uptime_s: float | None
    """Seconds since the session last came Up; None when it is not Up."""
    packets_in: int
    packets_out: int
    packets_dropped: int
    state_changes: int
    up_count: int
    down_count: int


class BfdSession:
    """The RFC 5880 session state of one peer, asynchronous mode, no authentication, no echo.

    Args:
        now: the clock when the session starts (monotonic seconds); the first packet is due then.
        desired_min_tx_us: our Desired Min TX Interval once Up.
        required_min_rx_us: our Required Min RX Interval.
        detect_mult: our Detect Mult.
        local_discriminator: non-zero and unique on this system; random when omitted.
        rng: source of discriminators and transmit jitter; pass a seeded ``random.Random``.
        label: names the peer in events' consumers' logs.

    Raises:
        UsageError: an interval or multiplier out of range.
    """

    def __init__(self, *, now: float, desired_min_tx_us: int = 300_000, required_min_rx_us: int = 300_000,
                 detect_mult: int = 3, local_discriminator: int | None = None, rng: random.Random | None = None,
                 label: str = "bfd") -> None:
        _check_intervals(desired_min_tx_us, required_min_rx_us, detect_mult)
        self._rng = rng or random.Random()
        self.label = label
        if local_discriminator is None:
            local_discriminator = self._rng.randrange(1, 1 << 32)
        if not 0 < local_discriminator <= 0xFFFFFFFF:
            raise UsageError(f"local discriminator {local_discriminator} must be a non-zero 32-bit number")
        self.local_discriminator = local_discriminator
        self.state = State.DOWN
        self.local_diag: Diag | int = Diag.NONE
        self.remote_state = State.DOWN
        self.remote_discriminator = 0
        self.remote_diag: Diag | int = Diag.NONE
        self.remote_detect_mult = 0
        self.remote_desired_min_tx_us = 0
        self.remote_min_rx_us = 1  # §6.8.1: initialised to 1
        self.remote_demand = False
        self.detect_mult = detect_mult
        self._cfg_tx_us = desired_min_tx_us
        self._cfg_rx_us = required_min_rx_us
        self._adv_tx_us, self._adv_rx_us = self._wanted()
        self._eff_tx_us, self._eff_rx_us = self._adv_tx_us, self._adv_rx_us
        self.poll_in_progress = False
        self.packets_in = 0
        self.packets_out = 0
        self.packets_dropped = 0
        self.state_changes = 0
        self.up_count = 0
        self.down_count = 0
        self.up_since: float | None = None
        self._tx_deadline: float | None = now
        self._detect_deadline: float | None = None
        self._last_tx: float | None = None
        self._tx_interval_used: int | None = None
        self._out: list[bytes] = []
        self._events: list[BfdStateChanged] = []

    # ------------------------------------------------------------------ public interface

    def receive(self, packet: ControlPacket, now: float) -> list[BfdStateChanged]:
        """Feed a Control packet that passed ``decode_control``; returns the state changes.

        A packet whose Your Discriminator is neither zero nor ours is dropped and counted
        (§6.8.6). In AdminDown, packets update what we know of the peer and are otherwise ignored.
        """
        self.packets_in += 1
        if packet.your_discriminator not in (0, self.local_discriminator):
            self.packets_dropped += 1
            return self._take_events()
        self.remote_discriminator = packet.my_discriminator
        self.remote_state = packet.state
        self.remote_diag = packet.diag
        self.remote_demand = packet.demand
        self.remote_detect_mult = packet.detect_mult
        self.remote_desired_min_tx_us = packet.desired_min_tx_us
        self.remote_min_rx_us = packet.required_min_rx_us
        if packet.final and self.poll_in_progress:
            self.poll_in_progress = False
            self._eff_tx_us, self._eff_rx_us = self._adv_tx_us, self._adv_rx_us
        if self.state is State.ADMIN_DOWN:
            return self._take_events()
        changed = self._input(Input(packet.state), now)
        if packet.poll or changed:
            self._send(now, final=packet.poll)
        detection = self.detection_time_us()
        self._detect_deadline = None if detection is None else now + detection / 1e6
        self._retime_tx(now)
        return self._take_events()

    def handle_timer(self, now: float) -> list[BfdStateChanged]:
        """Run what is due at ``now``: detection timeout (→ Down, diag 1) and periodic transmission."""
        if self._detect_deadline is not None and now >= self._detect_deadline:
            self._detect_deadline = None
            self.remote_discriminator = 0  # §6.8.1
            self.remote_state = State.DOWN
            if self._input(Input.DETECTION_TIME_EXPIRED, now):
                self._send(now)
        if self._tx_deadline is not None and now >= self._tx_deadline:
            self._send(now)
        return self._take_events()

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` should run next (monotonic seconds), or None for never."""
        deadlines = [d for d in (self._tx_deadline, self._detect_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def packets_to_send(self) -> list[bytes]:
        """Encoded Control packets queued since the last call, oldest first."""
        out, self._out = self._out, []
        return out

    def admin_down(self, now: float) -> list[BfdStateChanged]:
        """Hold the session in AdminDown (diag 7), telling the peer at once (§6.8.16)."""
        self._detect_deadline = None
        if self._input(Input.ADMIN_DOWN, now):
            self._send(now)
        return self._take_events()

    def enable(self, now: float) -> list[BfdStateChanged]:
        """Leave AdminDown for Down; the session comes up again with the peer."""
        if self._input(Input.ENABLE, now):
            self._send(now)
        return self._take_events()

    def set_intervals(self, desired_min_tx_us: int, required_min_rx_us: int, detect_mult: int,
                      now: float) -> list[BfdStateChanged]:
        """Change our timers; while Up through a Poll Sequence (§6.5, §6.8.3).

        Raises:
            UsageError: a value out of range.
        """
        _check_intervals(desired_min_tx_us, required_min_rx_us, detect_mult)
        self._cfg_tx_us, self._cfg_rx_us = desired_min_tx_us, required_min_rx_us
        mult_changed = detect_mult != self.detect_mult
        self.detect_mult = detect_mult
        if self._update_advertised() or mult_changed:
            self._send(now)
            self._retime_tx(now)
        return self._take_events()

    # ------------------------------------------------------------------ derived values

    def tx_interval_us(self) -> int | None:
        """§6.8.7: max(bfd.DesiredMinTxInterval in effect, bfd.RemoteMinRxInterval); None when the
        peer asked for no packets (Required Min RX 0)."""
        if self.remote_min_rx_us == 0:
            return None
        return max(self._eff_tx_us, self.remote_min_rx_us)

    def rx_interval_us(self) -> int | None:
        """The interval the peer sends at: max(our Required Min RX in effect, its Desired Min TX)."""
        if self.remote_detect_mult == 0:
            return None
        return max(self._eff_rx_us, self.remote_desired_min_tx_us)

    def detection_time_us(self) -> int | None:
        """§6.8.4: remote Detect Mult × the agreed remote transmit interval; None before any packet."""
        rx = self.rx_interval_us()
        return None if rx is None else self.remote_detect_mult * rx

    def status(self, now: float) -> BfdSessionStatus:
        """A snapshot for ``show bfd`` at ``now``."""
        return BfdSessionStatus(
            state=self.state, remote_state=self.remote_state, local_diag=self.local_diag,
            remote_diag=self.remote_diag, local_discriminator=self.local_discriminator,
            remote_discriminator=self.remote_discriminator, detect_mult=self.detect_mult,
            remote_detect_mult=self.remote_detect_mult, desired_min_tx_us=self._adv_tx_us,
            required_min_rx_us=self._adv_rx_us, remote_desired_min_tx_us=self.remote_desired_min_tx_us,
            remote_required_min_rx_us=self.remote_min_rx_us, tx_interval_us=self.tx_interval_us(),
            rx_interval_us=self.rx_interval_us(), detection_time_us=self.detection_time_us(),
            poll_in_progress=self.poll_in_progress,
            uptime_s=None if self.up_since is None else max(0.0, now - self.up_since),
            packets_in=self.packets_in, packets_out=self.packets_out, packets_dropped=self.packets_dropped,
            state_changes=self.state_changes, up_count=self.up_count, down_count=self.down_count)

    # ------------------------------------------------------------------ internals

    def _wanted(self) -> tuple[int, int]:
        tx = self._cfg_tx_us if self.state is State.UP else max(self._cfg_tx_us, SLOW_TX_US)
        return tx, self._cfg_rx_us

    def _update_advertised(self) -> bool:
        """Bring the advertised intervals to what the state and configuration want.

        Returns True when they changed. While Up that starts a Poll Sequence: sending faster
        and expecting slower apply at once, the rest when the Final arrives (§6.8.3).
        """
        tx, rx = self._wanted()
        if (tx, rx) == (self._adv_tx_us, self._adv_rx_us):
            return False
        self._adv_tx_us, self._adv_rx_us = tx, rx
        if self.state is State.UP:
            self.poll_in_progress = True
            self._eff_tx_us = min(self._eff_tx_us, tx)
            self._eff_rx_us = max(self._eff_rx_us, rx)
        else:
            self._eff_tx_us, self._eff_rx_us = tx, rx
        return True

    def _input(self, event: Input, now: float) -> bool:
        """Run one FSM transition; returns True when the state changed."""
        new, diag = transition(self.state, event)
        if diag is not None:
            self.local_diag = diag
        if new is self.state:
            return False
        old, self.state = self.state, new
        self.state_changes += 1
        if new is State.UP:
            self.up_count += 1
            self.up_since = now
        elif old is State.UP:
            self.down_count += 1
            self.up_since = None
        if new is not State.UP:
            self.poll_in_progress = False
        self._update_advertised()
        self._events.append(BfdStateChanged(old=old, new=new, diag=self.local_diag, remote_diag=self.remote_diag,
                                            at=now))
        return True

    def _packet(self, final: bool) -> ControlPacket:
        return ControlPacket(
            state=self.state, diag=self.local_diag, my_discriminator=self.local_discriminator,
            your_discriminator=self.remote_discriminator, detect_mult=self.detect_mult,
            desired_min_tx_us=self._adv_tx_us, required_min_rx_us=self._adv_rx_us,
            poll=self.poll_in_progress and not final, final=final)

    def _send(self, now: float, final: bool = False) -> None:
        """Queue a packet now and count the periodic interval from here."""
        self._out.append(encode_control(self._packet(final)))
        self.packets_out += 1
        scheduled, self._last_tx = self._tx_deadline, now
        interval = self.tx_interval_us()
        self._tx_interval_used = interval
        if interval is None:
            self._tx_deadline = None
            return
        # no drift: a periodic packet sent late by less than an interval keeps the schedule
        base = scheduled if scheduled is not None and 0 <= now - scheduled < interval / 1e6 else now
        self._tx_deadline = base + self._jittered_s(interval)

    def _retime_tx(self, now: float) -> None:
        """Reschedule the next periodic packet when the transmit interval changed (§6.8.3)."""
        interval = self.tx_interval_us()
        if interval == self._tx_interval_used:
            return
        self._tx_interval_used = interval
        if interval is None:
            self._tx_deadline = None
        else:
            last = now if self._last_tx is None else self._last_tx
            self._tx_deadline = max(now, last + self._jittered_s(interval))

    def _jittered_s(self, interval_us: int) -> float:
        """§6.8.7: 75-100 % of the interval, at most 90 % when Detect Mult is 1."""
        top = 0.9 if self.detect_mult == 1 else 1.0
        return interval_us * self._rng.uniform(0.75, top) / 1e6

    def _take_events(self) -> list[BfdStateChanged]:
        events, self._events = self._events, []
        return events


def _check_intervals(desired_min_tx_us: int, required_min_rx_us: int, detect_mult: int) -> None:
    if not 0 < desired_min_tx_us <= MAX_INTERVAL_US:
        raise UsageError(f"desired min TX {desired_min_tx_us} µs must be in 1..{MAX_INTERVAL_US}")
    if not 0 <= required_min_rx_us <= MAX_INTERVAL_US:
        raise UsageError(f"required min RX {required_min_rx_us} µs must be in 0..{MAX_INTERVAL_US}")
    if not 1 <= detect_mult <= 255:
        raise UsageError(f"detect multiplier {detect_mult} must be in 1..255")
