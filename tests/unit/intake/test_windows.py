"""Window plans: complete windows only, bounded per call, each re-reading its allowance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from settlement_core.errors import ValidationError
from settlement_core.intake import WindowPlan

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_windows_tile_from_the_checkpoint_to_the_last_complete_one() -> None:
    """Adjacent, a minute each by default, none ending after as_of."""
    windows = list(WindowPlan().windows(T0, T0 + 3 * MINUTE + timedelta(seconds=30)))
    assert [(w.start, w.end) for w in windows] == [
        (T0 + n * MINUTE, T0 + (n + 1) * MINUTE) for n in range(3)
    ]
    assert all(w.read_from == w.start - 5 * MINUTE for w in windows)


def test_a_call_is_bounded() -> None:
    """At most max_windows per call; the next call goes on from the checkpoint."""
    assert len(list(WindowPlan(max_windows=4).windows(T0, T0 + 60 * MINUTE))) == 4


@pytest.mark.parametrize(
    "options",
    [{"size": timedelta(0)}, {"lateness": -MINUTE}, {"max_windows": 0}],
)
def test_a_plan_must_make_sense(options: dict[str, object]) -> None:
    """No empty windows, no negative lateness, at least one window."""
    with pytest.raises(ValidationError):
        WindowPlan(**options)  # type: ignore[arg-type]
