"""The embedded history store: a SQLite file (Python's stdlib), WAL mode, a busy timeout.

The default file is per repository root, under the user's XDG state directory, so the working tree
stays clean and `driftctl history --root R` finds what `driftctl plan --root R` recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from driftctl.history.sql import Connection, Database, Row
from driftctl.history.store import StoreError

BUSY_TIMEOUT_SECONDS = 60.0  # how long a run waits for another run's transaction on the same file
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_path(root: Path, environ: Mapping[str, str]) -> Path:
    """`$XDG_STATE_HOME/driftctl/history/<root name>-<hash of its absolute path>.db`."""
    state_home = environ.get("XDG_STATE_HOME") or ""
    # the XDG spec: a relative path in the variable is invalid and must be ignored
    base = Path(state_home) if Path(state_home).is_absolute() else Path.home() / ".local" / "state"
    resolved = str(root.resolve())
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]
    name = _UNSAFE.sub("_", root.resolve().name)[:40] or "root"
    return base / "driftctl" / "history" / f"{name}-{digest}.db"


class _SqliteConnection(Connection):
    column_types: ClassVar[dict[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "real": "REAL",
        "bigint": "INTEGER",
    }

    def __init__(self, connection: sqlite3.Connection, name: str) -> None:
        self._connection = connection
        self._name = name

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._errors():
            return self._connection.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._errors():
            self._connection.executemany(sql, rows)

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        # One writer per file: BEGIN IMMEDIATE takes the write lock now (waiting up to the busy
        # timeout), so the state read inside cannot change before this transaction commits.
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.rollback()
            raise
        self.execute("COMMIT")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise StoreError(f"history database {self._name}: {_reason(error)}") from None


class SqliteDatabase(Database):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"history database {self.name}: cannot open: {_reason(error)} "
                "(--history sqlite:///other/file.db or --history none)"
            ) from None
        try:
            wrapped = _SqliteConnection(connection, self.name)
            wrapped.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            wrapped.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
            wrapped.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; WAL stays consistent
            yield wrapped
        finally:
            connection.close()


def _reason(error: BaseException) -> str:
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return " ".join(text.split()) or type(error).__name__
