"""Notifications end to end: real Terraform plans, a real Pushgateway as the memory between runs, and
loopback fakes of Slack and the forge that record every request."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import NULL_STACK, driftctl, write_stack
from factories import plan_result
from fake_api import serving
from fake_forge import TOKEN, FakeForge
from fake_slack import FakeSlack
from pushgateway_server import Pushgateway, closed_port_url

from driftctl import config, pipeline
from driftctl.history.merge import MergedState
from driftctl.model import RunReport, State, Tool
from driftctl.sinks import notify
from driftctl.sinks.ci import RunContext
from driftctl.sinks.forge import PR_MARKER, ForgeSettings
from driftctl.sinks.http import RetryPolicy

FAST = RetryPolicy(attempts=2, budget_seconds=3.0, backoff_seconds=0.05, timeout_seconds=1.0)
WOODPECKER = {
    "CI": "woodpecker",
    "CI_REPO": "acme/infra",
    "CI_REPO_URL": "https://git.example/acme/infra",
    "CI_PIPELINE_URL": "https://ci.example/repos/1/pipeline/7",
    "CI_PIPELINE_NUMBER": "7",
    "CI_PIPELINE_EVENT": "cron",
    "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with serving(FakeSlack()) as api:
        yield api


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with serving(FakeForge("github")) as api:
        yield api


def _environ(slack: FakeSlack, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI", "GITHUB_", "DRIFTCTL_"))}
    return {
        **env,
        **WOODPECKER,
        "DRIFTCTL_SLACK_WEBHOOK_URL": slack.webhook,
        "DRIFTCTL_ISSUE_TOKEN": TOKEN,
        "DRIFTCTL_NOTIFY_TIMEOUT": "2s",
        **extra,
    }


def _plan(live: Path, env: dict[str, str], *extra: str) -> tuple[int, str]:
    args = ("plan", "--all", "--root", str(live), "--tool", "terraform", "--exclude", "dev/broken")
    result = driftctl(*args, *extra, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stderr


def test_drift_same_drift_clean(live: Path, gateway: Pushgateway, slack: FakeSlack, forge: FakeForge) -> None:
    env = _environ(slack)
    flags = (
        "--push",
        "--pushgateway",
        gateway.url,
        "--issue-tracker",
        "github",
        "--issue-api-url",
        forge.url,
    )

    code, stderr = _plan(live, env, *flags)
    assert code == 2, stderr
    assert "Slack message sent; issues 1 opened" in stderr
    [message] = slack.messages
    assert message["text"] == "driftctl: 1 newly drifted in acme/infra"
    first = json.dumps(message, ensure_ascii=False)
    assert "*New drift*\\n`prod/drifted` (+0 ~0 -0 ±1)" in first
    assert f"<{forge.url}/acme/infra/issues/1|issue>" in first
    [issue] = forge.open_issues()
    assert (
        issue.title == "Drift in prod/drifted"
        and "cd prod/drifted\nterraform init && terraform plan" in issue.body
    )

    writes = len([r for r in forge.requests if r.method != "GET"])
    code, stderr = _plan(live, env, *flags)
    assert code == 2, stderr
    assert len(slack.messages) == 1, "the same drift is no news for --notify on-change"
    assert len([r for r in forge.requests if r.method != "GET"]) == writes, "the same drift changes no issue"

    write_stack(live / "prod" / "drifted", NULL_STACK)
    code, stderr = _plan(live, env, *flags)
    assert code == 0, stderr
    assert slack.messages[-1]["text"] == "driftctl: 1 resolved in acme/infra"
    assert forge.open_issues() == [] and forge.issues[1].state == "closed"
    for request in slack.requests + forge.requests:
        assert "two" not in request.body.decode()  # the drifted input's new value never leaves driftctl


def test_a_dead_tracker_loses_nothing_and_fails_the_run_unless_allowed(
    live: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    dead = ("--issue-tracker", "gitea", "--issue-repo", "acme/infra", "--issue-api-url", closed_port_url())
    code, stderr = _plan(live, _environ(slack), *dead, "--report", str(report))
    assert code == 1
    assert "issues not updated: Gitea: GET /repos/acme/infra/issues: ConnectError" in stderr
    assert json.loads(report.read_text())["summary"]["drifted"] == 1
    assert len(slack.messages) == 1, "Slack is told even though the tracker is down"
    assert TOKEN not in stderr

    code, stderr = _plan(live, _environ(slack), *dead, "--notify-failures-ok")
    assert code == 2, stderr
    assert "(--notify-failures-ok): issues not updated" in stderr


def test_slack_down_is_named_and_the_webhook_is_masked(live: Path, slack: FakeSlack) -> None:
    slack.fail_next(20, 500)  # retried until --notify-timeout (2s here) is spent
    code, stderr = _plan(live, _environ(slack))
    assert code == 1
    assert "Slack message not sent: Slack: POST ***: HTTP 500" in stderr
    assert "wEbHoOkSeCrEt" not in stderr


def test_issue_options_that_cannot_work_are_usage_errors_before_any_plan(tmp_path: Path) -> None:
    cfg = config.load({"issue_tracker": "gitea", "issue_repo": "acme/infra"}, {})
    with pytest.raises(pipeline.UsageError, match=r"--issue-tracker needs --issue-api-url"):
        pipeline.notify_options(cfg, {"DRIFTCTL_ISSUE_TOKEN": TOKEN})
    cfg = config.load({"issue_tracker": "github"}, {})
    with pytest.raises(pipeline.UsageError, match=r"needs --issue-repo OWNER/NAME, got None"):
        pipeline.notify_options(cfg, {"DRIFTCTL_ISSUE_TOKEN": TOKEN})
    with pytest.raises(pipeline.UsageError, match=r"needs the forge's token in DRIFTCTL_ISSUE_TOKEN"):
        pipeline.notify_options(
            cfg, {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1", "GITHUB_REPOSITORY": "a/b"}
        )
    # Woodpecker on Forgejo: the tracker, the repository and the API URL all come from the CI
    woodpecker = {**WOODPECKER, "CI_FORGE_TYPE": "forgejo", "CI_FORGE_URL": "https://code.example/"}
    options = pipeline.notify_options(
        config.load({"comment_on_pr": True}, {}), {**woodpecker, "DRIFTCTL_ISSUE_TOKEN": TOKEN}
    )
    assert options.forge == ForgeSettings("gitea", "acme/infra", "https://code.example/api/v1", TOKEN)
    assert TOKEN not in repr(options) and TOKEN not in repr(options.forge)


def test_a_changed_run_in_a_pull_request_comments_once_and_edits_in_place(forge: FakeForge) -> None:
    pr = forge.add_issue("Resize the app", "", [], pr=True)
    options = notify.NotifyOptions(
        comment_on_pr=True, forge=ForgeSettings("github", "acme/infra", forge.url, TOKEN), policy=FAST
    )
    context = RunContext(repository="acme/infra", pull_request=pr)
    now = datetime.now(timezone.utc)
    for state in (State.DRIFTED, State.CLEAN):
        run = RunReport(now, now, Path("/repo"), Tool.TERRAGRUNT, "changed", (plan_result("app", state),))
        outcome = notify.notify(options, run, MergedState({}, {}, 0.0), context)
        assert outcome.errors == () and outcome.pr_comment
    [comment] = forge.comments_on(pr)
    assert comment.startswith(PR_MARKER) and "0 drifted, 0 errored, 1 clean" in comment
    # not a pull request, or not a --changed run: no comment
    run = RunReport(now, now, Path("/repo"), Tool.TERRAGRUNT, "all", (plan_result("app", State.DRIFTED),))
    assert notify.notify(options, run, MergedState({}, {}, 0.0), context).pr_comment is None
    assert len(forge.comments_on(pr)) == 1
