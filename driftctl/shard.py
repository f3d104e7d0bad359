"""Splitting a run across CI workers: which stacks shard I of N plans (pure).

Every worker computes the partition on its own, from the stack ids alone (and the same durations),
so no worker has to talk to another. Each stack goes to the shard that ranks highest for it under
rendezvous hashing (highest random weight): a stack's rank of the shards depends only on its id and
N, so adding or removing a stack moves no other stack.

When the history knows how long stacks take, the shards are also balanced by expected duration, with
bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent hashing with bounded loads", 2018):
the stacks are placed longest first, each on its highest-ranked shard that stays under
`(1 + SLACK)` times the mean load, else the least loaded. The cap only binds where hashing alone would
leave a shard well above the mean (a few long stacks among few units); with many units per shard it
rarely binds, and where it does not, the placement is exactly the rendezvous one, stable as above. Where
it does, adding a stack can move the few shorter stacks after it in that order: a worker that waits
twice as long as the others costs more than a handful of stacks changing shard.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from driftctl.model import Shard, Stack

SLACK = 0.1  # how far above the mean load a shard may go before a stack takes its next choice
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

S = TypeVar("S", bound=Stack)


def parse(value: object) -> Shard:
    """`I/N` (1-based), as given to `--shard` or `DRIFTCTL_SHARD`; ValueError says what is wrong."""
    match = _SPEC.match(str(value)) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if match is None:
        raise ValueError(f"expected I/N such as 2/5 (shard I of N, from 1), got {value!r}")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1:
        raise ValueError(f"the number of shards must be at least 1, got {value!r}")
    if not 1 <= index <= total:
        raise ValueError(f"the shard must be between 1 and {total}, got {value!r}")
    return Shard(index, total)


def ranking(stack_id: str, total: int) -> list[int]:
    """The shards (1-based) in the order this stack prefers them: highest weight first."""
    key = stack_id.encode("utf-8") + b"\0"
    return sorted(range(1, total + 1), key=lambda shard: _score(key, shard), reverse=True)


def _score(key: bytes, shard: int) -> bytes:
    # a keyed hash of (stack, shard): compared as bytes, ties are as unlikely as 64-bit collisions
    return hashlib.blake2b(key + b"%d" % shard, digest_size=8).digest()


def assign(
    stack_ids: Sequence[str], total: int, durations: Mapping[str, float | None] | None = None
) -> dict[str, int]:
    """Each stack id's shard (1-based). `durations` are the expected seconds of the stacks history knows."""
    if total == 1:
        return dict.fromkeys(stack_ids, 1)
    weights = _weights(stack_ids, durations)
    if weights is None:
        return {stack: _top(stack, total) for stack in stack_ids}
    cap = (1 + SLACK) * sum(weights.values()) / total
    loads = [0.0] * (total + 1)
    placed: dict[str, int] = {}
    for stack in sorted(stack_ids, key=lambda s: (-weights[s], s)):
        weight = weights[stack]
        choices = ranking(stack, total)
        shard = next(
            (c for c in choices if loads[c] + weight <= cap),
            min(choices, key=lambda c: loads[c]),  # longer than what any shard has left: least loaded
        )
        loads[shard] += weight
        placed[stack] = shard
    return {stack: placed[stack] for stack in stack_ids}


def _weights(
    stack_ids: Sequence[str], durations: Mapping[str, float | None] | None
) -> dict[str, float] | None:
    """Each stack's expected duration; one history does not know weighs the median of those it does.

    None when history knows none of them: then hashing alone places them.
    """
    lookup = durations or {}
    known = {s: d for s in stack_ids if (d := lookup.get(s)) is not None and math.isfinite(d) and d >= 0}
    if not known:
        return None
    ordered = sorted(known.values())
    middle = len(ordered) // 2  # the median, without `statistics` (it imports fractions and decimal)
    typical = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {s: known.get(s, typical) for s in stack_ids}


def _top(stack_id: str, total: int) -> int:
    key = stack_id.encode("utf-8") + b"\0"
    return max(range(1, total + 1), key=lambda shard: _score(key, shard))


def split(
    stacks: Sequence[S], shard: Shard, durations: Mapping[str, float | None] | None = None
) -> tuple[list[S], Shard]:
    """The stacks of `shard` in their given order, and the shard with the digest of its partition.

    Workers that read different durations (one could not reach the history) would partition
    differently and plan some stacks twice and others never: `publish` compares the digests.
    """
    ids = [s.id for s in stacks]
    owners = assign(ids, shard.total, durations)
    mine = [s for s in stacks if owners[s.id] == shard.index]
    return mine, replace(shard, partition=fingerprint(ids, shard.total, durations))


def fingerprint(stack_ids: Sequence[str], total: int, durations: Mapping[str, float | None] | None) -> str:
    """A short digest of the partition's inputs: the ids, N, and the weights balancing used."""
    weights = _weights(stack_ids, durations) if total > 1 else None
    digest = hashlib.sha256(b"%d\n" % total)
    for stack in sorted(stack_ids):
        weight = "" if weights is None else repr(weights[stack])
        digest.update(f"{stack}\0{weight}\n".encode())
    return digest.hexdigest()[:16]
