"""What to do with each issue (pure): markers, fingerprints, the choice among duplicates, the bodies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from factories import plan_result

from driftctl.model import ErrorKind, PlanError, ResourceChange, ResourceCounts, Stack, State, Tool
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta, Drift, Failure
from driftctl.sinks.issues import (
    DRIFT,
    ERROR,
    Issue,
    IssueSettings,
    drift_body,
    error_body,
    fingerprint,
    marker,
    plan_issues,
)

CONTEXT = RunContext(run_url="https://ci.example/run/9", run_name="pipeline #9", commit="abcdef0123456789")
ACL = ResourceChange("aws_s3_bucket.logs", "update", "aws_s3_bucket", ("acl",))


def drift(stack: str, *changes: ResourceChange, tool: Tool = Tool.TERRAGRUNT) -> Drift:
    result = replace(plan_result(stack, State.DRIFTED, ResourceCounts(change=1), tool=tool), changes=changes)
    return Drift(result, first_seen=1_764_547_200.0, age_seconds=2 * 86_400 + 3600)


def test_the_marker_survives_odd_stack_ids() -> None:
    for stack in ("live/prod/app", "a b/c-->d", "ünï/cödé"):
        assert Issue(1, True, f"text\n{marker(DRIFT, stack)}\nmore").marker == (DRIFT, stack)
    assert Issue(1, True, "<!-- driftctl:drift stack= -->").marker is None


def test_the_fingerprint_follows_names_and_actions_only() -> None:
    one = drift("a", ACL).result
    assert fingerprint(one) == fingerprint(replace(one, duration_seconds=99.0, attempts=3))
    assert fingerprint(one) != fingerprint(replace(one, changes=(replace(ACL, attributes=("acl", "tags")),)))
    assert fingerprint(one) != fingerprint(replace(one, changes=(replace(ACL, action="replace"),)))


def test_among_duplicates_the_open_issue_with_the_lowest_number_is_kept() -> None:
    body = marker(DRIFT, "app")
    existing = [Issue(7, True, body), Issue(3, True, body), Issue(9, False, body)]
    plan = plan_issues(existing, Delta(), [plan_result("app", State.CLEAN)], IssueSettings(), CONTEXT)
    assert [(a.number, a.state) for a in plan.actions] == [(3, "closed")]


def test_the_newest_closed_issue_is_reopened() -> None:
    body = marker(DRIFT, "app")
    news = Delta(newly_drifted=(drift("app", ACL),))
    plan = plan_issues([Issue(2, False, body), Issue(5, False, body)], news, [], IssueSettings(), CONTEXT)
    assert [(a.number, a.state) for a in plan.actions] == [(5, "open")]


def test_a_drifted_stack_that_errors_keeps_its_drift_issue_open() -> None:
    failing = plan_result("app", State.ERRORED, error=PlanError(ErrorKind.NETWORK, "x"))
    news = Delta(newly_errored=(Failure("app", ErrorKind.NETWORK, 1),))
    plan = plan_issues([Issue(1, True, marker(DRIFT, "app"))], news, [failing], IssueSettings(), CONTEXT)
    assert plan.actions == ()


def test_removed_stacks_have_their_issues_closed() -> None:
    existing = [Issue(1, True, marker(DRIFT, "old")), Issue(2, True, marker(ERROR, "old"))]
    plan = plan_issues(existing, Delta(removed=("old",)), [], IssueSettings(), CONTEXT)
    assert [(a.number, a.state) for a in plan.actions] == [(1, "closed"), (2, "closed")]
    assert (
        plan.actions[0].comment
        == "`old` is no longer in the repository in [pipeline #9](https://ci.example/run/9)."
    )


def test_the_drift_body() -> None:
    body = drift_body(drift("live/prod/app", ACL, tool=Tool.TERRAFORM), ["live/stage/app"], CONTEXT)
    assert body.startswith("<!-- driftctl:drift stack=live/prod/app -->\n<!-- driftctl:fingerprint=")
    assert "- **First seen:** 2025-12-01 00:00 UTC (drifted for 2d 1h when this was written)" in body
    assert "- **Cause group:** the same changes drifted `live/stage/app`: probably one cause" in body
    assert "| `aws_s3_bucket.logs` | update | `acl` |" in body
    assert "```sh\ncd live/prod/app\nterraform init && terraform plan\n```" in body
    assert "Last changed by [pipeline #9](https://ci.example/run/9), commit `abcdef012345`." in body


def test_a_generated_unit_is_generated_before_it_is_planned() -> None:
    root = Path("/repo")
    stack_file = root / "live/prod/terragrunt.stack.hcl"
    unit = Stack(
        id="live/prod/.terragrunt-stack/app",
        path=root / "live/prod/.terragrunt-stack/app",
        tool=Tool.TERRAGRUNT,
        stack_files=(stack_file,),
    )
    result = replace(plan_result("x", State.DRIFTED), stack=unit)
    body = drift_body(Drift(result, 1_764_547_200.0, 0.0), [], CONTEXT)
    assert (
        "```sh\ncd live/prod\nterragrunt stack generate\ncd .terragrunt-stack/app\nterragrunt plan\n```"
        in body
    )


def test_the_error_body_has_no_error_text() -> None:
    result = plan_result("a b", State.ERRORED, error=PlanError(ErrorKind.AUTH, "password=hunter2 rejected"))
    body = error_body(Failure("a b", ErrorKind.AUTH, 4), result, CONTEXT)
    assert "- **Failed:** 4 runs in a row" in body and "- **Error kind:** auth" in body
    assert "cd 'a b'\nterragrunt plan" in body
    assert "hunter2" not in body and "rejected" not in body
