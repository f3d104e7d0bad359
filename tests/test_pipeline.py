"""A whole run with metrics: real Terraform plans, pushed to a real Pushgateway through the CLI."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from conftest import NULL_STACK, applied_stack, driftctl, write_stack
from pushgateway_server import (
    Pushgateway,
    Reply,
    recording_server,
)

from driftctl import config, pipeline, report
from driftctl.model import PlanResult, RunReport, Stack, Tool


def _values(gateway: Pushgateway, metric: str) -> dict[str, float]:
    group = gateway.group({"job": "drift-detection"})
    assert group is not None, "nothing was pushed"
    if metric not in group:
        return {}
    return {sample["labels"].get("stack", ""): float(sample["value"]) for sample in group[metric]["metrics"]}


def _plan(live: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = driftctl("plan", "--all", "--root", str(live), "--tool", "terraform", *extra, env=env)
    return result.returncode, result.stderr


def test_push_then_second_run_keeps_first_seen_and_clean_resets(live: Path, gateway: Pushgateway) -> None:
    code, stderr = _plan(live, "--push", "--pushgateway", gateway.url)
    assert code == 1, stderr  # a stack errored; the metrics are pushed all the same
    assert "pushed 3 stacks in one batch" in stderr
    assert _values(gateway, "drift_stack_state") == {"prod/drifted": 1, "dev/broken": 2, "prod/clean": 0}
    first_seen = _values(gateway, "drift_stack_first_seen")
    assert set(first_seen) == {"prod/drifted"}
    assert _values(gateway, "drift_stack_count") == {"": 1}

    code, stderr = _plan(live, "--push", env=dict(os.environ, DRIFTCTL_PUSHGATEWAY_URL=gateway.url))
    assert code == 1, stderr
    assert _values(gateway, "drift_stack_first_seen") == first_seen
    assert _values(gateway, "drift_stack_consecutive_errors")["dev/broken"] == 2

    write_stack(live / "prod" / "drifted", NULL_STACK)  # back to what is deployed
    _plan(live, "--push", "--pushgateway", gateway.url)
    assert _values(gateway, "drift_stack_state")["prod/drifted"] == 0
    assert "prod/drifted" not in _values(gateway, "drift_stack_first_seen")


def test_unreadable_gateway_means_no_push_and_report_still_written(live: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with recording_server({"GET": [Reply(500, b"boom")], "PUT": [Reply(200)]}) as server:
        code, stderr = _plan(live, "--push", "--pushgateway", server.url, "--report", str(report))
    assert code == 1
    assert "read-back failed" in stderr and "not pushing" in stderr
    assert "PUT" not in server.methods()
    assert json.loads(report.read_text())["summary"]["total"] == 3
    assert "Traceback" not in stderr


def test_allow_reset_pushes_over_a_failed_read_back(live: Path) -> None:
    with recording_server({"GET": [Reply(200, b"not json")], "PUT": [Reply(200)]}) as server:
        code, stderr = _plan(live, "--push", "--pushgateway", server.url, "--allow-reset")
    assert code == 1  # the broken stack
    assert server.methods().count("PUT") == 1
    assert "first-seen times were reset" in stderr


def test_dry_run_prints_the_exposition_and_pushes_nothing(live: Path) -> None:
    result = driftctl(
        "plan", "--all", "--root", str(live), "--tool", "terraform", "--dry-run-push", "--format", "json"
    )
    exposition = result.stdout[result.stdout.index("# HELP") :]
    assert 'drift_stack_state{stack="prod/drifted"} 1.0' in exposition
    assert "drift_detection_last_run_timestamp" in exposition


def test_bad_pushgateway_settings_fail_before_any_plan(live: Path) -> None:
    result = driftctl(
        "plan",
        "--all",
        "--root",
        str(live),
        "--tool",
        "terraform",
        "--push",
        "--pushgateway",
        "ftp://nope",
    )
    assert result.returncode == 3
    assert "planning" not in result.stderr
    no_url = driftctl("plan", "--all", "--root", str(live), "--tool", "terraform", "--push")
    assert no_url.returncode == 3
    assert "--push needs --pushgateway" in no_url.stderr


def test_credentials_never_printed(live: Path) -> None:
    env = dict(os.environ, DRIFTCTL_PUSHGATEWAY_PASSWORD="hunter2-secret")
    env["DRIFTCTL_PUSHGATEWAY_USERNAME"] = "ops"
    with recording_server({"GET": [Reply(503, b"down")]}) as server:
        with_userinfo = server.url.replace("//", "//ops:urlsecret99@")
        from_env = _plan(live, "--push", "--pushgateway", server.url, env=env)
        in_url = _plan(live, "--push", "--pushgateway", with_userinfo)
        both = _plan(live, "--push", "--pushgateway", with_userinfo, env=env)
    assert (from_env[0], in_url[0], both[0]) == (1, 1, 3)
    for _, stderr in (from_env, in_url, both):
        assert "hunter2-secret" not in stderr and "urlsecret99" not in stderr
    assert "read-back failed" in in_url[1]


class _StartOrder:
    def __init__(self) -> None:
        self.stacks: list[str] = []

    def started(self, stack: Stack, attempt: int) -> None:
        self.stacks.append(stack.id)

    def finished(self, result: PlanResult) -> None:
        pass


def test_second_run_starts_the_slowest_stacks_first(tmp_path: Path, gateway: Pushgateway) -> None:
    fake = tmp_path / "terraform"
    fake.write_text(
        f"#!{sys.executable}\nimport os, time\n"
        "time.sleep({'fast': 0.05, 'slow': 0.6, 'middle': 0.3}[os.path.basename(os.getcwd())])\n"
    )
    fake.chmod(0o755)
    for name in ("fast", "middle", "slow"):
        (tmp_path / "live" / name).mkdir(parents=True)
        (tmp_path / "live" / name / "main.tf").write_text("")
    cfg = config.load(
        {"root": str(tmp_path / "live"), "tool": "terraform", "tool_binary": str(fake), "parallelism": 1},
        {},
    )
    cfg = replace(cfg, push=True, pushgateway_url=gateway.url, init=False)
    for expected in (["fast", "middle", "slow"], ["slow", "middle", "fast"]):
        seen = _StartOrder()
        outcome = pipeline.plan(cfg, pipeline.select(cfg), tmp_path / "logs", observer=seen, environ={})
        assert outcome.published is not None and outcome.published.pushed
        assert seen.stacks == expected


def test_unwritable_report_or_log_dir_fail_before_any_plan(live: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag in ("--report", "--log-dir"):
        result = driftctl(
            "plan", "--all", "--root", str(live), "--tool", "terraform", flag, str(blocker / "x")
        )
        assert result.returncode == 3, result.stderr
        assert str(blocker / "x") in result.stderr
        assert "planning" not in result.stderr and "Traceback" not in result.stderr


def test_a_report_that_cannot_be_written_is_an_error_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = RunReport(
        started_at=datetime.now(timezone.utc),
        finished_at=datetime.now(timezone.utc),
        root=tmp_path,
        tool=Tool.TERRAFORM,
        mode="all",
        results=(),
    )
    message = pipeline.write_report(blocker / "report.json", run)
    assert message is not None and message.startswith(f"{blocker / 'report.json'}: cannot write the report")
    assert pipeline.write_report(tmp_path / "ok.json", run) is None
    assert json.loads((tmp_path / "ok.json").read_text())["version"] == report.REPORT_VERSION


# ---- what drifted, end to end: names in every output, values in none ----

SECRET_STACK = """
variable "token" {
  type    = string
  default = "Output-Secret-OLD-5519"
}

