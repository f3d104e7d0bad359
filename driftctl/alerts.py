"""The Prometheus alert rules for driftctl's metrics, rendered from thresholds.

`render_rules(AlertThresholds())` is exactly the shipped `alerts/drift.rules.yml`; a test keeps the two
identical. Pure: no I/O, no clock. `python -m driftctl.alerts` prints the default rules.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from dataclasses import dataclass

# The runbook shipped in this repository, as a path relative to its root: no host is assumed (another
# project's organisation once was). Point `alert_runbook_url` at where your copy is served.
DEFAULT_RUNBOOK_BASE_URL = "docs/runbook.md"
GROUP_NAME = "Infrastructure Drift"
REGENERATE_HINT = (
    "driftctl alerts render --output alerts/drift.rules.yml  "
    "(or: python -m driftctl.alerts > alerts/drift.rules.yml)"
)

# Prometheus' duration syntax (model.ParseDuration): units largest first, each at most once.
_PROM_DURATION = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
_WRAP = 96
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class AlertThresholds:
    """What makes each alert fire. Hours may be fractional; counts are whole numbers.

    The `*_for` fields are Prometheus durations (`30m`, `1h`, `0s`): how long the condition must hold
    before the alert fires. Defaults are the original pipeline's, with DriftStackErroring added.
    """

    stale_hours: float = 26.0
    unaddressed_hours: float = 72.0
    many_stacks: int = 10
    erroring_runs: int = 3
    checks_failing: int = 1
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
    job: str = "drift-detection"
    stale_for: str = "30m"
    unaddressed_for: str = "1h"
    many_for: str = "30m"
    erroring_for: str = "15m"
    checks_for: str = "15m"

    def __post_init__(self) -> None:
        _positive_number("stale_hours", self.stale_hours)
        _positive_number("unaddressed_hours", self.unaddressed_hours)
        _positive_int("many_stacks", self.many_stacks)
        _positive_int("erroring_runs", self.erroring_runs)
        _positive_int("checks_failing", self.checks_failing)
        _one_line_text("job", self.job)
        _one_line_text("runbook_base_url", self.runbook_base_url)
        if not self.runbook_base_url.startswith(("https://", "http://")) and _SCHEME.match(
            self.runbook_base_url
        ):
            raise ValueError(
                f"runbook_base_url must be an http(s) URL or a path, got {self.runbook_base_url!r}"
            )
        if "#" in self.runbook_base_url:
            raise ValueError(
                f"runbook_base_url must not contain '#' (each alert adds its own anchor), "
                f"got {self.runbook_base_url!r}"
            )
        for name in ("stale_for", "unaddressed_for", "many_for", "erroring_for", "checks_for"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or not _PROM_DURATION.match(value):
                raise ValueError(f"{name} must be a Prometheus duration such as 30m, 1h or 0s, got {value!r}")


def _positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


def _one_line_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be non-empty text, got {value!r}")
    # no control characters, line or paragraph separators: YAML and PromQL strings stay one line
    if not value.isprintable():
        raise ValueError(f"{name} must be printable text on one line, got {value!r}")


@dataclass(frozen=True)
class _Rule:
    alert: str
    comment: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    extra_labels: tuple[tuple[str, str], ...] = ()


def _num(value: float) -> str:
    """A threshold as PromQL and people write it: `26`, not `26.0`; `0.5` stays `0.5`."""
    as_float = float(value)
    return str(int(as_float)) if as_float.is_integer() else repr(as_float)


def _promql_string(text: str) -> str:
    """A double-quoted PromQL string literal (Go escaping; `text` has no control characters)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rules(t: AlertThresholds) -> list[_Rule]:
    job = "{job=" + _promql_string(t.job) + "}"
    stale = _num(t.stale_hours)
    unaddressed = _num(t.unaddressed_hours)
    first_seen = (
        '{{ with printf "drift_stack_first_seen{job=%q,stack=%q}" $labels.job $labels.stack | query }}'
        "{{ . | first | value | humanizeTimestamp }}{{ else }}unknown{{ end }}"
    )
    return [
        _Rule(
            alert="DriftDetectionStale",
            comment=(
                f"No driftctl run has reported for more than {stale}h. The default is the 24h schedule "
                "plus 2h of grace, so a run that is late because the Pushgateway or the cluster was "
                "briefly unavailable does not alarm; the heartbeat is kept by the gateway, so a gap in "
                "scraping alone does not make it older."
            ),
            expr=f"time() - drift_detection_last_run_timestamp{job} > {stale} * 3600",
            for_=t.stale_for,
            severity="warning",
            extra_labels=(("heartbeat", "stale"),),
            summary="Drift detection has not reported for {{ $value | humanizeDuration }}",
            description=(
                "The last driftctl run for job {{ $labels.job }} reported {{ $value | humanizeDuration }} "
                f"ago (threshold {stale}h). Drift state in Prometheus is out of date and new drift goes "
                "unnoticed: the scheduled run failed, did not start, or could not push its metrics."
            ),
        ),
        _Rule(
            alert="DriftDetectionStale",
            comment=(
                "The same alert when there is no heartbeat at all: driftctl never pushed under this job, "
                "the Pushgateway lost its state (restarted without --persistence.file, which also loses "
                "every stack's first-seen time), or Prometheus cannot scrape the gateway."
            ),
            expr=f"absent(drift_detection_last_run_timestamp{job})",
            for_=t.stale_for,
            severity="warning",
            extra_labels=(("heartbeat", "absent"),),
            summary="Drift detection has never reported, or its heartbeat is gone",
            description=(
                "Prometheus has no drift_detection_last_run_timestamp series for job {{ $labels.job }}. "
                "driftctl has not pushed under this job, the Pushgateway lost its metrics (and with them "
                "every stack's first-seen time), or the Pushgateway is not being scraped."
            ),
        ),
        _Rule(
            alert="DriftUnaddressed",
            comment=(
                f"A stack has drifted for more than {unaddressed}h. Three days by default: long enough "
                "to absorb weekends and review cycles, short enough to force follow-up before drift "
                "compounds. One alert per stack. The age is computed from the first-seen time at every "
                "evaluation, so it fires on time between runs; drift_stack_age_hours is the fallback."
            ),
            # first-seen against the clock is exact and comes first, so $value is the exact age; the age
            # gauge (it only moves when a run pushes: a daily cron fires up to a day late) still fires
            # for a group pushed without first-seen times
            expr=(
                f"(time() - drift_stack_first_seen{job}) / 3600 > {unaddressed}\n"
                f"or drift_stack_age_hours{job} > {unaddressed}"
            ),
            for_=t.unaddressed_for,
            severity="warning",
            summary="Stack {{ $labels.stack }} has drifted for {{ $value | humanize }} hours",
            description=(
                "Stack {{ $labels.stack }} has not matched what is deployed for {{ $value | humanize }} "
                f"hours (first seen {first_seen}; threshold {unaddressed}h). Apply the code, import or "
                "revert the manual change, or codify it, so the drift does not compound."
            ),
        ),
        _Rule(
            alert="DriftStacksMany",
            comment=(
                f"More than {t.many_stacks} stacks drifted in one run. Wide, sudden drift is rarely "
                "many independent mistakes; the description points at systemic causes."
            ),
            expr=f"drift_stack_count{job} > {t.many_stacks}",
            for_=t.many_for,
            severity="warning",
            summary="{{ $value | humanize }} stacks drifted in the last drift detection run",
            description=(
                "{{ $value | humanize }} stacks drifted in the last run of job {{ $labels.job }} "
                f"(threshold {t.many_stacks}). So many at once usually has one systemic cause rather than "
                "many configuration mistakes: a provider or Terraform version bump, a new admission "
                "webhook or policy mutating resources, or a cluster-wide CRD upgrade. Look for the "
                "change the drifted plans have in common before fixing stacks one by one."
            ),
        ),
        _Rule(
            alert="DriftStackErroring",
            comment=(
                f"A stack's plan has failed on {t.erroring_runs} or more consecutive runs, so a "
                "persistent failure (expired credentials, a lock never released, a broken module) is "
                "not mistaken for a transient one. The run count already carries the persistence, so "
                f"`for: {t.erroring_for}` only rides out a scrape gap. Severity warning, like the other "
                "rules: the stack's drift is unknown, nothing deployed is broken."
            ),
            expr=f"drift_stack_consecutive_errors{job} >= {t.erroring_runs}",
            for_=t.erroring_for,
            severity="warning",
            summary="Stack {{ $labels.stack }} failed to plan on {{ $value | humanize }} consecutive runs",
            description=(
                "The plan of stack {{ $labels.stack }} has errored on {{ $value | humanize }} consecutive "
                f"driftctl runs (threshold {t.erroring_runs}). Its drift is unknown until it plans again; "
                "a failure this persistent is not transient. Read the stack's log from the last run."
            ),
        ),
        _Rule(
            alert="DriftChecksFailing",
            comment=(
                f"{t.checks_failing} or more `check` blocks (Terraform >= 1.5 continuous validation) of a "
                "stack failed in its last plan. Apart from drift: the configuration may match what is "
                "deployed while what is deployed is unhealthy. One alert per stack."
            ),
            expr=f"drift_stack_checks_failing{job} >= {t.checks_failing}",
            for_=t.checks_for,
            severity="warning",
            summary="Stack {{ $labels.stack }} has {{ $value | humanize }} failing check blocks",
            description=(
                "The last plan of stack {{ $labels.stack }} reported {{ $value | humanize }} `check` "
                f"blocks failing or erroring (threshold {t.checks_failing}). A check's assertion about "
                "deployed infrastructure no longer holds: `driftctl show {{ $labels.stack }} --report "
                "FILE` names them."
            ),
        ),
    ]


