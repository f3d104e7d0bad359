"""What a person sees: a live view on a terminal, plain lines in CI logs, and the final table."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from driftctl import causes
from driftctl.model import PlanResult, ResourceChange, RunReport, Stack, State
from driftctl.report import ordered, summary

STATE_STYLE = {State.DRIFTED: "bold yellow", State.ERRORED: "bold red", State.CLEAN: "green"}
_MAX_RUNNING_SHOWN = 12


def headline(message: str) -> str:
    """The line of an error message that names the problem: Terraform's `Error: ...`, else the last."""
    lines = [line.strip(" │╷╵") for line in message.splitlines() if line.strip(" │╷╵")]
    errors = [line for line in lines if line.startswith("Error")]
    return (errors or lines or [""])[0 if errors else -1]


def counts_text(result: PlanResult) -> str:
    r = result.resources
    if result.state is not State.DRIFTED:
        return ""
    return f"+{r.add} ~{r.change} -{r.destroy} ±{r.replace}"


def result_line(result: PlanResult) -> Text:
    """One finished stack, for CI logs: state, id, counts, duration, and the error's kind."""
    line = Text()
    line.append(f"{result.state.value:<8}", style=STATE_STYLE[result.state])
    line.append(f" {result.stack.id}")
    details = [counts_text(result), f"{result.duration_seconds:.1f}s"]
    if result.attempts > 1:
        details.append(f"{result.attempts} attempts")
    if result.error:
        details.append(f"{result.error.kind.value} error")
    line.append("  " + "  ".join(d for d in details if d), style="dim")
    return line


class PlainView:
    """A line per finished stack: readable in a CI log, greppable, no control characters."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.Lock()

    def started(self, stack: Stack, attempt: int) -> None:
        if attempt > 1:
            with self._lock:
                self._console.print(
                    Text(f"retry    {stack.id}  attempt {attempt}", style="dim"), soft_wrap=True
                )

    def finished(self, result: PlanResult) -> None:
        with self._lock:
            # one line per stack however long its id, so `grep drifted` finds the whole line
            self._console.print(result_line(result), soft_wrap=True)

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveView:
    """A progress bar and the stacks in flight with their elapsed time, redrawn in place."""

    def __init__(self, console: Console, total: int) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._running: dict[str, tuple[float, int]] = {}
        self._progress = Progress(
            TextColumn("[bold]planning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task("plans", total=total, tally="")
        self._tally = {State.DRIFTED: 0, State.ERRORED: 0, State.CLEAN: 0}
        self._live = Live(
            console=console, get_renderable=self._renderable, refresh_per_second=4, transient=True
        )

    def started(self, stack: Stack, attempt: int) -> None:
        with self._lock:
            self._running[stack.id] = (time.monotonic(), attempt)

    def finished(self, result: PlanResult) -> None:
        with self._lock:
            self._running.pop(result.stack.id, None)
            self._tally[result.state] += 1
            tally = "  ".join(
                f"[{STATE_STYLE[state]}]{count} {state.value}[/]"
                for state, count in self._tally.items()
                if count
            )
            self._progress.update(self._task, advance=1, tally=tally)
        if result.state is not State.CLEAN:
            # problems stay on screen above the live area, so nothing scrolls away unseen
            self._live.console.print(result_line(result))

    def _renderable(self) -> RenderableType:
        with self._lock:
            now = time.monotonic()
            running = sorted(self._running.items(), key=lambda item: item[1][0])
            lines = [
                Text.assemble(
                    ("  ⠿ ", "cyan"),
                    stack,
                    (f"  {now - since:.0f}s" + (f"  attempt {attempt}" if attempt > 1 else ""), "dim"),
                )
                for stack, (since, attempt) in running[:_MAX_RUNNING_SHOWN]
            ]
            if len(running) > _MAX_RUNNING_SHOWN:
                lines.append(Text(f"  … and {len(running) - _MAX_RUNNING_SHOWN} more", style="dim"))
            return Group(self._progress.get_renderable(), *lines)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)


def results_table(report: RunReport) -> Table:
    counts = summary(report)
    table = Table(
        title=(
            f"{counts['drifted']} drifted · {counts['errored']} errored · {counts['clean']} clean"
            f"  ({counts['total']} stacks, {(report.finished_at - report.started_at).total_seconds():.1f}s)"
        ),
        title_justify="left",
        header_style="bold",
    )
    table.add_column("stack", overflow="fold")
    table.add_column("state")
    for column in ("add", "change", "destroy", "replace"):
        table.add_column(column, justify="right")
    table.add_column("time", justify="right")
    table.add_column("error", overflow="fold", max_width=60)
    for result in ordered(report.results):
        r = result.resources
        drifted = result.state is State.DRIFTED
        error = f"{result.error.kind.value}: {headline(result.error.message)}" if result.error else ""
        table.add_row(
            Text(result.stack.id),
            Text(result.state.value, style=STATE_STYLE[result.state]),
            *(str(n) if drifted else "" for n in (r.add, r.change, r.destroy, r.replace)),
            f"{result.duration_seconds:.1f}s",
            Text(error, style="red"),
        )
    return table


_CAUSES_SHOWN = 10


def detail_table(result: PlanResult) -> Table:
    """One stack's resources: address, action, the attribute names that differ, and why it is noted."""
    table = Table(
        title=Text.assemble(
            (result.stack.id, "bold"),
            "  ",
            (result.state.value, STATE_STYLE[result.state]),
            f"  {_tally(result)}",
        ),
        title_justify="left",
        header_style="bold",
    )
    table.add_column("resource", overflow="fold")
    table.add_column("action")
    table.add_column("attributes", overflow="fold")
    table.add_column("note", overflow="fold")
    for change in result.changes:
        table.add_row(*_change_cells(change, "changed outside Terraform" if change.outside else ""))
    for change in result.outside:
        table.add_row(*_change_cells(change, "changed outside Terraform, not acted on"))
    for check in result.checks:
        table.add_row(
            Text(check.address), Text("check", style="bold red"), "", Text(check.status, style="red")
        )
    if result.error:
        table.add_row("", Text("error", style="red"), "", Text(headline(result.error.message), style="red"))
    return table


