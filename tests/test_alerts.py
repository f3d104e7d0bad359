"""The alert rules: the shipped file is the renderer's output, promtool accepts and tests it, every test
case can fail, the runbook has a section per alert, and the dashboard only queries driftctl's metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pushgateway_server import NO_PROMTOOL, PROMTOOL_BINARY

from driftctl.alerts import (
    DEFAULT_RUNBOOK_BASE_URL,
    GROUP_NAME,
    REGENERATE_HINT,
    AlertThresholds,
    render_rules,
)

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "alerts" / "drift.rules.yml"
RULES_TEST = REPO / "alerts" / "drift.rules.test.yml"
RUNBOOK = REPO / "docs" / "runbook.md"
DASHBOARD = REPO / "dashboards" / "drift.json"

ALERTS = (
    "DriftDetectionStale",
    "DriftUnaddressed",
    "DriftStacksMany",
    "DriftStackErroring",
    "DriftChecksFailing",
)
PER_STACK = ("DriftUnaddressed", "DriftStackErroring", "DriftChecksFailing")
# every metric driftctl pushes; the dashboard and the rules may query these and nothing else
METRICS = frozenset(
    {
        "drift_stack_state",
        "drift_stack_first_seen",
        "drift_stack_age_hours",
        "drift_stack_count",
        "drift_error_count",
        "drift_clean_count",
        "drift_detection_last_run_timestamp",
        "drift_stack_resource_changes",
        "drift_stack_plan_duration_seconds",
        "drift_stack_consecutive_errors",
        "drift_detection_run_duration_seconds",
        "drift_detection_info",
        "drift_stack_outside_changes",
        "drift_stack_checks_failing",
    }
)


def needs_promtool(test: Callable[..., None]) -> Callable[..., None]:
    marked: Callable[..., None] = pytest.mark.prometheus(
        pytest.mark.skipif(PROMTOOL_BINARY is None, reason=NO_PROMTOOL)(test)
    )
    return marked


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL_BINARY is not None
    return subprocess.run(
        [PROMTOOL_BINARY, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def rules_of(text: str) -> list[dict[str, Any]]:
    document = yaml.safe_load(text)
    (group,) = document["groups"]
    assert group["name"] == GROUP_NAME
    rules: list[dict[str, Any]] = group["rules"]
    return rules


# ---- the shipped file -------------------------------------------------------------------------------


def test_shipped_rules_are_exactly_the_rendered_defaults() -> None:
    shipped = RULES.read_text(encoding="utf-8")
    assert shipped == render_rules(AlertThresholds()), (
        f"{RULES.relative_to(REPO)} differs from render_rules(AlertThresholds()); it is generated, "
        f"so change driftctl/alerts.py and regenerate it with: {REGENERATE_HINT}"
    )


def test_every_rule_is_labelled_annotated_and_linked_to_its_runbook_section() -> None:
    rules = rules_of(RULES.read_text(encoding="utf-8"))
    assert {rule["alert"] for rule in rules} == set(ALERTS)
    anchors = runbook_anchors()
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] == "warning", name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert "$value" in annotations["description"] or name == "DriftDetectionStale", name
        if name in PER_STACK:
            assert "{{ $labels.stack }}" in annotations["summary"], name
            assert "{{ $labels.stack }}" in annotations["description"], name
        url = annotations["runbook_url"]
        assert url == f"{DEFAULT_RUNBOOK_BASE_URL}#{name.lower()}", name
        assert name.lower() in anchors, f"docs/runbook.md has no section for {name}"


def test_the_default_runbook_is_the_one_shipped_here() -> None:
    # not another project's organisation: the file in this repository, until alert_runbook_url says where
    assert (REPO / DEFAULT_RUNBOOK_BASE_URL).is_file()
    assert "://" not in DEFAULT_RUNBOOK_BASE_URL


def test_the_rules_keep_the_original_thresholds_and_for_durations() -> None:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules_of(RULES.read_text(encoding="utf-8")):
        by_name.setdefault(rule["alert"], []).append(rule)
    stale = {rule["labels"]["heartbeat"]: rule for rule in by_name["DriftDetectionStale"]}
    assert set(stale) == {"stale", "absent"}
    assert "> 26 * 3600" in stale["stale"]["expr"] and stale["stale"]["for"] == "30m"
    assert stale["absent"]["expr"].startswith("absent(drift_detection_last_run_timestamp{")
    (unaddressed,) = by_name["DriftUnaddressed"]
    # exact between runs from first-seen; the seed's expression on the age gauge is kept
    assert unaddressed["expr"] == (
        '(time() - drift_stack_first_seen{job="drift-detection"}) / 3600 > 72\n'
        'or drift_stack_age_hours{job="drift-detection"} > 72'
    )
    assert unaddressed["for"] == "1h"
    (checks,) = by_name["DriftChecksFailing"]
    assert (
        checks["expr"] == 'drift_stack_checks_failing{job="drift-detection"} >= 1' and checks["for"] == "15m"
    )
    (many,) = by_name["DriftStacksMany"]
    assert many["expr"].endswith("> 10") and many["for"] == "30m"
    for cause in ("provider", "admission webhook", "CRD"):
        assert cause in many["annotations"]["description"]
    (erroring,) = by_name["DriftStackErroring"]
    assert "drift_stack_consecutive_errors" in erroring["expr"] and erroring["expr"].endswith(">= 3")


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings: lower case, spaces to dashes, punctuation dropped."""
    anchors = set()
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_runbook_says_for_each_alert_what_it_means_causes_what_to_do_and_how_to_silence() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    by_title = {section.splitlines()[0].strip(): section for section in sections}
    assert set(by_title) == set(ALERTS)
    for name, section in by_title.items():
        for part in ("**What it means.**", "**Likely causes", "**What to do.**", "**Silencing.**"):
            assert part in section, f"runbook section {name} lacks {part}"
        assert "amtool silence add" in section, name
    assert "driftctl plan " in text


