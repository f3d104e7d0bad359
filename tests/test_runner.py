"""The runner against the real Terraform (and, as a second pass, a newer one on PATH when present)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NULL_STACK, applied_stack, terraform, terraform_binary, write_stack

from driftctl.model import CheckResult, ErrorKind, PlanResult, ResourceChange, Stack, State, Tool
from driftctl.runner import (
    ERROR_LINE_CHARS,
    ERROR_MESSAGE_LINES,
    RunnerOptions,
    log_name,
    plan_stack,
    run_plans,
)

# ~1 MB of `show -json` on one line: far over the 64 KiB at which logged lines are split
BIG_RESOURCES = 400
BIG_STACK = (
    NULL_STACK
    + f"""
resource "null_resource" "many" {{
  count = {BIG_RESOURCES}
  triggers = {{
"""
    + "".join(f'    {key} = "${{count.index}}-{key * 100}"\n' for key in "abcd")
    + "  }\n}\n"
)

SECOND_TERRAFORM = Path("/usr/local/bin/terraform")


def _terraform_versions() -> list[str]:
    versions = ["pinned"]
    if SECOND_TERRAFORM.is_file() and os.access(SECOND_TERRAFORM, os.X_OK):
        versions.append("path")  # a newer Terraform 1.x some machines have: a second pass, never required
    return versions


@pytest.fixture(params=_terraform_versions())
def tf_binary(request: pytest.FixtureRequest, tf_environ: dict[str, str]) -> str:
    return terraform_binary(tf_environ) if request.param == "pinned" else str(SECOND_TERRAFORM)


def _options(binary: str, tmp_path: Path, **overrides: object) -> RunnerOptions:
    settings: dict[str, object] = {
        "binary": binary,
        "tool": Tool.TERRAFORM,
        "log_dir": tmp_path / "logs",
        "retry_backoff": 0.05,
        "kill_grace": 2.0,
        "environ": dict(os.environ),
    }
    settings.update(overrides)
    return RunnerOptions(**settings)  # type: ignore[arg-type]


def _plan(directory: Path, options: RunnerOptions) -> PlanResult:
    return plan_stack(Stack(id=directory.name, path=directory, tool=Tool.TERRAFORM), options)


def _apply(environ: dict[str, str], directory: Path, binary: str, body: str = NULL_STACK) -> Path:
    write_stack(directory, body)
    terraform(environ, directory, "init", "-input=false", "-no-color", binary=binary)
    terraform(environ, directory, "apply", "-auto-approve", "-input=false", "-no-color", binary=binary)
    return directory


def test_applied_stack_is_clean(tf_binary: str, tf_environ: dict[str, str], tmp_path: Path) -> None:
    stack = _apply(tf_environ, tmp_path / "net", tf_binary)
    result = _plan(stack, _options(tf_binary, tmp_path))
    assert result.state is State.CLEAN
    assert result.exit_code == 0
    assert result.resources.total == 0
    assert result.error is None
    assert result.attempts == 1


def test_missing_resource_is_drift_with_add_count(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = write_stack(tmp_path / "fresh")  # never applied: the runner's own init, then a plan that adds
    result = _plan(stack, _options(tf_binary, tmp_path))
    assert result.state is State.DRIFTED
    assert result.exit_code == 2
    assert (result.resources.add, result.resources.replace, result.resources.destroy) == (1, 0, 0)


def test_changed_trigger_counts_a_replacement(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "app", tf_binary)
    write_stack(stack, NULL_STACK.replace('default = "one"', 'default = "two"'))
    result = _plan(stack, _options(tf_binary, tmp_path))
    assert result.state is State.DRIFTED
    assert result.resources.replace == 1
    assert result.resources.add == 0


def test_removed_resource_counts_a_destroy(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "dns", tf_binary)
    write_stack(stack, 'variable "value" {\n  default = "one"\n}\n')
    result = _plan(stack, _options(tf_binary, tmp_path))
    assert result.state is State.DRIFTED
    assert result.resources.destroy == 1


def test_output_only_change_is_clean_unless_asked(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "out", tf_binary)
    write_stack(stack, NULL_STACK.replace("value = var.value\n}", 'value = "${var.value}-renamed"\n}'))
    assert _plan(stack, _options(tf_binary, tmp_path)).state is State.CLEAN
    counted = _plan(stack, _options(tf_binary, tmp_path, outputs_count_as_drift=True))
    assert counted.state is State.DRIFTED
    assert counted.resources.total == 0


def test_config_error_is_errored_and_not_retried(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = write_stack(
        tmp_path / "bad", 'resource "null_resource" "r" {\n  triggers = { x = var.nope }\n}\n'
    )
    result = _plan(stack, _options(tf_binary, tmp_path, retries=3))
    assert result.state is State.ERRORED
    assert result.exit_code == 1
    assert result.error is not None
    assert result.error.kind is ErrorKind.CONFIG
    assert "Reference to undeclared input variable" in result.error.message
    assert result.attempts == 1
    assert result.log_path is not None and "undeclared" in result.log_path.read_text()


def test_plan_file_is_deleted_after_reading(tf_environ: dict[str, str], tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "fresh")
    options = _options(terraform_binary(tf_environ), tmp_path)
    _plan(stack, options)
    assert not list(options.log_dir.glob("*.tfplan")), "a saved plan holds every value, secrets included"


def test_secret_values_never_reach_the_log(tf_environ: dict[str, str], tmp_path: Path) -> None:
    secret = "s3cr3t-Value-42"
    stack = write_stack(tmp_path / "sec", NULL_STACK.replace('"one"', f'"{secret}"'))
    environ = dict(tf_environ, DB_PASSWORD=secret)
    result = _plan(stack, _options(terraform_binary(tf_environ), tmp_path, environ=environ))
    assert result.state is State.DRIFTED
    assert result.log_path is not None
    log = result.log_path.read_text()
    assert "null_resource.thing" in log
    assert secret not in log


QUOTED_SECRET = 'Quo"te\\Secret-77'
# the forms Terraform prints it in: as is, HCL-escaped in values and source, URL-encoded by urlencode()
QUOTED_SECRET_FORMS = (QUOTED_SECRET, 'Quo\\"te\\\\Secret-77', "Quo%22te%5CSecret-77")
SECRET_STACK = """
variable "plain" {
  default = "Quo\\"te\\\\Secret-77"
}
resource "null_resource" "r" {
  triggers = { plain = var.plain, url = urlencode(var.plain) }
}
"""


def test_escaped_and_encoded_forms_of_a_secret_never_reach_the_log(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = write_stack(tmp_path / "escaped", SECRET_STACK)
    environ = dict(tf_environ, MY_SECRET=QUOTED_SECRET)
    # --log-plan: the human plan, which prints values, is in the log, masked
    result = _plan(stack, _options(terraform_binary(tf_environ), tmp_path, environ=environ, log_plan=True))
    assert result.state is State.DRIFTED and result.log_path is not None
    log = result.log_path.read_text()
    assert "null_resource.r" in log and '"plain" = "***"' in log
    assert [form for form in QUOTED_SECRET_FORMS if form in log] == []


SENSITIVE_STACK = """
variable "db_pass" {
  type      = string
  sensitive = true
  default   = "Zq9-sensitive-value"
}
resource "null_resource" "marked" {
  triggers = { pass = var.db_pass }
}
resource "null_resource" "copied" {
  triggers = { copy = nonsensitive(var.db_pass) }
}
"""


def test_values_the_plan_marks_sensitive_never_reach_the_log(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    """No environment variable names it: only `show -json` says the value is sensitive."""
    stack = write_stack(tmp_path / "sensitive", SENSITIVE_STACK)
    # --log-plan: the human plan, which prints values, is in the log, masked
    result = _plan(stack, _options(terraform_binary(tf_environ), tmp_path, log_plan=True))
    assert result.state is State.DRIFTED and result.log_path is not None
    log = result.log_path.read_text()
    assert '"copy" = "***"' in log  # Terraform printed it in clear, through nonsensitive()
    assert "Zq9-sensitive-value" not in log
    assert not [p for p in result.log_path.parent.iterdir() if p.name.startswith(".")], "no temporary left"


# ---- behaviour of the engine itself, with scripted stand-ins for the tool ----


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\nimport os, sys, time, subprocess\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    binary = _script(
        tmp_path / "hang",
        f"child = subprocess.Popen(['sleep', '300'])\nopen({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(300)",
    )
    stack = tmp_path / "slow"
    stack.mkdir()
    started = time.monotonic()
    result = _plan(stack, _options(binary, tmp_path, timeout=1.0, init=False))
    assert time.monotonic() - started < 20
    assert result.state is State.ERRORED
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert result.attempts == 1  # a timeout is not retried: it would take as long again
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the tool's own child must die with it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(sys.argv[1], 'w').write('ready')\n"
    "time.sleep(300)\n"
)


def _spawn_stubborn_grandchild(pid_file: Path, ready: Path, io: str = "") -> str:
    """Script lines: start a grandchild that ignores SIGTERM and wait until it does."""
    argv = f"[sys.executable, '-c', {IGNORES_SIGTERM!r}, {str(ready)!r}]"
    return (
        f"child = subprocess.Popen({argv}, {io})\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        f"while not os.path.exists({str(ready)!r}):\n"
        "    time.sleep(0.01)\n"
    )


def test_grandchild_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    """The leader dies of SIGTERM at once; its child ignores it and must still not outlive the plan."""
    pid_file, ready = tmp_path / "grandchild.pid", tmp_path / "ready"
    spawn = _spawn_stubborn_grandchild(
        pid_file, ready, io="stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    )
    binary = _script(tmp_path / "tool", spawn + "time.sleep(300)")
    stack = tmp_path / "stubborn"
    stack.mkdir()
    started = time.monotonic()
    result = _plan(stack, _options(binary, tmp_path, timeout=1.0, kill_grace=1.0, init=False))
    assert time.monotonic() - started < 10
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert not _alive(int(pid_file.read_text())), "a grandchild ignoring SIGTERM outlived the plan"


def test_processes_a_finished_tool_leaves_behind_are_stopped(tmp_path: Path) -> None:
    """A tool that exits 0 and leaves a child holding its output pipe: the plan ends, the child too."""
    pid_file, ready = tmp_path / "grandchild.pid", tmp_path / "ready"
    binary = _script(tmp_path / "tool", _spawn_stubborn_grandchild(pid_file, ready) + "sys.exit(0)")
    stack = tmp_path / "leaky"
    stack.mkdir()
    started = time.monotonic()
    result = _plan(stack, _options(binary, tmp_path, kill_grace=1.0, init=False))
    assert time.monotonic() - started < 10
    assert result.state is State.CLEAN
    assert not _alive(int(pid_file.read_text())), "the tool's leftover child outlived the plan"


def test_transient_failure_is_retried_then_succeeds(tmp_path: Path) -> None:
    marker = tmp_path / "failed-once"
    binary = _script(
        tmp_path / "flaky",
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    print('Error: Failed to query available provider packages: connection reset by peer',"
        " file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "sys.exit(0)",
    )
    stack = tmp_path / "flaky-stack"
    stack.mkdir()
    result = _plan(stack, _options(binary, tmp_path, init=False, retries=2))
    assert result.state is State.CLEAN
    assert result.attempts == 2


def test_persistent_transient_failure_stops_after_the_retries(tmp_path: Path) -> None:
    binary = _script(
        tmp_path / "locked", "print('Error acquiring the state lock', file=sys.stderr)\nsys.exit(1)"
    )
    stack = tmp_path / "locked-stack"
    stack.mkdir()
    result = _plan(stack, _options(binary, tmp_path, init=False, retries=2))
    assert result.state is State.ERRORED
    assert result.attempts == 3
    assert result.error is not None and result.error.kind is ErrorKind.LOCK


def test_a_newline_free_flood_gives_a_short_error_message(tmp_path: Path) -> None:
    flood = 1_500_000
    binary = _script(tmp_path / "flood", f"sys.stderr.write('Error: ' + 'x' * {flood})\nsys.exit(1)")
    stack = tmp_path / "flooded"
    stack.mkdir()
    result = _plan(stack, _options(binary, tmp_path, init=False))
    assert result.state is State.ERRORED and result.error is not None
    assert result.error.message.startswith("Error: xxx")
    assert len(result.error.message) <= ERROR_MESSAGE_LINES * (ERROR_LINE_CHARS + 60)
    assert result.error.message.endswith("the log has the whole line)")
    assert result.log_path is not None
    logged = result.log_path.read_text().splitlines()[1:]  # after the `$ command` line
    assert "".join(logged).count("x") == flood  # the log keeps it all


def test_a_link_planted_in_the_log_dir_is_not_followed(tmp_path: Path) -> None:
    # a message of the plan's JSON stream: what the log keeps of stdout
    binary = _script(
        tmp_path / "tool", """print('{"@message": "plan output", "type": "log"}')\nsys.exit(0)"""
    )
    directory = tmp_path / "target"
    directory.mkdir()
    options = _options(binary, tmp_path, init=False)
    options.log_dir.mkdir()
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    planted = (
        options.log_dir / f"{log_name(Stack(id=directory.name, path=directory, tool=Tool.TERRAFORM))}.log"
    )
    planted.symlink_to(precious)
    result = _plan(directory, options)
    assert result.state is State.CLEAN
    assert precious.read_text() == "keep me"
    assert result.log_path == planted and not planted.is_symlink() and "plan output" in planted.read_text()


def test_a_secret_across_the_cut_of_an_over_long_line_is_masked(tmp_path: Path) -> None:
    secret = "tok-" + "Z9" * 40
    # a 200 KB line of words whose secret straddles the 64 KiB where logged lines are cut
    prefix = "word " * (65536 // 5) + "w" * (65536 % 5 - 20)
    # on stderr: the log keeps stderr's lines (of stdout, only the JSON stream's messages)
    binary = _script(
        tmp_path / "long", f"print({prefix!r} + {secret!r} + ' tail' * 30000, file=sys.stderr)\nsys.exit(0)"
    )
    stack = tmp_path / "long-line"
    stack.mkdir()
    result = _plan(stack, _options(binary, tmp_path, init=False, environ={"API_TOKEN": secret}))
    assert result.state is State.CLEAN and result.log_path is not None
    log = result.log_path.read_text()
    assert "***" in log and secret[:12] not in log and secret[-12:] not in log


def test_never_more_than_parallelism_plans_at_once(tmp_path: Path) -> None:
    spans = tmp_path / "spans"
    spans.mkdir()
    binary = _script(
        tmp_path / "timed",
        f"start = time.time()\ntime.sleep(0.4)\n"
        f"name = os.path.basename(os.getcwd())\n"
        f"open(os.path.join({str(spans)!r}, name), 'w').write(f'{{start}} {{time.time()}}')",
    )
    stacks = []
    for index in range(9):
        directory = tmp_path / "stacks" / f"s{index}"
        directory.mkdir(parents=True)
        stacks.append(Stack(id=f"s{index}", path=directory, tool=Tool.TERRAFORM))
    results = run_plans(stacks, _options(binary, tmp_path, init=False, parallelism=3))
    assert [r.stack.id for r in results] == [s.id for s in stacks]
    intervals = [tuple(map(float, f.read_text().split())) for f in spans.iterdir()]
    assert len(intervals) == 9
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 3, f"expected 3 plans at once at the peak, saw {peak}"


def test_hostile_stack_names_plan_and_get_distinct_logs(tf_environ: dict[str, str], tmp_path: Path) -> None:
    names = ["with space", 'quo"te', "it's", "ünï-cødé", "semi;colon", "$(touch pwned)"]
    stacks = []
    for name in names:
        directory = applied_stack(tf_environ, tmp_path / "live" / name)
        stacks.append(Stack(id=name, path=directory, tool=Tool.TERRAFORM))
    results = run_plans(stacks, _options(terraform_binary(tf_environ), tmp_path, parallelism=3))
    assert [r.state for r in results] == [State.CLEAN] * len(names)
    assert len({log_name(s) for s in stacks}) == len(names)
    assert not (tmp_path / "live" / "pwned").exists() and not Path("pwned").exists()


def test_missing_binary_is_an_error_not_a_crash(tmp_path: Path) -> None:
    stack = tmp_path / "x"
    stack.mkdir()
    result = _plan(stack, _options(str(tmp_path / "no-such-tool"), tmp_path, init=False))
    assert result.state is State.ERRORED
    assert result.exit_code == 127
    assert result.error is not None and "no-such-tool" in result.error.message


def test_show_json_is_the_source_of_counts(tf_environ: dict[str, str], tmp_path: Path) -> None:
    """The counts equal what Terraform's own JSON says, not a reading of the human text."""
    stack = write_stack(tmp_path / "two", NULL_STACK + 'resource "null_resource" "second" {}\n')
    options = _options(terraform_binary(tf_environ), tmp_path)
    result = _plan(stack, options)
    plan_file = tmp_path / "check.tfplan"
    terraform(tf_environ, stack, "plan", "-input=false", f"-out={plan_file}")
    shown = subprocess.run(
        [terraform_binary(tf_environ), "show", "-json", str(plan_file)],
        cwd=stack,
        env=tf_environ,
        capture_output=True,
        check=True,
    ).stdout
    creates = [c for c in json.loads(shown)["resource_changes"] if c["change"]["actions"] == ["create"]]
    assert result.resources.add == len(creates) == 2


# ---- plans of real size: `show -json` is one line of over a megabyte ----


@pytest.fixture(scope="module")
def big_applied(terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stack of 401 applied null_resources, applied once per module and copied by each test."""
    environ = dict(os.environ, **terraform_env)
    return applied_stack(environ, tmp_path_factory.mktemp("big") / "big", BIG_STACK)


def _big_copy(big_applied: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(big_applied, tmp_path / "big", symlinks=True))


def _show_json_bytes(environ: dict[str, str], stack: Path, tmp_path: Path) -> int:
    plan_file = tmp_path / "size.tfplan"
    terraform(environ, stack, "plan", "-input=false", f"-out={plan_file}")
    binary = terraform_binary(environ)
    shown = subprocess.run(
        [binary, "show", "-json", str(plan_file)], cwd=stack, env=environ, capture_output=True
    )
    assert shown.returncode == 0 and shown.stdout.count(b"\n") <= 1, "show -json is one line"
    return len(shown.stdout)


def test_counts_of_a_plan_of_hundreds_of_resources(
    big_applied: Path, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _big_copy(big_applied, tmp_path)
    drifted = BIG_STACK.replace('default = "one"', 'default = "two"') + 'resource "null_resource" "new" {}\n'
    write_stack(stack, drifted)
    assert _show_json_bytes(tf_environ, stack, tmp_path) > 1_000_000
    result = _plan(stack, _options(terraform_binary(tf_environ), tmp_path))
    assert result.state is State.DRIFTED, result.error
    assert (result.resources.add, result.resources.change, result.resources.destroy) == (1, 0, 0)
    assert result.resources.replace == 1


def test_output_only_change_of_a_big_stack_is_clean(
    big_applied: Path, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _big_copy(big_applied, tmp_path)
    write_stack(stack, BIG_STACK.replace("value = var.value\n}", 'value = "${var.value}-renamed"\n}'))
    result = _plan(stack, _options(terraform_binary(tf_environ), tmp_path))
    assert result.state is State.CLEAN, result.error


# ---- one deadline per attempt covers init, plan and show -json ----


def _wrapped_terraform(tmp_path: Path, environ: dict[str, str]) -> str:
    """The real Terraform behind a wrapper that can delay, hang or fail one subcommand (FAKE_* variables)."""
    real = terraform_binary(environ)
    return _script(
        tmp_path / "terraform-wrapper",
        "command = sys.argv[1]\n"
        "if command == os.environ.get('FAKE_HANG'):\n"
        "    time.sleep(300)\n"
        "if command == os.environ.get('FAKE_FAIL'):\n"
        "    print('Error: the saved plan is corrupt', file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "if command == os.environ.get('FAKE_GARBAGE'):\n"
        "    print('{not json')\n"
        "    sys.exit(0)\n"
        "time.sleep(float(os.environ.get('FAKE_DELAY', '0')))\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])",
    )


def test_one_deadline_covers_init_plan_and_show(tf_environ: dict[str, str], tmp_path: Path) -> None:
    """Each command fits in the timeout, but together they do not: the stack times out once."""
    stack = write_stack(tmp_path / "slow")  # fresh: init, then a plan that adds, then show -json
    binary = _wrapped_terraform(tmp_path, tf_environ)
    options = _options(binary, tmp_path, timeout=6.0, environ=dict(tf_environ, FAKE_DELAY="2.5"))
    started = time.monotonic()
    result = _plan(stack, options)
    took = time.monotonic() - started
    assert result.state is State.ERRORED
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "timed out after 6s" in result.error.message
    assert took < 6.0 + options.kill_grace + 2.0, f"took {took:.1f}s for a 6s budget"


def test_hung_show_is_a_timeout_not_drift(tf_environ: dict[str, str], tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "hung")
    binary = _wrapped_terraform(tmp_path, tf_environ)
    options = _options(binary, tmp_path, timeout=15.0, environ=dict(tf_environ, FAKE_HANG="show"))
    started = time.monotonic()
    result = _plan(stack, options)
    assert time.monotonic() - started < 15.0 + options.kill_grace + 2.0
    assert result.state is State.ERRORED
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "show -json" in result.error.message


@pytest.mark.parametrize(
    ("fake", "why"),
    [("FAKE_FAIL", "the saved plan is corrupt"), ("FAKE_GARBAGE", "did not print a JSON plan document")],
)
def test_unreadable_plan_is_errored_and_says_why(
    tf_environ: dict[str, str], tmp_path: Path, fake: str, why: str
) -> None:
    stack = write_stack(tmp_path / "unreadable")
    binary = _wrapped_terraform(tmp_path, tf_environ)
    result = _plan(stack, _options(binary, tmp_path, environ=dict(tf_environ, **{fake: "show"})))
    assert result.state is State.ERRORED
    assert result.error is not None and result.error.kind is ErrorKind.UNKNOWN
    assert "cannot read the saved plan" in result.error.message and why in result.error.message
    assert result.log_path is not None and why in result.log_path.read_text()


# ---- what drifted: the plan -json stream, show -json detail, checks, diagnostics ----

DETAIL_STACK = """
resource "null_resource" "thing" {
  triggers = { value = "one", owner = "a" }
}

resource "null_resource" "gone" {
  triggers = { value = "x" }
}
"""


def test_drifted_stack_names_resources_actions_and_attributes(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "net", tf_binary, DETAIL_STACK)
    write_stack(stack, DETAIL_STACK.replace('owner = "a"', 'owner = "b"'))  # config drift: replace
    terraform(tf_environ, stack, "state", "rm", "null_resource.gone", binary=tf_binary)  # state drift

    result = _plan(stack, _options(tf_binary, tmp_path))

    assert result.state is State.DRIFTED
    assert [(c.address, c.action, c.resource_type, c.attributes) for c in result.changes] == [
        ("null_resource.gone", "create", "null_resource", ()),
        ("null_resource.thing", "replace", "null_resource", ("triggers.owner",)),
    ]
    assert (result.resources.add, result.resources.replace) == (1, 1)
    assert result.outside == () and result.checks == ()
    assert result.log_path is not None
    log = result.log_path.read_text()
    # the stream's messages, not the human plan body
    assert "null_resource.thing: Plan to replace" in log
    assert "must be replaced" not in log and '"owner"' not in log


def test_a_clean_stack_is_one_tool_invocation(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "net", tf_binary, DETAIL_STACK)

    result = _plan(stack, _options(tf_binary, tmp_path))

    assert result.state is State.CLEAN and result.changes == ()
    assert result.log_path is not None
    commands = [line for line in result.log_path.read_text().splitlines() if line.startswith("$ ")]
    assert len(commands) == 1 and " plan -json -detailed-exitcode " in commands[0]


def test_the_error_comes_from_the_diagnostic(
    tf_binary: str, tf_environ: dict[str, str], tmp_path: Path
) -> None:
    stack = _apply(tf_environ, tmp_path / "net", tf_binary, DETAIL_STACK)
    with (stack / "main.tf").open("a", encoding="utf-8") as body:
        body.write('resource "null_resource" "bad" {\n  triggers = { x = var.nope }\n}\n')

    result = _plan(stack, _options(tf_binary, tmp_path))

    assert result.state is State.ERRORED and result.error is not None
    assert result.error.kind is ErrorKind.CONFIG
    first = result.error.message.splitlines()[0]
    assert first.startswith("Error: Reference to undeclared input variable (main.tf:10): ")


def test_a_failing_check_block_is_reported_on_a_clean_and_a_drifted_stack(
    tf_environ: dict[str, str], tmp_path: Path
) -> None:
    if not SECOND_TERRAFORM.is_file():
        pytest.skip(f"{SECOND_TERRAFORM} is not installed (check blocks need Terraform >= 1.5)")
    binary = str(SECOND_TERRAFORM)
    body = DETAIL_STACK + (
        'variable "v" {\n  type    = string\n  default = "one"\n}\n'
        'check "health" {\n  assert {\n    condition     = var.v == "one"\n'
        '    error_message = "v is off"\n  }\n}\n'
    )
    stack = _apply(tf_environ, tmp_path / "net", binary, body)
    write_stack(stack, body.replace('default = "one"', 'default = "two"'))

    clean = _plan(stack, _options(binary, tmp_path))
    write_stack(stack, body.replace('default = "one"', 'default = "two"').replace('"x"', '"y"'))
    drifted = _plan(stack, _options(binary, tmp_path))

    assert clean.state is State.CLEAN
    assert clean.checks == (CheckResult("check.health", "fail"),)
    assert drifted.state is State.DRIFTED
    assert drifted.checks == (CheckResult("check.health", "fail"),)
    assert drifted.log_path is not None
    assert "Warning: Check block assertion failed (main.tf:" in drifted.log_path.read_text()


def test_outside_changes_of_a_clean_plan_come_from_the_stream(tmp_path: Path) -> None:
    """The null provider never drifts outside Terraform: a tool that prints Terraform 1.11's messages
    (machine-readable UI 1.2, as documented) for an empty plan with one outside change."""
    lines = [
        {"@message": "Terraform 1.11.4", "type": "version", "terraform": "1.11.4", "ui": "1.2"},
        {
            "@message": "aws_security_group.web: Drift detected (update)",
            "type": "resource_drift",
            "change": {
                "resource": {"addr": "aws_security_group.web", "resource_type": "aws_security_group"},
                "action": "update",
            },
        },
        {
            "@message": "No changes.",
            "type": "change_summary",
            "changes": {"add": 0, "change": 0, "remove": 0},
        },
    ]
    stream = "\n".join(json.dumps(message) for message in lines)
    binary = _script(tmp_path / "tool", f"print({stream!r})\nsys.exit(0)")
    stack = tmp_path / "quiet"
    stack.mkdir()

    result = _plan(stack, _options(binary, tmp_path, init=False))

    assert result.state is State.CLEAN
    assert result.outside == (
        ResourceChange("aws_security_group.web", "update", "aws_security_group", outside=True),
    )


def test_log_plan_adds_the_human_plan_redacted(tf_environ: dict[str, str], tmp_path: Path) -> None:
    secret = "Known-Secret-5531"
    binary = terraform_binary(tf_environ)
    stack = _apply(tf_environ, tmp_path / "net", binary, DETAIL_STACK)
    write_stack(stack, DETAIL_STACK.replace('"a"', f'"{secret}"'))
    environ = dict(tf_environ, APP_PASSWORD=secret)

    quiet = _plan(stack, _options(binary, tmp_path / "quiet", environ=environ))
    logged = _plan(stack, _options(binary, tmp_path / "logged", environ=environ, log_plan=True))

    assert quiet.log_path is not None and logged.log_path is not None
    assert "must be replaced" not in quiet.log_path.read_text()
    text = logged.log_path.read_text()
    assert "# null_resource.thing must be replaced" in text
    assert secret not in text
