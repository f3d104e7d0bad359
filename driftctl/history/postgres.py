"""The team history store: PostgreSQL through psycopg 3, one transaction per run under an advisory
lock per repository root (as the seed's pipeline locked per stack), so concurrent runs merge in turn.

The password comes from the URL or from libpq's own `PGPASSWORD`/`~/.pgpass`; it never reaches a
message: the store's name is the URL without it, and every error is scrubbed of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import psycopg

from driftctl.history.sql import Connection, Database, Row
from driftctl.history.store import MASK, StoreConfigError, StoreError, without_password

CONNECT_TIMEOUT_SECONDS = 10


def _lock_key(key: str) -> int:
    """A signed 64-bit advisory lock key for `key` (a root path), the same in every driftctl."""
    return int.from_bytes(
        hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()[:8], "big", signed=True
    )


class _PostgresConnection(Connection):
    column_types: ClassVar[dict[str, str]] = {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "real": "DOUBLE PRECISION",
        "bigint": "BIGINT",
    }

    def __init__(self, connection: psycopg.Connection[Any], database: PostgresDatabase) -> None:
        self._connection = connection
        self._database = database

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._database.errors():
            cursor = self._connection.execute(_placeholders(sql), params)
            return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._database.errors(), self._connection.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        with self._database.errors(), self._connection.transaction():
            self._connection.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(key),))
            yield


def _placeholders(sql: str) -> str:
    # the shared queries use sqlite's `?`; none of them holds a literal `?` or `%`
    return sql.replace("?", "%s")


class PostgresDatabase(Database):
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
            raise StoreConfigError(
                f"history URL {without_password(url)!r}: expected postgresql://user@host:port/database"
            )
        self.url = url
        self.name = without_password(url)
        self._password = unquote(parts.password) if parts.password else None

    def scrub(self, text: str) -> str:
        text = " ".join(text.split())
        return text.replace(self._password, MASK) if self._password else text

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise StoreError(self.scrub(f"history database {self.name}: {error}")) from None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            connection = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="driftctl",
            )
        except psycopg.Error as error:
            raise StoreError(self.scrub(f"history database {self.name}: cannot connect: {error}")) from None
        with connection:
            yield _PostgresConnection(connection, self)
