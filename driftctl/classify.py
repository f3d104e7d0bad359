"""Where a plan is classified: `-detailed-exitcode`, the `plan -json` stream and the saved plan's JSON.

Counts and resources come from `show -json` (`format_version` 0.x and 1.x: Terraform 1.0 to 1.11+,
OpenTofu), never from the human-readable plan text; a clean plan is read from its stream alone.
Names only cross this module: addresses, actions, attribute paths, check addresses, never a value.
Error kinds come from the structured diagnostics where there are some, else from stderr; the
patterns cover Terraform, OpenTofu, Terragrunt and the big clouds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from driftctl.model import CheckResult, ErrorKind, PlanError, ResourceChange, ResourceCounts, State

SUPPORTED_FORMAT_MAJORS = ("0", "1")
TRANSIENT_KINDS = frozenset({ErrorKind.LOCK, ErrorKind.NETWORK})

# Order matters: the first kind whose pattern matches wins (a lock error also mentions a timeout).
_ERROR_PATTERNS: tuple[tuple[ErrorKind, re.Pattern[str]], ...] = (
    (
        ErrorKind.LOCK,
        re.compile(
            r"Error acquiring the state lock|state lock|ConditionalCheckFailedException|"
            r"lock(ed)? by another|already locked|Error locking state",
            re.IGNORECASE,
        ),
    ),
    (
        ErrorKind.AUTH,
        re.compile(
            r"AccessDenied|UnauthorizedOperation|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch|"
            r"NoCredentialProviders|no valid credential sources|could not find default credentials|"
            r"AuthorizationFailed|AuthenticationFailed|invalid_grant|\b401 Unauthorized|\b403 Forbidden|"
            r"permission denied|PERMISSION_DENIED|not authorized",
            re.IGNORECASE,
        ),
    ),
    (
        ErrorKind.NETWORK,
        re.compile(
            r"connection reset|connection refused|i/o timeout|TLS handshake timeout|no such host|"
            r"network is unreachable|dial tcp|context deadline exceeded|unexpected EOF|broken pipe|"
            r"Failed to (query|install) (available )?provider|could not (download|retrieve)|"
            r"error downloading|Failed to download|"
            r"Too ?Many ?Requests|StatusCode:? ?429|rate ?limit|Rate exceeded|Throttl|RequestLimitExceeded|"
            r"SlowDown|503 Service Unavailable|502 Bad Gateway|504 Gateway Time-?out|timed out",
            re.IGNORECASE,
        ),
    ),
    (
        ErrorKind.CONFIG,
        re.compile(
            r"Unsupported argument|Missing required argument|Reference to undeclared|Invalid reference|"
            r"No value for required variable|Unsupported block type|Invalid expression|"
            r"Error: Argument or block definition required|Module not installed|Missing required provider|"
            r"Inconsistent dependency lock file|Invalid function argument|Unsupported attribute|"
            r"Error parsing|Failed to load|Invalid (block|value|index|type)|Duplicate |"
            r"Error reading|does not exist|Could not find|Unreadable module directory|"
            r"Invalid multi-line string|Call to unknown function|Unsuitable value type|"
            r"Unknown variable|There is no variable named",
            re.IGNORECASE,
        ),
    ),
)

# terragrunt >= 0.67 wraps the tool's stdout as `HH:MM:SS.mmm STDOUT terraform: ...` unless forwarded
_TG_LOG_PREFIX = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3}\s+STDOUT\s+(?:\[[^\]]*\]\s+)?\S+:\s?")


class PlanFormatError(Exception):
    """The saved plan's JSON could not be read."""


@dataclass(frozen=True)
class PlanSummary:
    resources: ResourceCounts
    outputs_changed: bool


def state_for_exit(exit_code: int) -> State:
    """`-detailed-exitcode`: 0 no changes, 2 changes present, anything else an error."""
    if exit_code == 0:
        return State.CLEAN
    if exit_code == 2:
        return State.DRIFTED
    return State.ERRORED


def final_state(summary: PlanSummary | None, outputs_count_as_drift: bool) -> State:
    """A drifted exit whose only changes are outputs is clean unless outputs are asked to count."""
    outputs_only = summary is not None and not summary.resources.total and summary.outputs_changed
    return State.CLEAN if outputs_only and not outputs_count_as_drift else State.DRIFTED


