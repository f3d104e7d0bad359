"""The Prometheus metrics driftctl pushes, and reading them back from the Pushgateway's JSON API.

Names and labels are a contract: alert rules and dashboards query them, so they never change here
without a migration. The exposition is built with prometheus-client so that label values (stack ids
are directory paths and may hold quotes, backslashes, newlines or any unicode) are escaped correctly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftctl.history.merge import age_hours, count_states
from driftctl.model import ResourceCounts, StackSeries, State

STACK_STATE = "drift_stack_state"
STACK_FIRST_SEEN = "drift_stack_first_seen"
STACK_AGE_HOURS = "drift_stack_age_hours"
STACK_RESOURCE_CHANGES = "drift_stack_resource_changes"
STACK_PLAN_DURATION = "drift_stack_plan_duration_seconds"
STACK_CONSECUTIVE_ERRORS = "drift_stack_consecutive_errors"
STACK_OUTSIDE_CHANGES = "drift_stack_outside_changes"
STACK_CHECKS_FAILING = "drift_stack_checks_failing"
STACK_COUNT = "drift_stack_count"
ERROR_COUNT = "drift_error_count"
CLEAN_COUNT = "drift_clean_count"
LAST_RUN_TIMESTAMP = "drift_detection_last_run_timestamp"
RUN_DURATION = "drift_detection_run_duration_seconds"
INFO = "drift_detection_info"

ACTIONS = ("add", "change", "destroy", "replace")

HELP = {
    STACK_STATE: "Drift state of the stack at its last plan: 0 clean, 1 drifted, 2 errored.",
    STACK_FIRST_SEEN: "Unix time when the stack's current drift was first seen; absent when it is clean.",
    STACK_AGE_HOURS: "Hours since the stack's current drift was first seen; absent when it has none.",
    STACK_RESOURCE_CHANGES: "Resource changes the stack's last successful plan proposed, by action.",
    STACK_PLAN_DURATION: "Wall-clock seconds the stack's last plan took, retries included.",
    STACK_CONSECUTIVE_ERRORS: "Consecutive runs whose plan of the stack errored; 0 when it is not errored.",
    STACK_OUTSIDE_CHANGES: "Resources changed outside Terraform that the stack's last plan did not act on.",
    STACK_CHECKS_FAILING: "Check blocks (Terraform >= 1.5) that failed or errored in the stack's last plan.",
    STACK_COUNT: "Drifted stacks, counting stacks not planned in the last run at their last known state.",
    ERROR_COUNT: "Errored stacks, counting stacks not planned in the last run at their last known state.",
    CLEAN_COUNT: "Clean stacks, counting stacks not planned in the last run at their last known state.",
    LAST_RUN_TIMESTAMP: "Unix time when the last drift detection run finished.",
    RUN_DURATION: "Wall-clock seconds the last drift detection run took.",
    INFO: "Always 1; labels carry the driftctl version and selection mode of the last run.",
}

_STATES_BY_GAUGE = {state.gauge_value: state for state in State}


class ExpositionError(ValueError):
    """The series cannot be written as Prometheus text (a stack id that is not valid unicode)."""


class MetricsParseError(ValueError):
    """A read-back group holds values driftctl cannot have written."""


@dataclass(frozen=True)
class RunInfo:
    """The run-level values of the exposition."""

    finished_at: float  # unix seconds; also the "now" the drift ages are computed against
    duration_seconds: float
    version: str
    mode: str  # "all", "changed" or "paths"


# --- writing --------------------------------------------------------------------------------------


def build_exposition(series: Mapping[str, StackSeries], run: RunInfo) -> bytes:
    """The Prometheus text exposition of one whole Pushgateway group (UTF-8)."""
    _check_encodable(series)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DriftCollector(series, run))
    return generate_latest(registry)


def _check_encodable(series: Mapping[str, StackSeries]) -> None:
    # Directory names that are not UTF-8 decode to lone surrogates (PEP 383); prometheus-client would
    # fail deep inside with a bare UnicodeEncodeError, so name the culprit instead.
    for stack in series:
        try:
            stack.encode("utf-8")
        except UnicodeEncodeError:
            raise ExpositionError(
                f"stack id {stack!r} is not valid UTF-8 and cannot be a label value"
            ) from None


class _DriftCollector(Collector):
    """Yields every family at once from plain data; no global registry, no state between runs."""

    def __init__(self, series: Mapping[str, StackSeries], run: RunInfo) -> None:
        self._series = [series[stack] for stack in sorted(series)]
        self._run = run

    def collect(self) -> Iterator[Metric]:
        yield from _stack_families(self._series, self._run.finished_at)
        yield from _run_families(self._series, self._run)


def _gauge(name: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, HELP[name], labels=list(labels))


def _stack_families(series: list[StackSeries], now: float) -> Iterator[GaugeMetricFamily]:
    state = _gauge(STACK_STATE, ["stack"])
    first_seen = _gauge(STACK_FIRST_SEEN, ["stack"])
    age = _gauge(STACK_AGE_HOURS, ["stack"])
    changes = _gauge(STACK_RESOURCE_CHANGES, ["stack", "action"])
    duration = _gauge(STACK_PLAN_DURATION, ["stack"])
    errors = _gauge(STACK_CONSECUTIVE_ERRORS, ["stack"])
    outside = _gauge(STACK_OUTSIDE_CHANGES, ["stack"])
    checks = _gauge(STACK_CHECKS_FAILING, ["stack"])
    for s in series:
        state.add_metric([s.stack], s.state.gauge_value)
        errors.add_metric([s.stack], s.consecutive_errors)
        outside.add_metric([s.stack], s.outside)
        checks.add_metric([s.stack], s.checks_failing)
        for action in ACTIONS:
            changes.add_metric([s.stack, action], getattr(s.resources, action))
        # Absent rather than 0: a 0 first-seen time would read as "drifted since 1970" to an age alert.
        if s.first_seen is not None:
            first_seen.add_metric([s.stack], s.first_seen)
            age.add_metric([s.stack], age_hours(s, now) or 0.0)
        if s.duration_seconds is not None:
            duration.add_metric([s.stack], s.duration_seconds)
    yield from (state, first_seen, age, changes, duration, errors, outside, checks)


def _run_families(series: list[StackSeries], run: RunInfo) -> Iterator[GaugeMetricFamily]:
    counts = count_states(series)
    for name, value in (
        (STACK_COUNT, counts.drifted),
        (ERROR_COUNT, counts.errored),
        (CLEAN_COUNT, counts.clean),
        (LAST_RUN_TIMESTAMP, run.finished_at),
        (RUN_DURATION, run.duration_seconds),
    ):
        yield GaugeMetricFamily(name, HELP[name], value=value)
    info = _gauge(INFO, ["version", "mode"])
    info.add_metric([run.version, run.mode], 1)
    yield info


# --- reading back ---------------------------------------------------------------------------------


def series_from_group(group: Mapping[str, Any]) -> dict[str, StackSeries]:
    """Parse one group of `GET /api/v1/metrics` (pushgateway >= 0.10) into series keyed by stack.

    A group maps each metric name to `{"metrics": [{"labels": {...}, "value": "1.5"}, ...]}`, values
    as strings. A stack exists when it has a `drift_stack_state`; the other metrics are optional so
    that a group pushed by an older driftctl still carries its first-seen times.
    """
    values = {name: _samples(group, name) for name in _PER_STACK}
    states = values[STACK_STATE]
    return {
        key[0]: _series(key[0], states[key], values)
        for key in sorted(states)
        # other label sets of drift_stack_state (none today) are not a stack of ours
        if len(key) == 1
    }


_PER_STACK = (
    STACK_STATE,
    STACK_FIRST_SEEN,
    STACK_RESOURCE_CHANGES,
    STACK_PLAN_DURATION,
    STACK_CONSECUTIVE_ERRORS,
    STACK_OUTSIDE_CHANGES,
    STACK_CHECKS_FAILING,
)
_SampleKey = tuple[str, ...]


def _samples(group: Mapping[str, Any], name: str) -> dict[_SampleKey, float]:
    """`(stack,)` or `(stack, action)` → value for one metric of the group; {} when it is absent."""
    family = group.get(name)
    if family is None:
        return {}
    metrics = family.get("metrics") if isinstance(family, Mapping) else None
    if not isinstance(metrics, list):
        raise MetricsParseError(f"{name} has no list of metrics")
    return dict(_sample(name, metric) for metric in metrics)


def _sample(name: str, metric: object) -> tuple[_SampleKey, float]:
    labels = metric.get("labels") if isinstance(metric, Mapping) else None
    if not isinstance(labels, Mapping):
        raise MetricsParseError(f"a {name} sample has no labels")
    # Prometheus treats an empty label value as an absent label, and so may the gateway.
    key: _SampleKey = (str(labels.get("stack", "")),)
    if name == STACK_RESOURCE_CHANGES:
        key = (*key, str(labels.get("action", "")))
    return key, _number(name, metric.get("value") if isinstance(metric, Mapping) else None)


def _number(name: str, raw: object) -> float:
    # The API renders every value as a string ("1", "1.7e+09", "NaN"); accept plain numbers too.
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise MetricsParseError(f"{name} has a value that is not a number: {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise MetricsParseError(f"{name} has a value that is not a number: {raw!r}") from None


def _series(stack: str, state_value: float, values: Mapping[str, dict[_SampleKey, float]]) -> StackSeries:
    key = (stack,)
    duration = values[STACK_PLAN_DURATION].get(key)
    return StackSeries(
        stack=stack,
        state=_state(stack, state_value),
        first_seen=values[STACK_FIRST_SEEN].get(key),
        consecutive_errors=_count(STACK_CONSECUTIVE_ERRORS, values[STACK_CONSECUTIVE_ERRORS].get(key, 0.0)),
        outside=_count(STACK_OUTSIDE_CHANGES, values[STACK_OUTSIDE_CHANGES].get(key, 0.0)),
        checks_failing=_count(STACK_CHECKS_FAILING, values[STACK_CHECKS_FAILING].get(key, 0.0)),
        duration_seconds=duration if duration is not None and math.isfinite(duration) else None,
        resources=ResourceCounts(
            **{
                action: _count(
                    STACK_RESOURCE_CHANGES, values[STACK_RESOURCE_CHANGES].get((stack, action), 0.0)
                )
                for action in ACTIONS
            }
        ),
    )


def _resources(stack: str, changes: Mapping[_SampleKey, float]) -> ResourceCounts:
    counts = {action: _count(STACK_RESOURCE_CHANGES, changes.get((stack, action), 0.0)) for action in ACTIONS}
    return ResourceCounts(**counts)


def _state(stack: str, value: float) -> State:
    state = _STATES_BY_GAUGE.get(int(value)) if value.is_integer() else None
    if state is None:
        raise MetricsParseError(f"{STACK_STATE} of stack {stack!r} is {value!r}, not 0, 1 or 2")
    return state


def _count(name: str, value: float) -> int:
    if not value.is_integer() or value < 0:
        raise MetricsParseError(f"{name} is {value!r}, not a whole number >= 0")
    return int(value)
