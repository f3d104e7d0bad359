"""The command line end to end: real stacks, real Terraform, the documented exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, driftctl, write_stack
from pushgateway_server import Reply, recording_server


def test_stacks_lists_ids_one_per_line(live: Path) -> None:
    result = driftctl("stacks", "--root", str(live), "--tool", "terraform")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["dev/broken", "prod/clean", "prod/drifted"]


def test_stacks_json_has_paths(live: Path) -> None:
    result = driftctl(
        "stacks", "--root", str(live), "--tool", "terraform", "--format", "json", "--exclude", "dev/*"
    )
    rows = json.loads(result.stdout)
    assert [row["stack"] for row in rows] == ["prod/clean", "prod/drifted"]
    assert rows[0]["path"] == str((live / "prod" / "clean").resolve())


def test_plan_all_reports_each_state_and_exits_1_on_error(live: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = driftctl("plan", "--all", "--root", str(live), "--tool", "terraform", "--report", str(report))
    assert result.returncode == 1, result.stderr
    data = json.loads(report.read_text())
    states = {row["stack"]: row["state"] for row in data["stacks"]}
    assert states == {"prod/drifted": "drifted", "dev/broken": "errored", "prod/clean": "clean"}
    assert [row["stack"] for row in data["stacks"]] == ["prod/drifted", "dev/broken", "prod/clean"]
    assert data["summary"] == {
        "total": 3,
        "clean": 1,
        "drifted": 1,
        "errored": 1,
        "outside": 0,
        "checks_failing": 0,
        "ignored": 0,
    }
    assert data["stacks"][0]["resources"] == {"add": 0, "change": 0, "destroy": 0, "replace": 1}
    assert data["stacks"][1]["error"]["kind"] == "config"
    assert "prod/drifted" in result.stdout and "errored" in result.stdout
    # not a terminal: plain line-per-stack progress on stderr, for CI logs
    assert any(line.startswith("drifted  prod/drifted") for line in result.stderr.splitlines())


def test_drift_without_errors_exits_2_and_fail_on_changes_it(live: Path) -> None:
    common = ("plan", "--root", str(live), "--tool", "terraform", "--format", "json")
    drift = driftctl(*common, str(live / "prod"))
    assert drift.returncode == 2, drift.stderr
    assert json.loads(drift.stdout)["summary"]["drifted"] == 1
    assert driftctl(*common, "--fail-on", "error", str(live / "prod")).returncode == 0
    assert driftctl(*common, "--fail-on", "never", "--all").returncode == 0
    assert driftctl(*common, str(live / "prod" / "clean")).returncode == 0


def test_markdown_format(live: Path) -> None:
    result = driftctl(
        "plan", "--root", str(live), "--tool", "terraform", "--format", "markdown", str(live / "prod")
    )
    assert result.stdout.startswith("### driftctl: 1 drifted, 0 errored, 1 clean of 2 stacks")
    assert "| `prod/drifted` |" in result.stdout


def test_config_file_and_env_and_flag_precedence(live: Path) -> None:
    (live / ".driftctl.yaml").write_text("tool: terraform\nexclude: ['dev/*']\nformat: json\n")
    env = dict(os.environ, DRIFTCTL_FAIL_ON="never")
    from_file = driftctl("plan", "--all", "--root", str(live), env=env)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["summary"]["total"] == 2
    flag_wins = driftctl("plan", "--all", "--root", str(live), "--fail-on", "drift", env=env)
    assert flag_wins.returncode == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("parallelism: 0\n", ".driftctl.yaml:1: parallelism: must be at least 1, got 0"),
        ("tool: terraform\nparalelism: 2\n", ".driftctl.yaml:2: paralelism: unknown option"),
        ("timeout: soon\n", ".driftctl.yaml:1: timeout: expected a duration"),
        ("tool: [\n", ".driftctl.yaml:2: invalid YAML"),
    ],
)
def test_bad_config_is_one_line_exit_3(live: Path, content: str, expected: str) -> None:
    (live / ".driftctl.yaml").write_text(content)
    result = driftctl("plan", "--all", "--root", str(live))
    assert result.returncode == 3
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_3(live: Path) -> None:
    nothing = driftctl("plan", "--root", str(live))
    assert nothing.returncode == 3
    assert "give one of --all, --changed or the paths" in nothing.stderr
    unknown_flag = driftctl("plan", "--all", "--bogus")
    assert unknown_flag.returncode == 3
    missing = driftctl("plan", "--root", str(live), "--tool", "terraform", str(live / "nope"))
    assert missing.returncode == 3
    assert "nope: no such file or directory" in missing.stderr


def test_bad_env_value_names_the_variable(live: Path) -> None:
    result = driftctl("stacks", "--root", str(live), env=dict(os.environ, DRIFTCTL_PARALLELISM="lots"))
    assert result.returncode == 3
    assert "DRIFTCTL_PARALLELISM: expected a whole number, got 'lots'" in result.stderr


def test_missing_tool_is_an_operational_error(live: Path) -> None:
    result = driftctl("plan", "--all", "--root", str(live), "--tool-binary", "no-such-terragrunt")
    assert result.returncode == 1
    assert "no-such-terragrunt: not found on PATH" in result.stderr


def test_help_documents_exit_codes() -> None:
    result = driftctl("plan", "--help")
    assert result.returncode == 0
    assert "3  usage or configuration error" in result.stdout


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_running_plans(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    pid_file = tmp_path / "tool.pid"
    fake = tmp_path / "terraform"
    fake.write_text(
        f"#!{sys.executable}\nimport os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    fake.chmod(0o755)
    (tmp_path / "live" / "a").mkdir(parents=True)
    (tmp_path / "live" / "a" / "main.tf").write_text("")
    command = [sys.executable, "-m", "driftctl", "plan", "--all", "--root", str(tmp_path / "live")]
    command += ["--tool", "terraform", "--tool-binary", str(fake), "--log-dir", str(tmp_path / "logs")]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.exists(), "the plan never started"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code
    assert "running plans were stopped" in stderr
    assert "Traceback" not in stderr
    tool_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{tool_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{tool_pid}").exists(), "the tool outlived driftctl"


def test_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    """A tool that ignores SIGTERM would hold the run for the 10s grace; a second Ctrl-C ends it now."""
    pid_file = tmp_path / "tool.pid"
    fake = tmp_path / "terraform"
    fake.write_text(
        f"#!{sys.executable}\nimport os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    fake.chmod(0o755)
    (tmp_path / "live" / "a").mkdir(parents=True)
    (tmp_path / "live" / "a" / "main.tf").write_text("")
    command = [sys.executable, "-m", "driftctl", "plan", "--all", "--root", str(tmp_path / "live")]
    command += ["--tool", "terraform", "--tool-binary", str(fake), "--log-dir", str(tmp_path / "logs")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.exists(), "the plan never started"
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - interrupted
    assert process.returncode == 130, stderr
    assert took < 4, f"exited {took:.1f}s after the second Ctrl-C"
    assert "Traceback" not in stderr
    assert not _process_alive(int(pid_file.read_text())), "the tool outlived driftctl"


def _process_alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_a_stack_name_that_is_not_utf8_is_planned_and_printed_unambiguously(
    live: Path, tmp_path: Path
) -> None:
    odd = Path(os.fsdecode(os.fsencode(live / "prod") + b"/caf\xe9"))
    write_stack(odd)
    base = [sys.executable, "-m", "driftctl"]
    common = ["--root", str(live), "--tool", "terraform", "--include", "prod/*"]
    listed = subprocess.run([*base, "stacks", *common], capture_output=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.decode("utf-8").splitlines() == ['"prod/caf\\xe9"', "prod/clean", "prod/drifted"]
    as_json = subprocess.run([*base, "stacks", *common, "--format", "json"], capture_output=True, timeout=60)
    assert json.loads(as_json.stdout.decode("utf-8"))[0]["stack"] == '"prod/caf\\xe9"'
    report = tmp_path / "report.json"
    planned = subprocess.run(
        [*base, "plan", "--all", *common, "--report", str(report), "--dry-run-push"],
        capture_output=True,
        timeout=300,
    )
    assert b"Traceback" not in planned.stderr
    assert planned.returncode == 2, planned.stderr  # every stack planned: two drifted, one clean
    states = {row["stack"]: row["state"] for row in json.loads(report.read_text(encoding="utf-8"))["stacks"]}
    assert states == {'"prod/caf\\xe9"': "drifted", "prod/drifted": "drifted", "prod/clean": "clean"}
    assert 'drift_stack_state{stack="\\"prod/caf\\\\xe9\\""} 1.0' in planned.stdout.decode("utf-8")


def test_escaped_secret_never_reaches_the_log_report_or_markdown(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    secret = 'Quo"te\\Secret-77'
    forms = (secret, 'Quo\\"te\\\\Secret-77', "Quo%22te%5CSecret-77")
    root = tmp_path / "live"
    body = 'variable "plain" {\n  default = "Quo\\"te\\\\Secret-77"\n}\n'
    write_stack(
        root / "drifted",
        body + 'resource "null_resource" "r" {\n  triggers = { u = urlencode(var.plain) }\n}\n',
    )
    write_stack(
        root / "broken",
        body + 'resource "null_resource" "r" {\n  triggers = { x = file("/no/${var.plain}") }\n}\n',
    )
    report, logs = tmp_path / "report.json", tmp_path / "logs"
    common = ["plan", "--all", "--root", str(root), "--tool", "terraform", "--log-dir", str(logs)]
    environ = dict(tf_environ, MY_SECRET=secret)
    as_json = driftctl(*common, "--report", str(report), env=environ)
    markdown = driftctl(*common, "--format", "markdown", env=environ)
    assert as_json.returncode == markdown.returncode == 1, as_json.stderr
    # the error is kept, from the diagnostic (whose detail quotes the path, masked)
    assert (
        "Invalid function argument" in report.read_text() and "Invalid function argument" in markdown.stdout
    )
    assert "***" in report.read_text()
    kept = [report.read_text(), markdown.stdout, as_json.stdout, as_json.stderr]
    kept += [log.read_text() for log in logs.glob("*.log")]
    assert [form for form in forms for text in kept if form in text] == []


def test_messages_stay_on_one_line_on_a_narrow_terminal(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on: the read-back fails
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    (tmp_path / "live" / "a").mkdir(parents=True)
    (tmp_path / "live" / "a" / "main.tf").write_text("")
    logs = tmp_path / "logs-in-a-directory-with-a-long-name"
    result = driftctl(
        *(
            "plan",
            "--all",
            "--root",
            str(tmp_path / "live"),
            "--tool",
            "terraform",
            "--tool-binary",
            str(fake),
        ),
        *("--log-dir", str(logs), "--push", "--pushgateway", closed),
        env=dict(os.environ, COLUMNS="40"),
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert any("planning 1 stacks" in line and line.endswith(str(logs)) for line in lines), lines
    errors = [line for line in lines if line.startswith("driftctl:")]
    assert len(errors) == 1 and closed in errors[0] and errors[0].endswith("(--allow-reset pushes anyway)"), (
        lines
    )


def test_tool_binary_that_is_not_executable(live: Path) -> None:
    result = driftctl(
        "plan", "--all", "--root", str(live), "--tool", "terraform", "--tool-binary", "/etc/passwd"
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("driftctl: /etc/passwd: not executable")
    missing = driftctl("plan", "--all", "--root", str(live), "--tool-binary", str(live / "no-such-tool"))
    assert "no-such-tool: no such file" in missing.stderr


@pytest.mark.parametrize(
    ("given", "named"),
    [(("--all", "--changed"), "not --all and --changed"), (("--all", "prod"), "not --all and paths")],
)
def test_plan_with_two_selections_names_them(tmp_path: Path, given: tuple[str, ...], named: str) -> None:
    (tmp_path / "prod").mkdir()
    result = driftctl("plan", "--root", str(tmp_path), *given, cwd=tmp_path)
    assert result.returncode == 3
    assert "give only one of --all, --changed or stack paths" in result.stderr and named in result.stderr


def test_alerts_render_defaults_are_the_shipped_rules() -> None:
    result = driftctl("alerts", "render")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "alerts" / "drift.rules.yml").read_text()


def test_alerts_render_takes_thresholds_from_flags_and_config(tmp_path: Path) -> None:
    (tmp_path / ".driftctl.yaml").write_text("alert_many_stacks: 4\njob: nightly-drift\n")
    output = tmp_path / "rules.yml"
    result = driftctl("alerts", "render", "--root", str(tmp_path), "--stale-hours", "50", "-o", str(output))
    assert result.returncode == 0, result.stderr
    rules = output.read_text()
    assert 'drift_stack_count{job="nightly-drift"} > 4' in rules
    assert "> 50 * 3600" in rules


def test_alerts_render_rejects_bad_thresholds() -> None:
    result = driftctl("alerts", "render", "--many-stacks", "0")
    assert result.returncode == 3
    assert result.stderr.strip() == "driftctl: --many-stacks: must be at least 1, got 0"


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """The bundled example as a git repository with one commit."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "examples" / "live", root)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "initial")
    return root