resource "null_resource" "pw" {
  triggers = { password = "Trigger-Secret-OLD-7781", owner = "a" }
}

resource "null_resource" "kept" {
  triggers = { value = "x" }
}

output "token" {
  value = var.token
}
"""
SECRETS = (
    "Trigger-Secret-OLD-7781",
    "Trigger-Secret-NEW-7781",
    "Output-Secret-OLD-5519",
    "Output-Secret-NEW-5519",
)


def test_planted_secrets_reach_no_log_report_table_markdown_or_metric(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    """Values the redactor knows nothing of (not in the environment): kept out by construction."""
    root = tmp_path / "live"
    stack = applied_stack(tf_environ, root / "prod" / "app", SECRET_STACK)
    write_stack(stack, SECRET_STACK.replace("OLD", "NEW"))
    logs, report_file = tmp_path / "logs", tmp_path / "drift.json"
    common = ("plan", "--all", "--root", str(root), "--tool", "terraform", "--log-dir", str(logs))

    as_json = driftctl(*common, "--format", "json", "--report", str(report_file), "--dry-run-push")
    as_markdown = driftctl(*common, "--format", "markdown")
    as_table = driftctl(*common, "--detail")
    shown = driftctl("show", "prod/app", "--report", str(report_file), "--root", str(root))

    outputs = [r.stdout + r.stderr for r in (as_json, as_markdown, as_table, shown)]
    outputs += [path.read_text(encoding="utf-8") for path in sorted(logs.iterdir()) if path.is_file()]
    outputs.append(report_file.read_text(encoding="utf-8"))
    assert len(outputs) == 6  # four commands, one log, one report
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text
            assert secret.replace("-", "") not in text.replace("-", "")
    # what drifted is still named: address, action, attribute
    document = json.loads(report_file.read_text(encoding="utf-8"))
    (entry,) = document["stacks"]
    assert entry["state"] == "drifted"
    assert [(c["address"], c["action"], c["attributes"]) for c in entry["changes"]] == [
        ("null_resource.pw", "replace", ["triggers.password"])
    ]
    assert "- replace `null_resource.pw`: `triggers.password`" in as_markdown.stdout
    assert 'drift_stack_resource_changes{action="replace",stack="prod/app"} 1.0' in as_json.stdout
    for table in (as_table.stdout, shown.stdout):
        row = next(line for line in table.splitlines() if "null_resource.pw" in line)
        assert "replace" in row and "triggers.password" in row


def test_ignore_rules_from_the_config_make_a_stack_clean_and_stay_listed(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "live"
    stack = applied_stack(tf_environ, root / "prod" / "app", SECRET_STACK)
    write_stack(stack, SECRET_STACK.replace('owner = "a"', 'owner = "b"'))
    report_file = tmp_path / "drift.json"
    (root / ".driftctl.yaml").write_text(
        "ignore:\n"
        "  - stack: prod/*\n    type: null_resource\n    attribute: triggers.owner\n"
        "    reason: owner tags are set by a bot\n"
        "  - address: null_resource.*\n    reason: expired\n    until: 2020-01-01\n",
        encoding="utf-8",
    )
    common = ("plan", "--all", "--root", str(root), "--tool", "terraform", "--report", str(report_file))

    result = driftctl(*common)
    suggested = driftctl("plan", "--all", "--root", str(root), "--tool", "terraform", "--suggest-ignore")

    assert result.returncode == 0, result.stderr
    assert f"{root / '.driftctl.yaml'}:6: ignore rule expired on 2020-01-01" in result.stderr
    (entry,) = json.loads(report_file.read_text(encoding="utf-8"))["stacks"]
    assert entry["state"] == "clean" and entry["ignored"] == 1
    assert entry["changes"][0]["ignored_by"] == "owner tags are set by a bot"
    assert entry["changes"][0]["ignored_attributes"] == ["triggers.owner"]
    assert suggested.stdout == "ignore: []\n"  # everything this run saw is already ignored
