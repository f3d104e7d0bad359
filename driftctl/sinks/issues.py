"""One tracked issue per drifted stack: what to open, edit, comment, close or reopen. Pure.

Issues are found again by a marker in their body (the label only narrows the listing): the marker
names the stack, and a fingerprint of the drift tells a run with the same drift (nothing to do) from a
changed drift (edit the body, add one comment). The issue tracker is its own memory: a run without a
history store still closes the issue of a stack that plans clean.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from urllib.parse import quote, unquote

from driftctl import causes
from driftctl.model import PlanResult, ResourceChange, Stack, State, Tool
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta, Drift, Failure, age_text

DRIFT = "drift"
ERROR = "error"
_MARKER = re.compile(r"<!-- driftctl:(drift|error) stack=(\S+) -->")
_FINGERPRINT = re.compile(r"<!-- driftctl:fingerprint=([0-9a-z-]+) -->")
_MAX_TABLE_ROWS = 200  # a body stays far below the trackers' 65,536-character limit


@dataclass(frozen=True)
class Issue:
    number: int
    open: bool
    body: str
    url: str = ""

    @property
    def marker(self) -> tuple[str, str] | None:
        """(kind, stack) when driftctl wrote this issue."""
        found = _MARKER.search(self.body)
        return (found.group(1), unquote(found.group(2))) if found else None

    @property
    def fingerprint(self) -> str | None:
        found = _FINGERPRINT.search(self.body)
        return found.group(1) if found else None


@dataclass(frozen=True)
class IssueAction:
    """One step on one issue. `number` None opens a new issue with `title` and `body`."""

    kind: str  # DRIFT or ERROR
    stack: str
    number: int | None
    title: str = ""
    body: str | None = None  # the new body
    state: str | None = None  # "open" or "closed"
    comment: str | None = None  # posted before closing, after reopening or editing


@dataclass(frozen=True)
class IssuePlan:
    actions: tuple[IssueAction, ...]
    held_back: tuple[str, ...] = ()  # stacks whose issue the cap kept from opening
    links: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (kind, stack) -> url, known ones


@dataclass(frozen=True)
class IssueSettings:
    errors_after: int = 3
    max_open: int | None = None  # issues one run may open or reopen


def marker(kind: str, stack: str) -> str:
    return f"<!-- driftctl:{kind} stack={quote(stack, safe='/._-')} -->"


def plan_issues(
    existing: Sequence[Issue],
    delta: Delta,
    results: Sequence[PlanResult],
    settings: IssueSettings,
    context: RunContext,
    removed: Collection[str] = (),
) -> IssuePlan:
    """What to do with the tracker's issues after this run."""
    found = _by_stack(existing)
    actions: list[IssueAction] = []
    held: list[str] = []
    budget = settings.max_open
    sharing = shared_causes([d.result for d in delta.drifted])

    def wants_open(kind: str, stack: str, title: str, body: str, back: str) -> None:
        nonlocal budget
        issue = found.get((kind, stack))
        if issue is not None and issue.open:
            if issue.fingerprint != Issue(0, True, body).fingerprint:
                changed = "The drift changed" if kind == DRIFT else "The plan fails differently now"
                comment = f"{changed}{_in(context)}."
                actions.append(IssueAction(kind, stack, issue.number, body=body, comment=comment))
            return
        if budget is not None and budget <= 0:
            held.append(stack)
            return
        budget = None if budget is None else budget - 1
        if issue is None:
            actions.append(IssueAction(kind, stack, None, title=title, body=body))
        else:
            actions.append(IssueAction(kind, stack, issue.number, body=body, state="open", comment=back))

    for drift in delta.drifted:
        others = sharing.get(drift.stack, ())
        wants_open(
            DRIFT,
            drift.stack,
            f"Drift in {drift.stack}",
            drift_body(drift, others, context),
            f"The drift is back{_in(context)}.",
        )
    for failure in delta.errored:
        if failure.runs >= settings.errors_after:
            result = next(r for r in results if r.stack.id == failure.stack)
            wants_open(
                ERROR,
                failure.stack,
                f"Plan failing: {failure.stack}",
                error_body(failure, result, context),
                f"The plan fails again{_in(context)}: {failure.runs} runs in a row.",
            )
    for result in sorted(results, key=lambda r: r.stack.id):
        stack = result.stack.id
        if result.state is State.CLEAN:
            actions += _close(
                found.get((DRIFT, stack)), DRIFT, stack, f"`{stack}` plans clean{_in(context)}."
            )
        if result.state is not State.ERRORED:
            actions += _close(
                found.get((ERROR, stack)), ERROR, stack, f"`{stack}` plans again{_in(context)}."
            )
    for stack in sorted(set(removed) | set(delta.removed)):
        gone = f"`{stack}` is no longer in the repository{_in(context)}."
        for kind in (DRIFT, ERROR):
            actions += _close(found.get((kind, stack)), kind, stack, gone)
    links = {key: issue.url for key, issue in found.items() if issue.url}
    return IssuePlan(tuple(actions), tuple(held), links)


