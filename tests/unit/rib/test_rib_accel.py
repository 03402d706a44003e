"""Which RIB loops run: the C ones exactly when bgpcore.wire.accel hands them over."""
from __future__ import annotations

import importlib.util

import pytest

from bgpcore.rib import accel as rib_accel
from bgpcore.wire import accel as wire_accel


def test_rib_loops_are_built_with_the_codec() -> None:
    """setup.py builds _rib beside _update and _encode: one without the other is a packaging bug."""
    if wire_accel.NO_EXTENSIONS or importlib.util.find_spec("bgpcore_fast._encode") is None:
        pytest.skip("bgpcore_fast is not built, or BGPCORE_NO_EXTENSIONS is set")
    assert importlib.util.find_spec("bgpcore_fast._rib") is not None


def test_rib_loops_follow_the_codec_switch() -> None:
    exported = getattr(wire_accel, "group_runs", None)
    assert rib_accel.ACCELERATED == (exported is not None)
    if exported is None:
        assert rib_accel.group_runs is rib_accel.py_group_runs
        assert rib_accel.add_keys is rib_accel.py_add_keys
        assert rib_accel.take_keys is rib_accel.py_take_keys
        assert rib_accel.insert_absent is None
    else:
        assert rib_accel.group_runs is exported
    if wire_accel.NO_EXTENSIONS:
        assert not rib_accel.ACCELERATED
