"""Where a run happens, from the CI's environment: Woodpecker's `CI_*` or GitHub Actions' `GITHUB_*`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    repository: str | None = None  # owner/name
    repository_url: str | None = None
    run_url: str | None = None
    run_name: str | None = None  # "pipeline #12", "run 4711"
    commit: str | None = None
    pull_request: int | None = None  # set only in a pull request's pipeline
    forge_type: str | None = None  # Woodpecker's CI_FORGE_TYPE: github, gitea, forgejo, ...
    forge_url: str | None = None


def from_environ(environ: Mapping[str, str]) -> RunContext:
    if environ.get("CI") == "woodpecker" or environ.get("CI_PIPELINE_URL"):
        return _woodpecker(environ)
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITHUB_RUN_ID"):
        return _github(environ)
    return RunContext()


def _woodpecker(env: Mapping[str, str]) -> RunContext:
    number = env.get("CI_PIPELINE_NUMBER")
    # only a pull request's pipeline: a push of a merged PR is no place to comment
    in_pull_request = env.get("CI_PIPELINE_EVENT") in ("pull_request", "pull_request_metadata")
    pull = env.get("CI_COMMIT_PULL_REQUEST") if in_pull_request else None
    return RunContext(
        repository=env.get("CI_REPO") or None,
        repository_url=env.get("CI_REPO_URL") or None,
        run_url=env.get("CI_PIPELINE_URL") or None,
        run_name=f"pipeline #{number}" if number else None,
        commit=env.get("CI_COMMIT_SHA") or None,
        pull_request=_number(pull),
        forge_type=env.get("CI_FORGE_TYPE") or None,
        forge_url=env.get("CI_FORGE_URL") or None,
    )


def _github(env: Mapping[str, str]) -> RunContext:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY") or None
    run_id = env.get("GITHUB_RUN_ID")
    return RunContext(
        repository=repository,
        repository_url=f"{server}/{repository}" if repository else None,
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None,
        run_name=f"run {env.get('GITHUB_RUN_NUMBER') or run_id}" if run_id else None,
        commit=env.get("GITHUB_SHA") or None,
        pull_request=_github_pull_request(env),
        forge_type="github",
        forge_url=server,
    )


def _github_pull_request(env: Mapping[str, str]) -> int | None:
    if env.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_target"):
        return None
    ref = env.get("GITHUB_REF", "")  # refs/pull/<number>/merge
    parts = ref.split("/")
    if len(parts) == 4 and parts[:2] == ["refs", "pull"]:
        return _number(parts[2])
    try:
        event = json.loads(Path(env.get("GITHUB_EVENT_PATH", "")).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _number(str(event.get("number", ""))) if isinstance(event, dict) else None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) > 0 else None
