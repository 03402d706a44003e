"""An update group's pending prefixes behave as an insertion-ordered set taken from the front."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpcore.rib.adj_out import DirtySet

_ops = st.lists(st.one_of(st.tuples(st.just("add"), st.lists(st.integers(0, 30), max_size=12)),
                          st.tuples(st.just("take"), st.integers(1, 10))), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_dirty_set_takes_what_an_ordered_dict_would(ops: list[tuple[str, object]]) -> None:
    model: dict[bytes, None] = {}
    dirty = DirtySet()
    for op, arg in ops:
        if op == "add":
            keys = [bytes((n,)) for n in arg]  # type: ignore[union-attr]
            model.update(dict.fromkeys(keys))
            dirty.add(keys)
        else:
            count = arg
            expected = list(model)[:count]  # type: ignore[misc]
            for key in expected:
                del model[key]
            assert dirty.take(count) == expected  # type: ignore[arg-type]
        assert list(dirty) == list(model)
        assert len(dirty) == len(model) and bool(dirty) == bool(model)


def test_a_key_marked_again_while_queued_keeps_its_place() -> None:
    dirty = DirtySet([b"a", b"b", b"c", b"d"])
    assert dirty.take(1) == [b"a"]
    dirty.add([b"c", b"a", b"e"])
    assert dirty.take(10) == [b"b", b"c", b"d", b"a", b"e"]
    assert not dirty and dirty.take(3) == []