def _quoted(text: str) -> str:
    """A single-quoted YAML scalar: no escapes are processed inside, only `'` is doubled."""
    return "'" + text.replace("'", "''") + "'"


def _folded(text: str, indent: str) -> list[str]:
    """A folded block scalar (`>-`) whose lines join back to `text` with single spaces."""
    lines = textwrap.wrap(text, width=_WRAP, break_long_words=False, break_on_hyphens=False)
    return [">-", *(indent + line for line in lines)]


def render_rules(thresholds: AlertThresholds) -> str:
    """The Prometheus rule file (YAML text) for `thresholds`."""
    t = thresholds
    out = [
        "# Prometheus alert rules for driftctl's metrics. Generated by driftctl.alerts.render_rules:",
        "# do not edit by hand; regenerate with",
        f"#   {REGENERATE_HINT}",
        f"# Thresholds: stale {_num(t.stale_hours)}h, unaddressed {_num(t.unaddressed_hours)}h, "
        f"many stacks {t.many_stacks}, erroring runs {t.erroring_runs}, failing checks {t.checks_failing}; "
        f"job {t.job!r}.",
        "groups:",
        "  - name: " + _quoted(GROUP_NAME),
        "    rules:",
    ]
    for rule in _rules(t):
        anchor = rule.alert.lower()
        out += ["", *("      # " + line for line in textwrap.wrap(rule.comment, width=_WRAP))]
        out += [
            "      - alert: " + rule.alert,
            "        expr: |-",
            *("          " + line for line in rule.expr.splitlines()),
            "        for: " + rule.for_,
            "        labels:",
            "          severity: " + rule.severity,
            *(f"          {name}: {value}" for name, value in rule.extra_labels),
            "        annotations:",
            "          summary: " + _quoted(rule.summary),
        ]
        description = _folded(rule.description, " " * 12)
        out += ["          description: " + description[0], *description[1:]]
        out += ["          runbook_url: " + _quoted(f"{t.runbook_base_url}#{anchor}")]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_rules(AlertThresholds()))
