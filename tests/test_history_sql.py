"""The history database's store over both dialects: real SQLite files and a real PostgreSQL server.

Every test runs on each; what only one dialect has (a corrupted file, a dead server) is tested in
test_history_sqlite.py and test_history_postgres.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import factories
import psycopg
import pytest
from postgres_server import Postgres

from driftctl.history.merge import MergedState, merge_run
from driftctl.history.postgres import PostgresDatabase
from driftctl.history.sql import SqlStore
from driftctl.history.sqlite import SqliteDatabase
from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    RunReport,
    StackSeries,
    State,
)

T1, DAY = 1_800_000_000.0, 86_400.0
plan = partial(factories.plan_result, duration=2.5)
StoreMaker = Callable[..., SqlStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """Stores of a database of this test's own, for a given retention and root."""
    if request.param == "sqlite":
        database: SqliteDatabase | PostgresDatabase = SqliteDatabase(tmp_path / "h.db")
    else:
        server: Postgres = request.getfixturevalue("postgres")
        name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
        with psycopg.connect(server.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        database = PostgresDatabase(server.url(database=name))

    def make(retention: float = 400 * DAY, root: str = "/repo") -> SqlStore:
        return SqlStore(database, root, retention, "9.9.9")

    return make


def report(results: list[PlanResult], finished: float, known: set[str] | None = None) -> RunReport:
    return factories.report_at(results, finished, took=60, known=known)


def commit(store: SqlStore, run: RunReport) -> MergedState:
    return store.commit(run, lambda previous: merge_run(previous, run))


def test_drift_drift_clean_keeps_then_clears_first_seen(store_at: StoreMaker) -> None:
    store = store_at()
    first = commit(store, report([plan("a", State.DRIFTED), plan("b", State.CLEAN)], T1))
    assert first.previous == {} and first.series["a"].first_seen == T1
    second = commit(store, report([plan("a", State.DRIFTED), plan("b", State.CLEAN)], T1 + DAY))
    assert second.previous["a"].first_seen == T1 and second.series["a"].first_seen == T1
    third = commit(store, report([plan("a", State.CLEAN), plan("b", State.CLEAN)], T1 + 2 * DAY))
    assert third.series["a"].first_seen is None and third.series["a"].state is State.CLEAN
    assert store.load()["a"] == third.series["a"]
    [episode] = store.episodes(since=0.0)
    assert (episode.stack, episode.first_seen, episode.last_seen, episode.resolved) == (
        "a",
        T1,
        T1 + DAY,
        T1 + 2 * DAY,
    )
    assert [(r.stacks, r.drifted) for r in store.runs(since=0.0)] == [(2, 1), (2, 1), (2, 0)]


def test_every_field_of_a_series_survives_the_store(store_at: StoreMaker) -> None:
    store = store_at()
    drifted = factories.plan_result("a", State.DRIFTED, ResourceCounts(1, 2, 3, 4), duration=7.5)
    drifted = PlanResult(
        **{
            **drifted.__dict__,
            "outside": (ResourceChange("null_resource.x", "update", outside=True),),
            "checks": (CheckResult("check.health", "fail"),),
        }
    )
    errored = plan("b", State.ERRORED, error=PlanError(ErrorKind.AUTH, "expired"))
    merged = commit(store, report([drifted, errored], T1))
    assert store.load() == merged.series
    a, b = merged.series["a"], merged.series["b"]
    assert (a.outside, a.checks_failing, a.resources, a.duration_seconds) == (
        1,
        1,
        ResourceCounts(1, 2, 3, 4),
        7.5,
    )
    assert (b.error_kind, b.consecutive_errors) == (ErrorKind.AUTH, 1)
    assert store.last_error_kinds() == {"b": "auth"}


def test_resource_changes_are_stored_by_name_never_by_value(store_at: StoreMaker) -> None:
    store = store_at()
    change = ResourceChange("aws_instance.web", "update", "aws_instance", ("tags.owner", "ami"))
    result = PlanResult(**{**plan("a", State.DRIFTED).__dict__, "changes": (change,)})
    commit(store, report([result], T1))
    with store.database.connect() as connection:
        rows = connection.execute(
            "SELECT stack, address, action, resource_type, attributes FROM resource_changes"
        )
        assert rows == [
            ("a", "aws_instance.web", "update", "aws_instance", json.dumps(["tags.owner", "ami"]))
        ]


def test_two_concurrent_runs_lose_nothing(store_at: StoreMaker) -> None:
    # Run A holds its transaction open (the merge waits) while run B tries to commit: B must wait for
    # A and merge into what A wrote, so both first-seen times survive.
    store_at().load()  # the schema exists before the race starts
    inside = threading.Event()
    errors: list[BaseException] = []

    def slow_update(run: RunReport) -> object:
        def update(previous: Mapping[str, StackSeries]) -> MergedState:
            inside.set()
            time.sleep(0.5)
            return merge_run(previous, run)

        return update

    run_a = report([plan("a", State.DRIFTED)], T1)
    run_b = report([plan("b", State.DRIFTED)], T1 + 10)

    def commit_a() -> None:
        try:
            store_at().commit(run_a, slow_update(run_a))  # type: ignore[arg-type]
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=commit_a)
    thread.start()
    assert inside.wait(timeout=10)
    merged_b = commit(store_at(), run_b)
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    assert merged_b.previous["a"].first_seen == T1  # B merged after A committed
    held = store_at().load()
    assert (held["a"].first_seen, held["b"].first_seen) == (T1, T1 + 10)


def test_runs_older_than_the_retention_are_pruned_at_the_end_of_a_run(store_at: StoreMaker) -> None:
    store = store_at(retention=30 * DAY)
    commit(store, report([plan("a", State.DRIFTED), plan("b", State.CLEAN)], T1))
    commit(store, report([plan("b", State.CLEAN)], T1 + 20 * DAY))
    commit(store, report([plan("b", State.CLEAN)], T1 + 40 * DAY))
    assert [r.finished for r in store.runs(since=0.0)] == [T1 + 20 * DAY, T1 + 40 * DAY]
    with store.database.connect() as connection:
        assert connection.execute("SELECT COUNT(*) FROM stack_runs") == [(2,)]
    # the current state is not history: a stack not planned since keeps its first-seen time
    assert store.load()["a"].first_seen == T1


def test_roots_sharing_one_file_do_not_see_each_other(store_at: StoreMaker) -> None:
    one, two = store_at(root="/one"), store_at(root="/two")
    commit(one, report([plan("a", State.DRIFTED)], T1))
    commit(two, report([plan("b", State.DRIFTED)], T1 + 5))
    assert set(one.load()) == {"a"} and set(two.load()) == {"b"}
    assert len(one.runs(since=0.0)) == 1


def test_a_failing_update_records_nothing(store_at: StoreMaker) -> None:
    store = store_at()
    commit(store, report([plan("a", State.DRIFTED)], T1))

    def refuse(previous: Mapping[str, StackSeries]) -> MergedState:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.commit(report([plan("a", State.CLEAN)], T1 + DAY), refuse)
    assert store.load()["a"].first_seen == T1 and len(store.runs(since=0.0)) == 1


def test_runs_starting_together_on_a_new_database_migrate_it_once(store_at: StoreMaker) -> None:
    start = threading.Barrier(4, timeout=10)
    failures: list[BaseException] = []

    def first_run() -> None:
        try:
            start.wait()
            store_at().load()
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=first_run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures and not any(thread.is_alive() for thread in threads)
    with store_at().database.connect() as connection:
        assert connection.execute("SELECT version FROM driftctl_migrations") == [(1,)]
