"""Prints what recording a 10,000-stack run in the history store costs (target: under 1 s on SQLite).

    python benchmarks/bench_history.py [--stacks 10000] [--runs 3] [--postgres]

Each run is `record()` with the history store as the only store: one transaction that loads the
current state, merges (pure), writes the run, a row per stack, the resource changes (names only) and
the new current state, then prunes. The first run fills an empty file; the next ones are the daily
case (a store that already holds the stacks and earlier runs). `--postgres` also starts a real
PostgreSQL server (tests/postgres_server.py) and measures the same there.
Figures, not assertions: run it before and after a change to history/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' server helpers

from driftctl.config import Config
from driftctl.history.record import Stores, record
from driftctl.history.sql import Database, SqlStore
from driftctl.history.sqlite import SqliteDatabase
from driftctl.model import (
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

T = TypeVar("T")
FIRST_RUN = 1_800_000_000.0
DAY = 86_400.0


def _results(stacks: int, day: int) -> list[PlanResult]:
    """Mostly clean, a quarter drifted (three changed resources each), a few errored; the mix moves daily."""
    states = [State.CLEAN] * 14 + [State.DRIFTED] * 5 + [State.ERRORED]
    results = []
    for i in range(stacks):
        state = states[(i + day) % len(states)]
        changes = (
            tuple(
                ResourceChange(f"aws_instance.web[{n}]", "update", "aws_instance", ("tags.owner", "ami"))
                for n in range(3)
            )
            if state is State.DRIFTED
            else ()
        )
        results.append(
            PlanResult(
                stack=Stack(
                    id=f"live/prod/eu-west-{i % 3}/team-{i % 40:02d}/service-{i:05d}/app",
                    path=Path("/repo") / f"s{i}",
                    tool=Tool.TERRAGRUNT,
                ),
                state=state,
                exit_code=2 if state is State.DRIFTED else 0,
                resources=ResourceCounts(change=3) if state is State.DRIFTED else ResourceCounts(),
                error=PlanError(ErrorKind.LOCK, "locked") if state is State.ERRORED else None,
                duration_seconds=12.5 + i % 30,
                attempts=1,
                log_path=None,
                changes=changes,
            )
        )
    return results


def _run(results: list[PlanResult], finished: float) -> RunReport:
    return RunReport(
        started_at=datetime.fromtimestamp(finished - 600, tz=timezone.utc),
        finished_at=datetime.fromtimestamp(finished, tz=timezone.utc),
        root=Path("/repo"),
        tool=Tool.TERRAGRUNT,
        mode="all",
        results=tuple(results),
        known=tuple(r.stack.id for r in results),
    )


def _seconds(action: Callable[[], T]) -> tuple[T, str]:
    """The value, and the wall-clock and this process's CPU seconds (CPU: less skewed by a busy box)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, f"{time.perf_counter() - wall:.3f} s (cpu {time.process_time() - cpu:.3f} s)"


def _measure(label: str, database: Database, stacks: int, runs: int) -> None:
    store = SqlStore(database, "/repo", 400 * DAY, "bench")
    stores = Stores(history=store)
    for day in range(runs):
        run = _run(_results(stacks, day), FIRST_RUN + day * DAY)
        done, seconds = _seconds(lambda run=run: record(Config(), run, stores))  # type: ignore[misc]
        assert not done.errors, done.errors
        which = "first run (empty store)" if day == 0 else f"run {day + 1} (store holds {day} runs)"
        print(f"{label:<11} record() {stacks} stacks, {which:<28} {seconds}")
    held, seconds = _seconds(store.load)
    print(f"{label:<11} load() for the schedule ({len(held)} stacks){'':<7} {seconds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stacks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also measure a real PostgreSQL server")
    args = parser.parse_args()
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "history.db"
        _measure("sqlite", SqliteDatabase(path), args.stacks, args.runs)
        print(f"{'sqlite':<11} file size after {args.runs} runs{'':<21} {path.stat().st_size / 1e6:.1f} MB")
    if args.postgres:
        from postgres_server import running_postgres, why_unavailable

        from driftctl.history.postgres import PostgresDatabase

        reason = why_unavailable()
        if reason is not None:
            sys.exit(reason)
        with running_postgres() as server:
            _measure("postgresql", PostgresDatabase(server.url()), args.stacks, args.runs)


if __name__ == "__main__":
    main()