def _tally(result: PlanResult) -> str:
    parts = [counts_text(result)] if result.state is State.DRIFTED else []
    ignored = sum(1 for c in (*result.changes, *result.outside) if c.ignored_by or c.ignored_attributes)
    parts += [f"{ignored} ignored"] if ignored else []
    return "  ".join(parts)


def _change_cells(change: ResourceChange, note: str) -> tuple[Text, Text, Text, Text]:
    ignored = change.ignored_by is not None
    style = "dim strike" if ignored else ""
    notes = [note] if note else []
    if ignored:
        notes.append(f"ignored: {change.ignored_by}")
    elif change.ignored_attributes:
        notes.append("ignored: " + ", ".join(change.ignored_attributes))
    return (
        Text(change.address, style=style),
        Text(change.action, style=style or _ACTION_STYLE.get(change.action, "")),
        Text(", ".join(change.attributes), style=style),
        Text("; ".join(notes), style="dim"),
    )


_ACTION_STYLE = {"create": "green", "update": "yellow", "delete": "red", "replace": "magenta"}


def causes_table(report: RunReport, limit: int = _CAUSES_SHOWN) -> Table | None:
    """Drift by cause across stacks, largest first; None when nothing drifted resource by resource."""
    found = causes.group(report.results)
    if not found:
        return None
    table = Table(title="drift by cause", title_justify="left", header_style="bold")
    table.add_column("resource type", overflow="fold")
    table.add_column("action")
    table.add_column("attributes", overflow="fold")
    table.add_column("stacks", justify="right")
    table.add_column("resources", justify="right")
    for cause in found[:limit]:
        table.add_row(
            cause.resource_type,
            cause.action,
            ", ".join(cause.attributes),
            str(len(cause.stacks)),
            str(cause.resources),
        )
    if len(found) > limit:
        table.caption = f"… and {len(found) - limit} more causes in the JSON report"
    return table


def report_view(report: RunReport, detail: bool = False) -> RenderableType:
    """The table of stacks, drift by cause, and with `detail` each drifted or errored stack's resources."""
    parts: list[RenderableType] = [results_table(report)]
    grouped = causes_table(report)
    if grouped is not None:
        parts += [Text(), grouped]
    if detail:
        for result in ordered(report.results):
            if result.state is not State.CLEAN or result.outside or result.checks:
                parts += [Text(), detail_table(result)]
    return Group(*parts)
