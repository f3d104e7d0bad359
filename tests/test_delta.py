"""What changed since the last run, from previous and merged series: pure, no store involved."""

from __future__ import annotations

from collections.abc import Mapping

from factories import plan_result

from driftctl.history.merge import MergedState, merge
from driftctl.model import ErrorKind, PlanError, PlanResult, StackSeries, State
from driftctl.sinks.delta import Delta, age_text, delta

T0 = 1_700_000_000.0
DAY = 86_400.0


def errored(stack: str, kind: ErrorKind = ErrorKind.AUTH) -> PlanResult:
    return plan_result(stack, State.ERRORED, error=PlanError(kind, "boom"))


def run(
    previous: Mapping[str, StackSeries], *results: PlanResult, now: float
) -> tuple[dict[str, StackSeries], Delta]:
    merged = merge(previous, results, now, None)
    return merged, delta(MergedState(previous, merged, now), results)


def test_a_first_run_makes_every_drift_new() -> None:
    _, news = run({}, plan_result("a", State.DRIFTED), plan_result("b", State.CLEAN), now=T0)
    assert [d.stack for d in news.newly_drifted] == ["a"]
    assert news.newly_drifted[0].age_seconds == 0.0
    assert news.changed and not news.still_drifted and not news.resolved


def test_the_same_drift_a_day_later_is_still_drifted_with_its_age_and_no_news() -> None:
    series, _ = run({}, plan_result("a", State.DRIFTED), now=T0)
    _, news = run(series, plan_result("a", State.DRIFTED), now=T0 + DAY)
    assert [(d.stack, d.first_seen, d.age_seconds) for d in news.still_drifted] == [("a", T0, DAY)]
    assert not news.changed


def test_clean_after_drift_is_resolved_clean_after_clean_is_nothing() -> None:
    series, _ = run({}, plan_result("a", State.DRIFTED), plan_result("b", State.CLEAN), now=T0)
    _, news = run(series, plan_result("a", State.CLEAN), plan_result("b", State.CLEAN), now=T0 + DAY)
    assert news.resolved == ("a",)
    assert news.changed


def test_errors_are_new_once_then_persistent_with_their_run_count() -> None:
    series, first = run({}, errored("n"), now=T0)
    series, second = run(series, errored("n", ErrorKind.LOCK), now=T0 + 1)
    series, third = run(series, errored("n", ErrorKind.LOCK), now=T0 + 2)
    assert [(f.stack, f.kind, f.runs) for f in first.newly_errored] == [("n", ErrorKind.AUTH, 1)]
    assert [(f.stack, f.kind, f.runs) for f in third.still_errored] == [("n", ErrorKind.LOCK, 3)]
    assert first.changed and not second.changed and not third.changed
    _, back = run(series, plan_result("n", State.CLEAN), now=T0 + 3)
    assert back.recovered == ("n",) and not back.resolved


def test_an_error_between_two_drifts_neither_hides_nor_restarts_the_drift() -> None:
    series, _ = run({}, plan_result("a", State.DRIFTED), now=T0)
    series, during = run(series, errored("a"), now=T0 + DAY)
    _, after = run(series, plan_result("a", State.DRIFTED), now=T0 + 2 * DAY)
    assert not during.resolved and during.newly_errored
    assert [(d.stack, d.first_seen) for d in after.still_drifted] == [("a", T0)]
    assert after.recovered == ("a",)


def test_stacks_not_planned_are_no_news_and_removed_ones_are() -> None:
    series, _ = run({}, plan_result("a", State.DRIFTED), plan_result("gone", State.DRIFTED), now=T0)
    merged = merge(series, [plan_result("b", State.CLEAN)], T0 + 1, known_stacks={"a", "b"})
    news = delta(MergedState(series, merged, T0 + 1), [plan_result("b", State.CLEAN)])
    assert news.removed == ("gone",)
    assert not news.still_drifted and not news.newly_drifted


def test_age_text() -> None:
    assert [age_text(s) for s in (59, 600, 3 * 3600 + 59, DAY, DAY + 7200)] == [
        "0m",
        "10m",
        "3h",
        "1d",
        "1d 2h",
    ]
