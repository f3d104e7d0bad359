"""What a store should hold after a run, given what it held before: pure data in, data out.

Every store (the Pushgateway, SQLite, PostgreSQL) and every sink (metrics, notifications) reads the
result of this one merge. Every rule here exists so that one run can never silently lose what earlier
runs learned: above all *when* a stack's current drift was first seen, which is what alerts on
"drifted for more than N days" are built on.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from driftctl.model import ErrorKind, PlanResult, ResourceCounts, RunReport, StackSeries, State

_SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class StateCounts:
    """How many stacks of the merged view are in each state (not just the ones planned this run)."""

    clean: int = 0
    drifted: int = 0
    errored: int = 0


@dataclass(frozen=True)
class MergedState:
    """A run merged into what the store held before it: the value every sink reads.

    `previous` is what the store held (before the run), `series` what it holds after, both keyed by
    stack id; `now` is the time the merge stamped new drift with.
    """

    previous: Mapping[str, StackSeries]
    series: Mapping[str, StackSeries]
    now: float

    @property
    def counts(self) -> StateCounts:
        return count_states(self.series.values())

    @property
    def dropped(self) -> tuple[str, ...]:
        """Stacks the store held that this merge forgets (gone from the repository)."""
        return tuple(sorted(set(self.previous) - set(self.series)))

    def pairs(self) -> Iterator[tuple[str, StackSeries | None, StackSeries | None]]:
        """(stack, before, after) for every stack on either side, by stack id: what notifications compare."""
        for stack in sorted(set(self.previous) | set(self.series)):
            yield stack, self.previous.get(stack), self.series.get(stack)


class ResetRefused(Exception):
    """The merge would forget most of what the store holds; a wrong root or selection, most likely."""


def merge_run(previous: Mapping[str, StackSeries], run: RunReport, now: float | None = None) -> MergedState:
    """`run` merged into `previous`; `now` defaults to when the run finished."""
    at = run.finished_at.timestamp() if now is None else now
    return MergedState(
        previous=dict(previous), series=merge(previous, run.results, at, run.known, run.removed), now=at
    )


def check_drops(merged: MergedState, allow_reset: bool) -> None:
    """Raise `ResetRefused` when the merge drops more than half of the stacks held before.

    Forgetting a stack forgets its first-seen time for good, and a run that drops most of them at once
    is far likelier a wrong `--root`, tool or glob than a repository that lost half its stacks.
    """
    dropped = merged.dropped
    if allow_reset or len(dropped) * 2 <= len(merged.previous):
        return
    examples = ", ".join(repr(stack) for stack in dropped[:3])
    raise ResetRefused(
        f"this run would drop {len(dropped)} of the {len(merged.previous)} stacks held "
        f"(e.g. {examples}) with their first-seen times; check --root, --tool and the globs, "
        "or give --allow-reset"
    )


def merge(
    previous: Mapping[str, StackSeries],
    results: Sequence[PlanResult],
    now: float,
    known_stacks: Collection[str] | None,
    removed: Collection[str] = (),
) -> dict[str, StackSeries]:
    """The series to push after a run, keyed and sorted by stack id.

    `known_stacks` is every stack id in the repository, planned or not; `None` means "unknown", which
    keeps every previous stack not listed in `removed`. A stack planned this run is always kept, even if
    the caller forgot to list it as known: its result is fresher than any bookkeeping.
    """
    # sets: a report carries its ids as tuples, and 10,000 lookups in a tuple of 10,000 take seconds
    known = None if known_stacks is None else frozenset(known_stacks)
    gone = frozenset(removed)
    planned = {result.stack.id for result in results}
    merged = {
        stack: _normalized(series, now)
        for stack, series in previous.items()
        if stack not in planned and _still_exists(stack, known, gone)
    }
    for result in results:
        stack = result.stack.id
        merged[stack] = next_series(previous.get(stack), result, now)
    return dict(sorted(merged.items()))


def next_series(previous: StackSeries | None, result: PlanResult, now: float) -> StackSeries:
    """One planned stack's series after this run's plan."""
    if result.state is State.CLEAN:
        return _clean(result)
    if result.state is State.DRIFTED:
        return _drifted(previous, result, now)
    return _errored(previous, result)


def _clean(result: PlanResult) -> StackSeries:
    # Only a plan that really came back clean may reset the drift age.
    return StackSeries(
        stack=result.stack.id,
        state=State.CLEAN,
        first_seen=None,
        consecutive_errors=0,
        duration_seconds=_duration(result),
        resources=result.resources,
        outside=_outside(result),
        checks_failing=len(result.checks),
    )


def _outside(result: PlanResult) -> int:
    """Changes made outside Terraform the last plan did not act on, and no rule ignores."""
    return sum(1 for c in result.outside if c.ignored_by is None)


def _drifted(previous: StackSeries | None, result: PlanResult, now: float) -> StackSeries:
    carried = drift_first_seen(previous)
    return StackSeries(
        stack=result.stack.id,
        state=State.DRIFTED,
        first_seen=now if carried is None else carried,
        consecutive_errors=0,
        duration_seconds=_duration(result),
        resources=result.resources,
        outside=_outside(result),
        checks_failing=len(result.checks),
    )


def _errored(previous: StackSeries | None, result: PlanResult) -> StackSeries:
    # A failed plan says nothing about drift: carry the drift age and the last known resource changes
    # so that a flapping backend or an expired credential can neither hide nor restart a drift.
    return StackSeries(
        stack=result.stack.id,
        state=State.ERRORED,
        first_seen=drift_first_seen(previous),
        consecutive_errors=_error_streak(previous) + 1,
        duration_seconds=_duration(result),
        resources=previous.resources if previous is not None else ResourceCounts(),
        outside=previous.outside if previous is not None else 0,
        checks_failing=previous.checks_failing if previous is not None else 0,
        error_kind=result.error.kind if result.error is not None else ErrorKind.UNKNOWN,
    )


def drift_first_seen(previous: StackSeries | None) -> float | None:
    """The first-seen time a stack's drift carries forward, or None when there is no drift to carry.

    A clean series never carries one: if it has a first-seen time anyway (hand-pushed or corrupt data),
    its drift ended, so a new drift starts a new age.
    """
    if previous is None or previous.state is State.CLEAN:
        return None
    return valid_timestamp(previous.first_seen)


def valid_timestamp(value: float | None) -> float | None:
    """`value` if it can be a real unix time, else None (0, negatives, NaN and infinities cannot)."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return value


