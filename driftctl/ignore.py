"""Noise rules: changes a team has accepted, by stack, address, type, action and attribute (pure).

A rule never deletes what it matches: the change keeps its place in the report with the rule's
reason (`ignored_by`), and an ignored attribute moves to `ignored_attributes`. A drifted stack whose
every change is ignored is clean. A rule past its `until` date stops applying and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

from driftctl import classify
from driftctl.discover import matches_any
from driftctl.model import PlanResult, ResourceChange, ResourceCounts, State

ACTIONS = ("create", "update", "delete", "replace", "forget")
_KEYS = ("stack", "address", "type", "action", "attribute", "reason", "until")
SUGGESTED_DAYS = 90  # a suggested baseline expires, so accepted noise is looked at again


@dataclass(frozen=True)
class IgnoreRule:
    """What a rule matches (every selector given must match) and why; `source` is where it was written."""

    reason: str
    stack: str | None = None
    address: str | None = None
    type: str | None = None
    action: str | None = None
    attribute: str | None = None
    until: date | None = None
    source: str = "ignore"

    def expired(self, today: date) -> bool:
        return self.until is not None and today > self.until

    def matches(self, stack: str, change: ResourceChange) -> bool:
        return (
            (self.stack is None or matches_any(stack, [self.stack]))
            and (self.address is None or _glob(self.address).fullmatch(change.address) is not None)
            and (self.type is None or _glob(self.type).fullmatch(change.resource_type) is not None)
            and (self.action is None or self.action == change.action)
        )

    def covers(self, attribute: str) -> bool:
        """`tags` covers `tags.owner` and `tags["a.b"]`; `*` matches any run of characters."""
        assert self.attribute is not None
        pattern = _glob(self.attribute)
        return any(pattern.fullmatch(prefix) for prefix in _prefixes(attribute))


def parse_rule(value: object, source: str) -> IgnoreRule:
    """One rule from `.driftctl.yaml`; ValueError names the key at fault."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "a rule is a mapping of stack / address / type / action / attribute / reason / until"
        )
    unknown = [str(key) for key in value if key not in _KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
    text = {key: _text(key, value[key]) for key in _KEYS[:6] if value.get(key) is not None}
    if "reason" not in text:
        raise ValueError("every rule needs a reason")
    if not any(key in text for key in _KEYS[:5]):
        raise ValueError("a rule needs at least one of stack, address, type, action, attribute")
    if "action" in text and text["action"] not in ACTIONS:
        raise ValueError(f"action: expected one of {', '.join(ACTIONS)}, got {text['action']!r}")
    return IgnoreRule(
        reason=text["reason"],
        stack=text.get("stack"),
        address=text.get("address"),
        type=text.get("type"),
        action=text.get("action"),
        attribute=text.get("attribute"),
        until=_date(value.get("until")),
        source=source,
    )


def _text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"until: expected a date such as 2026-12-31, got {value!r}") from None


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """Only `*` is special: addresses and paths hold `[` and `.` literally (`aws_x.y["k"]`, `a[0].b`)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _prefixes(path: str) -> Iterable[str]:
    yield from (path[:i] for i, ch in enumerate(path) if ch in ".[" and i)
    yield path


@dataclass(frozen=True)
class Applied:
    results: tuple[PlanResult, ...]
    warnings: tuple[str, ...]


def apply(
    results: Sequence[PlanResult],
    rules: Sequence[IgnoreRule],
    today: date,
    outside_counts_as_drift: bool = False,
) -> Applied:
    """Tags what the live rules match; a drifted stack left with nothing unignored becomes clean.

    Outside changes the plan does not act on make a clean stack drifted only when
    `outside_counts_as_drift` and no rule ignores them.
    """
    live = [rule for rule in rules if not rule.expired(today)]
    warnings = tuple(
        f"{rule.source}: ignore rule expired on {rule.until} and no longer applies: {rule.reason}"
        for rule in rules
        if rule.expired(today)
    )
    return Applied(tuple(_apply_one(r, live, outside_counts_as_drift) for r in results), warnings)


def _apply_one(result: PlanResult, rules: Sequence[IgnoreRule], outside_counts: bool) -> PlanResult:
    changes = tuple(_tagged(result.stack.id, c, rules) for c in result.changes)
    outside = tuple(_tagged(result.stack.id, c, rules) for c in result.outside)
    updated = replace(result, changes=changes, outside=outside)
    outside_left = outside_counts and any(c.ignored_by is None for c in outside)
    if result.state is State.CLEAN and outside_left:
        return replace(updated, state=State.DRIFTED)  # --outside-counts-as-drift
    if result.state is not State.DRIFTED or (changes == result.changes and not outside):
        return updated
    kept = [c for c in changes if c.ignored_by is None]
    if kept or outside_left:
        return updated if changes == result.changes else replace(updated, resources=classify.counts_of(kept))
    if not changes and not outside_counts:
        return updated  # drifted for what no rule sees (outputs counted as drift)
    return replace(updated, state=State.CLEAN, resources=ResourceCounts())


def _tagged(stack: str, change: ResourceChange, rules: Sequence[IgnoreRule]) -> ResourceChange:
    matching = [rule for rule in rules if rule.matches(stack, change)]
    whole = next((rule for rule in matching if rule.attribute is None), None)
    if whole is not None:
        return replace(change, ignored_by=whole.reason)
    by_attribute = [rule for rule in matching if rule.attribute is not None]
    if not by_attribute or not change.attributes:
        return change
    ignored = {a: r for a in change.attributes for r in by_attribute if r.covers(a)}
    if not ignored:
        return change
    left = tuple(a for a in change.attributes if a not in ignored)
    return replace(
        change,
        attributes=left,
        ignored_attributes=tuple(ignored),
        ignored_by=None if left else next(iter(ignored.values())).reason,
    )


def suggest(results: Sequence[PlanResult], today: date) -> str:
    """An `ignore:` section for every unignored change and outside change of a run: a baseline to edit."""
    until = today + timedelta(days=SUGGESTED_DAYS)
    lines = ["ignore:"]
    for result in sorted(results, key=lambda r: r.stack.id):
        for change in (*result.changes, *result.outside):
            if change.ignored_by is not None:
                continue
            where = "changed outside Terraform" if change.outside else "planned"
            for attribute in change.attributes or (None,):
                lines += [
                    f"  - stack: {_yaml(result.stack.id)}",
                    f"    address: {_yaml(change.address)}",
                    f"    action: {change.action}",
                    *([f"    attribute: {_yaml(attribute)}"] if attribute else []),
                    f"    reason: {_yaml(f'baseline of {today}: {change.action} {where}')}",
                    f"    until: {until}",
                ]
    return "\n".join(lines if len(lines) > 1 else ["ignore: []"]) + "\n"


def _yaml(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escaping is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)
