"""The run's report as JSON (version 2, `docs/report.schema.json`) or Markdown, and its atomic write.

The JSON is a contract: a version adds keys, never renames or re-means one (scripts read
`stacks[].stack`, `state`, `resources`, `summary`). Resources carry names only, never values.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftctl import causes
from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    RunReport,
    Stack,
    State,
    Tool,
)

REPORT_VERSION = 2  # 2 added per-resource detail, outside changes, checks, causes
# a pull-request comment holds 65,536 characters (GitHub); the Markdown stays under it, footer included
MARKDOWN_LIMIT = 65_536
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
        "outside": sum(len(unignored(r.outside)) for r in report.results),
        "checks_failing": sum(len(r.checks) for r in report.results),
        "ignored": sum(ignored_count(r) for r in report.results),
    }


def unignored(changes: tuple[ResourceChange, ...]) -> list[ResourceChange]:
    return [c for c in changes if c.ignored_by is None]


def ignored_count(result: PlanResult) -> int:
    """Changes and outside changes a rule ignored, whole or in part."""
    return sum(1 for c in (*result.changes, *result.outside) if c.ignored_by or c.ignored_attributes)


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
        "causes": [_cause_dict(c) for c in causes.group(report.results)],
    }


def _cause_dict(cause: causes.Cause) -> dict[str, Any]:
    return {
        "resource_type": cause.resource_type,
        "action": cause.action,
        "attributes": list(cause.attributes),
        "stacks": list(cause.stacks),
        "resources": cause.resources,
    }


def _change_dict(change: ResourceChange) -> dict[str, Any]:
    return {
        "address": change.address,
        "action": change.action,
        "type": change.resource_type,
        "attributes": list(change.attributes),
        "outside": change.outside,
        "ignored_by": change.ignored_by,
        "ignored_attributes": list(change.ignored_attributes),
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
        "changes": [_change_dict(c) for c in result.changes],
        "outside": [_change_dict(c) for c in result.outside],
        "checks": [{"address": c.address, "status": c.status} for c in result.checks],
        "ignored": ignored_count(result),
    }


def result_from_dict(entry: dict[str, Any], root: Path, tool: Tool) -> PlanResult:
    """One stack of a written report back as a result (`driftctl show`); KeyError/ValueError if malformed."""
    error = entry.get("error")
    return PlanResult(
        stack=Stack(id=entry["stack"], path=root / entry["stack"], tool=tool),
        state=State(entry["state"]),
        exit_code=entry.get("exit_code"),
        resources=ResourceCounts(**entry["resources"]),
        error=PlanError(ErrorKind(error["kind"]), error["message"]) if error else None,
        duration_seconds=float(entry.get("duration_seconds", 0.0)),
        attempts=int(entry.get("attempts", 1)),
        log_path=Path(entry["log"]) if entry.get("log") else None,
        changes=tuple(_change_from_dict(c) for c in entry.get("changes", ())),
        outside=tuple(_change_from_dict(c) for c in entry.get("outside", ())),
        checks=tuple(CheckResult(c["address"], c["status"]) for c in entry.get("checks", ())),
    )


def _change_from_dict(entry: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        address=entry["address"],
        action=entry["action"],
        resource_type=entry.get("type", ""),
        attributes=tuple(entry.get("attributes", ())),
        outside=bool(entry.get("outside", False)),
        ignored_by=entry.get("ignored_by"),
        ignored_attributes=tuple(entry.get("ignored_attributes", ())),
    )


def to_json(report: RunReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def to_markdown(report: RunReport, limit: int = MARKDOWN_LIMIT) -> str:
    """Drifted and errored stacks with their resources, clean ones folded into a count, causes first.

    Built from whole blocks (a table row, a stack's resources, an error): past `limit` characters the
    rest is left out and counted, so a PR comment is never cut inside a table or a code block.
    """
    counts = summary(report)
    head = [
        f"### driftctl: {counts['drifted']} drifted, {counts['errored']} errored, "
        f"{counts['clean']} clean of {counts['total']} stacks"
    ]
    blocks: list[tuple[str, str]] = []  # (what it is, for the count of what was left out; its text)
    shown = [r for r in ordered(report.results) if r.state is not State.CLEAN]
    if shown:
        blocks.append(
            (
                "",
                "\n| Stack | State | Add | Change | Destroy | Replace | Duration |"
                "\n|---|---|--:|--:|--:|--:|--:|",
            )
        )
        blocks += [("stack row", _row(r)) for r in shown]
    clean = counts["clean"]
    if clean:
        blocks.append(("", f"\n{clean} clean stack{'s' if clean != 1 else ''} not listed."))
    found = causes.group(report.results)
    if found:
        blocks.append(("", "\n**Drift by cause** (resource type · action · attributes):\n"))
        blocks += [("cause", f"- {_cell(c.line())}") for c in found]
    blocks += [("resource list", _resources_block(r)) for r in shown if _has_detail(r)]
    blocks += [("error", _error_block(r)) for r in shown if r.error]
    if report.removed:
        blocks.append(("", "\nRemoved since the base: " + ", ".join(f"`{_cell(s)}`" for s in report.removed)))
    return _fit("\n".join(head), blocks, limit)


def _row(result: PlanResult) -> str:
    r = result.resources
    return (
        f"| `{_cell(result.stack.id)}` | {_STATE_BADGE[result.state]} | {r.add} | {r.change} "
        f"| {r.destroy} | {r.replace} | {result.duration_seconds:.1f}s |"
    )


def _has_detail(result: PlanResult) -> bool:
    return bool(result.changes or result.outside or result.checks)


def _resources_block(result: PlanResult) -> str:
    lines = [
        "",
        f"<details><summary><code>{_html(result.stack.id)}</code>: {_detail_summary(result)}</summary>",
        "",
    ]
    lines += [f"- {_change_text(c)}" for c in result.changes]
    lines += [f"- {_change_text(c)}, not acted on by the plan" for c in result.outside]
    lines += [f"- check `{_cell(c.address)}`: {c.status}" for c in result.checks]
    return "\n".join([*lines, "", "</details>"])


def _detail_summary(result: PlanResult) -> str:
    parts = [f"{len(unignored(result.changes))} resources"]
    if result.outside:
        parts.append(f"{len(unignored(result.outside))} changed outside Terraform")
    if result.checks:
        parts.append(f"{len(result.checks)} failing checks")
    if ignored_count(result):
        parts.append(f"{ignored_count(result)} ignored")
    return ", ".join(parts)


def _change_text(change: ResourceChange) -> str:
    text = f"{change.action} `{_cell(change.address)}`"
    if change.attributes:
        text += ": " + ", ".join(f"`{_cell(a)}`" for a in change.attributes)
    if change.outside:
        text += " (changed outside Terraform)"
    if change.ignored_by is not None:
        text = f"~~{text}~~ ignored: {_cell(change.ignored_by)}"
    elif change.ignored_attributes:
        text += " (ignored: " + ", ".join(f"`{_cell(a)}`" for a in change.ignored_attributes) + ")"
    return text


def _error_block(result: PlanResult) -> str:
    assert result.error is not None
    return "\n".join(
        [
            "",
            f"<details><summary><code>{_html(result.stack.id)}</code>: "
            f"{result.error.kind.value} error</summary>",
            "",
            "```",
            result.error.message.replace("```", "'''"),
            "```",
            "</details>",
        ]
    )


def _fit(head: str, blocks: list[tuple[str, str]], limit: int) -> str:
    footer_room = 300
    text = head
    for index, (_, block) in enumerate(blocks):
        if len(text) + 1 + len(block) + 1 > limit - footer_room:
            return text + "\n" + _left_out(blocks[index:], limit) + "\n"
        text += "\n" + block
    return text + "\n"


def _left_out(blocks: list[tuple[str, str]], limit: int) -> str:
    kinds: dict[str, int] = {}
    for kind, _ in blocks:
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
    what = ", ".join(f"{n:,} {kind}{'s' if n != 1 else ''}" for kind, n in kinds.items()) or "the rest"
    return (
        f"\n_Cut to fit {limit:,} characters: {what} left out. The JSON report (`--report`) has everything._"
    )


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
