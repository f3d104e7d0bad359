"""`driftctl history`: what the store remembers per stack, summarized (pure), and its two renderings."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase

from rich.table import Table
from rich.text import Text

from driftctl.history.sql import EpisodeRow, RunRow
from driftctl.model import StackSeries, State

_STATE_STYLE = {"drifted": "bold yellow", "errored": "bold red", "clean": "green"}


@dataclass(frozen=True)
class StackHistory:
    stack: str
    state: str
    first_seen: float | None  # of the current drift; None when clean
    episodes: int  # drift episodes open or resolved within the window
    mean_resolve_seconds: float | None  # over the episodes resolved within the window
    longest_resolve_seconds: float | None
    last_error_kind: str | None


def matches(stack: str, patterns: Sequence[str]) -> bool:
    """A stack id equal to a pattern, under it (a folder), or matching it as a glob."""
    return not patterns or any(
        stack == p or stack.startswith(p.rstrip("/") + "/") or fnmatchcase(stack, p) for p in patterns
    )


def summarize(
    current: Mapping[str, StackSeries],
    episodes: Sequence[EpisodeRow],
    error_kinds: Mapping[str, str],
    patterns: Sequence[str] = (),
) -> list[StackHistory]:
    """One row per stack the store holds now (and matching `patterns`), by stack id."""
    by_stack: dict[str, list[EpisodeRow]] = {}
    for episode in episodes:
        by_stack.setdefault(episode.stack, []).append(episode)
    rows = []
    for stack in sorted(current):
        if not matches(stack, patterns):
            continue
        series = current[stack]
        own = by_stack.get(stack, [])
        times = [e.resolved - e.first_seen for e in own if e.resolved is not None]
        rows.append(
            StackHistory(
                stack=stack,
                state=series.state.value,
                first_seen=series.first_seen if series.state is not State.CLEAN else None,
                episodes=len(own),
                mean_resolve_seconds=sum(times) / len(times) if times else None,
                longest_resolve_seconds=max(times) if times else None,
                last_error_kind=error_kinds.get(stack),
            )
        )
    return rows


def rfc3339(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def stacks_json(rows: Sequence[StackHistory]) -> str:
    stacks = [{**asdict(row), "first_seen": rfc3339(row.first_seen)} for row in rows]
    return json.dumps({"stacks": stacks}, indent=2, ensure_ascii=False) + "\n"


def runs_json(rows: Sequence[RunRow]) -> str:
    runs = [
        {**asdict(row), "started": rfc3339(row.started), "finished": rfc3339(row.finished)} for row in rows
    ]
    return json.dumps({"runs": runs}, indent=2, ensure_ascii=False) + "\n"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def stacks_table(rows: Sequence[StackHistory], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("stack", overflow="fold")
    table.add_column("state")
    table.add_column("first seen")
    table.add_column("episodes", justify="right")
    table.add_column("mean to resolve", justify="right")
    table.add_column("longest", justify="right")
    table.add_column("last error")
    for row in rows:
        table.add_row(
            Text(row.stack),
            Text(row.state, style=_STATE_STYLE.get(row.state, "")),
            rfc3339(row.first_seen) or "",
            str(row.episodes),
            human_duration(row.mean_resolve_seconds),
            human_duration(row.longest_resolve_seconds),
            row.last_error_kind or "",
        )
    return table


def runs_table(rows: Sequence[RunRow], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, justify in (("run", "right"), ("finished", "left"), ("took", "right"), ("mode", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name in ("stacks", "drifted", "errored"):
        table.add_column(name, justify="right")
    table.add_column("shard")
    table.add_column("commit")
    for row in rows:
        table.add_row(
            str(row.id),
            rfc3339(row.finished) or "",
            human_duration(row.finished - row.started),
            row.mode,
            str(row.stacks),
            str(row.drifted),
            str(row.errored),
            row.shard or "",
            (row.commit or "")[:12],
        )
    return table
