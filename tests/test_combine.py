"""driftctl.combine: the shards' reports become one run only when they are the parts of one run."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import factories
import pytest

from driftctl.combine import CombineError, ShardReport, combine
from driftctl.model import Shard, State, Tool

T0 = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)
KNOWN = ("a", "b", "c", "d", "e")
COMMIT = "c0ffee" * 6 + "abcd"


def part(index: int, *stacks: str, total: int = 3, **changes: object) -> ShardReport:
    """Shard `index` of `total`, planning `stacks` (drifted when the id is "d", else clean)."""
    results = [factories.plan_result(s, State.DRIFTED if s == "d" else State.CLEAN) for s in stacks]
    run = factories.run_report(
        *results,
        started=T0 + timedelta(seconds=index),
        finished=T0 + timedelta(minutes=10 + index),
        removed=("old",) if index == 1 else (),
    )
    run = dataclasses.replace(run, known=KNOWN, shard=Shard(index, total, "p1"), commit=COMMIT)
    return ShardReport(f"shard-{index}.json", dataclasses.replace(run, **changes))  # type: ignore[arg-type]


def test_the_parts_of_one_run_make_that_run() -> None:
    merged = combine([part(2, "c", "b"), part(1, "e"), part(3, "a", "d")])

    assert [r.stack.id for r in merged.results] == ["a", "b", "c", "d", "e"]
    assert merged.count(State.DRIFTED) == 1
    assert (merged.started_at, merged.finished_at) == (T0 + timedelta(seconds=1), T0 + timedelta(minutes=13))
    assert merged.known == KNOWN and merged.commit == COMMIT and merged.removed == ("old",)
    assert merged.shard is None and merged.mode == "all"


def test_a_report_of_an_unsplit_run_is_the_whole_run() -> None:
    whole = part(1, *KNOWN, total=1, shard=None)
    assert combine([whole]).results == whole.report.results


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            [part(1, "a"), part(3, "b")],
            "shard 2/3 is missing (2 of 3 reports given); publish them all, or --allow-partial",
        ),
        (
            [part(2, "a")],
            "shard 1/3, 3/3 are missing (1 of 3 reports given); publish them all, or --allow-partial",
        ),
        (
            [part(1, "a"), part(2, "b"), part(2, "c"), part(3)],
            "shard 2/3 is given twice: shard-2.json and shard-2.json",
        ),
        (
            [part(1, "a"), part(2, "b", commit="f" * 40), part(3)],
            f"shard-2.json is not part of the run of shard-1.json: commit {'f' * 40} != {COMMIT}",
        ),
        (
            [part(1, "a"), part(2, "b", commit=None), part(3)],
            "shard-2.json is not part of the run of shard-1.json: commit none (not a git repository) != "
            f"{COMMIT}",
        ),
        (
            [part(1, "a"), part(2, "b", mode="changed"), part(3)],
            "shard-2.json is not part of the run of shard-1.json: mode changed != all",
        ),
        (
            [part(1, "a"), part(2, "b", tool=Tool.TOFU), part(3)],
            "shard-2.json is not part of the run of shard-1.json: tool tofu != terragrunt",
        ),
        (
            [part(1, "a"), part(2, "b", total=4)],
            "shard-2.json is not part of the run of shard-1.json: number of shards 4 != 3",
        ),
        (
            [part(1, "a"), part(2, "b", shard=Shard(2, 3, "p2")), part(3)],
            "shard-2.json is not part of the run of shard-1.json: partition (the shards read different "
            "durations) p2 != p1",
        ),
        (
            [part(1, "a"), part(2, "b", known=("a", "b")), part(3)],
            "shard-2.json is not part of the run of shard-1.json: they know different stacks",
        ),
        (
            [part(1, "a", "b"), part(2, "b"), part(3)],
            "stack b was planned in two reports: shard-1.json and shard-2.json",
        ),
        ([], "no report given"),
    ],
)
def test_refuses_what_is_not_one_run(parts: list[ShardReport], message: str) -> None:
    with pytest.raises(CombineError) as error:
        combine(parts)
    assert str(error.value) == message


def test_allow_partial_accepts_missing_shards_but_never_duplicates() -> None:
    merged = combine([part(1, "a"), part(3, "b")], allow_partial=True)
    assert [r.stack.id for r in merged.results] == ["a", "b"] and merged.known == KNOWN
    with pytest.raises(CombineError, match="given twice"):
        combine([part(1, "a"), part(1, "b")], allow_partial=True)
