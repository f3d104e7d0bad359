"""`driftctl publish`, end to end: three real shard runs of real Terraform stacks in a real git repository,
merged into one real Pushgateway group with one read-back and one PUT and one history record; a missing or
duplicated shard is refused before any request."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NULL_STACK, applied_stack, driftctl, write_stack
from fake_api import serving
from fake_slack import FakeSlack
from pushgateway_server import (
    FORWARD,
    NO_PUSHGATEWAY,
    PUSHGATEWAY_BINARY,
    Pushgateway,
    recording_server,
    running_pushgateway,
)

from driftctl.history.pushgateway import PushOptions, push, read_back
from driftctl.metrics import RunInfo, build_exposition
from driftctl.model import StackSeries, State

JOB = "drift-sharded"
EARLIER = 1_700_000_000.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[Pushgateway]:
    if PUSHGATEWAY_BINARY is None:
        pytest.skip(NO_PUSHGATEWAY)
    with running_pushgateway() as running:
        yield running


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with serving(FakeSlack()) as api:
        yield api


@pytest.fixture(scope="module")
def env(terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # module-scoped, so made before the per-test state home: default history stores stay in tmp
    environ = {**os.environ, **terraform_env, "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state"))}
    environ.pop("TF_PLUGIN_CACHE_DIR", None)
    return environ


@pytest.fixture(scope="module")
def shards(env: dict[str, str], slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Seven Terraform stacks committed to git (one drifted, one broken, five clean), planned in 3 shards."""
    root = tmp_path_factory.mktemp("publish") / "live"
    for name in ("net", "dns", "app", "db", "cache"):
        applied_stack(env, root / "prod" / name)
    drifted = applied_stack(env, root / "dev" / "app")
    write_stack(drifted, NULL_STACK.replace('"one"', '"two"'))
    write_stack(root / "dev" / "broken", 'resource "null_resource" "r" {\n  triggers = { x = var.nope }\n}\n')
    (root / ".gitignore").write_text(".terraform/\n*.tfstate*\n.terraform.lock.hcl\n", encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "live"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=root, check=True)
    reports = []
    history = f"sqlite:///{root.parent / 'shards.db'}"  # one history for every shard, as a shared database
    for index in (1, 2, 3):
        report = root.parent / f"shard-{index}.json"
        args = ["plan", "--all", "--tool", "terraform", "--root", str(root), "--shard", f"{index}/3"]
        args += ["--history", history, "--slack-webhook", slack.webhook, "--notify", "always"]
        done = driftctl(*args, "--report", str(report), "--fail-on", "never", env=env)
        assert done.returncode == 0, done.stderr
        reports.append(report)
    assert slack.messages == []  # publish tells the whole run once; a shard tells nothing
    return reports


def seed(url: str, job: str) -> None:
    """What an earlier run left: dev/app drifted since EARLIER, and a stack the repository no longer has."""
    earlier = {
        "dev/app": StackSeries("dev/app", State.DRIFTED, EARLIER),
        "retired/vpc": StackSeries("retired/vpc", State.CLEAN, None),
    }
    push(PushOptions(url=url, job=job), build_exposition(earlier, RunInfo(EARLIER, 60.0, "0", "all")))


