"""The order plans start in: longest first, from the durations the last run recorded.

With N plans at a time, starting the slow stacks first keeps one long plan from starting last and
holding the run open alone. Stacks with no recorded duration go first: they may be the slowest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftctl.model import Stack


def longest_first(stacks: Sequence[Stack], durations: Mapping[str, float | None]) -> list[Stack]:
    def key(stack: Stack) -> tuple[bool, float, str]:
        seconds = durations.get(stack.id)
        return (seconds is not None, -(seconds or 0.0), stack.id)

    return sorted(stacks, key=key)
