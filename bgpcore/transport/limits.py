"""What one neighbor may cost the speaker: limits with safe defaults, and a rate-limited log.

A hostile or broken client must never harm another. Each limit below is in
``SpeakerConfig.limits``; hitting one leaves a log line (at most one per ``log_interval_s``
for those a flood can hit thousands of times a second).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakerLimits:
    """Per-neighbor quotas of the transport.

    Attributes:
        connections_per_neighbor: TCP connections of one neighbor address at once: one in
            progress (or up) plus one for an RFC 4271 §6.8 collision. Further ones are
            closed as they are accepted.
        max_queued_bytes: unsent output buffered in the transport for one session; above it
            the session is closed with Cease/8 (Out of Resources, RFC 4486).
        slow_peer_restart_s: a session closed for ``max_queued_bytes`` starts again after this.
        close_timeout_s: a closing connection whose peer does not read what is left (the
            NOTIFICATION behind its queued output) is aborted after this.
        accept_backoff_s: after the kernel refuses ``accept`` for lack of resources (EMFILE,
            ENFILE, ENOBUFS, ENOMEM), listeners pause this long.
        log_interval_s: refused connections and accept errors are logged at most once per
            this interval (with the count of what was not logged).
    """

    connections_per_neighbor: int = 2
    max_queued_bytes: int = 16 << 20
    slow_peer_restart_s: float = 30.0
    close_timeout_s: float = 10.0
    accept_backoff_s: float = 1.0
    log_interval_s: float = 10.0


DEFAULT_LIMITS = SpeakerLimits()


class RateLimitedLog:
    """One log line per ``interval_s`` per key; the next line says how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> bool:
        """Log ``message`` unless ``key`` was logged less than ``interval_s`` ago; True when logged."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        if len(self._last) > 4096:  # keys are peer addresses: forget the old ones
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval_s}
            self._suppressed = {k: c for k, c in self._suppressed.items() if k in self._last}
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d more like it not logged)"
            args = (*args, suppressed)
        self.logger.warning(message, *args)
        return True
