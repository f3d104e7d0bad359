"""The history database: one schema and one set of queries for SQLite and PostgreSQL.

A run is one transaction under a lock per repository root: it reads the stacks' current state, hands
it to the merge, and writes the run, a row per planned stack (and its resource changes: names, never
values) and the new current state, then prunes runs older than the retention. Two runs on one root
therefore merge one after the other, and neither loses the other's first-seen times.

Times are Unix seconds (REAL / DOUBLE PRECISION): the Pushgateway's unit, and one comparison in SQL.
"""

from __future__ import annotations

import abc
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from driftctl.history.merge import MergedState
from driftctl.history.store import StoreError, Update
from driftctl.model import (
    ErrorKind,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    RunReport,
    StackSeries,
    State,
)

Row = tuple[Any, ...]

# Each migration is a list of statements; {id}, {real} and {bigint} are the dialect's column types.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id {id},
            root TEXT NOT NULL,
            started {real} NOT NULL,
            finished {real} NOT NULL,
            mode TEXT NOT NULL,
            tool TEXT NOT NULL,
            driftctl_version TEXT NOT NULL,
            shard TEXT,
            git_commit TEXT
        )""",
        "CREATE INDEX runs_by_root ON runs (root, finished)",
        # one row per stack planned in the run, with the first-seen time the merge gave it
        """CREATE TABLE stack_runs (
            run_id {bigint} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            stack TEXT NOT NULL,
            state TEXT NOT NULL,
            first_seen {real},
            consecutive_errors INTEGER NOT NULL,
            duration_seconds {real},
            attempts INTEGER NOT NULL,
            error_kind TEXT,
            adds INTEGER NOT NULL,
            changes INTEGER NOT NULL,
            destroys INTEGER NOT NULL,
            replaces INTEGER NOT NULL,
            outside INTEGER NOT NULL,
            checks_failing INTEGER NOT NULL,
            PRIMARY KEY (run_id, stack)
        )""",
        "CREATE INDEX stack_runs_by_stack ON stack_runs (stack, run_id)",
        # what each planned stack would change: addresses, actions and attribute names, never values
        """CREATE TABLE resource_changes (
            run_id {bigint} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            stack TEXT NOT NULL,
            address TEXT NOT NULL,
            action TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            attributes TEXT NOT NULL,
            outside INTEGER NOT NULL,
            ignored_by TEXT
        )""",
        "CREATE INDEX resource_changes_by_run ON resource_changes (run_id, stack)",
        # the merged state after the root's latest run: what the next run merges into
        """CREATE TABLE stacks (
            root TEXT NOT NULL,
            stack TEXT NOT NULL,
            state TEXT NOT NULL,
            first_seen {real},
            consecutive_errors INTEGER NOT NULL,
            duration_seconds {real},
            error_kind TEXT,
            adds INTEGER NOT NULL,
            changes INTEGER NOT NULL,
            destroys INTEGER NOT NULL,
            replaces INTEGER NOT NULL,
            outside INTEGER NOT NULL,
            checks_failing INTEGER NOT NULL,
            PRIMARY KEY (root, stack)
        )""",
        # A drift episode: a stack's rows sharing one first-seen time, resolved by its first clean plan
        # after the last of them. `resolved` and `resolved_run` are NULL while it lasts.
        """CREATE VIEW drift_episodes AS
        WITH spans AS (
            SELECT r.root, s.stack, s.first_seen, MAX(r.finished) AS last_seen, COUNT(*) AS runs
            FROM stack_runs s JOIN runs r ON r.id = s.run_id
            WHERE s.first_seen IS NOT NULL
            GROUP BY r.root, s.stack, s.first_seen
        ), ends AS (
            SELECT spans.*, (
                SELECT r.id FROM stack_runs s JOIN runs r ON r.id = s.run_id
                WHERE r.root = spans.root AND s.stack = spans.stack AND s.state = 'clean'
                  AND r.finished > spans.last_seen
                ORDER BY r.finished LIMIT 1
            ) AS resolved_run
            FROM spans
        )
        SELECT ends.root, ends.stack, ends.first_seen, ends.last_seen, ends.runs, ends.resolved_run,
               r.finished AS resolved, r.git_commit AS resolved_commit
        FROM ends LEFT JOIN runs r ON r.id = ends.resolved_run""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_SERIES_COLUMNS = (
    "stack, state, first_seen, consecutive_errors, duration_seconds, error_kind, "
    "adds, changes, destroys, replaces, outside, checks_failing"
)