def shared_causes(results: Sequence[PlanResult]) -> dict[str, tuple[str, ...]]:
    """Per drifted stack, the other stacks that drifted with one of its causes (`causes.group`)."""
    others: dict[str, set[str]] = {}
    for cause in causes.group(results):
        for stack in cause.stacks if len(cause.stacks) > 1 else ():
            others.setdefault(stack, set()).update(s for s in cause.stacks if s != stack)
    return {stack: tuple(sorted(names)) for stack, names in others.items()}


def _by_stack(existing: Sequence[Issue]) -> dict[tuple[str, str], Issue]:
    """The issue per (kind, stack): the open one with the lowest number, else the newest closed one."""
    chosen: dict[tuple[str, str], Issue] = {}
    for issue in existing:
        key = issue.marker
        if key is None:
            continue
        current = chosen.get(key)
        if current is None or _preferred(issue, current):
            chosen[key] = issue
    return chosen


def _preferred(issue: Issue, current: Issue) -> bool:
    if issue.open != current.open:
        return issue.open
    return issue.number < current.number if issue.open else issue.number > current.number


def _close(issue: Issue | None, kind: str, stack: str, comment: str) -> list[IssueAction]:
    if issue is None or not issue.open:
        return []
    return [IssueAction(kind, stack, issue.number, state="closed", comment=comment)]


def _in(context: RunContext) -> str:
    if context.run_url:
        return f" in [{context.run_name or 'this run'}]({context.run_url})"
    return ""


# ---- bodies ----------------------------------------------------------------------------------------


