"""BFD: every state meets every received state, flag and diag; the only outcomes are the table's.

Sessions are brought to each state through their public interface (packets and commands), then
fed one more packet; the new state, the local diagnostic and the events must be exactly what
``bgpcore.bfd.fsm.TRANSITIONS`` says. The codec never raises anything but ``BfdPacketError``.
"""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.bfd.fsm import RECEIVED, TRANSITIONS, Input
from bgpcore.bfd.packet import BfdPacketError, ControlPacket, Diag, State, decode_control, encode_control
from bgpcore.bfd.session import BfdSession

LOCAL, REMOTE = 0x1111, 0x2222


def _session_in(state: State, diag: Diag) -> BfdSession:
    s = BfdSession(now=0.0, local_discriminator=LOCAL, rng=random.Random(0))
    if state is State.ADMIN_DOWN:
        s.admin_down(0.0)
    elif state is not State.DOWN:
        s.receive(ControlPacket(state=State.DOWN, my_discriminator=REMOTE, diag=diag), 0.1)
        if state is State.UP:
            s.receive(ControlPacket(state=State.UP, my_discriminator=REMOTE, your_discriminator=LOCAL), 0.2)
    assert s.state is state
    s.packets_to_send()
    return s


packets = st.builds(
    lambda state, diag, poll, final, cpi, demand, ours, mult, tx, rx: ControlPacket(
        state=state, diag=diag, poll=poll, final=final and not poll, control_plane_independent=cpi, demand=demand,
        my_discriminator=REMOTE, your_discriminator=LOCAL if ours or state in (State.UP, State.INIT) else 0,
        detect_mult=mult, desired_min_tx_us=tx, required_min_rx_us=rx),
    st.sampled_from(list(State)), st.sampled_from(list(Diag)), st.booleans(), st.booleans(), st.booleans(),
    st.booleans(), st.booleans(), st.integers(1, 255), st.integers(1, 2_000_000), st.integers(0, 2_000_000))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(list(State)), st.sampled_from(list(Diag)), packets)
def test_received_packet_outcome_is_the_table_row(state: State, prior_diag: Diag, pkt: ControlPacket) -> None:
    s = _session_in(state, prior_diag)
    diag_before = s.local_diag
    events = s.receive(decode_control(encode_control(pkt)), 1.0)
    new, diag = TRANSITIONS[(state, Input(pkt.state))]
    assert s.state is new
    assert s.local_diag == (diag_before if diag is None else diag)
    if new is state:
        assert events == []
    else:
        assert [(e.old, e.new, e.diag) for e in events] == [(state, new, s.local_diag)]
    sent = [decode_control(d) for d in s.packets_to_send()]
    if state is State.ADMIN_DOWN:
        assert sent == []  # §6.8.6: discarded, not even a Final
    else:
        assert (new is not state or pkt.poll) == bool(sent)
        assert all(not (p.poll and p.final) for p in sent)
        assert pkt.poll == any(p.final for p in sent)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(State)), st.sampled_from([Input.DETECTION_TIME_EXPIRED, Input.ADMIN_DOWN, Input.ENABLE]))
def test_timer_and_commands_follow_the_table(state: State, event: Input) -> None:
    s = _session_in(state, Diag.NONE)
    if event is Input.DETECTION_TIME_EXPIRED:
        deadline = s._detect_deadline
        events = s.handle_timer(deadline if deadline is not None else 100.0)
        if deadline is None:  # no packet ever received: nothing to expire
            assert s.state is state and events == []
            return
    elif event is Input.ADMIN_DOWN:
        events = s.admin_down(1.0)
    else:
        events = s.enable(1.0)
    new, _ = TRANSITIONS[(state, event)]
    assert s.state is new and len(events) == (new is not state)


def test_table_is_complete() -> None:
    inputs = [*RECEIVED, Input.DETECTION_TIME_EXPIRED, Input.ADMIN_DOWN, Input.ENABLE]
    assert set(TRANSITIONS) == {(s, i) for s in State for i in inputs}


@settings(max_examples=2000, deadline=None)
@given(st.binary(min_size=0, max_size=40))
def test_decoder_raises_only_bfd_packet_error(data: bytes) -> None:
    try:
        pkt = decode_control(data)
    except BfdPacketError:
        return
    assert encode_control(pkt) == bytes(data[:24])


@given(packets)
def test_round_trip(pkt: ControlPacket) -> None:
    assert decode_control(encode_control(pkt)) == pkt
