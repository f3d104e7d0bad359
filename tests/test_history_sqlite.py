"""driftctl.history.sqlite and the shared SQL store: real SQLite files (Python's stdlib), no mocks."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import factories
import pytest

from driftctl.history import sql, target
from driftctl.history.merge import MergedState, merge_run
from driftctl.history.sql import SqlStore
from driftctl.history.sqlite import SqliteDatabase, default_path
from driftctl.history.store import StoreConfigError, StoreError
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


def store_at(path: Path, retention: float = 400 * DAY, root: str = "/repo") -> SqlStore:
    return SqlStore(SqliteDatabase(path), root, retention, "9.9.9")


def report(results: list[PlanResult], finished: float, known: set[str] | None = None) -> RunReport:
    return factories.report_at(results, finished, took=60, known=known)


def commit(store: SqlStore, run: RunReport) -> MergedState:
    return store.commit(run, lambda previous: merge_run(previous, run))


def test_drift_drift_clean_keeps_then_clears_first_seen(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db")
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


def test_every_field_of_a_series_survives_the_store(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db")
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


def test_resource_changes_are_stored_by_name_never_by_value(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db")
    change = ResourceChange("aws_instance.web", "update", "aws_instance", ("tags.owner", "ami"))
    result = PlanResult(**{**plan("a", State.DRIFTED).__dict__, "changes": (change,)})
    commit(store, report([result], T1))
    with sqlite3.connect(tmp_path / "h.db") as connection:
        rows = connection.execute(
            "SELECT stack, address, action, resource_type, attributes FROM resource_changes"
        )
        assert [tuple(row) for row in rows] == [
            ("a", "aws_instance.web", "update", "aws_instance", json.dumps(["tags.owner", "ami"]))
        ]


def test_two_concurrent_runs_lose_nothing(tmp_path: Path) -> None:
    # Run A holds its transaction open (the merge waits) while run B tries to commit: B must wait for
    # A and merge into what A wrote, so both first-seen times survive.
    path = tmp_path / "h.db"
    store_at(path).load()  # the schema exists before the race starts
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
            store_at(path).commit(run_a, slow_update(run_a))  # type: ignore[arg-type]
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=commit_a)
    thread.start()
    assert inside.wait(timeout=10)
    merged_b = commit(store_at(path), run_b)
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    assert merged_b.previous["a"].first_seen == T1  # B merged after A committed
    held = store_at(path).load()
    assert (held["a"].first_seen, held["b"].first_seen) == (T1, T1 + 10)


def test_runs_older_than_the_retention_are_pruned_at_the_end_of_a_run(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db", retention=30 * DAY)
    commit(store, report([plan("a", State.DRIFTED), plan("b", State.CLEAN)], T1))
    commit(store, report([plan("b", State.CLEAN)], T1 + 20 * DAY))
    commit(store, report([plan("b", State.CLEAN)], T1 + 40 * DAY))
    assert [r.finished for r in store.runs(since=0.0)] == [T1 + 20 * DAY, T1 + 40 * DAY]
    with sqlite3.connect(tmp_path / "h.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM stack_runs").fetchone() == (2,)
    # the current state is not history: a stack not planned since keeps its first-seen time
    assert store.load()["a"].first_seen == T1


def test_roots_sharing_one_file_do_not_see_each_other(tmp_path: Path) -> None:
    one, two = store_at(tmp_path / "h.db", root="/one"), store_at(tmp_path / "h.db", root="/two")
    commit(one, report([plan("a", State.DRIFTED)], T1))
    commit(two, report([plan("b", State.DRIFTED)], T1 + 5))
    assert set(one.load()) == {"a"} and set(two.load()) == {"b"}
    assert len(one.runs(since=0.0)) == 1


def test_a_failing_update_records_nothing(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db")
    commit(store, report([plan("a", State.DRIFTED)], T1))

    def refuse(previous: Mapping[str, StackSeries]) -> MergedState:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.commit(report([plan("a", State.CLEAN)], T1 + DAY), refuse)
    assert store.load()["a"].first_seen == T1 and len(store.runs(since=0.0)) == 1


def test_a_corrupted_file_is_one_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(StoreError) as caught:
        store_at(path).load()
    assert str(caught.value) == f"history database {path}: file is not a database"


def test_a_file_from_a_newer_driftctl_is_refused(tmp_path: Path) -> None:
    store = store_at(tmp_path / "h.db")
    store.load()
    with sqlite3.connect(tmp_path / "h.db") as connection:
        connection.execute("INSERT INTO driftctl_migrations VALUES (?, 0)", (sql.SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="schema version 2, newer than this driftctl's 1: upgrade driftctl"):
        store.load()


def test_the_schema_is_versioned_and_applied_once(tmp_path: Path) -> None:
    for _ in range(3):
        store_at(tmp_path / "h.db").load()
    with sqlite3.connect(tmp_path / "h.db") as connection:
        assert connection.execute("SELECT version FROM driftctl_migrations").fetchall() == [(1,)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_unwritable_location_is_one_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=f"history database {blocker / 'h.db'}: cannot open"):
        store_at(blocker / "h.db").load()


def test_the_default_file_is_per_root_under_the_xdg_state_home(tmp_path: Path) -> None:
    environ = {"XDG_STATE_HOME": str(tmp_path / "state")}
    one = default_path(tmp_path / "repo-one", environ)
    assert one.parent == tmp_path / "state" / "driftctl" / "history"
    assert one.name.startswith("repo-one-") and one.suffix == ".db"
    assert default_path(tmp_path / "repo-two", environ) != one
    assert default_path(tmp_path / "repo-one" / ".." / "repo-one", environ) == one
    relative = default_path(tmp_path / "repo-one", {"XDG_STATE_HOME": "relative/dir"})
    assert relative.is_relative_to(Path.home() / ".local" / "state")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/x", "expected sqlite:///path/to/file.db, postgresql://user@host:port/database or none"),
        ("sqlite://host/x.db", "expected sqlite:///path/to/file.db (three slashes)"),
        ("sqlite:///dir/", "expected sqlite:///path/to/file.db (three slashes)"),
        ("postgresql://u:hunter2@h:5432", "expected postgresql://user@host:port/database"),
    ],
)
def test_bad_urls_are_config_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(StoreConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        target.open_store(url, tmp_path, DAY, "x", {})
    assert "hunter2" not in str(caught.value)


def test_none_turns_the_history_off(tmp_path: Path) -> None:
    assert target.open_store("none", tmp_path, DAY, "x", {}) is None
    assert target.open_store(f"sqlite:///{tmp_path}/x.db", tmp_path, DAY, "x", {}) is not None
