"""BfdSession back to back in memory with a fake clock (the h11 ConnectionPair pattern)."""
from __future__ import annotations

import random

import pytest

from bgpcore.bfd.packet import ControlPacket, Diag, State, decode_control, encode_control
from bgpcore.bfd.session import SLOW_TX_US, BfdSession, BfdStateChanged
from bgpcore.errors import UsageError


class Pair:
    """Two sessions wired together; ``run_until(t)`` steps both clocks to every deadline up to t."""

    def __init__(self, a_us: int = 300_000, b_us: int = 300_000, mult: int = 3) -> None:
        self.now = 0.0
        self.a = BfdSession(now=0.0, desired_min_tx_us=a_us, required_min_rx_us=a_us, detect_mult=mult,
                            rng=random.Random(1), label="a")
        self.b = BfdSession(now=0.0, desired_min_tx_us=b_us, required_min_rx_us=b_us, detect_mult=mult,
                            rng=random.Random(2), label="b")
        self.events: dict[str, list[BfdStateChanged]] = {"a": [], "b": []}
        self.sent: dict[str, list[ControlPacket]] = {"a": [], "b": []}
        self.link_up = {"a": True, "b": True}  # False: what that side sends is lost

    def _flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for name, src, dst in (("a", self.a, self.b), ("b", self.b, self.a)):
                for data in src.packets_to_send():
                    pkt = decode_control(data)
                    self.sent[name].append(pkt)
                    if self.link_up[name]:
                        self.events["b" if name == "a" else "a"] += dst.receive(pkt, self.now)
                        moved = True

    def run_until(self, t: float) -> None:
        self._flush()
        while True:
            deadlines = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None]
            nxt = min(deadlines) if deadlines else None
            if nxt is None or nxt > t:
                break
            self.now = max(self.now, nxt)
            self.events["a"] += self.a.handle_timer(self.now)
            self.events["b"] += self.b.handle_timer(self.now)
            self._flush()
        self.now = t

    def up(self) -> None:
        self.run_until(self.now + 5.0)
        assert self.a.state is State.UP and self.b.state is State.UP


def test_three_way_handshake_down_init_up() -> None:
    p = Pair()
    p.run_until(3.0)
    assert [(e.old, e.new) for e in p.events["a"]] == [(State.DOWN, State.INIT), (State.INIT, State.UP)] \
        or [(e.old, e.new) for e in p.events["a"]] == [(State.DOWN, State.UP)]
    assert p.a.state is State.UP and p.b.state is State.UP
    assert p.a.remote_discriminator == p.b.local_discriminator
    assert p.b.remote_discriminator == p.a.local_discriminator
    assert p.a.up_count == 1 and p.a.status(p.now).uptime_s is not None


def test_slow_tx_of_one_second_while_not_up() -> None:
    s = BfdSession(now=0.0, desired_min_tx_us=50_000, required_min_rx_us=50_000, rng=random.Random(3))
    first = s.handle_timer(0.0)
    assert first == [] and len(s.packets_to_send()) == 1
    deadline = s.next_deadline()
    assert deadline is not None and 0.75 <= deadline <= 1.0
    pkt = decode_control(encode_control(s._packet(False)))
    assert pkt.desired_min_tx_us == SLOW_TX_US and pkt.required_min_rx_us == 50_000 and pkt.state is State.DOWN


def test_after_up_a_poll_sequence_moves_to_the_configured_interval() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 2.0)
    assert not p.a.poll_in_progress and not p.b.poll_in_progress
    assert p.a.tx_interval_us() == 300_000 and p.a.detection_time_us() == 900_000
    assert any(x.poll for x in p.sent["a"]) and any(x.final for x in p.sent["b"])
    assert not any(x.poll and x.final for x in p.sent["a"] + p.sent["b"])


def test_periodic_interval_is_jittered_between_75_and_100_percent() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 1.0)
    start = len(p.sent["a"])
    times: list[float] = []
    for _ in range(50):
        d = p.a.next_deadline()
        assert d is not None
        p.run_until(d)
        if len(p.sent["a"]) > start:
            times.append(p.now)
            start = len(p.sent["a"])
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(0.225 - 1e-9 <= g <= 0.300 + 1e-9 for g in gaps)


def test_jitter_at_most_90_percent_with_detect_mult_1() -> None:
    s = BfdSession(now=0.0, detect_mult=1, rng=random.Random(4))
    for _ in range(200):
        assert 0.75 <= s._jittered_s(1_000_000) <= 0.9


def test_silence_brings_the_session_down_within_detection_time() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 2.0)
    p.link_up["b"] = False
    lost_at = p.now
    p.run_until(lost_at + 0.95)
    assert p.a.state is State.DOWN
    down = [e for e in p.events["a"] if e.new is State.DOWN][-1]
    assert down.diag is Diag.CONTROL_DETECTION_TIME_EXPIRED and down.at - lost_at <= 0.9 + 1e-9
    assert p.a.remote_discriminator == 0 and p.a.down_count == 1
    # a tells b: b goes down too, with "neighbor signaled session down"
    assert p.b.state is State.DOWN and p.b.local_diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    p.link_up["b"] = True
    p.run_until(p.now + 5.0)
    assert p.a.state is State.UP and p.b.state is State.UP and p.a.up_count == 2


