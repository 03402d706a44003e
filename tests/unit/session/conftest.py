"""Fixtures: a pair of sessions, fed whole or byte by byte, and an Established pair."""
from __future__ import annotations

from typing import Iterator

import pytest

from bgpcore.session.fsm import State
from session_pair import A_POLICY, B_POLICY, Pair, make_session  # type: ignore[import-not-found]


@pytest.fixture(params=["whole", "bytewise"])
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    p = Pair(make_session(A_POLICY, label="a"), make_session(B_POLICY, label="b"), bytewise=request.param == "bytewise")
    yield p


@pytest.fixture
def established() -> Pair:
    p = Pair(make_session(A_POLICY, label="a"), make_session(B_POLICY, label="b"))
    p.connect()
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED
    return p
