"""The run's report as JSON (version 1) or Markdown, and its atomic write to disk."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftctl.model import PlanResult, RunReport, State

REPORT_VERSION = 1
_STATE_ORDER = {State.DRIFTED: 0, State.ERRORED: 1, State.CLEAN: 2}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def ordered(results: tuple[PlanResult, ...]) -> list[PlanResult]:
    """Drifted first, then errored, then clean: what needs a reader's attention leads."""
    return sorted(results, key=lambda r: (_STATE_ORDER[r.state], r.stack.id))


def summary(report: RunReport) -> dict[str, int]:
    return {
        "total": len(report.results),
        "clean": report.count(State.CLEAN),
        "drifted": report.count(State.DRIFTED),
        "errored": report.count(State.ERRORED),
    }


def to_dict(report: RunReport) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "started_at": rfc3339(report.started_at),
        "finished_at": rfc3339(report.finished_at),
        "root": str(report.root),
        "tool": report.tool.value,
        "mode": report.mode,
        "stacks": [_stack_dict(result) for result in ordered(report.results)],
        "removed": list(report.removed),
        "summary": summary(report),
    }


def _stack_dict(result: PlanResult) -> dict[str, Any]:
    counts = result.resources
    return {
        "stack": result.stack.id,
        "state": result.state.value,
        "exit_code": result.exit_code,
        "duration_seconds": result.duration_seconds,
        "attempts": result.attempts,
        "resources": {
            "add": counts.add,
            "change": counts.change,
            "destroy": counts.destroy,
            "replace": counts.replace,
        },
        "error": {"kind": result.error.kind.value, "message": result.error.message} if result.error else None,
        "log": str(result.log_path) if result.log_path else None,
    }


def to_json(report: RunReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def to_markdown(report: RunReport) -> str:
    counts = summary(report)
    lines = [
        f"### driftctl: {counts['drifted']} drifted, {counts['errored']} errored, "
        f"{counts['clean']} clean of {counts['total']} stacks",
        "",
        "| Stack | State | Add | Change | Destroy | Replace | Duration |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for result in ordered(report.results):
        r = result.resources
        lines.append(
            f"| `{_cell(result.stack.id)}` | {_STATE_BADGE[result.state]} | {r.add} | {r.change} "
            f"| {r.destroy} | {r.replace} | {result.duration_seconds:.1f}s |"
        )
    errored = [r for r in ordered(report.results) if r.error]
    for result in errored:
        assert result.error is not None
        lines += [
            "",
            f"<details><summary><code>{_html(result.stack.id)}</code>: {result.error.kind.value} error"
            "</summary>",
            "",
            "```",
            result.error.message.replace("```", "'''"),
            "```",
            "</details>",
        ]
    if report.removed:
        lines += ["", "Removed since the base: " + ", ".join(f"`{_cell(s)}`" for s in report.removed)]
    return "\n".join(lines) + "\n"


_STATE_BADGE = {State.DRIFTED: "🟠 drifted", State.ERRORED: "🔴 errored", State.CLEAN: "🟢 clean"}


def _cell(text: str) -> str:
    # a stack path may hold `|` or backticks; neither may break the table
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_atomic(path: Path, text: str) -> None:
    """Readers never see half a report: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp's 0600 would hide the report from other CI steps
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
