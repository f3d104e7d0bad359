"""driftctl.history.postgres: what only the team store has, against a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import factories
import pytest
from conftest import driftctl
from postgres_server import PASSWORD, Postgres
from pushgateway_server import free_port

from driftctl.history.merge import merge_run
from driftctl.history.postgres import PostgresDatabase
from driftctl.history.sql import SqlStore
from driftctl.history.store import StoreConfigError, StoreError
from driftctl.model import State

T1 = 1_800_000_000.0
pytestmark = pytest.mark.postgres


def store(url: str) -> SqlStore:
    return SqlStore(PostgresDatabase(url), "/repo", 86400.0, "9.9.9")


def test_the_password_can_come_from_pgpassword(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    run = factories.report_at([factories.plan_result("a", State.DRIFTED)], T1, took=1)
    merged = store(postgres.url(password=False)).commit(run, lambda previous: merge_run(previous, run))
    assert store(postgres.url()).load()["a"].first_seen == merged.series["a"].first_seen == T1


def test_a_wrong_password_is_one_line_that_never_shows_it(
    postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    wrong = postgres.url().replace(PASSWORD, "not-the-Pa55word")
    with pytest.raises(StoreError) as caught:
        store(wrong).load()
    message = str(caught.value)
    assert "\n" not in message and "not-the-Pa55word" not in message and "***" in message
    assert "password authentication failed" in message


def test_a_dead_server_is_a_clean_error_before_any_plan(tmp_path: Path) -> None:
    url = f"postgresql://driftctl:{PASSWORD}@127.0.0.1:{free_port()}/drift"
    with pytest.raises(
        StoreError, match=r"^history database postgresql://driftctl:\*\*\*@127.0.0.1:\d+/drift: cannot"
    ):
        store(url).load()
    (tmp_path / "live" / "app").mkdir(parents=True)
    (tmp_path / "live" / "app" / "main.tf").write_text("")
    result = driftctl(
        "plan", "--all", "--root", str(tmp_path / "live"), "--tool", "terraform",
        "--tool-binary", "/bin/true", "--history", url,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("driftctl: history database postgresql://driftctl:***@127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1 and PASSWORD not in result.stderr + result.stdout
    assert "planning" not in result.stderr


def test_a_url_without_a_database_is_a_config_error() -> None:
    with pytest.raises(StoreConfigError, match="expected postgresql://user@host:port/database"):
        PostgresDatabase(f"postgresql://u:{PASSWORD}@127.0.0.1:5432/")
