"""Session timers as deadlines in monotonic seconds; the caller passes ``now`` and fires them.

RFC 4271 §10 asks for jitter (each value times a factor in [0.75, 1.0]) on ConnectRetry,
Keepalive and the OPEN-phase timers; the factor comes from an injected ``random.Random`` so
tests can replay it. ConnectRetry backs off on consecutive failures and IdleHold doubles for
a peer that keeps flapping (RFC 4271 §8.1.1 "DampPeerOscillations").
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from typing import Final

MIN_HOLD_TIME_S: Final = 3
"""RFC 4271 §4.2: a hold time, when not zero, is at least three seconds."""


class Timer(Enum):
    CONNECT_RETRY = "connect_retry"
    HOLD = "hold"
    KEEPALIVE = "keepalive"
    DELAY_OPEN = "delay_open"
    IDLE_HOLD = "idle_hold"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerSettings:
    """Timer values for one neighbor, in seconds.

    Attributes:
        connect_retry_s: first ConnectRetry interval; doubles on each failure up to
            ``connect_retry_max_s``.
        open_hold_s: hold timer while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
        delay_open_s: wait this long for the peer's OPEN before sending ours (0: off).
        idle_hold_s: first wait in Idle before an automatic restart after the session went down;
            doubles on each flap up to ``idle_hold_max_s`` and falls back after ``stable_s``
            in Established.
    """

    connect_retry_s: float = 5.0
    connect_retry_max_s: float = 120.0
    open_hold_s: float = 240.0
    delay_open_s: float = 0.0
    idle_hold_s: float = 1.0
    idle_hold_max_s: float = 60.0
    stable_s: float = 60.0


def jittered(value_s: float, rng: random.Random) -> float:
    """``value_s`` times a random factor in [0.75, 1.0] (RFC 4271 §10)."""
    return value_s * (0.75 + 0.25 * rng.random())


def backoff(base_s: float, failures: int, max_s: float) -> float:
    """``base_s`` doubled per failure after the first, capped at ``max_s``."""
    return float(min(max_s, base_s * (2 ** max(0, min(failures - 1, 30)))))


class Timers:
    """The deadlines that are armed; ``next_deadline`` is the earliest of them."""

    __slots__ = ("_deadlines",)

    def __init__(self) -> None:
        self._deadlines: dict[Timer, float] = {}

    def start(self, timer: Timer, now: float, duration_s: float) -> None:
        self._deadlines[timer] = now + duration_s

    def stop(self, *timers: Timer) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)

    def stop_all(self) -> None:
        self._deadlines.clear()

    def running(self, timer: Timer) -> bool:
        return timer in self._deadlines

    def deadline(self, timer: Timer) -> float | None:
        return self._deadlines.get(timer)

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def pop_expired(self, now: float) -> list[Timer]:
        """Timers whose deadline is at or before ``now``, earliest first; they are disarmed."""
        due = sorted((d, t.value, t) for t, d in self._deadlines.items() if d <= now)
        for _, _, timer in due:
            del self._deadlines[timer]
        return [timer for _, _, timer in due]
