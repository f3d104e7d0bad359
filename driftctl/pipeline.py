"""The library's front door: discover → select → plan → classify → publish, for one config."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from driftctl import discover, report
from driftctl.config import Config
from driftctl.model import ExitCode, FailOn, RunReport, Selection, Stack, State
from driftctl.runner import Observer, RunnerOptions, run_plans


class UsageError(Exception):
    """The request cannot be carried out as asked (exit 3)."""


class OperationalError(Exception):
    """Something around the plans failed: a missing tool, a failed push (exit 1)."""


@dataclass(frozen=True)
class Outcome:
    report: RunReport
    selection: Selection
    log_dir: Path
    exit_code: ExitCode


def find_stacks(config: Config) -> list[Stack]:
    """Every stack under the root that the include/exclude globs keep."""
    try:
        stacks = discover.discover(
            config.root, config.tool, root_config=config.root_config, module_patterns=config.module_patterns
        )
    except discover.DiscoveryError as error:
        raise UsageError(str(error)) from None
    return discover.filter_stacks(stacks, config.include, config.exclude)


def select(config: Config, paths: Sequence[Path] = ()) -> Selection:
    """All stacks, or those at the given paths."""
    stacks = find_stacks(config)
    if not paths:
        return Selection(stacks=tuple(stacks), mode="all")
    try:
        return Selection(stacks=tuple(discover.stacks_at_paths(stacks, paths)), mode="paths")
    except discover.DiscoveryError as error:
        raise UsageError(str(error)) from None


def tool_binary(config: Config) -> str:
    name = config.tool_binary or config.tool.value
    found = shutil.which(name)
    if found is None:
        raise OperationalError(
            f"{name}: not found on PATH (install it, or point --tool-binary / DRIFTCTL_TOOL_BINARY at it)"
        )
    return found


def runner_options(config: Config, binary: str, log_dir: Path) -> RunnerOptions:
    return RunnerOptions(
        binary=binary,
        tool=config.tool,
        log_dir=log_dir,
        parallelism=config.parallelism,
        timeout=config.timeout,
        retries=config.retries,
        retry_backoff=config.retry_backoff,
        lock=config.lock,
        init=config.init,
        outputs_count_as_drift=config.outputs_count_as_drift,
    )


def exit_code(run: RunReport, fail_on: FailOn) -> ExitCode:
    if fail_on is FailOn.NEVER:
        return ExitCode.CLEAN
    if run.count(State.ERRORED):
        return ExitCode.ERROR
    if fail_on is FailOn.DRIFT and run.count(State.DRIFTED):
        return ExitCode.DRIFT
    return ExitCode.CLEAN


def make_log_dir(config: Config) -> Path:
    if config.log_dir is not None:
        config.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return config.log_dir.resolve()
    return Path(tempfile.mkdtemp(prefix="driftctl-logs-"))


def plan(
    config: Config,
    selection: Selection,
    log_dir: Path,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Plans the selection and publishes the outcome (report file); raises on operational failures."""
    binary = tool_binary(config)
    started = datetime.now(timezone.utc)
    results = run_plans(selection.stacks, runner_options(config, binary, log_dir), observer, cancel)
    run = RunReport(
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        root=config.root.resolve(),
        tool=config.tool,
        mode=selection.mode,
        results=tuple(results),
        removed=selection.removed,
    )
    if config.report is not None:
        report.write_atomic(config.report, report.to_json(run))
    return Outcome(report=run, selection=selection, log_dir=log_dir, exit_code=exit_code(run, config.fail_on))