# ---- rendering --------------------------------------------------------------------------------------


def test_thresholds_and_durations_reach_the_expressions() -> None:
    text = render_rules(
        AlertThresholds(
            stale_hours=30,
            unaddressed_hours=0.5,
            many_stacks=4,
            erroring_runs=5,
            runbook_base_url="https://wiki.example.org/drift",
            job="nightly",
            stale_for="1h",
            unaddressed_for="2h30m",
            many_for="0s",
            erroring_for="5m",
        )
    )
    rules = {(rule["alert"], rule["labels"].get("heartbeat")): rule for rule in rules_of(text)}
    stale = rules[("DriftDetectionStale", "stale")]
    assert stale["expr"] == 'time() - drift_detection_last_run_timestamp{job="nightly"} > 30 * 3600'
    assert stale["for"] == "1h"
    assert rules[("DriftDetectionStale", "absent")]["expr"] == (
        'absent(drift_detection_last_run_timestamp{job="nightly"})'
    )
    assert rules[("DriftUnaddressed", None)]["expr"] == (
        '(time() - drift_stack_first_seen{job="nightly"}) / 3600 > 0.5\n'
        'or drift_stack_age_hours{job="nightly"} > 0.5'
    )
    assert rules[("DriftUnaddressed", None)]["for"] == "2h30m"
    assert rules[("DriftStacksMany", None)]["expr"] == 'drift_stack_count{job="nightly"} > 4'
    assert rules[("DriftStacksMany", None)]["for"] == "0s"
    assert rules[("DriftStackErroring", None)]["expr"] == (
        'drift_stack_consecutive_errors{job="nightly"} >= 5'
    )
    for (name, _), rule in rules.items():
        assert rule["annotations"]["runbook_url"] == f"https://wiki.example.org/drift#{name.lower()}"
    assert "threshold 0.5h" in rules[("DriftUnaddressed", None)]["annotations"]["description"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stale_hours", 0, "stale_hours must be a positive number"),
        ("stale_hours", -1.5, "stale_hours must be a positive number"),
        ("stale_hours", float("nan"), "stale_hours must be a positive number"),
        ("stale_hours", float("inf"), "stale_hours must be a positive number"),
        ("stale_hours", "26", "stale_hours must be a positive number"),
        ("unaddressed_hours", 0.0, "unaddressed_hours must be a positive number"),
        ("unaddressed_hours", True, "unaddressed_hours must be a positive number"),
        ("many_stacks", 0, "many_stacks must be a whole number of at least 1"),
        ("many_stacks", 2.5, "many_stacks must be a whole number of at least 1"),
        ("erroring_runs", -3, "erroring_runs must be a whole number of at least 1"),
        ("erroring_runs", False, "erroring_runs must be a whole number of at least 1"),
        ("runbook_base_url", "", "runbook_base_url must be non-empty text"),
        ("runbook_base_url", "ftp://x.org/runbook.md", "runbook_base_url must be an http(s) URL or a path"),
        ("checks_failing", 0, "checks_failing must be a whole number of at least 1"),
        ("checks_for", "15", "checks_for must be a Prometheus duration"),
        ("runbook_base_url", "https://x.org/r.md#top", "must not contain '#'"),
        ("runbook_base_url", "https://x.org/\nr.md", "runbook_base_url must be printable text on one line"),
        ("job", "drift\u2028detection", "job must be printable text on one line"),
        ("job", " ", "job must be non-empty text"),
        ("stale_for", "30 minutes", "stale_for must be a Prometheus duration"),
        ("many_for", "", "many_for must be a Prometheus duration"),
        ("erroring_for", "1.5h", "erroring_for must be a Prometheus duration"),
        ("unaddressed_for", "m1h", "unaddressed_for must be a Prometheus duration"),
    ],
)
def test_bad_thresholds_are_rejected_with_the_field_and_value(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        AlertThresholds(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(raised.value)


# YAML and PromQL metacharacters often, any printable character sometimes
awkward_text = st.text(
    alphabet=st.one_of(st.sampled_from("'\"\\{}[]#:|>-&*!%@`,? "), st.characters(codec="utf-8")),
    min_size=1,
    max_size=40,
).filter(lambda text: text.isprintable() and text.strip() != "")


@settings(deadline=None)  # the first example pays for imports; a loaded CI box is slow
@given(job=awkward_text, path=awkward_text.filter(lambda text: "#" not in text))
def test_any_job_and_url_survive_the_yaml_quoting(job: str, path: str) -> None:
    base = "https://example.org/" + path
    rules = rules_of(render_rules(AlertThresholds(job=job, runbook_base_url=base)))
    selector = "{job=" + json.dumps(job, ensure_ascii=False) + "}"
    for rule in rules:
        assert selector in rule["expr"]
        assert rule["annotations"]["runbook_url"] == f"{base}#{rule['alert'].lower()}"


# ---- promtool ---------------------------------------------------------------------------------------


@needs_promtool
def test_promtool_accepts_the_shipped_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout


@needs_promtool
def test_promtool_accepts_rules_rendered_with_unusual_values(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        render_rules(
            AlertThresholds(
                stale_hours=0.25,
                unaddressed_hours=1e3,
                many_stacks=1,
                erroring_runs=1,
                job='team "a" \\ drift',
                runbook_base_url="https://example.org/it's/runbook.md",
                stale_for="1w2d",
                many_for="90s",
            )
        ),
        encoding="utf-8",
    )
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    tested = promtool("test", "rules", str(RULES_TEST))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def unit_test_cases() -> Iterator[tuple[str, str]]:
    for case in yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))["tests"]:
        for test in case.get("alert_rule_test", []):
            yield case["name"], test["alertname"]


