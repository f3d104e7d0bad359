"""driftctl.metrics: the exposition driftctl pushes, and parsing the gateway's JSON back."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pushgateway_server import NO_PROMTOOL, PROMTOOL_BINARY

from driftctl import metrics
from driftctl.metrics import (
    HELP,
    ExpositionError,
    MetricsParseError,
    RunInfo,
    build_exposition,
    series_from_group,
)
from driftctl.model import ResourceCounts, StackSeries, State

NOW = 1_800_000_000.0
RUN = RunInfo(finished_at=NOW, duration_seconds=42.5, version="0.1.0", mode="changed")
HOSTILE = [
    'quo"te',
    "back\\slash",
    "new\nline",
    "ünï/cødé ☃",
    "with space",
    "",
    "a\\nb",
    "tab\tx",
    "nul\x00x",
]

# The metric names are a fixed contract with dashboards and alert rules; promtool's style lint objects
# to four of them, which is accepted knowingly. Any other finding fails the test.
ACCEPTED_LINT = {
    'drift_stack_count non-histogram and non-summary metrics should not have "_count" suffix',
    'drift_error_count non-histogram and non-summary metrics should not have "_count" suffix',
    'drift_clean_count non-histogram and non-summary metrics should not have "_count" suffix',
    'drift_stack_age_hours use base unit "seconds" instead of "hours"',
}

stack_names = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
whole = st.integers(0, 2**40)
counts = st.builds(ResourceCounts, add=whole, change=whole, destroy=whole, replace=whole)


@st.composite
def series_maps(draw: st.DrawFn) -> dict[str, StackSeries]:
    names = draw(st.sets(stack_names, max_size=6))
    return {
        name: StackSeries(
            stack=name,
            state=draw(st.sampled_from(State)),
            first_seen=draw(st.one_of(st.none(), st.floats(1.0, 4e9))),
            consecutive_errors=draw(whole),
            duration_seconds=draw(st.one_of(st.none(), st.floats(0.0, 1e6))),
            resources=draw(counts),
            outside=draw(whole),
            checks_failing=draw(whole),
        )
        for name in names
    }


def text_to_group(text: str) -> dict[str, Any]:
    """What the gateway's JSON API would show for this exposition (values as strings, like the API)."""
    group: dict[str, Any] = {"labels": {"job": "drift-detection"}}
    for family in text_string_to_metric_families(text):
        group[family.name] = {
            "type": family.type.upper(),
            "help": family.documentation,
            "metrics": [{"labels": dict(s.labels), "value": repr(s.value)} for s in family.samples],
        }
    return group


def exposition_text(series: dict[str, StackSeries], run: RunInfo = RUN) -> str:
    return build_exposition(series, run).decode("utf-8")


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def drifted(stack: str, first_seen: float | None = NOW - 7200) -> StackSeries:
    return StackSeries(stack, State.DRIFTED, first_seen, 0, 3.0, ResourceCounts(add=1, replace=2))


# --- writing --------------------------------------------------------------------------------------


def test_every_metric_has_help_and_is_a_gauge() -> None:
    text = exposition_text({"a": drifted("a")})
    for name, help_text in HELP.items():
        assert f"# HELP {name} {help_text}\n" in text
        assert f"# TYPE {name} gauge\n" in text


def test_a_drifted_stack_has_every_per_stack_series() -> None:
    got = samples(exposition_text({"a": drifted("a")}))
    stack = (("stack", "a"),)
    assert got["drift_stack_state"][stack] == 1
    assert got["drift_stack_first_seen"][stack] == NOW - 7200
    assert got["drift_stack_age_hours"][stack] == 2.0
    assert got["drift_stack_plan_duration_seconds"][stack] == 3.0
    assert got["drift_stack_consecutive_errors"][stack] == 0
    changes = got["drift_stack_resource_changes"]
    assert [changes[(("action", a), ("stack", "a"))] for a in metrics.ACTIONS] == [1, 0, 0, 2]


def test_outside_changes_and_failing_checks_have_their_own_series() -> None:
    clean = StackSeries("c", State.CLEAN, None, outside=3, checks_failing=2)

    got = samples(exposition_text({"c": clean, "a": drifted("a")}))

    assert got["drift_stack_outside_changes"] == {(("stack", "a"),): 0, (("stack", "c"),): 3}
    assert got["drift_stack_checks_failing"] == {(("stack", "a"),): 0, (("stack", "c"),): 2}
    assert got["drift_stack_state"][(("stack", "c"),)] == 0  # outside changes are not drift


def test_clean_stacks_have_no_first_seen_or_age() -> None:
    got = samples(exposition_text({"a": StackSeries("a", State.CLEAN, None)}))
    assert got["drift_stack_state"] == {(("stack", "a"),): 0}
    assert got.get("drift_stack_first_seen", {}) == {}
    assert got.get("drift_stack_age_hours", {}) == {}
    assert got.get("drift_stack_plan_duration_seconds", {}) == {}


