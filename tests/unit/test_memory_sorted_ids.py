"""The in-memory store's sorted id sets read as a sorted set would, after any adds and removes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement_adapters.memory.sorted_ids import SortedIds

# Few distinct ids, so removing and adding the same one again is frequent.
IDS = st.integers(0, 30).map(lambda n: f"p{n:04d}")
STEPS = st.lists(st.tuples(st.booleans(), IDS), max_size=300)


@settings(max_examples=80, deadline=None)
@given(steps=STEPS, cursors=st.lists(IDS, max_size=5))
def test_reads_after_a_cursor_match_a_sorted_set(
    steps: list[tuple[bool, str]], cursors: list[str]
) -> None:
    ids, model = SortedIds(), set[str]()
    for adding, obj_id in steps:
        if adding:
            ids.add(obj_id)
            model.add(obj_id)
        else:
            ids.discard(obj_id)
            model.discard(obj_id)
        assert len(ids) == len(model)
    assert list(ids.after(None)) == sorted(model)
    for cursor in cursors:
        assert list(ids.after(cursor)) == sorted(i for i in model if i > cursor)
        assert (cursor in ids) is (cursor in model)


def test_removed_ids_do_not_pile_up() -> None:
    ids = SortedIds()
    for n in range(10_000):
        ids.add(f"p{n:05d}")
        if n >= 10:
            ids.discard(f"p{n - 10:05d}")  # a queue: ten live at any time
    assert list(ids.after(None)) == [f"p{n:05d}" for n in range(9_990, 10_000)]
    assert len(ids._order) <= 2 * len(ids) + 64
    for n in range(9_985, 9_995):  # back in, some still listed since their removal
        ids.add(f"p{n:05d}")
    assert list(ids.after("p09987")) == [f"p{n:05d}" for n in range(9_988, 10_000)]