def test_publish_merges_three_shard_runs_into_one_group(
    gateway: Pushgateway, shards: list[Path], env: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> None:
    reports = shards
    documents = [json.loads(r.read_text()) for r in reports]
    assert sorted(s["stack"] for d in documents for s in d["stacks"]) == sorted(documents[0]["known"])
    assert len({d["commit"] for d in documents}) == 1 and len(documents[0]["commit"]) == 40
    seed(gateway.url, JOB)

    history = f"sqlite:///{tmp_path / 'history.db'}"
    with recording_server({"GET": [FORWARD], "PUT": [FORWARD]}, forward_to=gateway.url) as server:
        args = [
            "publish",
            *map(str, reports),
            "--pushgateway",
            server.url,
            "--job",
            JOB,
            "--history",
            history,
            "--slack-webhook",
            slack.webhook,
            "--notify",
            "always",
        ]
        done = driftctl(*args, "--format", "json", "--report", str(tmp_path / "merged.json"), env=env)
    assert server.methods() == ["GET", "GET", "PUT"]  # one read-back, its re-check right before, one PUT
    assert done.returncode == 1, done.stderr  # dev/broken errored
    assert "pushed 7 stacks in one batch (1 drifted, 1 errored, 5 clean)" in done.stderr
    assert f"run recorded in {tmp_path / 'history.db'}" in done.stderr
    assert len(slack.messages) == 1 and "Slack message sent" in done.stderr  # one message for the run
    merged = json.loads(done.stdout)
    total = {k: merged["summary"][k] for k in ("total", "clean", "drifted", "errored")}
    assert total == {"total": 7, "clean": 5, "drifted": 1, "errored": 1}
    assert merged["shard"] is None and merged["commit"] == documents[0]["commit"]
    assert json.loads((tmp_path / "merged.json").read_text())["summary"] == merged["summary"]
    # the shards' resource detail survives the merge: the drifted stack names its replaced resource
    app = next(s for s in merged["stacks"] if s["stack"] == "dev/app")
    assert [(c["address"], c["action"]) for c in app["changes"]] == [("null_resource.thing", "replace")]

    root = documents[0]["root"]
    runs = driftctl("history", "--runs", "--format", "json", "--root", root, "--history", history, env=env)
    recorded = json.loads(runs.stdout)["runs"]
    assert [(r["shard"], r["commit"], r["stacks"], r["drifted"]) for r in recorded] == [
        (None, documents[0]["commit"], 7, 1)
    ]  # one run for the whole repository
    # the shards read the durations from the history they share and wrote nothing to it, so each one
    # computed the same partition whenever it started (the coverage check above)
    shards_db = f"sqlite:///{Path(root).parent / 'shards.db'}"
    parts = driftctl("history", "--runs", "--format", "json", "--root", root, "--history", shards_db, env=env)
    assert (parts.returncode, parts.stdout) == (1, "") and "no run of" in parts.stderr, parts.stderr

    series = read_back(PushOptions(url=gateway.url, job=JOB)).series
    assert sorted(series) == sorted(documents[0]["known"])  # retired/vpc is gone with the old group
    assert series["dev/app"].first_seen == EARLIER  # the drift's age survived the merge of shards
    assert series["dev/broken"].state is State.ERRORED


def test_publish_refuses_a_missing_or_duplicated_shard(
    gateway: Pushgateway, shards: list[Path], env: dict[str, str]
) -> None:
    first, second, third = shards
    job = JOB + "-refused"
    seed(gateway.url, job)
    before = read_back(PushOptions(url=gateway.url, job=job)).series

    with recording_server({"GET": [FORWARD], "PUT": [FORWARD]}, forward_to=gateway.url) as server:
        base = ["--pushgateway", server.url, "--job", job]
        missing = driftctl("publish", str(first), str(third), *base, env=env)
        twice = driftctl("publish", str(first), str(second), str(second), str(third), *base, env=env)
    assert server.methods() == []  # refused before any request
    assert (missing.returncode, missing.stderr) == (
        3,
        "driftctl: shard 2/3 is missing (2 of 3 reports given); publish them all, or --allow-partial\n",
    )
    assert (twice.returncode, twice.stderr) == (
        3,
        f"driftctl: shard 2/3 is given twice: {second} and {second}\n",
    )
    assert read_back(PushOptions(url=gateway.url, job=job)).series == before

    partial = driftctl(
        "publish", str(first), str(third), "--allow-partial", "--pushgateway", gateway.url, "--job", job,
        env=env,
    )  # fmt: skip
    assert partial.returncode in (1, 2) and "pushed" in partial.stderr, partial.stderr
    after = read_back(PushOptions(url=gateway.url, job=job)).series
    skipped = [s["stack"] for s in json.loads(second.read_text())["stacks"]]
    assert skipped and all(
        after.get(stack) == before.get(stack) for stack in skipped
    )  # neither planned nor lost
    planned = [s["stack"] for r in (first, third) for s in json.loads(r.read_text())["stacks"]]
    assert all(stack in after for stack in planned) and "retired/vpc" not in after
