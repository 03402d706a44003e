"""The RFC 5880 §6.2/§6.8.6 BFD state machine as data: ``(State, Input) -> (State, Diag | None)``.

The received-state inputs carry the numbers of the received Sta field, so a received packet is
``Input(packet.state)``. ``Diag`` in a value is the new ``bfd.LocalDiag``; ``None`` keeps it.
Every pair is in the table: there is no default.

::

                                +--+
                                |  | UP, ADMIN DOWN, TIMER
                                |  V
                        DOWN  +------+  INIT
                 +------------|      |------------+
                 |            | DOWN |            |
                 |  +-------->|      |<--------+  |
                 |  |         +------+         |  |
                 |  |                          |  |
                 |  |               ADMIN DOWN,|  |
                 |  |ADMIN DOWN,          DOWN,|  |
                 |  |TIMER                TIMER|  |
                 V  |                          |  V
               +------+                      +------+
          +----|      |                      |      |----+
      DOWN|    | INIT |--------------------->|  UP  |    |INIT, UP
          +--->|      | INIT, UP             |      |<---+
               +------+                      +------+
"""
from __future__ import annotations

from enum import IntEnum
from typing import Final

from bgpcore.bfd.packet import Diag, State


class Input(IntEnum):
    """What drives the FSM: a received state (numbered as the Sta field), a timer or a command."""

    RECEIVED_ADMIN_DOWN = 0
    RECEIVED_DOWN = 1
    RECEIVED_INIT = 2
    RECEIVED_UP = 3
    DETECTION_TIME_EXPIRED = 10
    ADMIN_DOWN = 11
    """Local command: stop the session (§6.8.16)."""
    ENABLE = 12
    """Local command: leave AdminDown."""


S, I, D = State, Input, Diag
RECEIVED: Final = (I.RECEIVED_ADMIN_DOWN, I.RECEIVED_DOWN, I.RECEIVED_INIT, I.RECEIVED_UP)

TRANSITIONS: Final[dict[tuple[State, Input], tuple[State, Diag | None]]] = {
    # §6.8.6: "If bfd.SessionState is AdminDown: Discard the packet"; only ENABLE leaves it.
    **{(S.ADMIN_DOWN, i): (S.ADMIN_DOWN, None) for i in RECEIVED},
    (S.ADMIN_DOWN, I.DETECTION_TIME_EXPIRED): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, I.ADMIN_DOWN): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, I.ENABLE): (S.DOWN, D.NONE),
    (S.DOWN, I.RECEIVED_ADMIN_DOWN): (S.DOWN, None),
    (S.DOWN, I.RECEIVED_DOWN): (S.INIT, None),
    (S.DOWN, I.RECEIVED_INIT): (S.UP, D.NONE),
    (S.DOWN, I.RECEIVED_UP): (S.DOWN, None),
    (S.DOWN, I.DETECTION_TIME_EXPIRED): (S.DOWN, None),
    (S.INIT, I.RECEIVED_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.INIT, I.RECEIVED_DOWN): (S.INIT, None),
    (S.INIT, I.RECEIVED_INIT): (S.UP, D.NONE),
    (S.INIT, I.RECEIVED_UP): (S.UP, D.NONE),
    (S.INIT, I.DETECTION_TIME_EXPIRED): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    (S.UP, I.RECEIVED_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, I.RECEIVED_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, I.RECEIVED_INIT): (S.UP, None),
    (S.UP, I.RECEIVED_UP): (S.UP, None),
    (S.UP, I.DETECTION_TIME_EXPIRED): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    **{(s, I.ADMIN_DOWN): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN) for s in (S.DOWN, S.INIT, S.UP)},
    **{(s, I.ENABLE): (s, None) for s in (S.DOWN, S.INIT, S.UP)},
}


def transition(state: State, event: Input) -> tuple[State, Diag | None]:
    """The next state and, when it changes, the new local diagnostic for ``event`` in ``state``."""
    return TRANSITIONS[(state, event)]
