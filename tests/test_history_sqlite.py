"""driftctl.history.sqlite: what only the embedded store has (its file, its default place, WAL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from driftctl.history import sql, target
from driftctl.history.sql import SqlStore
from driftctl.history.sqlite import SqliteDatabase, default_path
from driftctl.history.store import StoreConfigError, StoreError

T1, DAY = 1_800_000_000.0, 86_400.0


def store_at(path: Path, retention: float = 400 * DAY, root: str = "/repo") -> SqlStore:
    return SqlStore(SqliteDatabase(path), root, retention, "9.9.9")


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
    for url in (f"sqlite://{tmp_path}/x.db", f"sqlite:///{tmp_path}/x.db"):  # 3 slashes + absolute, or 4
        opened = target.open_store(url, tmp_path, DAY, "x", {})
        assert opened is not None and opened.name == str(tmp_path / "x.db")
