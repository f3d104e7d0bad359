"""The run's context from Woodpecker's and GitHub Actions' environment variables."""

from __future__ import annotations

import json
from pathlib import Path

from driftctl.sinks.ci import RunContext, from_environ

WOODPECKER = {
    "CI": "woodpecker",
    "CI_REPO": "acme/infra",
    "CI_REPO_URL": "https://code.example/acme/infra",
    "CI_PIPELINE_URL": "https://ci.example/repos/3/pipeline/41",
    "CI_PIPELINE_NUMBER": "41",
    "CI_COMMIT_SHA": "f" * 40,
    "CI_FORGE_TYPE": "forgejo",
    "CI_FORGE_URL": "https://code.example",
}


def test_woodpecker_pull_request() -> None:
    env = {**WOODPECKER, "CI_PIPELINE_EVENT": "pull_request", "CI_COMMIT_PULL_REQUEST": "12"}
    assert from_environ(env) == RunContext(
        repository="acme/infra",
        repository_url="https://code.example/acme/infra",
        run_url="https://ci.example/repos/3/pipeline/41",
        run_name="pipeline #41",
        commit="f" * 40,
        pull_request=12,
        forge_type="forgejo",
        forge_url="https://code.example",
    )


def test_woodpecker_push_is_no_pull_request_even_with_the_variable_set() -> None:
    env = {**WOODPECKER, "CI_PIPELINE_EVENT": "push", "CI_COMMIT_PULL_REQUEST": "12"}
    assert from_environ(env).pull_request is None


def test_github_actions_pull_request_from_the_ref_or_the_event_file(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/infra",
        "GITHUB_RUN_ID": "777",
        "GITHUB_RUN_NUMBER": "5",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REF": "refs/pull/34/merge",
    }
    context = from_environ(env)
    assert context.run_url == "https://github.com/acme/infra/actions/runs/777"
    assert (context.run_name, context.pull_request, context.forge_type) == ("run 5", 34, "github")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 35}))
    assert (
        from_environ({**env, "GITHUB_REF": "refs/heads/x", "GITHUB_EVENT_PATH": str(event)}).pull_request
        == 35
    )
    assert from_environ({**env, "GITHUB_EVENT_NAME": "schedule"}).pull_request is None


def test_no_ci_means_no_context() -> None:
    assert from_environ({"HOME": "/root"}) == RunContext()