def test_the_unit_tests_cover_every_alert() -> None:
    covered = {alert for _, alert in unit_test_cases()}
    assert covered == set(ALERTS)


# Each change of a threshold or `for:` just across a boundary the unit tests pin must make them fail on
# which alerts fire or pend, not merely on the threshold quoted in a description: proof that the cases
# test the boundaries rather than merely pass.
MUTANTS: list[tuple[dict[str, Any], set[str]]] = [
    ({"stale_hours": 26.02}, {"DriftDetectionStale"}),
    ({"stale_hours": 25.99}, {"DriftDetectionStale"}),
    ({"stale_for": "29m"}, {"DriftDetectionStale"}),
    ({"stale_for": "31m"}, {"DriftDetectionStale"}),
    ({"unaddressed_hours": 71.98}, {"DriftUnaddressed"}),
    ({"unaddressed_hours": 72.1}, {"DriftUnaddressed"}),
    ({"unaddressed_for": "59m"}, {"DriftUnaddressed"}),
    ({"unaddressed_for": "61m"}, {"DriftUnaddressed"}),
    ({"many_stacks": 9}, {"DriftStacksMany"}),
    ({"many_stacks": 11}, {"DriftStacksMany"}),
    ({"many_for": "29m"}, {"DriftStacksMany"}),
    ({"many_for": "31m"}, {"DriftStacksMany"}),
    ({"erroring_runs": 2}, {"DriftStackErroring"}),
    ({"erroring_runs": 4}, {"DriftStackErroring"}),
    ({"erroring_for": "14m"}, {"DriftStackErroring"}),
    ({"erroring_for": "16m"}, {"DriftStackErroring"}),
    ({"checks_failing": 2}, {"DriftChecksFailing"}),
    ({"checks_for": "14m"}, {"DriftChecksFailing"}),
    ({"checks_for": "16m"}, {"DriftChecksFailing"}),
    ({"job": "drift"}, set(ALERTS)),
]


