"""Drift grouped by cause across stacks: (resource type, action, attribute names), largest first (pure).

"aws_security_group · update · ingress: 14 stacks" tells a person that one cause (a provider bump,
an admission webhook) drifted many stacks at once. Attribute names are the top-level ones, so
`ingress[0].cidr_blocks` in one stack and `ingress[2].description` in another share a cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from driftctl.model import PlanResult, ResourceChange, State

_TOP_LEVEL = re.compile(r"^[^.\[]+")


@dataclass(frozen=True)
class Cause:
    resource_type: str
    action: str
    attributes: tuple[str, ...]
    stacks: tuple[str, ...]  # sorted, each once
    resources: int  # drifted resources with this cause, over all its stacks

    def line(self) -> str:
        parts = [self.resource_type or "(unknown type)", self.action]
        if self.attributes:
            parts.append(", ".join(self.attributes))
        stacks = len(self.stacks)
        return " · ".join(parts) + f": {stacks} stack{'s' if stacks != 1 else ''}"


def top_level(attributes: Iterable[str]) -> tuple[str, ...]:
    names = (_TOP_LEVEL.match(path) for path in attributes)
    return tuple(sorted({match.group(0) for match in names if match}))


def group(results: Iterable[PlanResult]) -> list[Cause]:
    """Every unignored change of the drifted stacks, grouped; most stacks first, then most resources."""
    stacks: dict[tuple[str, str, tuple[str, ...]], set[str]] = {}
    resources: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for result in results:
        if result.state is not State.DRIFTED:
            continue
        for change in result.changes:
            if change.ignored_by is None:
                key = _key(change)
                stacks.setdefault(key, set()).add(result.stack.id)
                resources[key] = resources.get(key, 0) + 1
    causes = [Cause(*key, tuple(sorted(ids)), resources[key]) for key, ids in stacks.items()]
    return sorted(
        causes, key=lambda c: (-len(c.stacks), -c.resources, c.resource_type, c.action, c.attributes)
    )


def _key(change: ResourceChange) -> tuple[str, str, tuple[str, ...]]:
    return (change.resource_type, change.action, top_level(change.attributes))
