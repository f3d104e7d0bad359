"""Issues on GitHub and Gitea through loopback fakes of their APIs: the lifecycle of one stack's issue."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace

import pytest
from factories import plan_result
from fake_api import serving
from fake_forge import TOKEN, FakeForge

from driftctl.history.merge import MergedState, merge
from driftctl.model import (
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    StackSeries,
    State,
)
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import delta
from driftctl.sinks.forge import ForgeSettings, SyncOutcome, comment_on_pull_request, connect, sync_issues
from driftctl.sinks.http import RetryPolicy, SinkError
from driftctl.sinks.issues import IssueSettings

CONTEXT = RunContext(
    repository="acme/infra", run_url="https://ci.example/acme/infra/7", run_name="pipeline #7"
)
FAST = RetryPolicy(attempts=3, budget_seconds=5.0, backoff_seconds=0.05, timeout_seconds=2.0)
BUCKET = ResourceChange("aws_s3_bucket.logs", "update", "aws_s3_bucket", ("tags.owner", "versioning"))
SECRET_VALUE = "s3cr3t-planned-value"  # a value a plan holds; it must never leave driftctl


def drifted(stack: str, *changes: ResourceChange) -> PlanResult:
    return replace(plan_result(stack, State.DRIFTED, ResourceCounts(change=len(changes))), changes=changes)


def errored(stack: str) -> PlanResult:
    return plan_result(stack, State.ERRORED, error=PlanError(ErrorKind.AUTH, f"token {SECRET_VALUE} expired"))


class Runs:
    """Successive runs against one tracker, carrying the merged series like a store would."""

    def __init__(self, forge: FakeForge, settings: IssueSettings | None = None) -> None:
        self.forge = forge
        self.settings = settings or IssueSettings()
        self.series: Mapping[str, StackSeries] = {}
        self.now = 1_700_000_000.0

    def run(self, *results: PlanResult) -> SyncOutcome:
        self.now += 86_400
        merged = merge(self.series, results, self.now, None)
        news = delta(MergedState(self.series, merged, self.now), results)
        self.series = merged
        tracker = connect(ForgeSettings(self.forge.flavor, self.forge.repo, self.forge.api_url, TOKEN), FAST)
        try:
            return sync_issues(tracker, news, results, self.settings, CONTEXT)
        finally:
            tracker.close()


@pytest.fixture(params=["github", "gitea"])
def forge(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    with serving(FakeForge(request.param)) as api:
        yield api


def writes(forge: FakeForge) -> list[str]:
    return [f"{r.method} {r.path}" for r in forge.requests if r.method != "GET"]


def test_drift_then_the_same_drift_then_clean_opens_one_issue_changes_nothing_closes_it(
    forge: FakeForge,
) -> None:
    runs = Runs(forge)
    first = runs.run(drifted("live/prod/app", BUCKET), plan_result("live/prod/db", State.CLEAN))
    assert len(forge.issues) == 1
    issue = forge.issues[1]
    assert issue.title == "Drift in live/prod/app" and issue.state == "open"
    assert issue.labels == ["drift"]
    assert "`aws_s3_bucket.logs` | update | `tags.owner`, `versioning`" in issue.body
    assert "cd live/prod/app\nterragrunt plan" in issue.body
    assert "[pipeline #7](https://ci.example/acme/infra/7)" in issue.body
    assert first.link("live/prod/app") == f"{forge.url}/acme/infra/issues/1"

    before = len(writes(forge))
    runs.run(drifted("live/prod/app", BUCKET), plan_result("live/prod/db", State.CLEAN))
    assert len(writes(forge)) == before, "the same drift must change nothing"

    runs.run(plan_result("live/prod/app", State.CLEAN), plan_result("live/prod/db", State.CLEAN))
    assert issue.state == "closed"
    assert forge.comments_on(1) == [
        "`live/prod/app` plans clean in [pipeline #7](https://ci.example/acme/infra/7)."
    ]
    assert len(forge.issues) == 1


def test_changed_drift_edits_the_body_and_comments_once(forge: FakeForge) -> None:
    runs = Runs(forge)
    runs.run(drifted("app", BUCKET))
    runs.run(drifted("app", BUCKET, ResourceChange("aws_iam_role.ci", "replace", "aws_iam_role", ("name",))))
    issue = forge.issues[1]
    assert "`aws_iam_role.ci` | replace | `name`" in issue.body
    assert forge.comments_on(1) == ["The drift changed in [pipeline #7](https://ci.example/acme/infra/7)."]
    assert issue.state == "open" and len(forge.issues) == 1


def test_recurring_drift_reopens_the_closed_issue(forge: FakeForge) -> None:
    runs = Runs(forge)
    runs.run(drifted("app", BUCKET))
    runs.run(plan_result("app", State.CLEAN))
    runs.run(drifted("app", BUCKET))
    assert len(forge.issues) == 1
    assert forge.issues[1].state == "open"
    assert forge.comments_on(1)[-1] == "The drift is back in [pipeline #7](https://ci.example/acme/infra/7)."


def test_an_issue_of_another_tool_with_the_label_is_left_alone(forge: FakeForge) -> None:
    forge.add_label("drift", 11)
    forge.add_issue("Someone's drift notes", "no marker here", ["drift"])
    Runs(forge).run(drifted("app", BUCKET))
    assert forge.issues[1].body == "no marker here" and len(forge.issues) == 2


def test_a_persistent_failure_gets_one_issue_closed_when_the_stack_plans_again(forge: FakeForge) -> None:
    runs = Runs(forge, IssueSettings(errors_after=3))
    runs.run(errored("net"))
    runs.run(errored("net"))
    assert forge.issues == {}
    runs.run(errored("net"))
    runs.run(errored("net"))
    assert len(forge.issues) == 1
    issue = forge.issues[1]
    assert issue.title == "Plan failing: net" and issue.labels == ["drift-error"]
    assert "3 runs in a row" in issue.body and "auth" in issue.body
    runs.run(plan_result("net", State.CLEAN))
    assert issue.state == "closed"
    assert forge.comments_on(1) == ["`net` plans again in [pipeline #7](https://ci.example/acme/infra/7)."]


def test_max_open_issues_holds_back_the_rest(forge: FakeForge) -> None:
    outcome = Runs(forge, IssueSettings(max_open=2)).run(*(drifted(f"s{i}", BUCKET) for i in range(5)))
    assert len(forge.issues) == 2
    assert outcome.held_back == ("s2", "s3", "s4")


def test_pagination_finds_an_issue_beyond_the_first_hundred(forge: FakeForge) -> None:
    runs = Runs(forge)
    runs.run(drifted("old", BUCKET))
    for number in range(130):  # newer issues with the label push driftctl's onto a later page
        forge.add_issue(f"other {number}", "", ["drift"])
    forge.add_issue("a pull request", "<!-- driftctl:drift stack=old -->", ["drift"], pr=True)
    runs.run(plan_result("old", State.CLEAN))
    assert forge.issues[1].state == "closed"
    pages = [r for r in forge.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert len(pages) > 2  # the first run's listing, then every page of the second
    assert all(r.query.get("labels") in ("drift", "drift-error") for r in pages)
    assert not any("search" in r.path for r in forge.requests)


def test_no_token_and_no_plan_value_in_any_request(forge: FakeForge) -> None:
    runs = Runs(forge, IssueSettings(errors_after=1))
    runs.run(drifted("app", BUCKET), errored("net"))
    runs.run(plan_result("app", State.CLEAN), plan_result("net", State.CLEAN))
    for request in forge.requests:
        text = request.path + json.dumps(request.query) + request.body.decode()
        assert TOKEN not in text and SECRET_VALUE not in text


def test_gitea_sets_labels_by_id_creating_missing_ones() -> None:
    with serving(FakeForge("gitea")) as forge:
        forge.add_label("bug", 3)
        forge.add_label("drift", 42)
        Runs(forge, IssueSettings(errors_after=1)).run(drifted("app", BUCKET), errored("net"))
        created = [r.json() for r in forge.calls("POST") if r.path.endswith("/issues")]
        assert created[0]["labels"] == [42]
        assert created[1]["labels"] == [forge.labels["drift-error"]]
        assert isinstance(created[1]["labels"][0], int)
        assert len([r for r in forge.calls("GET") if r.path.endswith("/labels")]) == 1, "listed once a run"
        new_labels = [r.json()["name"] for r in forge.calls("POST") if r.path.endswith("/labels")]
        assert new_labels == ["drift-error"]
        issue_lists = [r for r in forge.calls("GET") if r.path.endswith("/issues")]
        assert all(r.query["type"] == "issues" and r.query["limit"] == "50" for r in issue_lists)


def test_rate_limit_is_waited_out_with_retry_after(forge: FakeForge) -> None:
    forge.fail_next(1, 429, retry_after="1")
    Runs(forge).run(drifted("app", BUCKET))
    assert len(forge.issues) == 1
    assert [r.method for r in forge.requests[:2]] == ["GET", "GET"]


def test_a_dead_tracker_fails_with_one_scrubbed_line(forge: FakeForge) -> None:
    forge.fail_next(10, 503)
    with pytest.raises(SinkError) as raised:
        Runs(forge).run(drifted("app", BUCKET))
    message = str(raised.value)
    assert "HTTP 503" in message and "after 3 attempts" in message
    assert TOKEN not in message and "\n" not in message


def test_pull_request_comment_is_edited_in_place(forge: FakeForge) -> None:
    pr = forge.add_issue("Change the VPC", "", [], pr=True)
    tracker = connect(ForgeSettings(forge.flavor, forge.repo, forge.api_url, TOKEN), FAST)
    try:
        first = comment_on_pull_request(tracker, pr, "### 1 drifted")
        second = comment_on_pull_request(tracker, pr, "### 0 drifted")
    finally:
        tracker.close()
    assert first == second
    assert len(forge.comments_on(pr)) == 1
    assert forge.comments_on(pr)[0].endswith("### 0 drifted")