def test_stacks_changed_explain_gives_the_chain(example_repo: Path) -> None:
    network = example_repo / "prod" / "network" / "terragrunt.hcl"
    network.write_text(network.read_text() + "\n# resized\n")
    _git(example_repo, "commit", "-qam", "resize prod network")
    listed = driftctl("stacks", "--changed", "--root", str(example_repo))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["prod/app", "prod/network"]
    explained = driftctl("stacks", "--changed", "--explain", "--root", str(example_repo)).stdout
    assert any(line.startswith("prod/app <- ") and "prod/network" in line for line in explained.splitlines())


def test_plan_changed_reports_removed_stacks(example_repo: Path, tmp_path: Path) -> None:
    shutil.rmtree(example_repo / "staging")
    _git(example_repo, "commit", "-qam", "retire staging")
    report = tmp_path / "report.json"
    standin = str(REPO / "tests" / "terragrunt_standin" / "terragrunt")
    result = driftctl(
        "plan", "--changed", "--root", str(example_repo), "--report", str(report), "--tool-binary", standin
    )
    assert result.returncode == 0, result.stderr
    assert "removed since the base" in result.stderr and "staging/app" in result.stderr
    data = json.loads(report.read_text())
    assert (data["mode"], data["removed"], data["stacks"]) == ("changed", ["staging/app"], [])


