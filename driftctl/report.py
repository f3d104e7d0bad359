"""The run's report as JSON (version 1) or Markdown, and its atomic write to disk."""

from __future__ import annotations

import enum
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from driftctl.model import (
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceCounts,
    RunReport,
    Shard,
    Stack,
    State,
    Tool,
)

REPORT_VERSION = 1
T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
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
        # what `publish` needs to merge shards: every stack in the repository, which part this is, where
        "known": list(report.known) if report.known is not None else None,
        "shard": _shard_dict(report.shard),
        "commit": report.commit,
        "summary": summary(report),
    }


def _shard_dict(shard: Shard | None) -> dict[str, Any] | None:
    if shard is None:
        return None
    return {"index": shard.index, "total": shard.total, "partition": shard.partition}


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


class ReportFormatError(ValueError):
    """A JSON report driftctl cannot read back; the message names the key."""


def from_dict(document: Any) -> RunReport:
    """The report `to_dict` wrote, read back (for `publish`). Raises ReportFormatError naming the key."""
    reader = _Reader(document, "")
    version = reader.get("version", int)
    if version != REPORT_VERSION:
        raise ReportFormatError(f"version: expected {REPORT_VERSION}, got {version!r}")
    root = Path(reader.get("root", str))
    tool = reader.choice("tool", Tool)
    known = reader.get("known", list, optional=True)
    shard = reader.get("shard", dict, optional=True)
    return RunReport(
        started_at=reader.moment("started_at"),
        finished_at=reader.moment("finished_at"),
        root=root,
        tool=tool,
        mode=reader.get("mode", str),
        results=tuple(
            _result(_Reader(item, f"stacks[{i}]."), root, tool)
            for i, item in enumerate(reader.get("stacks", list))
        ),
        removed=tuple(reader.strings("removed")),
        known=None if known is None else tuple(reader.strings("known")),
        shard=None if shard is None else _shard(_Reader(shard, "shard.")),
        commit=reader.get("commit", str, optional=True),
    )


def _result(reader: _Reader, root: Path, tool: Tool) -> PlanResult:
    stack = reader.get("stack", str)
    counts = _Reader(reader.get("resources", dict), reader.where + "resources.")
    error = reader.get("error", dict, optional=True)
    errors = _Reader(error, reader.where + "error.") if error is not None else None
    log = reader.get("log", str, optional=True)
    return PlanResult(
        stack=Stack(id=stack, path=root if stack == "." else root / stack, tool=tool),
        state=reader.choice("state", State),
        exit_code=reader.get("exit_code", int, optional=True),
        resources=ResourceCounts(*(counts.get(k, int) for k in ("add", "change", "destroy", "replace"))),
        error=PlanError(errors.choice("kind", ErrorKind), errors.get("message", str)) if errors else None,
        duration_seconds=float(reader.get("duration_seconds", (int, float))),
        attempts=reader.get("attempts", int),
        log_path=Path(log) if log is not None else None,
    )


def _shard(reader: _Reader) -> Shard:
    index, total = reader.get("index", int), reader.get("total", int)
    if not 1 <= index <= total:
        raise ReportFormatError(f"shard: {index}/{total} is not a part of 1 to {total}")
    return Shard(index, total, reader.get("partition", str))


class _Reader:
    """Typed look-ups in one JSON object; errors name the key from the report's top."""

    def __init__(self, document: Any, where: str) -> None:
        if not isinstance(document, dict):
            raise ReportFormatError(f"{where.rstrip('.') or 'the report'}: expected an object")
        self.document = document
        self.where = where

    def get(self, key: str, kind: type[T] | tuple[type, ...], *, optional: bool = False) -> T:
        value = self.document.get(key)
        if value is None and optional:
            return value  # type: ignore[return-value]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ReportFormatError(f"{self.where}{key}: expected {_kind_name(kind)}, got {value!r:.60}")
        return value  # type: ignore[return-value]

    def choice(self, key: str, kind: type[E]) -> E:
        value = self.get(key, str)
        try:
            return kind(value)
        except ValueError:
            raise ReportFormatError(f"{self.where}{key}: unknown value {value!r:.60}") from None

    def moment(self, key: str) -> datetime:
        value = self.get(key, str)
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ReportFormatError(f"{self.where}{key}: not an RFC 3339 time: {value!r:.60}") from None

    def strings(self, key: str) -> list[str]:
        values = self.get(key, list)
        if not all(isinstance(value, str) for value in values):
            raise ReportFormatError(f"{self.where}{key}: expected a list of strings")
        return values


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return " or ".join(names[k] for k in kinds)


def read(path: Path) -> RunReport:
    """A report file read back; ReportFormatError names the file and the key."""
    try:
        document = json.loads(path.read_bytes())
        return from_dict(document)
    except OSError as error:
        raise ReportFormatError(f"{path}: cannot read: {error.strerror}") from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError and ReportFormatError are ValueErrors
        raise ReportFormatError(f"{path}: {error}") from None


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