def test_run_level_series_count_the_whole_view() -> None:
    series = {
        "a": drifted("a"),
        "b": drifted("b"),
        "c": StackSeries("c", State.ERRORED, NOW - 60, 3),
        "d": StackSeries("d", State.CLEAN, None),
    }
    got = samples(exposition_text(series))
    assert got["drift_stack_count"] == {(): 2}
    assert got["drift_error_count"] == {(): 1}
    assert got["drift_clean_count"] == {(): 1}
    assert got["drift_detection_last_run_timestamp"] == {(): NOW}
    assert got["drift_detection_run_duration_seconds"] == {(): 42.5}
    assert got["drift_detection_info"] == {(("mode", "changed"), ("version", "0.1.0")): 1}
    assert got["drift_stack_consecutive_errors"][(("stack", "c"),)] == 3


def test_an_errored_stack_keeps_its_drift_age() -> None:
    got = samples(exposition_text({"c": StackSeries("c", State.ERRORED, NOW - 3600, 1)}))
    assert got["drift_stack_age_hours"] == {(("stack", "c"),): 1.0}


def test_a_stack_id_that_is_not_unicode_is_named_in_the_error() -> None:
    bad = "dir-\udcff"  # os.fsdecode of a non-UTF-8 directory name
    with pytest.raises(ExpositionError, match="not valid UTF-8"):
        build_exposition({bad: drifted(bad)}, RUN)


@pytest.mark.prometheus
@pytest.mark.skipif(PROMTOOL_BINARY is None, reason=NO_PROMTOOL)
def test_promtool_accepts_the_exposition() -> None:
    series = {name: drifted(name) for name in HOSTILE}
    series["clean"] = StackSeries("clean", State.CLEAN, None)
    result = subprocess.run(
        [str(PROMTOOL_BINARY), "check", "metrics"],
        input=build_exposition(series, RUN),
        capture_output=True,
        timeout=30,
        check=False,
    )
    findings = set((result.stdout + result.stderr).decode().strip().splitlines())
    # exit 3 is "lint problems"; a parse error (exit 1) or an unexpected finding fails
    assert result.returncode in (0, 3), findings
    assert findings <= ACCEPTED_LINT, findings - ACCEPTED_LINT


# --- reading back ---------------------------------------------------------------------------------


@settings(max_examples=150, database=None, deadline=None)
@given(series_maps())
def test_what_is_written_reads_back_identically(series: dict[str, StackSeries]) -> None:
    assert series_from_group(text_to_group(exposition_text(series))) == series


def test_hostile_stack_names_read_back_identically() -> None:
    series = {name: drifted(name) for name in HOSTILE}
    assert series_from_group(text_to_group(exposition_text(series))) == series


def test_an_empty_group_is_an_empty_previous() -> None:
    assert series_from_group({"labels": {"job": "drift-detection"}, "last_push_successful": False}) == {}


def test_a_group_from_an_older_pusher_keeps_state_and_first_seen() -> None:
    group = {
        "drift_stack_state": {"metrics": [{"labels": {"stack": "a"}, "value": "1"}]},
        "drift_stack_first_seen": {"metrics": [{"labels": {"stack": "a"}, "value": "1.7e+09"}]},
    }
    assert series_from_group(group) == {"a": StackSeries("a", State.DRIFTED, 1.7e9)}


def test_a_missing_stack_label_is_the_empty_stack_id() -> None:
    # Prometheus treats `stack=""` as no label at all, and so may the gateway's JSON.
    group = {"drift_stack_state": {"metrics": [{"labels": {"job": "j"}, "value": "0"}]}}
    assert list(series_from_group(group)) == [""]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("drift_stack_state", "3"),
        ("drift_stack_state", "0.5"),
        ("drift_stack_state", "NaN"),
        ("drift_stack_state", "one"),
        ("drift_stack_state", None),
        ("drift_stack_consecutive_errors", "-1"),
        ("drift_stack_consecutive_errors", "+Inf"),
    ],
)
def test_values_driftctl_cannot_have_written_are_parse_errors(name: str, value: object) -> None:
    group: dict[str, Any] = {"drift_stack_state": {"metrics": [{"labels": {"stack": "a"}, "value": "1"}]}}
    group[name] = {"metrics": [{"labels": {"stack": "a"}, "value": value}]}
    with pytest.raises(MetricsParseError):
        series_from_group(group)


@pytest.mark.parametrize("family", [{"metrics": "x"}, {"no": "metrics"}, [], {"metrics": [{"value": "1"}]}])
def test_malformed_families_are_parse_errors(family: object) -> None:
    with pytest.raises(MetricsParseError):
        series_from_group({"drift_stack_state": family})


def test_a_nan_duration_reads_back_as_unknown() -> None:
    group = {
        "drift_stack_state": {"metrics": [{"labels": {"stack": "a"}, "value": "0"}]},
        "drift_stack_plan_duration_seconds": {"metrics": [{"labels": {"stack": "a"}, "value": "NaN"}]},
    }
    assert series_from_group(group)["a"].duration_seconds is None