def test_changed_errors_are_usage_errors(example_repo: Path, tmp_path: Path) -> None:
    bad_ref = driftctl("stacks", "--changed", "--base", "no-such-branch", "--root", str(example_repo))
    assert bad_ref.returncode == 3
    assert "no-such-branch" in bad_ref.stderr and "Traceback" not in bad_ref.stderr
    plain_dir = tmp_path / "not-git"
    shutil.copytree(REPO / "examples" / "live", plain_dir)
    not_git = driftctl("plan", "--changed", "--root", str(plain_dir))
    assert not_git.returncode == 3
    assert "not inside a git work tree" in not_git.stderr
    both = driftctl("plan", "--changed", "--all", "--root", str(example_repo))
    assert both.returncode == 3


# ---- driftctl show ----


def test_show_without_a_report_or_a_known_stack_is_a_usage_error(tmp_path: Path) -> None:
    report = tmp_path / "drift.json"
    report.write_text(
        json.dumps({"root": "/r", "tool": "terraform", "finished_at": "2026-12-02T08:00:00Z", "stacks": []}),
        encoding="utf-8",
    )
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")

    missing = driftctl("show", "prod/app", "--root", str(tmp_path))
    unknown = driftctl("show", "prod/app", "--report", str(report))
    broken = driftctl("show", "prod/app", "--report", str(tmp_path / "bad.json"))
    absent = driftctl("show", "prod/app", "--report", str(tmp_path / "nope.json"))

    assert missing.returncode == 3
    assert (
        missing.stderr == "driftctl: no report to read: give --report FILE (or report: in .driftctl.yaml)\n"
    )
    assert unknown.returncode == 3
    assert unknown.stderr.startswith(f"driftctl: prod/app: not in {report} (it holds 0 stacks;")
    assert broken.returncode == 3 and broken.stderr.startswith(
        f"driftctl: {tmp_path / 'bad.json'}: not a driftctl report"
    )
    assert absent.returncode == 3 and "cannot read the report: No such file or directory" in absent.stderr
    for result in (missing, unknown, broken, absent):
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


