"""Which history store a run records in: `--history` / `DRIFTCTL_HISTORY_URL`, or the default file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from driftctl.history import sqlite
from driftctl.history.sql import Database, SqlStore
from driftctl.history.store import StoreConfigError, without_password

NONE = "none"


def database(url: str | None, root: Path, environ: Mapping[str, str]) -> Database | None:
    """The database `url` names; the per-root SQLite file when None; None for `none`."""
    if url is None:
        return sqlite.SqliteDatabase(sqlite.default_path(root, environ))
    if url.strip().lower() == NONE:
        return None
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        return sqlite.SqliteDatabase(_sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from driftctl.history import postgres  # psycopg is imported only when PostgreSQL is used

        return postgres.PostgresDatabase(url)
    raise StoreConfigError(
        f"history URL {without_password(url)!r}: expected sqlite:///path/to/file.db, "
        "postgresql://user@host:port/database or none"
    )


def _sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc or not path or path.endswith("/") or parts.query or parts.fragment:
        raise StoreConfigError(
            f"history URL {without_password(url)!r}: expected sqlite:///path/to/file.db (three slashes)"
        )
    # `sqlite:////abs/file.db` (SQLAlchemy's spelling of an absolute path) is the same file
    return Path("/" + path.lstrip("/")) if path.startswith("/") else Path(path)


def open_store(
    url: str | None, root: Path, retention_seconds: float, version: str, environ: Mapping[str, str]
) -> SqlStore | None:
    """The history store of `root`'s runs, not yet connected; None when history is off."""
    found = database(url, root, environ)
    if found is None:
        return None
    return SqlStore(found, str(root.resolve()), retention_seconds, version)