def error_kind(lines: Iterable[str], timed_out: bool = False) -> ErrorKind:
    if timed_out:
        return ErrorKind.TIMEOUT
    text = "\n".join(lines)
    for kind, pattern in _ERROR_PATTERNS:
        if pattern.search(text):
            return kind
    return ErrorKind.UNKNOWN


def is_transient(kind: ErrorKind) -> bool:
    return kind in TRANSIENT_KINDS


def parse_plan_json(text: str) -> Mapping[str, Any]:
    """The plan document from `show -json`, tolerating terragrunt's log prefix on each stdout line."""
    for candidate in (text, _strip_log_prefix(text)):
        try:
            document = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict):
            _check_format(document)
            return document
    raise PlanFormatError("show -json did not print a JSON plan document")


def _strip_log_prefix(text: str) -> str:
    return "\n".join(_TG_LOG_PREFIX.sub("", line) for line in text.splitlines() if "STDOUT" in line)


def _check_format(document: Mapping[str, Any]) -> None:
    version = str(document.get("format_version", ""))
    if version.split(".")[0] not in SUPPORTED_FORMAT_MAJORS:
        raise PlanFormatError(f"unsupported plan format_version {version!r} (driftctl reads 0.x and 1.x)")


def summarize(document: Mapping[str, Any]) -> PlanSummary:
    counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0}
    for change in document.get("resource_changes") or ():
        action = _action(change)
        if action:
            counts[action] += 1
    outputs = document.get("output_changes") or {}
    outputs_changed = any(_actions(o) not in (["no-op"], []) for o in outputs.values())
    return PlanSummary(ResourceCounts(**counts), outputs_changed)


def _actions(change: Mapping[str, Any]) -> list[str]:
    actions = change.get("actions")
    return [str(a) for a in actions] if isinstance(actions, list) else []


def _action(resource_change: Mapping[str, Any]) -> str | None:
    change = resource_change.get("change") or {}
    actions: Sequence[str] = _actions(change)
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions == ["create"]:
        return "add"
    if actions == ["delete"]:
        return "destroy"
    if actions in (["update"], ["forget"]):
        return "change"
    # a no-op that moves or imports an object still changes state: Terraform reports it as a change
    moved = resource_change.get("previous_address") not in (None, resource_change.get("address"))
    if actions == ["no-op"] and (moved or change.get("importing")):
        return "change"
    return None


# --- what drifted, resource by resource: names only, never a value ---------------------------------

