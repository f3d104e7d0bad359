"""driftctl.history.merge: the merge rules that keep drift first-seen times across runs."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from functools import partial

import pytest
from factories import plan_result, report_at
from hypothesis import given, settings
from hypothesis import strategies as st

from driftctl.history.merge import (
    ResetRefused,
    StateCounts,
    age_hours,
    check_drops,
    count_states,
    drift_first_seen,
    merge,
    merge_run,
    valid_timestamp,
)
from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    RunReport,
    StackSeries,
    State,
)

NOW = 1_800_000_000.0
EARLIER = 1_700_000_000.0

# Few distinct ids so that previous series, results, known and removed stacks overlap often.
stack_ids = st.sampled_from(["a", "b", "c/d", "e f", 'q"x', "é"])
timestamps = st.one_of(
    st.none(),
    st.floats(min_value=1.0, max_value=4e9),
    st.sampled_from([0.0, -5.0, math.nan, math.inf]),
)
counts = st.builds(
    ResourceCounts,
    add=st.integers(0, 50),
    change=st.integers(0, 50),
    destroy=st.integers(0, 50),
    replace=st.integers(0, 50),
)


@st.composite
def series_for(draw: st.DrawFn, stack: str) -> StackSeries:
    return StackSeries(
        stack=stack,
        state=draw(st.sampled_from(State)),
        first_seen=draw(timestamps),
        consecutive_errors=draw(st.integers(0, 1000)),
        duration_seconds=draw(st.one_of(st.none(), st.floats(0, 1e4))),
        resources=draw(counts),
    )


@st.composite
def previous_maps(draw: st.DrawFn) -> dict[str, StackSeries]:
    ids = draw(st.sets(stack_ids))
    return {stack: draw(series_for(stack)) for stack in sorted(ids)}


plan = partial(plan_result, duration=1.5)


results_lists = st.lists(
    st.builds(plan, stack=stack_ids, state=st.sampled_from(State), resources=counts),
    max_size=8,
)
known_sets = st.one_of(st.none(), st.sets(stack_ids))
removed_sets = st.sets(stack_ids, max_size=3)


def series(stack: str, state: State, first_seen: float | None = None, errors: int = 0) -> StackSeries:
    return StackSeries(stack=stack, state=state, first_seen=first_seen, consecutive_errors=errors)


def last_result_per_stack(results: list[PlanResult]) -> dict[str, PlanResult]:
    return {r.stack.id: r for r in results}


# --- properties -----------------------------------------------------------------------------------


@settings(max_examples=150, database=None, deadline=None)
@given(previous_maps(), results_lists, known_sets, removed_sets)
def test_merged_series_always_satisfy_the_published_invariants(
    previous: dict[str, StackSeries],
    results: list[PlanResult],
    known: set[str] | None,
    removed: set[str],
) -> None:
    merged = merge(previous, results, NOW, known, removed)
    assert list(merged) == sorted(merged)
    for stack, s in merged.items():
        assert s.stack == stack
        if s.state is State.CLEAN:
            assert s.first_seen is None and s.consecutive_errors == 0
        if s.state is State.DRIFTED:
            assert valid_timestamp(s.first_seen) is not None and s.consecutive_errors == 0
        if s.state is State.ERRORED:
            assert s.consecutive_errors >= 1
        assert s.first_seen is None or valid_timestamp(s.first_seen) == s.first_seen


@settings(max_examples=150, database=None, deadline=None)
@given(previous_maps(), results_lists, known_sets, removed_sets)
def test_planned_stacks_follow_the_first_seen_rules(
    previous: dict[str, StackSeries],
    results: list[PlanResult],
    known: set[str] | None,
    removed: set[str],
) -> None:
    merged = merge(previous, results, NOW, known, removed)
    for stack, result in last_result_per_stack(results).items():
        before, after = previous.get(stack), merged[stack]
        carried = drift_first_seen(before)
        assert after.state is result.state
        if result.state is State.DRIFTED:
            assert after.first_seen == (NOW if carried is None else carried)
            assert after.resources == result.resources
        if result.state is State.ERRORED:
            assert after.first_seen == carried
            streak = before.consecutive_errors if before and before.state is State.ERRORED else 0
            assert after.consecutive_errors == streak + 1
            assert after.resources == (before.resources if before else ResourceCounts())


@settings(max_examples=150, database=None, deadline=None)
@given(previous_maps(), results_lists, known_sets, removed_sets)
def test_unplanned_stacks_are_carried_unless_gone_from_the_repository(
    previous: dict[str, StackSeries],
    results: list[PlanResult],
    known: set[str] | None,
    removed: set[str],
) -> None:
    merged = merge(previous, results, NOW, known, removed)
    planned = {r.stack.id for r in results}
    expected_carried = {
        s for s in previous if s not in planned and s not in removed and (known is None or s in known)
    }
    assert set(merged) == planned | expected_carried
    for stack in expected_carried:
        before, after = previous[stack], merged[stack]
        assert after.state is before.state
        assert after.resources == before.resources
        assert after.duration_seconds == before.duration_seconds
        if before.state is not State.CLEAN and valid_timestamp(before.first_seen) is not None:
            assert after.first_seen == before.first_seen


@settings(max_examples=100, database=None, deadline=None)
@given(previous_maps(), results_lists, known_sets, removed_sets)
def test_merge_is_pure_and_stable(
    previous: dict[str, StackSeries],
    results: list[PlanResult],
    known: set[str] | None,
    removed: set[str],
) -> None:
    snapshot = copy.deepcopy(previous)
    merged = merge(previous, results, NOW, known, removed)
    assert previous == snapshot
    assert merge(previous, results, NOW, known, removed) == merged
    # Pushing the merged view and running again with nothing planned changes nothing.
    assert merge(merged, [], NOW + 60, None) == merged


@settings(max_examples=100, database=None, deadline=None)
@given(previous_maps(), results_lists)
def test_counts_describe_the_whole_merged_view(
    previous: dict[str, StackSeries], results: list[PlanResult]
) -> None:
    merged = merge(previous, results, NOW, None)
    counted = count_states(merged.values())
    assert counted.clean + counted.drifted + counted.errored == len(merged)
    assert counted.drifted == sum(1 for s in merged.values() if s.state is State.DRIFTED)


# --- the run-by-run story from the issue -----------------------------------------------------------


def test_a_new_drift_is_stamped_with_now() -> None:
    merged = merge({}, [plan("a", State.DRIFTED)], NOW, {"a"})
    assert merged["a"].first_seen == NOW


def test_a_continuing_drift_keeps_its_first_seen_time() -> None:
    merged = merge({"a": series("a", State.DRIFTED, EARLIER)}, [plan("a", State.DRIFTED)], NOW, {"a"})
    assert merged["a"].first_seen == EARLIER


def test_a_clean_plan_resets_the_drift_and_the_error_streak() -> None:
    merged = merge({"a": series("a", State.ERRORED, EARLIER, errors=4)}, [plan("a", State.CLEAN)], NOW, {"a"})
    assert merged["a"] == StackSeries("a", State.CLEAN, None, 0, 1.5, ResourceCounts())


def test_an_error_carries_the_drift_age_and_counts_the_streak() -> None:
    drifted = series("a", State.DRIFTED, EARLIER)
    once = merge({"a": drifted}, [plan("a", State.ERRORED)], NOW, {"a"})
    twice = merge(once, [plan("a", State.ERRORED)], NOW + 60, {"a"})
    again = merge(twice, [plan("a", State.DRIFTED)], NOW + 120, {"a"})
    assert (once["a"].first_seen, once["a"].consecutive_errors) == (EARLIER, 1)
    assert (twice["a"].first_seen, twice["a"].consecutive_errors) == (EARLIER, 2)
    assert (again["a"].first_seen, again["a"].consecutive_errors) == (EARLIER, 0)


def test_an_error_on_a_clean_stack_has_no_first_seen_time() -> None:
    merged = merge({"a": series("a", State.CLEAN)}, [plan("a", State.ERRORED)], NOW, {"a"})
    assert merged["a"].first_seen is None and merged["a"].consecutive_errors == 1


def test_a_zero_first_seen_time_is_not_carried() -> None:
    merged = merge({"a": series("a", State.ERRORED, 0.0, errors=1)}, [plan("a", State.DRIFTED)], NOW, {"a"})
    assert merged["a"].first_seen == NOW


def test_a_changed_only_run_carries_the_stacks_it_did_not_plan() -> None:
    previous = {"a": series("a", State.DRIFTED, EARLIER), "b": series("b", State.ERRORED, None, errors=2)}
    merged = merge(previous, [plan("c", State.CLEAN)], NOW, {"a", "b", "c"})
    assert merged["a"] == previous["a"] and merged["b"] == previous["b"]


def test_removed_and_unknown_stacks_vanish() -> None:
    previous = {s: series(s, State.DRIFTED, EARLIER) for s in ("kept", "removed", "gone")}
    merged = merge(previous, [], NOW, {"kept", "removed"}, removed={"removed"})
    assert list(merged) == ["kept"]


def test_a_stack_planned_this_run_is_kept_even_if_not_listed_as_known() -> None:
    merged = merge({}, [plan("new", State.DRIFTED)], NOW, set())
    assert list(merged) == ["new"]


def test_age_is_hours_since_first_seen_and_never_negative() -> None:
    assert age_hours(series("a", State.DRIFTED, NOW - 7200), NOW) == 2.0
    assert age_hours(series("a", State.DRIFTED, NOW + 7200), NOW) == 0.0
    assert age_hours(series("a", State.CLEAN), NOW) is None


# --- the merged state every sink reads, and the guard against wiping the store ---------------------


def _run(results: list[PlanResult], known: set[str] | None = None) -> RunReport:
    return report_at(results, NOW, took=60, known=known)


def test_merge_run_keeps_both_sides_for_the_sinks() -> None:
    previous = {
        "a": StackSeries("a", State.DRIFTED, EARLIER),
        "b": StackSeries("b", State.CLEAN, None),
        "gone": StackSeries("gone", State.CLEAN, None),
    }
    merged = merge_run(
        previous, _run([plan_result("a", State.CLEAN), plan_result("b", State.DRIFTED)], {"a", "b"})
    )
    assert merged.now == NOW and merged.dropped == ("gone",)
    assert [(s, before and before.state, after and after.state) for s, before, after in merged.pairs()] == [
        ("a", State.DRIFTED, State.CLEAN),
        ("b", State.CLEAN, State.DRIFTED),
        ("gone", State.CLEAN, None),
    ]
    assert merged.counts == StateCounts(clean=1, drifted=1, errored=0)


def test_an_errored_plan_records_its_kind_and_carries_the_last_counts() -> None:
    previous = {"a": StackSeries("a", State.DRIFTED, EARLIER, outside=2, checks_failing=1)}
    failed = plan_result("a", State.ERRORED, error=PlanError(ErrorKind.LOCK, "locked"))
    after = merge_run(previous, _run([failed])).series["a"]
    assert (after.error_kind, after.outside, after.checks_failing, after.first_seen) == (
        ErrorKind.LOCK,
        2,
        1,
        EARLIER,
    )
    cleaned = merge_run({"a": after}, _run([plan_result("a", State.CLEAN)])).series["a"]
    assert (cleaned.error_kind, cleaned.outside, cleaned.checks_failing) == (None, 0, 0)


def test_a_merge_that_drops_more_than_half_of_the_stacks_needs_allow_reset() -> None:
    previous = {s: StackSeries(s, State.DRIFTED, EARLIER) for s in ("a", "b", "c", "d")}
    half = merge_run(previous, _run([plan_result("a", State.DRIFTED)], {"a", "b"}))
    check_drops(half, allow_reset=False)  # two of four: a reorganisation, allowed
    most = merge_run(previous, _run([plan_result("a", State.DRIFTED)], {"a"}))
    with pytest.raises(ResetRefused, match=r"would drop 3 of the 4 stacks held \(e.g. 'b', 'c', 'd'\)"):
        check_drops(most, allow_reset=False)
    check_drops(most, allow_reset=True)
    check_drops(merge_run({}, _run([])), allow_reset=False)  # nothing held, nothing to lose


def test_outside_changes_and_failing_checks_are_published_and_carried_through_errors() -> None:
    outside = (
        ResourceChange("aws_instance.a", "update", "aws_instance", outside=True),
        ResourceChange("aws_instance.b", "delete", "aws_instance", outside=True, ignored_by="known"),
    )
    checked = replace(plan("a", State.CLEAN), outside=outside, checks=(CheckResult("check.h", "fail"),))

    clean = merge({}, [checked], NOW, {"a"})
    errored = merge(clean, [plan("a", State.ERRORED)], NOW + 60, {"a"})
    drifted = merge(errored, [plan("a", State.DRIFTED)], NOW + 120, {"a"})

    assert (clean["a"].outside, clean["a"].checks_failing) == (1, 1)  # the ignored one is not counted
    assert (errored["a"].outside, errored["a"].checks_failing) == (1, 1)
    assert (drifted["a"].outside, drifted["a"].checks_failing) == (0, 0)
