"""driftctl.shard: one partition every worker computes alike, stable as units come and go."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftctl import shard
from driftctl.model import Shard, Stack, Tool

IDS = st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=60)


def _ids(count: int, prefix: str = "live/prod/service") -> list[str]:
    return [f"{prefix}-{i:04d}/app" for i in range(count)]


def _loads(owners: dict[str, int], durations: dict[str, float], total: int) -> list[float]:
    loads = [0.0] * total
    for stack, index in owners.items():
        loads[index - 1] += durations[stack]
    return loads


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", Shard(1, 1)), ("3/5", Shard(3, 5)), (" 2 / 4 ", Shard(2, 4))]
)
def test_parse(text: str, expected: Shard) -> None:
    assert shard.parse(text) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0/3", "the shard must be between 1 and 3, got '0/3'"),
        ("4/3", "the shard must be between 1 and 3, got '4/3'"),
        ("1/0", "the number of shards must be at least 1, got '1/0'"),
        ("2", "expected I/N such as 2/5 (shard I of N, from 1), got '2'"),
        ("-1/3", "expected I/N such as 2/5 (shard I of N, from 1), got '-1/3'"),
        ("a/b", "expected I/N such as 2/5 (shard I of N, from 1), got 'a/b'"),
        (True, "expected I/N such as 2/5 (shard I of N, from 1), got True"),
    ],
)
def test_parse_rejects_with_the_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError) as error:
        shard.parse(value)
    assert str(error.value) == reason


@given(IDS, st.integers(1, 9))
def test_every_stack_is_in_exactly_one_shard(ids: list[str], total: int) -> None:
    stacks = [Stack(i, Path("/live") / str(n), Tool.TERRAFORM) for n, i in enumerate(ids)]
    parts = [shard.split(stacks, Shard(index, total))[0] for index in range(1, total + 1)]
    planned = [s.id for part in parts for s in part]
    assert sorted(planned) == sorted(ids)
    for part in parts:  # each part keeps the order it was given
        assert [s.id for s in part] == [i for i in ids if i in {s.id for s in part}]


@given(IDS, IDS, st.integers(2, 9))
def test_adding_or_removing_stacks_moves_no_other_stack(
    before: list[str], added: list[str], total: int
) -> None:
    after = list(dict.fromkeys(before + added))
    first, second = shard.assign(before, total), shard.assign(after, total)
    assert all(second[stack] == first[stack] for stack in before)
    removed = shard.assign(before[::2], total)
    assert all(removed[stack] == first[stack] for stack in before[::2])


def test_one_more_shard_only_takes_stacks_for_itself() -> None:
    ids = _ids(2000)
    four, five = shard.assign(ids, 4), shard.assign(ids, 5)
    moved = [stack for stack in ids if four[stack] != five[stack]]
    assert all(five[stack] == 5 for stack in moved)
    assert 300 < len(moved) < 500  # about a fifth: each shard gives the new one its fair share


def test_without_history_the_counts_are_even() -> None:
    counts = Counter(shard.assign(_ids(10_000), 10).values())
    assert sorted(counts) == list(range(1, 11))
    assert max(counts.values()) < 1.1 * 1000 and min(counts.values()) > 0.9 * 1000


def test_durations_balance_a_few_long_stacks_among_few() -> None:
    """40 stacks of 10s, two of them 120s that hashing alone puts on one of 4 shards."""
    ids = _ids(40)
    total = 4
    plain = shard.assign(ids, total)
    first, second = [stack for stack in ids if plain[stack] == plain[ids[-1]]][-2:]
    durations = dict.fromkeys(ids, 10.0)
    durations[first] = durations[second] = 120.0
    balanced = shard.assign(ids, total, durations)
    assert balanced[first] != balanced[second]
    cap = (1 + shard.SLACK) * sum(durations.values()) / total
    assert max(_loads(balanced, durations, total)) <= cap
    assert max(_loads(plain, durations, total)) > cap


def test_stacks_history_does_not_know_weigh_the_median() -> None:
    ids = _ids(40)
    durations: dict[str, float | None] = {stack: 10.0 for stack in ids[:20]}
    durations[ids[0]] = None
    with_unknown = shard.assign(ids, 4, durations)
    assert with_unknown == shard.assign(ids, 4, {**dict.fromkeys(ids, 10.0), ids[0]: 10.0})


def test_with_history_an_added_stack_moves_few_others() -> None:
    ids = _ids(400)
    durations = {stack: 5.0 + (i * 7919) % 50 for i, stack in enumerate(ids)}
    before = shard.assign(ids, 8, durations)
    moved = []
    for extra in range(20):
        new = f"live/new-{extra}/app"
        after = shard.assign([*ids, new], 8, {**durations, new: 30.0})
        moved.append(sum(after[stack] != before[stack] for stack in ids))
    # where a cap binds, the new stack displaces a few shorter ones placed after it: under 2% of 400
    assert sum(moved) / len(moved) < 8


@given(IDS, st.integers(1, 6), st.dictionaries(st.text(max_size=12), st.floats(0, 1e4), max_size=30))
def test_a_partition_with_durations_is_still_exact(
    ids: list[str], total: int, durations: dict[str, float]
) -> None:
    owners = shard.assign(ids, total, durations)
    assert set(owners) == set(ids) and set(owners.values()) <= set(range(1, total + 1))


def test_the_partition_digest_names_its_inputs() -> None:
    stacks = [Stack(i, Path("/live") / i, Tool.TERRAFORM) for i in _ids(10)]
    _, one = shard.split(stacks, Shard(1, 3))
    _, two = shard.split(stacks, Shard(2, 3))
    assert one.partition == two.partition and len(one.partition) == 16
    assert (one.index, one.total) == (1, 3)
    _, timed = shard.split(stacks, Shard(2, 3), {stacks[0].id: 4.0})
    _, fewer = shard.split(stacks[1:], Shard(2, 3))
    _, more_shards = shard.split(stacks, Shard(2, 4))
    assert len({one.partition, timed.partition, fewer.partition, more_shards.partition}) == 4