def test_admin_down_tells_the_peer_and_enable_brings_it_back() -> None:
    p = Pair()
    p.up()
    events = p.a.admin_down(p.now)
    assert [(e.old, e.new, e.diag) for e in events] == [(State.UP, State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN)]
    p.run_until(p.now + 0.01)
    assert p.b.state is State.DOWN and p.b.local_diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert p.b.remote_diag is Diag.ADMINISTRATIVELY_DOWN
    p.run_until(p.now + 5.0)
    assert p.a.state is State.ADMIN_DOWN  # packets from b do not move it
    p.a.enable(p.now)
    p.run_until(p.now + 5.0)
    assert p.a.state is State.UP and p.b.state is State.UP


def test_set_intervals_while_up_uses_poll_and_final() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 2.0)
    p.a.set_intervals(100_000, 150_000, 5, p.now)
    assert p.a.poll_in_progress
    # faster sending takes effect at once; the smaller RX waits for the Final
    assert p.a._eff_tx_us == 100_000 and p.a._eff_rx_us == 300_000
    p.run_until(p.now + 1.0)
    assert not p.a.poll_in_progress
    assert p.a.status(p.now).required_min_rx_us == 150_000
    assert p.a.rx_interval_us() == 300_000  # b still sends at its own 300 ms
    assert p.b.tx_interval_us() == 300_000 and p.b.detection_time_us() == 5 * 300_000
    assert p.a.tx_interval_us() == 300_000  # b requires 300 ms
    p.b.set_intervals(100_000, 100_000, 3, p.now)
    p.run_until(p.now + 1.0)
    assert p.a.tx_interval_us() == 100_000 and p.a.detection_time_us() == 3 * 150_000
    assert p.a.state is State.UP and p.b.state is State.UP


def test_slower_rx_waits_for_nothing_and_faster_tx_waits_for_final() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 2.0)
    p.a.set_intervals(600_000, 600_000, 3, p.now)
    assert p.a._eff_tx_us == 300_000 and p.a._eff_rx_us == 600_000
    p.run_until(p.now + 2.0)
    assert p.a._eff_tx_us == 600_000 and p.b.detection_time_us() == 1_800_000


def test_set_intervals_while_down_needs_no_poll() -> None:
    s = BfdSession(now=0.0, rng=random.Random(5))
    s.set_intervals(200_000, 250_000, 4, 0.0)
    assert not s.poll_in_progress
    pkt = decode_control(s.packets_to_send()[-1])
    assert pkt.required_min_rx_us == 250_000 and pkt.detect_mult == 4 and pkt.desired_min_tx_us == SLOW_TX_US


def test_packet_for_another_discriminator_is_dropped() -> None:
    s = BfdSession(now=0.0, local_discriminator=10)
    events = s.receive(ControlPacket(state=State.INIT, my_discriminator=3, your_discriminator=11), 0.0)
    assert events == [] and s.packets_dropped == 1 and s.state is State.DOWN and s.remote_discriminator == 0


def test_poll_is_answered_at_once_with_final_and_no_poll() -> None:
    s = BfdSession(now=0.0, local_discriminator=10)
    s.packets_to_send()
    s.receive(ControlPacket(state=State.DOWN, my_discriminator=3, poll=True), 0.5)
    pkts = [decode_control(d) for d in s.packets_to_send()]
    assert pkts and pkts[-1].final and not pkts[-1].poll and pkts[-1].your_discriminator == 3


def test_remote_required_min_rx_zero_stops_periodic_transmission() -> None:
    s = BfdSession(now=0.0, local_discriminator=10)
    s.receive(ControlPacket(state=State.DOWN, my_discriminator=3, required_min_rx_us=0), 0.0)
    s.packets_to_send()
    assert s.tx_interval_us() is None
    s.handle_timer(10.0)  # detection time expires: Init -> Down is announced once, then silence
    assert [decode_control(d).state for d in s.packets_to_send()] == [State.DOWN]
    assert s.next_deadline() is None


def test_status_counts_and_names_intervals() -> None:
    p = Pair()
    p.up()
    p.run_until(p.now + 2.0)
    st = p.a.status(p.now)
    assert st.state is State.UP and st.tx_interval_us == 300_000 and st.rx_interval_us == 300_000
    assert st.detection_time_us == 900_000 and st.packets_in > 0 and st.packets_out > 0
    assert st.state_changes >= 1 and st.remote_discriminator == p.b.local_discriminator


@pytest.mark.parametrize("kwargs", [{"desired_min_tx_us": 0}, {"required_min_rx_us": -1}, {"detect_mult": 0},
                                    {"detect_mult": 256}, {"local_discriminator": 0}])
def test_bad_parameters_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        BfdSession(now=0.0, **kwargs)  # type: ignore[arg-type]


def test_random_local_discriminator_is_non_zero() -> None:
    rng = random.Random(6)
    assert all(BfdSession(now=0.0, rng=rng).local_discriminator != 0 for _ in range(100))