class Connection(abc.ABC):
    """One open connection, in autocommit mode outside `locked()`; `?` placeholders in every query."""

    # the dialect's column types for MIGRATIONS: id, real, bigint
    column_types: ClassVar[dict[str, str]]

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def locked(self, key: str) -> AbstractContextManager[None]:
        """One transaction that no other run holding the lock on `key` interleaves with."""


class Database(abc.ABC):
    """Where the history lives: how to connect, and the dialect's column types."""

    name: str  # for messages: a path, or a URL without its password

    @abc.abstractmethod
    def connect(self) -> AbstractContextManager[Connection]:
        """An open connection; raises `StoreError` naming the database when there is none."""


@dataclass(frozen=True)
class EpisodeRow:
    stack: str
    first_seen: float
    last_seen: float
    resolved: float | None
    resolved_commit: str | None


@dataclass(frozen=True)
class RunRow:
    id: int
    started: float
    finished: float
    mode: str
    tool: str
    version: str
    shard: str | None
    commit: str | None
    stacks: int
    drifted: int
    errored: int


class SqlStore:
    """The `Store` over a history database, for the runs of one repository root."""

    def __init__(self, database: Database, root: str, retention_seconds: float, version: str) -> None:
        self.database = database
        self.root = root
        self.retention_seconds = retention_seconds
        self.version = version

    @property
    def name(self) -> str:
        return self.database.name

    @contextmanager
    def _open(self) -> Iterator[Connection]:
        with self.database.connect() as connection:
            migrate(connection)
            yield connection

    def load(self) -> dict[str, StackSeries]:
        """Connects and brings the schema up to date too: the preflight of a run."""
        with self._open() as connection:
            return _load(connection, self.root)

    def commit(self, run: RunReport, update: Update) -> MergedState:
        with self._open() as connection, connection.locked(self.root):
            merged = update(_load(connection, self.root))
            run_id = self._insert_run(connection, run)
            _insert_results(connection, run_id, run.results, merged)
            connection.execute("DELETE FROM stacks WHERE root = ?", (self.root,))
            connection.executemany(
                f"INSERT INTO stacks (root, {_SERIES_COLUMNS}) VALUES (?{', ?' * 12})",  # noqa: S608
                [(self.root, *_series_row(series)) for series in merged.series.values()],
            )
            self._prune(connection, merged.now - self.retention_seconds)
        return merged

    def episodes(self, since: float) -> list[EpisodeRow]:
        """Episodes still open, or resolved at or after `since`, oldest first."""
        with self._open() as connection:
            rows = connection.execute(
                "SELECT stack, first_seen, last_seen, resolved, resolved_commit FROM drift_episodes "
                "WHERE root = ? AND (resolved IS NULL OR resolved >= ?) ORDER BY first_seen, stack",
                (self.root, since),
            )
        return [EpisodeRow(*row) for row in rows]

    def last_error_kinds(self) -> dict[str, str]:
        """Each stack's most recent error kind, in any run still kept."""
        with self._open() as connection:
            rows = connection.execute(
                "SELECT s.stack, s.error_kind FROM stack_runs s JOIN runs r ON r.id = s.run_id "
                "WHERE r.root = ? AND s.error_kind IS NOT NULL ORDER BY r.finished, r.id",
                (self.root,),
            )
        return {stack: kind for stack, kind in rows}

    def runs(self, since: float) -> list[RunRow]:
        """The runs that finished at or after `since`, oldest first, with their stack counts."""
        with self._open() as connection:
            rows = connection.execute(
                "SELECT r.id, r.started, r.finished, r.mode, r.tool, r.driftctl_version, r.shard, "
                "r.git_commit, COUNT(s.stack), "
                "COALESCE(SUM(CASE WHEN s.state = 'drifted' THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN s.state = 'errored' THEN 1 ELSE 0 END), 0) "
                "FROM runs r LEFT JOIN stack_runs s ON s.run_id = r.id "
                "WHERE r.root = ? AND r.finished >= ? "
                "GROUP BY r.id, r.started, r.finished, r.mode, r.tool, r.driftctl_version, r.shard, "
                "r.git_commit ORDER BY r.finished, r.id",
                (self.root, since),
            )
        return [RunRow(*row) for row in rows]

    def _insert_run(self, connection: Connection, run: RunReport) -> int:
        rows = connection.execute(
            "INSERT INTO runs (root, started, finished, mode, tool, driftctl_version, shard, git_commit) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self.root,
                run.started_at.timestamp(),
                run.finished_at.timestamp(),
                run.mode,
                run.tool.value,
                self.version,
                str(run.shard) if run.shard is not None else None,
                run.commit,
            ),
        )
        return int(rows[0][0])

    def _prune(self, connection: Connection, cutoff: float) -> None:
        # Children first and by hand: SQLite enforces ON DELETE CASCADE only with a pragma set.
        old = "SELECT id FROM runs WHERE root = ? AND finished < ?"
        for table in ("resource_changes", "stack_runs"):
            connection.execute(f"DELETE FROM {table} WHERE run_id IN ({old})", (self.root, cutoff))  # noqa: S608
        connection.execute("DELETE FROM runs WHERE root = ? AND finished < ?", (self.root, cutoff))