# ---- never silent: discovering nothing is exit 3, and nothing reaches the gateway (issue 13 item 2) ----


def _tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        ({}, (), "no directory with *.tf files under"),
        ({"a/terragrunt.hcl": ""}, ("--tool", "terraform"), "try --tool terragrunt"),
        ({"a/main.tf": ""}, ("--tool", "terragrunt"), "try --tool terraform"),
        ({"a/main.tf": ""}, ("--include", "prod/*"), "--include 'prod/*' matches none of the 1 stacks"),
        ({"a/main.tf": ""}, ("--exclude", "*"), "--include/--exclude leave none of the 1 stacks"),
        ({"a/terragrunt.hcl": "skip = true\n"}, (), "every unit under"),
    ],
)
def test_finding_nothing_exits_3_and_pushes_nothing(
    tmp_path: Path, files: dict[str, str], args: tuple[str, ...], expected: str
) -> None:
    root = _tree(tmp_path / "repo", files)
    listed = driftctl("stacks", "--root", str(root), *args)
    with recording_server({"GET": [Reply(200, b"")], "PUT": [Reply(200)]}) as server:
        planned = driftctl("plan", "--all", "--root", str(root), "--push", "--pushgateway", server.url, *args)

    for result in (listed, planned):
        assert result.returncode == 3, result.stderr
        assert expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert server.requests == []


