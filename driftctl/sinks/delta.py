"""What changed since the last run: pure, from the previous and the merged series and this run's results.

Only stacks planned this run are news: a stack a `--changed` run did not plan keeps its state in the
merged view, but this run learned nothing about it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from driftctl.history.merge import MergedState, drift_first_seen
from driftctl.model import ErrorKind, PlanResult, ResourceChange, ResourceCounts, StackSeries, State


@dataclass(frozen=True)
class Drift:
    """A planned stack that is drifted now; `first_seen` is when its current drift began."""

    result: PlanResult
    first_seen: float
    age_seconds: float

    @property
    def stack(self) -> str:
        return self.result.stack.id

    @property
    def changes(self) -> tuple[ResourceChange, ...]:
        return self.result.changes

    @property
    def resources(self) -> ResourceCounts:
        return self.result.resources


@dataclass(frozen=True)
class Failure:
    """A planned stack whose plan failed `runs` runs in a row, the last time with `kind`."""

    stack: str
    kind: ErrorKind
    runs: int


@dataclass(frozen=True)
class Delta:
    newly_drifted: tuple[Drift, ...] = ()
    still_drifted: tuple[Drift, ...] = ()
    resolved: tuple[str, ...] = ()  # planned clean after drift
    removed: tuple[str, ...] = ()  # drifted or errored last time, gone from the repository now
    newly_errored: tuple[Failure, ...] = ()
    still_errored: tuple[Failure, ...] = ()
    recovered: tuple[str, ...] = ()  # errored last time, planned this time

    @property
    def changed(self) -> bool:
        """Whether `--notify on-change` speaks: new drift, resolved drift or a new failure."""
        return bool(self.newly_drifted or self.resolved or self.removed or self.newly_errored)

    @property
    def drifted(self) -> tuple[Drift, ...]:
        return self.newly_drifted + self.still_drifted

    @property
    def errored(self) -> tuple[Failure, ...]:
        return self.newly_errored + self.still_errored


def delta(state: MergedState, results: Sequence[PlanResult]) -> Delta:
    """Sorts this run's stacks into what is news and what is not, by stack id."""
    previous, merged, now = state.previous, state.series, state.now
    newly: list[Drift] = []
    still: list[Drift] = []
    resolved: list[str] = []
    new_errors: list[Failure] = []
    old_errors: list[Failure] = []
    recovered: list[str] = []
    for result in sorted(results, key=lambda r: r.stack.id):
        stack = result.stack.id
        before = previous.get(stack)
        carried = drift_first_seen(before)
        if before is not None and before.state is State.ERRORED and result.state is not State.ERRORED:
            recovered.append(stack)
        if result.state is State.DRIFTED:
            first_seen = _first_seen(merged.get(stack), carried, now)
            drift = Drift(result, first_seen, max(now - first_seen, 0.0))
            (newly if carried is None else still).append(drift)
        elif result.state is State.CLEAN:
            if carried is not None:
                resolved.append(stack)
        else:
            runs = max(merged[stack].consecutive_errors if stack in merged else 1, 1)
            kind = result.error.kind if result.error is not None else ErrorKind.UNKNOWN
            (new_errors if runs == 1 else old_errors).append(Failure(stack, kind, runs))
    planned = {r.stack.id for r in results}
    removed = sorted(
        stack
        for stack, series in previous.items()
        if stack not in merged and stack not in planned and series.state is not State.CLEAN
    )
    return Delta(
        newly_drifted=tuple(newly),
        still_drifted=tuple(still),
        resolved=tuple(resolved),
        removed=tuple(removed),
        newly_errored=tuple(new_errors),
        still_errored=tuple(old_errors),
        recovered=tuple(recovered),
    )


def _first_seen(series: StackSeries | None, carried: float | None, now: float) -> float:
    # the merged series is the authority; without one (no store), the carried time, else this run
    if series is not None and series.first_seen is not None and math.isfinite(series.first_seen):
        return series.first_seen
    return carried if carried is not None else now


def age_text(seconds: float) -> str:
    """`3d 4h`, `5h`, `12m`: a drift's age at a glance."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h"
    return f"{mins}m"