def alerts_with_wrong_states(promtool_output: str) -> set[str]:
    """The alerts whose firing (alert_rule_test) or pending (ALERTS expr) set differs in a failed run."""
    wrong = set()
    for block in re.split(r"\n(?=    (?:alertname|expr): )", promtool_output):
        if match := re.match(r"    alertname: (\w+), ", block):
            expected, _, got = block.partition("got:")
            if sorted(re.findall(r"Labels:(\{.*\})", expected)) != sorted(
                re.findall(r"Labels:(\{.*\})", got)
            ):
                wrong.add(match.group(1))
        elif match := re.match(r'    expr: "ALERTS\{alertname=\\"(\w+)\\"', block):
            wrong.add(match.group(1))
    return wrong


@needs_promtool
@pytest.mark.parametrize(("change", "alerts"), MUTANTS, ids=[str(change) for change, _ in MUTANTS])
def test_the_unit_tests_fail_when_a_boundary_moves(
    tmp_path: Path, change: dict[str, Any], alerts: set[str]
) -> None:
    (tmp_path / "drift.rules.yml").write_text(render_rules(AlertThresholds(**change)), encoding="utf-8")
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    tested = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert tested.returncode != 0, f"promtool tests still pass with {change}:\n{tested.stdout}"
    assert alerts_with_wrong_states(tested.stdout + tested.stderr) == alerts, tested.stderr


# ---- the dashboard ----------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and query variables."""
    queries = [target["expr"] for panel in panels(board) for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
)


def metric_names(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (enough PromQL for a lint, not a parser)."""
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "x", promql)  # Grafana variables
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"^\s*label_values\(\s*(\w+)\s*,\s*\w+\s*\)\s*$", r"\1", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.groups()
        if call or word in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def test_metric_name_lint_sees_what_it_should() -> None:
    assert metric_names('sum by (stack) (drift_stack_state{job=~"$job"}) * on(stack) foo_total') == {
        "drift_stack_state",
        "foo_total",
    }
    assert metric_names("time() - max(drift_detection_last_run_timestamp)") == {
        "drift_detection_last_run_timestamp"
    }
    assert metric_names('label_values(drift_stack_state{job=~"$job"}, stack)') == {"drift_stack_state"}
    assert metric_names("rate(up[5m]) > bool 1") == {"up"}


def test_dashboard_is_grafana_json_on_a_prometheus_input() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    assert board["uid"] and board["title"]
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert (
            set(panel["gridPos"]) == {"x", "y", "w", "h"}
            and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        )


def test_dashboard_only_queries_driftctl_metrics() -> None:
    queries = dashboard_queries(dashboard())
    used: set[str] = set()
    for query in queries:
        names = metric_names(query)
        assert names, f"no metric in {query!r}"
        assert names <= METRICS, f"{query!r} queries {sorted(names - METRICS)}, which driftctl does not push"
        used |= names
    # it shows every metric, so the dashboard covers the whole contract
    assert used == METRICS, f"dashboard never shows {sorted(METRICS - used)}"


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    board = dashboard()
    titles = {panel["title"]: panel for panel in panels(board)}
    assert "Time since last run" in titles
    state_table = titles["Stack state"]
    assert state_table["type"] == "table"
    table_metrics = set().union(*(metric_names(t["expr"]) for t in state_table["targets"]))
    assert {"drift_stack_state", "drift_stack_age_hours", "drift_stack_first_seen"} <= table_metrics
    assert metric_names(titles["Plan duration per stack"]["targets"][0]["expr"]) == {
        "drift_stack_plan_duration_seconds"
    }
    over_time = {metric_names(t["expr"]).pop() for t in titles["Stacks by state"]["targets"]}
    assert over_time == {"drift_stack_count", "drift_error_count", "drift_clean_count"}


def test_rules_only_query_driftctl_metrics() -> None:
    for rule in rules_of(RULES.read_text(encoding="utf-8")):
        assert metric_names(rule["expr"]) <= METRICS, rule["expr"]
