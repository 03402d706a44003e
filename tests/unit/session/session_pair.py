"""Two real sessions wired back to back in memory, as h11's ConnectionPair does."""
from __future__ import annotations

import random
from dataclasses import replace

from bgpcore.session.events import ConnectionMade, Event, Start
from bgpcore.session.negotiate import OpenPolicy
from bgpcore.session.session import Session
from bgpcore.session.timers import TimerSettings

A_POLICY = OpenPolicy(local_as=65001, router_id="192.0.2.1", remote_as=65002, hold_time_s=9)
B_POLICY = OpenPolicy(local_as=65002, router_id="192.0.2.2", remote_as=65001, hold_time_s=30)


class Pair:
    """Sessions ``a`` and ``b`` exchanging bytes through ``pump``; a shared clock ``now``."""

    def __init__(self, a: Session, b: Session, bytewise: bool = False) -> None:
        self.a, self.b = a, b
        self.now = 100.0
        self.bytewise = bytewise
        self.events: dict[str, list[Event]] = {"a": [], "b": []}

    def _deliver(self, src: Session, dst: Session, name: str) -> bool:
        data = src.data_to_send()
        if not data:
            return False
        chunks = [data[i:i + 1] for i in range(len(data))] if self.bytewise else [data]
        for chunk in chunks:
            self.events[name] += dst.receive_data(chunk, self.now)
        return True

    def pump(self) -> None:
        while self._deliver(self.a, self.b, "b") | self._deliver(self.b, self.a, "a"):
            pass

    def connect(self) -> None:
        """Start both (``b`` passive) and join them with one connection."""
        self.events["a"] += self.a.send(Start(), self.now)
        self.events["b"] += self.b.send(Start(passive=True), self.now)
        self.events["a"] += self.a.send(ConnectionMade(), self.now)
        self.events["b"] += self.b.send(ConnectionMade(), self.now)
        self.pump()

    def advance(self, seconds: float) -> None:
        """Move the clock, firing due timers on both sides in deadline order."""
        end = self.now + seconds
        while True:
            due = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None and d <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            self.events["a"] += self.a.handle_timer(self.now)
            self.events["b"] += self.b.handle_timer(self.now)
            self.pump()
        self.now = end

    def of(self, name: str, cls: type) -> list[Event]:
        return [e for e in self.events[name] if isinstance(e, cls)]


def make_session(policy: OpenPolicy, **kw: object) -> Session:
    timers = kw.pop("timers", TimerSettings(connect_retry_s=5, idle_hold_s=1))
    return Session(policy, timers=timers, rng=random.Random(7), **kw)  # type: ignore[arg-type]


__all__ = ["A_POLICY", "B_POLICY", "Pair", "make_session", "replace"]
