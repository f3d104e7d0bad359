"""Terragrunt Stacks: generate the units of each stack file before they are planned.

A unit declared in a `terragrunt.stack.hcl` exists only after `terragrunt stack generate`, which
writes every stack file below its working directory (nested stacks too) into `.terragrunt-stack/`.
Terragrunt's single-unit `plan` does not generate (only `stack run` and `run --all` do), and `stack
run plan` plans every unit in one process, so one plan's exit code and saved plan could not be told
apart: driftctl runs `stack generate` once per stack-file directory, then plans each generated
unit on its own like any other unit. A directory whose generation fails errors its units, with the
generation's log; the other units are planned.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from driftctl import classify
from driftctl.model import PlanError, PlanResult, ResourceCounts, Stack, State
from driftctl.runner import CommandOutcome, RunnerOptions, run_tool_commands


def generation_dirs(stacks: Iterable[Stack]) -> list[Path]:
    """Where `stack generate` runs: the directory of each unit's repository stack file, without
    those below another (generating a directory also generates every stack file beneath it)."""
    dirs = sorted({stack.stack_files[0].parent for stack in stacks if stack.stack_files})
    return [d for d in dirs if not any(other != d and other in d.parents for other in dirs)]


def generate(
    stacks: Sequence[Stack], options: RunnerOptions, cancel: threading.Event | None = None
) -> dict[Path, tuple[PlanError, Path]]:
    """Generates the stacks the units need; the error and log of each directory that failed."""
    dirs = generation_dirs(stacks)
    if not dirs:
        return {}
    options.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = [options.binary, "stack", "generate", "--no-color"]
    logs = [options.log_dir / f"stack-generate-{_log_stem(d)}.log" for d in dirs]
    outcomes = run_tool_commands(
        [(command, d, log) for d, log in zip(dirs, logs, strict=True)], options, cancel
    )
    failures = {}
    for directory, log, outcome in zip(dirs, logs, outcomes, strict=True):
        if outcome.exit_code == 0 and not outcome.timed_out:
            continue
        failures[directory] = (_error(directory, outcome, options), log)
    return failures


def _error(directory: Path, outcome: CommandOutcome, options: RunnerOptions) -> PlanError:
    kind = classify.error_kind(outcome.stderr_tail, outcome.timed_out)
    lines = [line.strip() for line in outcome.stderr_tail if line.strip()][-6:]
    if outcome.timed_out:
        why = f"timed out after {options.timeout:.0f}s"
    elif outcome.exit_code is None:
        why = f"killed by {outcome.signal_name}"
    else:
        why = f"exit {outcome.exit_code}"
    return PlanError(kind, "\n".join([f"`terragrunt stack generate` in {directory} failed ({why})", *lines]))


def _log_stem(directory: Path) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(directory.parts[-2:])).strip("._") or "root"
    return f"{readable[:60]}-{hashlib.sha256(str(directory).encode()).hexdigest()[:8]}"


def failed_results(stacks: Iterable[Stack], failures: dict[Path, tuple[PlanError, Path]]) -> list[PlanResult]:
    """An errored result for each unit whose stack could not be generated."""
    results = []
    for stack in stacks:
        where = stack.stack_files[0].parent if stack.stack_files else None
        failed = [d for d in failures if where is not None and (where == d or d in where.parents)]
        if not failed:
            continue
        error, log_path = failures[failed[0]]
        results.append(
            PlanResult(
                stack=stack,
                state=State.ERRORED,
                exit_code=None,
                resources=ResourceCounts(),
                error=error,
                duration_seconds=0.0,
                attempts=1,
                log_path=log_path,
            )
        )
    return results
