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
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from driftctl import classify
from driftctl.model import PlanError, PlanResult, ResourceCounts, Stack, State
from driftctl.redact import Redactor
from driftctl.runner import RunnerOptions, Stop, open_log, run_command, tool_environment


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
    cancel = cancel or threading.Event()
    pool = ThreadPoolExecutor(max_workers=options.parallelism, thread_name_prefix="generate")
    try:
        futures = {d: pool.submit(_generate_one, d, options, cancel) for d in dirs}
        outcomes = {d: future.result() for d, future in futures.items()}
    except BaseException:
        cancel.set()  # Ctrl-C: stop the running generations, start no other
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return {d: failure for d, failure in outcomes.items() if failure is not None}


def _generate_one(
    directory: Path, options: RunnerOptions, cancel: threading.Event
) -> tuple[PlanError, Path] | None:
    options.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = options.log_dir / f"stack-generate-{_log_stem(directory)}.log"
    command = [options.binary, "stack", "generate", "--no-color"]
    stop = Stop(cancel, threading.Event())
    deadline = time.monotonic() + options.timeout
    with open_log(log_path) as log:
        outcome = run_command(
            command,
            directory,
            tool_environment(options),
            log,
            Redactor(options.environ),
            options,
            stop,
            deadline,
        )
    if outcome.exit_code == 0 and not outcome.timed_out:
        return None
    kind = classify.error_kind(outcome.stderr_tail, outcome.timed_out)
    lines = [line.strip() for line in outcome.stderr_tail if line.strip()][-6:]
    if outcome.timed_out:
        why = f"timed out after {options.timeout:.0f}s"
    else:
        why = (
            f"exit {outcome.exit_code}"
            if outcome.exit_code is not None
            else f"killed by {outcome.signal_name}"
        )
    message = "\n".join([f"`terragrunt stack generate` in {directory} failed ({why})", *lines])
    return PlanError(kind, message), log_path


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
