from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from driftctl.model import Stack, Tool
from driftctl.schedule import longest_first


def _stacks(*ids: str) -> list[Stack]:
    return [Stack(id=i, path=Path("/live") / i, tool=Tool.TERRAGRUNT) for i in ids]


def test_unknown_first_then_longest_then_by_id() -> None:
    stacks = _stacks("a", "b", "c", "d", "e")
    order = longest_first(stacks, {"a": 5.0, "b": 120.0, "d": 5.0, "e": None})
    assert [s.id for s in order] == ["c", "e", "b", "a", "d"]


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.none() | st.floats(0, 1e6), max_size=30))
def test_a_permutation_whose_known_durations_never_increase(durations: dict[str, float | None]) -> None:
    stacks = _stacks(*sorted(durations))
    order = longest_first(stacks, durations)
    assert sorted(s.id for s in order) == sorted(durations)
    known = [seconds for s in order if (seconds := durations[s.id]) is not None]
    assert known == sorted(known, reverse=True)
    unknown_positions = [i for i, s in enumerate(order) if durations[s.id] is None]
    assert unknown_positions == list(range(len(unknown_positions)))