# `planned_change` actions of the JSON stream; `read`, `noop`, `move` and `import` change nothing
# deployed. `show -json` actions go through `_detail_action`.
_STREAM_ACTIONS = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "forget": "forget",
}
_COUNT_KEYS = {
    "create": "add",
    "update": "change",
    "delete": "destroy",
    "replace": "replace",
    "forget": "change",
}
# a hook message ends with the object's id (`... Refreshing state... [id=i-0abc]`): a value, left out
_HOOK_ID = re.compile(r"\s*\[[A-Za-z0-9_.-]+=[^\]]*\]$")
_CHECK_CONTEXT = re.compile(r'^check "([^"]+)"$')
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Diagnostic:
    """A structured diagnostic of `plan -json`; its snippet (which quotes values) is never kept."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None
    filename: str | None = None
    line: int | None = None

    def where(self) -> str:
        places = [self.address or "", f"{self.filename}:{self.line}" if self.filename else ""]
        return ", ".join(p for p in places if p)


@dataclass(frozen=True)
class StreamResult:
    """What the `plan -json` stream said, for a stack whose saved plan is not read (or cannot be)."""

    changes: tuple[ResourceChange, ...]
    drift: tuple[ResourceChange, ...]
    diagnostics: tuple[Diagnostic, ...]
    checks: tuple[CheckResult, ...]
    summary: Mapping[str, int] | None
    json_lines: int
    other_lines: int

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


class PlanStream:
    """Reads `plan -json` line by line (Terraform >= 0.15.3, OpenTofu): state for the result, a log line each.

    `feed` returns what the stack's log keeps for a line: the message's `@message` (Terraform writes
    no attribute value there; a hook's trailing `[id=...]` is cut), a diagnostic's summary, detail and
    place (never its snippet, which quotes values), or None for a line that is not a message.
    """

    def __init__(self) -> None:
        self._changes: dict[str, ResourceChange] = {}
        self._drift: dict[str, ResourceChange] = {}
        self._diagnostics: list[Diagnostic] = []
        self._checks: dict[str, CheckResult] = {}
        self._summary: dict[str, int] | None = None
        self._json_lines = 0
        self._other_lines = 0

    def feed(self, line: str) -> str | None:
        message = _message(line)
        if message is None:
            self._other_lines += 1
            return None
        self._json_lines += 1
        kind = message.get("type")
        body = message.get(_BODY_KEYS.get(str(kind), ""))
        if kind == "planned_change" and isinstance(body, Mapping):
            change = _stream_change(body)
            if change is not None:
                self._changes[change.address] = change
        elif kind == "resource_drift" and isinstance(body, Mapping):
            change = _stream_change(body, outside=True)
            if change is not None:
                self._drift[change.address] = change
        elif kind == "change_summary" and isinstance(body, Mapping):
            self._summary = {k: v for k, v in body.items() if isinstance(v, int) and not isinstance(v, bool)}
        elif kind == "diagnostic" and isinstance(body, Mapping):
            diagnostic = _diagnostic(body)
            self._diagnostics.append(diagnostic)
            check = _failed_check(body)
            if check is not None:
                self._checks[check.address] = check
            return _diagnostic_line(diagnostic)
        text = str(message.get("@message", ""))
        return _HOOK_ID.sub("", text) if "hook" in message else text

    def result(self) -> StreamResult:
        return StreamResult(
            changes=tuple(self._changes.values()),
            drift=tuple(self._drift.values()),
            diagnostics=tuple(self._diagnostics),
            checks=tuple(self._checks.values()),
            summary=self._summary,
            json_lines=self._json_lines,
            other_lines=self._other_lines,
        )


_BODY_KEYS = {
    "planned_change": "change",
    "resource_drift": "change",
    "change_summary": "changes",
    "diagnostic": "diagnostic",
}


def _message(line: str) -> Mapping[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        text = _TG_LOG_PREFIX.sub("", text)  # terragrunt wraps stdout unless it is forwarded
    if not text.startswith("{"):
        return None
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return None
    return message if isinstance(message, dict) and "type" in message else None


def _stream_change(body: Mapping[str, Any], outside: bool = False) -> ResourceChange | None:
    resource = body.get("resource")
    action = _STREAM_ACTIONS.get(str(body.get("action")))
    if not isinstance(resource, Mapping) or action is None or not isinstance(resource.get("addr"), str):
        return None
    return ResourceChange(
        address=resource["addr"],
        action=action,
        resource_type=str(resource.get("resource_type", "")),
        outside=outside,
    )


def _diagnostic(body: Mapping[str, Any]) -> Diagnostic:
    place = body.get("range")
    start = place.get("start") if isinstance(place, Mapping) else None
    line = start.get("line") if isinstance(start, Mapping) else None
    return Diagnostic(
        severity=str(body.get("severity", "error")),
        summary=str(body.get("summary", "")),
        detail=str(body.get("detail", "")),
        address=body["address"] if isinstance(body.get("address"), str) else None,
        filename=place["filename"]
        if isinstance(place, Mapping) and isinstance(place.get("filename"), str)
        else None,
        line=line if isinstance(line, int) else None,
    )


def _diagnostic_line(diagnostic: Diagnostic) -> str:
    where = diagnostic.where()
    detail = " ".join(diagnostic.detail.split())
    return (
        f"{diagnostic.severity.capitalize()}: {diagnostic.summary}"
        + (f" ({where})" if where else "")
        + (f": {detail}" if detail else "")
    )


def _failed_check(body: Mapping[str, Any]) -> CheckResult | None:
    """A `check` block's failed assertion (Terraform >= 1.5 warns; the snippet's context names the block)."""
    if body.get("summary") != "Check block assertion failed":
        return None
    snippet = body.get("snippet")
    context = snippet.get("context") if isinstance(snippet, Mapping) else None
    match = _CHECK_CONTEXT.match(context) if isinstance(context, str) else None
    address = body.get("address")
    if isinstance(address, str) and address:
        return CheckResult(address, "fail")
    return CheckResult(f"check.{match.group(1)}", "fail") if match else None


def error_from_diagnostics(diagnostics: Sequence[Diagnostic]) -> PlanError | None:
    """The kind and message of a failed plan from its error diagnostics (stderr is the fallback)."""
    errors = [d for d in diagnostics if d.severity == "error"]
    if not errors:
        return None
    lines = [_diagnostic_line(d) for d in errors]
    return PlanError(error_kind(lines), "\n".join(lines))


# --- `show -json`: attribute names, changes made outside Terraform, checks ---------------------------


@dataclass(frozen=True)
class PlanDetail:
    changes: tuple[ResourceChange, ...]
    outside: tuple[ResourceChange, ...]
    checks: tuple[CheckResult, ...]


def detail(document: Mapping[str, Any]) -> PlanDetail:
    """Resources, outside changes and failing checks of a `show -json` document (format 0.x and 1.x).

    `resource_drift` (Terraform >= 0.15.4) lists objects changed outside Terraform; from format 1.1
    (Terraform >= 1.2) `relevant_attributes` says which of them the plan depends on. A drifted object
    the plan acts on, or that is relevant to it, is a cause and is marked `outside`; one the plan does
    not act on is reported apart. Checks (`checks`, Terraform >= 1.5) are kept when they fail or error.
    """
    changes = [c for c in map(_detail_change, _entries(document, "resource_changes")) if c is not None]
    drifted = [c for c in map(_detail_change, _entries(document, "resource_drift")) if c is not None]
    relevant = _relevant_resources(document)
    planned = {c.address for c in changes}
    causes = {c.address for c in drifted if relevant is None or c.address in relevant}
    changes = [replace(c, outside=c.address in causes) for c in changes]
    outside = [replace(c, outside=True) for c in drifted if c.address not in planned]
    return PlanDetail(tuple(changes), tuple(outside), _checks(document))


def _entries(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = document.get(key)
    return [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []


def _relevant_resources(document: Mapping[str, Any]) -> set[str] | None:
    """Addresses `relevant_attributes` names; None for a format that does not say (before 1.1)."""
    if "relevant_attributes" not in document and _format_before(document, (1, 1)):
        return None
    return {str(e.get("resource")) for e in _entries(document, "relevant_attributes")}


def _format_before(document: Mapping[str, Any], version: tuple[int, int]) -> bool:
    parts = str(document.get("format_version", "0.0")).split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) < version
    except ValueError:
        return True


def _detail_action(entry: Mapping[str, Any]) -> str | None:
    change = entry.get("change") or {}
    actions = _actions(change)
    if "delete" in actions and "create" in actions:
        return "replace"
    if len(actions) == 1 and actions[0] in _STREAM_ACTIONS:
        return actions[0]
    moved = entry.get("previous_address") not in (None, entry.get("address"))
    if actions == ["no-op"] and (moved or change.get("importing")):
        return "update"  # a move or an import changes state, as `_action` counts it
    return None


def _detail_change(entry: Mapping[str, Any]) -> ResourceChange | None:
    action = _detail_action(entry)
    address = entry.get("address")
    if action is None or not isinstance(address, str):
        return None
    change = entry.get("change") or {}
    return ResourceChange(
        address=address,
        action=action,
        resource_type=str(entry.get("type", "")),
        attributes=changed_attributes(change, action) if action in ("update", "replace") else (),
    )


def changed_attributes(change: Mapping[str, Any], action: str = "update") -> tuple[str, ...]:
    """Paths of the attributes that differ, before against after: `tags.owner`, `ingress[0].cidr_blocks`.

    A value unknown until apply differs too, except in a replacement, where every computed attribute
    becomes unknown: there only `replace_paths` make one count. A list of plain values is one attribute;
    a sensitive value's inside is never walked (its keys may be secret too).
    """
    found: list[tuple[str, bool]] = []
    sensitive = _either(change.get("before_sensitive"), change.get("after_sensitive"))
    _diff("", change.get("before"), change.get("after"), change.get("after_unknown"), sensitive, found)
    forced = {_path(p) for p in change.get("replace_paths") or () if isinstance(p, list)}
    keep = [
        path
        for path, unknown_only in found
        if not (unknown_only and action == "replace") or any(_within(path, f) for f in forced)
    ]
    return tuple(dict.fromkeys(keep))


def _either(before: Any, after: Any) -> Any:
    """Sensitivity marks of both sides merged: a node is sensitive when either side says so."""
    if before is True or after is True:
        return True
    if isinstance(before, dict) or isinstance(after, dict):
        b, a = _as_dict(before), _as_dict(after)
        return {k: _either(b.get(k), a.get(k)) for k in set(b) | set(a)}
    if isinstance(before, list) or isinstance(after, list):
        bl, al = _as_list(before), _as_list(after)
        return [_either(_at(bl, i), _at(al, i)) for i in range(max(len(bl), len(al)))]
    return False


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _at(items: list[Any], index: int) -> Any:
    return items[index] if index < len(items) else None


def _diff(
    path: str, before: Any, after: Any, unknown: Any, sensitive: Any, found: list[tuple[str, bool]]
) -> None:
    """Appends (path, differs only by becoming unknown) for every differing attribute under `path`."""
    if unknown is True:
        found.append((path, True))
        return
    if sensitive is True or not _nested(before, after):
        if before != after:
            found.append((path, False))
        elif _any_unknown(unknown):
            found.append((path, True))
        return
    if isinstance(before, dict) or isinstance(after, dict):
        b, a, u, s = _as_dict(before), _as_dict(after), _as_dict(unknown), _as_dict(sensitive)
        for key in sorted(set(b) | set(a) | set(u)):
            _diff(_join(path, key), b.get(key), a.get(key), u.get(key), s.get(key), found)
        return
    bl, al, ul, sl = _as_list(before), _as_list(after), _as_list(unknown), _as_list(sensitive)
    if len(bl) != len(al):
        found.append((path, False))
        return
    for i in range(len(bl)):
        _diff(f"{path}[{i}]", bl[i], al[i], _at(ul, i), _at(sl, i), found)


def _nested(before: Any, after: Any) -> bool:
    """Walked into: objects and maps, and lists holding objects (a list of plain values is one attribute)."""
    if isinstance(before, dict) or isinstance(after, dict):
        return isinstance(before, dict | None) and isinstance(after, dict | None)
    if isinstance(before, list) and isinstance(after, list):
        return any(isinstance(item, dict | list) for item in before + after)
    return False


def _any_unknown(unknown: Any) -> bool:
    if isinstance(unknown, dict):
        return any(_any_unknown(v) for v in unknown.values())
    if isinstance(unknown, list):
        return any(_any_unknown(v) for v in unknown)
    return unknown is True


def _join(path: str, key: str) -> str:
    step = f".{key}" if _IDENTIFIER.match(key) else "[" + json.dumps(key) + "]"
    return step.lstrip(".") if not path else path + step


def _path(steps: Sequence[Any]) -> str:
    path = ""
    for step in steps:
        path = f"{path}[{step}]" if isinstance(step, int) else _join(path, str(step))
    return path


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _checks(document: Mapping[str, Any]) -> tuple[CheckResult, ...]:
    failing = []
    for entry in _entries(document, "checks"):
        address = entry.get("address")
        name = address.get("to_display") if isinstance(address, Mapping) else None
        status = entry.get("status")
        if isinstance(name, str) and status in ("fail", "error"):
            failing.append(CheckResult(name, str(status)))
    return tuple(failing)


def counts_of(changes: Iterable[ResourceChange]) -> ResourceCounts:
    """The four counts of a list of resource changes (ignored ones left out by the caller)."""
    counts = dict.fromkeys(("add", "change", "destroy", "replace"), 0)
    for change in changes:
        counts[_COUNT_KEYS[change.action]] += 1
    return ResourceCounts(**counts)