def _error_streak(previous: StackSeries | None) -> int:
    if previous is None or previous.state is not State.ERRORED:
        return 0
    return max(previous.consecutive_errors, 0)


def _duration(result: PlanResult) -> float | None:
    duration = result.duration_seconds
    return duration if math.isfinite(duration) and duration >= 0 else None


def _still_exists(stack: str, known_stacks: Collection[str] | None, removed: Collection[str]) -> bool:
    if stack in removed:
        return False
    return known_stacks is None or stack in known_stacks


def _normalized(series: StackSeries, now: float) -> StackSeries:
    """A carried (not planned) series made consistent, so a bad read-back cannot break the invariants."""
    fixed: tuple[float | None, int, ErrorKind | None]
    if series.state is State.CLEAN:
        fixed = (None, 0, None)
    elif series.state is State.DRIFTED:
        # Drift without a usable first-seen time (older pusher, corrupt value): start counting now
        # rather than publishing a drifted stack that no age alert can ever see.
        first_seen = valid_timestamp(series.first_seen)
        fixed = (now if first_seen is None else first_seen, 0, None)
    else:
        fixed = (valid_timestamp(series.first_seen), max(series.consecutive_errors, 1), series.error_kind)
    if (series.first_seen, series.consecutive_errors, series.error_kind) == fixed:
        return series  # the usual case: a series this merge wrote before; no copy
    return replace(series, first_seen=fixed[0], consecutive_errors=fixed[1], error_kind=fixed[2])


def count_states(series: Iterable[StackSeries]) -> StateCounts:
    """Counts over the merged view, so `--changed` runs still report the whole repository."""
    states = [s.state for s in series]
    return StateCounts(
        clean=states.count(State.CLEAN),
        drifted=states.count(State.DRIFTED),
        errored=states.count(State.ERRORED),
    )


def age_hours(series: StackSeries, now: float) -> float | None:
    """Hours since the drift was first seen, recomputed at every run (also for stacks not planned)."""
    if series.first_seen is None:
        return None
    # Clock skew between the machines that ran successive checks must not produce a negative age.
    return max(now - series.first_seen, 0.0) / _SECONDS_PER_HOUR
