"""Builders for the model objects the tests hand to driftctl: one stack's plan result and a run's report.

The defaults are a one-attempt Terragrunt plan of a stack under /repo that took a second; each test file
binds what it needs otherwise (`functools.partial` or a small wrapper) and keeps its own names for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from driftctl.model import PlanError, PlanResult, ResourceCounts, RunReport, Stack, State, Tool

REPO = Path("/repo")
NO_CHANGES = ResourceCounts()
EXIT_CODES = {State.CLEAN: 0, State.DRIFTED: 2, State.ERRORED: 1}  # terraform plan -detailed-exitcode


def plan_result(
    stack: str,
    state: State,
    resources: ResourceCounts = NO_CHANGES,
    *,
    error: PlanError | None = None,
    duration: float = 1.0,
    attempts: int = 1,
    killed: bool = False,
    log: Path | None = None,
    root: Path = REPO,
    tool: Tool = Tool.TERRAGRUNT,
) -> PlanResult:
    """The result of planning stack `stack` (at `root / stack`); a `killed` plan has no exit code."""
    return PlanResult(
        stack=Stack(id=stack, path=root / stack, tool=tool),
        state=state,
        exit_code=None if killed else EXIT_CODES[state],
        resources=resources,
        error=error,
        duration_seconds=duration,
        attempts=attempts,
        log_path=log,
    )


def run_report(
    *results: PlanResult,
    started: datetime,
    finished: datetime,
    root: Path = REPO,
    tool: Tool = Tool.TERRAGRUNT,
    mode: str = "all",
    removed: tuple[str, ...] = (),
) -> RunReport:
    return RunReport(
        started_at=started,
        finished_at=finished,
        root=root,
        tool=tool,
        mode=mode,
        results=results,
        removed=removed,
    )


def report_at(
    results: Iterable[PlanResult],
    finished: float,
    took: float,
    *,
    root: Path = REPO,
    mode: str = "all",
    removed: tuple[str, ...] = (),
    known: Iterable[str] | None = None,
) -> RunReport:
    """A Terragrunt run that finished at Unix time `finished` after `took` seconds."""
    run = run_report(
        *results,
        started=datetime.fromtimestamp(finished - took, tz=timezone.utc),
        finished=datetime.fromtimestamp(finished, tz=timezone.utc),
        root=root,
        mode=mode,
        removed=removed,
    )
    return replace(run, known=tuple(sorted(known)) if known is not None else None)
