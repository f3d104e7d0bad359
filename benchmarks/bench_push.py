"""Prints what publishing 10,000 stacks costs: merge, exposition, one PUT, and the read-back.

    python benchmarks/bench_push.py [--stacks 10000]

Starts its own in-memory Pushgateway on a free loopback port (Debian's prometheus-pushgateway on PATH).
Figures, not assertions: run it before and after a change to state, metrics or pushgateway.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' gateway helpers

from pushgateway_server import PUSHGATEWAY_BINARY, running_pushgateway

from driftctl.history.merge import merge
from driftctl.history.pushgateway import PushOptions, publish, push, read_back
from driftctl.metrics import RunInfo, build_exposition
from driftctl.model import PlanResult, ResourceCounts, RunReport, Stack, State, Tool

T = TypeVar("T")
FIRST_RUN = 1_800_000_000.0
DAY = 86_400.0


def _results(stacks: int) -> list[PlanResult]:
    """A realistic mix: mostly clean, a quarter drifted, a few errored, deep `/` paths as ids."""
    states = [State.CLEAN] * 14 + [State.DRIFTED] * 5 + [State.ERRORED]
    return [
        PlanResult(
            stack=Stack(
                id=f"live/prod/eu-west-{i % 3}/team-{i % 40:02d}/service-{i:05d}/app",
                path=Path("/repo") / f"s{i}",
                tool=Tool.TERRAGRUNT,
            ),
            state=states[i % len(states)],
            exit_code=0,
            resources=ResourceCounts(add=i % 3, change=i % 5, destroy=i % 2, replace=i % 7),
            error=None,
            duration_seconds=12.5 + i % 30,
            attempts=1,
            log_path=None,
        )
        for i in range(stacks)
    ]


def _report(results: list[PlanResult], finished: float) -> RunReport:
    return RunReport(
        started_at=datetime.fromtimestamp(finished - 600, tz=timezone.utc),
        finished_at=datetime.fromtimestamp(finished, tz=timezone.utc),
        root=Path("/repo"),
        tool=Tool.TERRAGRUNT,
        mode="all",
        results=tuple(results),
    )


def _seconds(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def _line(label: str, figure: str) -> None:
    print(f"{label:<48} {figure}")


def _cold_warm(label: str, times: list[float]) -> None:
    # The first request warms up both processes (connection, allocator, the gateway's JSON cache).
    warm = f", warm best {min(times[1:]):.3f} s" if len(times) > 1 else ""
    _line(label, f"cold {times[0]:.3f} s{warm}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stacks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if PUSHGATEWAY_BINARY is None:
        sys.exit("prometheus-pushgateway not on PATH (apt-get install prometheus-pushgateway)")

    results = _results(args.stacks)
    ids = {r.stack.id for r in results}
    run = RunInfo(finished_at=FIRST_RUN, duration_seconds=600.0, version="bench", mode="all")
    merged, merge_time = _seconds(lambda: merge({}, results, FIRST_RUN, ids))
    body, build_time = _seconds(lambda: build_exposition(merged, run))
    samples = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    _line(f"merge {args.stacks} results (pure)", f"{merge_time:.3f} s")
    _line("build the exposition (prometheus-client)", f"{build_time:.3f} s")
    _line("exposition", f"{len(body)} bytes, {samples} samples, 1 PUT")

    with running_pushgateway() as gateway:
        options = PushOptions(url=gateway.url, job="bench", timeout_seconds=120.0, retry_budget_seconds=300.0)
        pushes, gets, reads = [], [], []
        for _ in range(max(args.repeat, 1)):
            receipt, seconds = _seconds(lambda: push(options, body))
            assert receipt.attempts == 1
            pushes.append(seconds)
            answer, seconds = _seconds(lambda: httpx.get(f"{gateway.url}/api/v1/metrics", timeout=120.0))
            gets.append(seconds)
            back, seconds = _seconds(lambda: read_back(options))
            reads.append(seconds)
        _cold_warm("push: one PUT of the whole group", pushes)
        _cold_warm("GET /api/v1/metrics alone", gets)
        _line("  its JSON body", f"{len(answer.content)} bytes")
        _cold_warm("read_back(): GET + JSON + parse", reads)
        _line("stacks read back", f"{len(back.series)}")
        outcome, seconds = _seconds(
            lambda: publish(
                options, replace(_report(results, FIRST_RUN + DAY), known=tuple(ids)), version="bench"
            )
        )
        _line("next day's publish(): read-back+merge+build+check+PUT", f"{seconds:.3f} s")
        kept = sum(1 for s in outcome.series.values() if s.first_seen == FIRST_RUN)
        _line("drifted stacks that kept their first-seen", f"{kept} of {outcome.counts.drifted}")


if __name__ == "__main__":
    main()