def test_wrong_root_names_it(tmp_path: Path) -> None:
    result = driftctl("stacks", "--root", str(tmp_path / "typo"))
    assert result.returncode == 3
    assert f"{tmp_path / 'typo'}: not a directory (--root)" in result.stderr


def test_terraform_repo_with_the_default_tool_lists_its_stacks(tmp_path: Path) -> None:
    root = _tree(tmp_path / "repo", {"prod/app/main.tf": "", "modules/x/main.tf": ""})
    result = driftctl("stacks", "--root", str(root), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [(row["stack"], row["tool"]) for row in json.loads(result.stdout)] == [("prod/app", "terraform")]


def test_help_shows_the_tool_default() -> None:
    result = driftctl("stacks", "--help")
    assert "auto" in result.stdout and "[default: auto]" in result.stdout


def test_changed_selecting_nothing_in_a_non_empty_repo_is_a_clean_exit(example_repo: Path) -> None:
    (example_repo / "README.md").write_text("docs\n")
    _git(example_repo, "add", "-A")
    _git(example_repo, "commit", "-qm", "docs")
    result = driftctl("stacks", "--changed", "--root", str(example_repo))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_stacks_shows_excluded_units_and_why(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "repo",
        {
            "root.hcl": "",
            "app/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
            "old/terragrunt.hcl": 'exclude {\n  if = true\n  actions = ["all"]\n}\n',
            "maybe/terragrunt.hcl": 'exclude {\n  if = feature.x.value\n  actions = ["plan"]\n}\n',
        },
    )
    plain = driftctl("stacks", "--root", str(root))
    shown = driftctl("stacks", "--root", str(root), "--show-excluded", "--format", "json")

    assert plain.stdout.split() == ["app", "maybe"]
    assert "1 unit excluded" in plain.stderr and "--show-excluded" in plain.stderr
    assert "maybe: exclude block in maybe/terragrunt.hcl: if = feature.x.value unknown" in plain.stderr
    rows = {row["stack"]: row for row in json.loads(shown.stdout)}
    assert rows["old"]["excluded"].startswith("exclude block in old/terragrunt.hcl (if = true")
    assert rows["app"]["excluded"] is None and rows["maybe"]["notes"]