def migrate(connection: Connection) -> None:
    """Bring the schema up to date: one read when it is, else one transaction under a lock.

    Under the lock because two first runs may start together, and PostgreSQL's CREATE TABLE IF NOT
    EXISTS is not safe against a concurrent one.
    """
    try:
        version = _version(connection)
    except StoreError:  # no migrations table yet; a broken database fails again below, saying why
        version = 0
    if version < SCHEMA_VERSION:
        with connection.locked("driftctl schema"):
            connection.execute(
                "CREATE TABLE IF NOT EXISTS driftctl_migrations "
                f"(version INTEGER PRIMARY KEY, applied {connection.column_types['real']} NOT NULL)"
            )
            version = _version(connection)  # another run may have migrated while this one waited
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    connection.execute(statement.format(**connection.column_types))
                connection.execute(
                    "INSERT INTO driftctl_migrations (version, applied) VALUES (?, ?)", (number, time.time())
                )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the history database has schema version {version}, newer than this driftctl's "
            f"{SCHEMA_VERSION}: upgrade driftctl"
        )


def _version(connection: Connection) -> int:
    rows = connection.execute("SELECT MAX(version) FROM driftctl_migrations")
    return int(rows[0][0] or 0)


def _load(connection: Connection, root: str) -> dict[str, StackSeries]:
    rows = connection.execute(f"SELECT {_SERIES_COLUMNS} FROM stacks WHERE root = ? ORDER BY stack", (root,))  # noqa: S608
    return {row[0]: _series(row) for row in rows}


def _insert_results(
    connection: Connection, run_id: int, results: Sequence[PlanResult], merged: MergedState
) -> None:
    connection.executemany(
        "INSERT INTO stack_runs (run_id, stack, state, first_seen, consecutive_errors, duration_seconds, "
        "attempts, error_kind, adds, changes, destroys, replaces, outside, checks_failing) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_stack_run_row(run_id, result, merged.series[result.stack.id]) for result in results],
    )
    connection.executemany(
        "INSERT INTO resource_changes "
        "(run_id, stack, address, action, resource_type, attributes, outside, ignored_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            _change_row(run_id, result.stack.id, change)
            for result in results
            for change in (*result.changes, *result.outside)
        ],
    )


# --- rows <-> values, in one place --------------------------------------------------------------------


def _series_row(series: StackSeries) -> Row:
    counts = series.resources
    return (
        series.stack,
        series.state.value,
        series.first_seen,
        series.consecutive_errors,
        _finite(series.duration_seconds),
        series.error_kind.value if series.error_kind is not None else None,
        counts.add,
        counts.change,
        counts.destroy,
        counts.replace,
        series.outside,
        series.checks_failing,
    )


def _series(row: Row) -> StackSeries:
    stack, state, first_seen, errors, duration, kind, add, change, destroy, replace, outside, checks = row
    return StackSeries(
        stack=stack,
        state=_STATES[state],
        first_seen=first_seen,
        consecutive_errors=errors,
        duration_seconds=duration,
        resources=ResourceCounts(add=add, change=change, destroy=destroy, replace=replace),
        outside=outside,
        checks_failing=checks,
        error_kind=_ERROR_KINDS[kind] if kind is not None else None,
    )


# dict lookups: calling an enum by value is slow enough to show on 10,000 rows
_STATES = {state.value: state for state in State}
_ERROR_KINDS = {kind.value: kind for kind in ErrorKind}


def _stack_run_row(run_id: int, result: PlanResult, series: StackSeries) -> Row:
    # the series' counts, so an errored plan keeps the last known ones, as the merge decided
    stack, state, first_seen, errors, _, kind, *counts = _series_row(series)
    return (
        run_id,
        stack,
        state,
        first_seen,
        errors,
        _finite(result.duration_seconds),
        result.attempts,
        kind,
        *counts,
    )


def _change_row(run_id: int, stack: str, change: ResourceChange) -> Row:
    return (
        run_id,
        stack,
        change.address,
        change.action,
        change.resource_type,
        json.dumps(list(change.attributes), ensure_ascii=False),
        int(change.outside),
        change.ignored_by,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
