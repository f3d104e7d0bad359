"""Shard reports → one run, for `driftctl publish` (pure).

The merged run must be what one `plan --all` of that commit would have reported, or publishing it
would drop or reset series: so the reports must come from the same checkout, commit and mode, cover
shards 1..N exactly once, partitioned alike, with no stack planned twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from driftctl.model import RunReport, Shard


class CombineError(Exception):
    """The reports do not form one run; the message names the report, shard or stack (one line)."""


@dataclass(frozen=True)
class ShardReport:
    """A report read from `source` (its file name, for messages)."""

    source: str
    report: RunReport

    @property
    def shard(self) -> Shard:
        return self.report.shard or Shard(1, 1)  # a run that was not split is all of itself


def combine(reports: Sequence[ShardReport], allow_partial: bool = False) -> RunReport:
    """One run from the shards' reports. Raises CombineError when they are not the parts of one run.

    With `allow_partial`, missing shards are accepted: their stacks are neither planned nor
    forgotten, so publishing keeps their previous series as it does for stacks `--changed` skips.
    """
    if not reports:
        raise CombineError("no report given")
    first = reports[0]
    for other in reports[1:]:
        _same_run(first, other)
    _every_shard_once(reports, allow_partial)
    _no_stack_twice(reports)
    runs = [r.report for r in reports]
    return RunReport(
        started_at=min(run.started_at for run in runs),
        finished_at=max(run.finished_at for run in runs),
        root=first.report.root,
        tool=first.report.tool,
        mode=first.report.mode,
        results=tuple(sorted((r for run in runs for r in run.results), key=lambda r: r.stack.id)),
        removed=tuple(sorted({stack for run in runs for stack in run.removed})),
        known=first.report.known,
        commit=first.report.commit,
    )


def _same_run(first: ShardReport, other: ShardReport) -> None:
    a, b = first.report, other.report
    checks = (
        ("repository", str(a.root), str(b.root)),
        ("tool", a.tool.value, b.tool.value),
        ("commit", a.commit or "none (not a git repository)", b.commit or "none (not a git repository)"),
        ("mode", a.mode, b.mode),
        ("number of shards", str(first.shard.total), str(other.shard.total)),
        ("partition (the shards read different durations)", first.shard.partition, other.shard.partition),
    )
    for what, mine, theirs in checks:
        if mine != theirs:
            raise CombineError(
                f"{other.source} is not part of the run of {first.source}: {what} {theirs} != {mine}"
            )
    if a.known != b.known:
        raise CombineError(
            f"{other.source} is not part of the run of {first.source}: they know different stacks"
        )


def _every_shard_once(reports: Sequence[ShardReport], allow_partial: bool) -> None:
    total = reports[0].shard.total
    seen: dict[int, str] = {}
    for item in reports:
        index = item.shard.index
        if index in seen:
            raise CombineError(f"shard {index}/{total} is given twice: {seen[index]} and {item.source}")
        seen[index] = item.source
    missing = [f"{index}/{total}" for index in range(1, total + 1) if index not in seen]
    if missing and not allow_partial:
        raise CombineError(
            f"shard {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
            f"({len(seen)} of {total} reports given); publish them all, or --allow-partial"
        )


def _no_stack_twice(reports: Sequence[ShardReport]) -> None:
    owner: dict[str, str] = {}
    for item in reports:
        for result in item.report.results:
            stack = result.stack.id
            if stack in owner:
                raise CombineError(
                    f"stack {stack} was planned in two reports: {owner[stack]} and {item.source}"
                )
            owner[stack] = item.source
