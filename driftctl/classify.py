"""Where a plan is classified: `-detailed-exitcode` + the saved plan's JSON → clean / drifted / errored.

Counts come from `show -json` (`format_version` 0.x and 1.x: Terraform 1.0 to 1.11+, OpenTofu),
never from the human-readable plan text. Error kinds are read from the tool's stderr, the only
place an error is described; the patterns cover Terraform, OpenTofu, Terragrunt and the big clouds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftctl.model import ErrorKind, ResourceCounts, State

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
            r"Invalid multi-line string|Call to unknown function|Unsuitable value type",
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
