"""End to end: driftctl runs published to a real Pushgateway, scraped by a real Prometheus (honor_labels,
1s scrape and evaluation) that loads rules rendered by `render_rules` with lowered thresholds; what
Prometheus then holds and which alerts go pending and firing is read back through its HTTP API.

Publishing is driftctl's own `pushgateway.publish`: read the group back, merge the run into it (first-seen
carried forward, error streaks counted), replace it in one PUT. Three runs make the streak and the age.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from factories import plan_result, report_at
from prometheus_server import Monitoring, missing_binaries, monitoring, poll
from test_alerts import METRICS, dashboard, dashboard_queries

from driftctl.alerts import GROUP_NAME, AlertThresholds, render_rules
from driftctl.history.pushgateway import PushOptions, publish
from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    State,
)

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        bool(missing_binaries()),
        reason=f"needs {' and '.join(missing_binaries())} on PATH (Debian packages; ci/test installs them)",
    ),
]

JOB = "drift-detection"
WAIT = 30.0  # seconds; Prometheus' first scrape of a new target alone can take ~5s
# Low enough to trip on the runs below within seconds, each rule with one stack on either side of it.
THRESHOLDS = AlertThresholds(
    unaddressed_hours=2,  # apps/api has drifted for 3h, apps/web since the last run
    many_stacks=1,  # two stacks drifted in the last run
    erroring_runs=3,  # infra/vpc errored in all three runs, infra/iam in the last one
    stale_for="2s",
    unaddressed_for="0s",
    many_for="4s",  # long enough to watch it pend at a 1s evaluation interval
    erroring_for="0s",
    checks_for="0s",  # infra/dns has a failing check block in the last run
)
HOUR = 3600.0
ROOT = Path("/repo/live")
STACKS = ("apps/api", "apps/web", "infra/vpc", "infra/iam", "infra/dns")
API_CHANGES = ResourceCounts(add=1, change=2)
WEB_CHANGES = ResourceCounts(destroy=1, replace=1)
NO_CHANGES = ResourceCounts()


def result(stack: str, state: State, resources: ResourceCounts = NO_CHANGES) -> PlanResult:
    error = PlanError(ErrorKind.AUTH, "credentials expired") if state is State.ERRORED else None
    return plan_result(stack, state, resources, error=error, duration=10.0 + len(stack), root=ROOT)


def runs(now: float) -> list[tuple[float, list[PlanResult]]]:
    """Three runs an hour apart or more; the last one finishes at `now`."""
    clean = State.CLEAN
    first = [
        result("apps/api", State.DRIFTED, API_CHANGES),
        result("apps/web", clean),
        result("infra/vpc", State.ERRORED),
        result("infra/iam", clean),
        result("infra/dns", clean),
    ]
    last = [
        result("apps/api", State.DRIFTED, API_CHANGES),
        result("apps/web", State.DRIFTED, WEB_CHANGES),
        result("infra/vpc", State.ERRORED),
        result("infra/iam", State.ERRORED),
        # clean, with a change made outside Terraform the plan does not act on and a failing check
        replace(
            result("infra/dns", clean),
            outside=(ResourceChange("aws_route53_record.www", "update", "aws_route53_record", outside=True),),
            checks=(CheckResult("check.resolves", "fail"),),
        ),
    ]
    return [(now - 3 * HOUR, first), (now - 2 * HOUR, first), (now, last)]


def publish_runs(prom: Monitoring, now: float) -> None:
    for finished, results in runs(now):
        report = report_at(results, finished, took=42, root=ROOT, known=STACKS)
        outcome = publish(PushOptions(url=prom.pushgateway_url, job=JOB), report, version="0.1.0")
        assert outcome.pushed


@pytest.fixture
def prom(tmp_path: Path) -> Iterator[Monitoring]:
    rules = tmp_path / "drift.rules.yml"
    text = render_rules(THRESHOLDS)
    rules.write_text(text, encoding="utf-8")
    expected = text.count("\n      - alert: ")
    with monitoring(tmp_path, [rules]) as started:

        def loaded() -> bool | None:
            groups = {g["name"]: g for g in started.rule_groups()}
            return True if len(groups.get(GROUP_NAME, {}).get("rules", [])) == expected else None

        poll("the rendered rule group to be loaded", loaded, timeout=WAIT)
        yield started


def alerts_named(prom: Monitoring, name: str) -> list[dict[str, Any]]:
    return [a for a in prom.alerts() if a["labels"]["alertname"] == name]


def firing(prom: Monitoring, name: str, count: int) -> list[dict[str, Any]]:
    """Once exactly `count` alerts `name` fire (bounded wait)."""

    def probe() -> list[dict[str, Any]] | None:
        found = [a for a in alerts_named(prom, name) if a["state"] == "firing"]
        return found if len(found) == count else None

    return poll(f"{count} firing {name} alerts", probe, timeout=WAIT)


def series(prom: Monitoring, promql: str, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        result = prom.query(promql)
        return result if len(result) == count else None

    return poll(f"{count} series for {promql}", probe, timeout=WAIT)


def test_absent_heartbeat_fires_and_a_pushed_run_resolves_it(prom: Monitoring) -> None:
    (absent,) = firing(prom, "DriftDetectionStale", 1)
    assert absent["labels"] == {
        "alertname": "DriftDetectionStale",
        "heartbeat": "absent",
        "job": JOB,
        "severity": "warning",
    }
    assert absent["annotations"]["runbook_url"].endswith("docs/runbook.md#driftdetectionstale")

    publish_runs(prom, time.time())
    poll(
        "DriftDetectionStale to resolve after the push",
        lambda: True if not alerts_named(prom, "DriftDetectionStale") else None,
        timeout=WAIT,
    )
    (heartbeat,) = series(prom, f'drift_detection_last_run_timestamp{{job="{JOB}"}}', 1)
    assert time.time() - float(heartbeat["value"][1]) < WAIT + 5


def test_pushed_series_arrive_with_the_job_and_stack_labels(prom: Monitoring) -> None:
    now = time.time()
    publish_runs(prom, now)
    states = series(prom, "drift_stack_state", 5)
    # honor_labels: the pushed job is kept (no exported_job) and the scrape adds no instance
    assert {frozenset(s["metric"].items()) for s in states} == {
        frozenset({"__name__": "drift_stack_state", "job": JOB, "stack": stack}.items())
        for stack in ("apps/api", "apps/web", "infra/vpc", "infra/iam", "infra/dns")
    }
    assert {s["metric"]["stack"]: s["value"][1] for s in states} == {
        "apps/api": "1",
        "apps/web": "1",
        "infra/vpc": "2",
        "infra/iam": "2",
        "infra/dns": "0",
    }
    names = {s["metric"]["__name__"] for s in prom.query(f'{{job="{JOB}", __name__=~"drift_.*"}}')}
    assert names == METRICS
    # first seen and age only for the drifted stacks, apps/api's carried from the first of the three runs
    first_seen = {s["metric"]["stack"]: float(s["value"][1]) for s in prom.query("drift_stack_first_seen")}
    assert first_seen == pytest.approx({"apps/api": now - 3 * HOUR, "apps/web": now})
    ages = {s["metric"]["stack"]: float(s["value"][1]) for s in prom.query("drift_stack_age_hours")}
    assert ages == pytest.approx({"apps/api": 3.0, "apps/web": 0.0})
    streaks = {s["metric"]["stack"]: s["value"][1] for s in prom.query("drift_stack_consecutive_errors")}
    assert streaks == {"apps/api": "0", "apps/web": "0", "infra/vpc": "3", "infra/iam": "1", "infra/dns": "0"}
    changes = prom.query('drift_stack_resource_changes{stack="apps/api"}')
    assert {c["metric"]["action"]: c["value"][1] for c in changes} == {
        "add": "1",
        "change": "2",
        "destroy": "0",
        "replace": "0",
    }
    (count,) = prom.query("drift_stack_count")
    assert count["value"][1] == "2" and count["metric"] == {"__name__": "drift_stack_count", "job": JOB}
    (info,) = prom.query("drift_detection_info")
    assert info["metric"] == {
        "__name__": "drift_detection_info",
        "job": JOB,
        "version": "0.1.0",
        "mode": "all",
    }


def test_lowered_thresholds_fire_for_exactly_the_stacks_past_them(prom: Monitoring) -> None:
    publish_runs(prom, time.time())

    # DriftStacksMany (for: 4s) is seen pending before it fires
    seen: list[str] = []

    def many_fires() -> dict[str, Any] | None:
        for alert in alerts_named(prom, "DriftStacksMany"):
            if not seen or seen[-1] != alert["state"]:
                seen.append(alert["state"])
            if alert["state"] == "firing":
                return alert
        return None

    many = poll("DriftStacksMany to fire", many_fires, timeout=WAIT, interval=0.05)
    assert seen == ["pending", "firing"]
    assert many["labels"] == {"alertname": "DriftStacksMany", "job": JOB, "severity": "warning"}
    assert float(many["value"]) == 2
    assert "admission webhook" in many["annotations"]["description"]

    (unaddressed,) = firing(prom, "DriftUnaddressed", 1)
    assert unaddressed["labels"] == {
        "alertname": "DriftUnaddressed",
        "job": JOB,
        "severity": "warning",
        "stack": "apps/api",
    }
    # the age is exact at evaluation time (from first-seen), not the age the last run pushed
    assert 3 <= float(unaddressed["value"]) < 3 + (WAIT + 5) / HOUR
    summary = unaddressed["annotations"]["summary"]
    assert re.fullmatch(r"Stack apps/api has drifted for 3(\.\d+)? hours", summary), summary
    # the description looked up the stack's first-seen time with a query template
    description = unaddressed["annotations"]["description"]
    assert re.search(r"first seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", description), description

    (checks,) = firing(prom, "DriftChecksFailing", 1)
    assert checks["labels"]["stack"] == "infra/dns"
    assert checks["annotations"]["summary"] == "Stack infra/dns has 1 failing check blocks"

    (erroring,) = firing(prom, "DriftStackErroring", 1)
    assert erroring["labels"]["stack"] == "infra/vpc"
    assert erroring["annotations"]["summary"] == "Stack infra/vpc failed to plan on 3 consecutive runs"

    # the heartbeat is fresh: the (unlowered) stale rule stays quiet once the absent one resolved
    poll(
        "DriftDetectionStale to be inactive",
        lambda: True if not alerts_named(prom, "DriftDetectionStale") else None,
        timeout=WAIT,
    )
    health = {r["name"]: r["health"] for g in prom.rule_groups() for r in g["rules"]}
    assert set(health.values()) == {"ok"}, health


def test_a_heartbeat_older_than_the_threshold_fires_stale(prom: Monitoring) -> None:
    publish_runs(prom, time.time() - 27 * HOUR)

    def stale() -> dict[str, Any] | None:
        found = [a for a in alerts_named(prom, "DriftDetectionStale") if a["state"] == "firing"]
        return found[0] if len(found) == 1 and found[0]["labels"]["heartbeat"] == "stale" else None

    alert = poll("DriftDetectionStale (stale heartbeat) to fire", stale, timeout=WAIT)
    assert alert["labels"]["job"] == JOB
    assert 27 * HOUR <= float(alert["value"]) < 27 * HOUR + WAIT + 5
    assert alert["annotations"]["summary"].startswith("Drift detection has not reported for 1d 3h ")


def test_every_dashboard_query_runs_and_finds_data(prom: Monitoring) -> None:
    publish_runs(prom, time.time())
    series(prom, "drift_stack_state", 5)
    for query in dashboard_queries(dashboard()):
        promql = re.sub(r"^label_values\((.*), \w+\)$", r"\1", query)  # a variable's series selector
        promql = promql.replace("$job", JOB).replace("$stack", ".*")
        assert prom.query(promql), f"dashboard query {query!r} found nothing"