def fingerprint(result: PlanResult) -> str:
    """Stable over runs with the same drift: resources, actions and attribute names, never values."""
    shape = {
        "counts": [
            result.resources.add,
            result.resources.change,
            result.resources.destroy,
            result.resources.replace,
        ],
        "changes": sorted(_change_key(c) for c in result.changes),
        "outside": sorted(_change_key(c) for c in result.outside),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def _change_key(change: ResourceChange) -> list[object]:
    return [change.address, change.action, list(change.attributes), change.ignored_by or ""]


def drift_body(drift: Drift, same_cause: Sequence[str], context: RunContext) -> str:
    result = drift.result
    counts = result.resources
    lines = [
        marker(DRIFT, drift.stack),
        f"<!-- driftctl:fingerprint={fingerprint(result)} -->",
        f"## Drift in `{_code(drift.stack)}`",
        "",
        f"- **First seen:** {_when(drift.first_seen)} "
        f"(drifted for {age_text(drift.age_seconds)} when this was written)",
        f"- **Plan:** {counts.add} to add, {counts.change} to change, {counts.destroy} to destroy, "
        f"{counts.replace} to replace",
    ]
    if same_cause:
        shown = ", ".join(f"`{_code(s)}`" for s in same_cause[:20])
        more = f" and {len(same_cause) - 20} more" if len(same_cause) > 20 else ""
        lines.append(f"- **Cause group:** the same changes drifted {shown}{more}: probably one cause")
    lines += _resource_table("Resources", result.changes)
    lines += _resource_table("Changed outside Terraform (not acted on by the plan)", result.outside)
    lines += _reproduce(result)
    lines += _footer(context, "updated while the drift lasts and closed when the stack plans clean")
    return "\n".join(lines) + "\n"


def error_body(failure: Failure, result: PlanResult, context: RunContext) -> str:
    lines = [
        marker(ERROR, failure.stack),
        f"<!-- driftctl:fingerprint={failure.kind.value} -->",
        f"## `{_code(failure.stack)}` cannot be planned",
        "",
        f"- **Failed:** {failure.runs} run{'s' if failure.runs > 1 else ''} in a row (when this was written)",
        f"- **Error kind:** {failure.kind.value}",
        "",
        "Its drift is unknown while the plan fails. The error itself is in the run's log.",
    ]
    lines += _reproduce(result)
    lines += _footer(context, "closed when the stack plans again")
    return "\n".join(lines) + "\n"


def _resource_table(title: str, changes: Sequence[ResourceChange]) -> list[str]:
    if not changes:
        return []
    lines = ["", f"### {title}", "", "| Resource | Action | Attributes |", "|---|---|---|"]
    for change in changes[:_MAX_TABLE_ROWS]:
        attributes = ", ".join(f"`{_code(a)}`" for a in change.attributes) or "—"
        action = change.action + (f" (ignored: {_cell(change.ignored_by)})" if change.ignored_by else "")
        lines.append(f"| `{_code(change.address)}` | {action} | {attributes} |")
    if len(changes) > _MAX_TABLE_ROWS:
        lines.append(f"| and {len(changes) - _MAX_TABLE_ROWS} more | | |")
    return lines


_PLAN_COMMAND = {
    Tool.TERRAGRUNT: "terragrunt plan",
    Tool.TERRAFORM: "terraform init && terraform plan",
    Tool.TOFU: "tofu init && tofu plan",
}


def _reproduce(result: PlanResult) -> list[str]:
    return ["", "### Reproduce locally", "", "```sh", *_commands(result.stack), "```"]


def _commands(stack: Stack) -> list[str]:
    """`terragrunt plan` in the unit's directory; a generated unit is generated first, from the
    directory of its outermost `terragrunt.stack.hcl` (`terragrunt stack generate` works downwards)."""
    plan = _PLAN_COMMAND[stack.tool]
    if not stack.stack_files:
        return [f"cd {_shell_word(stack.id)}", plan]
    inside = PurePath(os.path.relpath(stack.path, stack.stack_files[0].parent)).as_posix().split("/")
    parts = stack.id.split("/")
    if parts[-len(inside) :] != inside:
        return [f"cd {_shell_word(stack.id)}", plan]  # not the layout generation makes: plan in place
    outer = "/".join(parts[: -len(inside)]) or "."
    return [
        f"cd {_shell_word(outer)}",
        "terragrunt stack generate",
        f"cd {_shell_word('/'.join(inside))}",
        plan,
    ]


def _footer(context: RunContext, lifecycle: str) -> list[str]:
    where = []
    if context.run_url:
        where.append(f"[{context.run_name or 'the run'}]({context.run_url})")
    if context.commit:
        where.append(f"commit `{context.commit[:12]}`")
    seen = f"Last changed by {', '.join(where)}. " if where else ""
    return ["", "---", f"{seen}_Written by driftctl: {lifecycle}._"]


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|").replace("\n", " ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _shell_word(text: str) -> str:
    safe = re.fullmatch(r"[A-Za-z0-9_./-]+", text)
    return text if safe else "'" + text.replace("'", "'\\''") + "'"
