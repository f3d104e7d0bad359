"""driftctl.history.record: the right-hand side of a run, with a real Pushgateway and real SQLite files."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial
from pathlib import Path

import factories
import pytest
from pushgateway_server import (
    FORWARD,
    Pushgateway,
    Reply,
    recording_server,
)

from driftctl.config import Config
from driftctl.history import pushgateway
from driftctl.history.record import Stores, open_stores, record
from driftctl.history.sql import SqlStore
from driftctl.history.sqlite import SqliteDatabase
from driftctl.history.store import StoreConfigError
from driftctl.model import PlanResult, RunReport, State

T1, DAY = 1_800_000_000.0, 86_400.0
plan = partial(factories.plan_result, duration=2.5)


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    return "r-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]


def run_at(results: list[PlanResult], finished: float, known: set[str] | None = None) -> RunReport:
    return factories.report_at(results, finished, took=60, known=known)


def history(path: Path) -> SqlStore:
    return SqlStore(SqliteDatabase(path), "/repo", 400 * DAY, "9.9.9")


def gateway_options(url: str, job: str) -> pushgateway.PushOptions:
    return pushgateway.PushOptions(url=url, job=job, attempts=1, backoff_seconds=0.01)


def gateway_store(url: str, job: str) -> pushgateway.PushgatewayStore:
    return pushgateway.PushgatewayStore(gateway_options(url, job), "x")


def test_without_a_gateway_the_history_is_the_memory(tmp_path: Path) -> None:
    stores = Stores(history=history(tmp_path / "h.db"))
    first = record(Config(), run_at([plan("a", State.DRIFTED)], T1), stores)
    second = record(Config(), run_at([plan("a", State.DRIFTED)], T1 + DAY), stores)
    assert first.errors == second.errors == () and second.history == str(tmp_path / "h.db")
    assert second.merged is not None and second.merged.series["a"].first_seen == T1
    assert second.merged.previous["a"].first_seen == T1


def test_with_a_gateway_its_first_seen_wins_and_the_disagreement_is_noted(
    gateway: Pushgateway, job: str, tmp_path: Path
) -> None:
    options = gateway_options(gateway.url, job)
    pushgateway.publish(options, run_at([plan("a", State.DRIFTED)], T1), version="x")  # before any history
    stores = Stores(gateway=gateway_store(gateway.url, job), history=history(tmp_path / "h.db"))
    record(Config(), run_at([plan("a", State.CLEAN)], T1 + DAY), Stores(history=stores.history))
    record(Config(), run_at([plan("a", State.DRIFTED)], T1 + 2 * DAY), Stores(history=stores.history))
    # the history now says first seen T1 + 2 days; the gateway still says T1
    done = record(Config(), run_at([plan("a", State.DRIFTED)], T1 + 3 * DAY), stores)
    assert done.errors == () and done.published is not None and done.published.pushed
    assert done.merged is not None and done.merged.series["a"].first_seen == T1
    assert history(tmp_path / "h.db").load()["a"].first_seen == T1  # the history follows the gateway
    [note] = done.notes
    assert "disagree on the first-seen time of 1 stacks" in note
    assert "'a': history 2027-01-17T08:00:00Z, Pushgateway 2027-01-15T08:00:00Z" in note


def test_a_failed_push_still_records_the_run_in_the_history(tmp_path: Path) -> None:
    with recording_server({"GET": [Reply(503)]}) as broken:
        stores = Stores(gateway=gateway_store(broken.url, "j"), history=history(tmp_path / "h.db"))
        done = record(Config(), run_at([plan("a", State.DRIFTED)], T1), stores)
    assert len(done.errors) == 1 and "read-back failed" in done.errors[0]
    assert done.history is not None and history(tmp_path / "h.db").load()["a"].first_seen == T1


def test_a_failed_history_never_loses_the_push(gateway: Pushgateway, job: str, tmp_path: Path) -> None:
    broken = tmp_path / "h.db"
    stores = Stores(gateway=gateway_store(gateway.url, job), history=history(broken))
    broken.write_bytes(b"garbage" * 1000)
    done = record(Config(), run_at([plan("a", State.DRIFTED)], T1), stores)
    assert done.published is not None and done.published.pushed and done.history is None
    assert done.errors == (
        f"the run was not recorded in the history: history database {broken}: file is not a database",
    )
    assert gateway_store(gateway.url, job).load()["a"].first_seen == T1


def test_a_publish_that_drops_most_stacks_the_gateway_holds_needs_allow_reset(
    gateway: Pushgateway, job: str, tmp_path: Path
) -> None:
    # issue 13 item 2: a wrong --root or glob must not wipe the group's first-seen times
    options = gateway_options(gateway.url, job)
    held = {"a", "b", "c", "d"}
    pushgateway.publish(options, run_at([plan(s, State.DRIFTED) for s in held], T1, held), version="x")
    stores = Stores(gateway=pushgateway.PushgatewayStore(options, "x"))
    wrong = run_at([plan("a", State.DRIFTED)], T1 + DAY, known={"a"})
    refused = record(Config(), wrong, stores)
    assert refused.merged is None and len(refused.errors) == 1
    assert "would drop 3 of the 4 stacks held" in refused.errors[0] and "--allow-reset" in refused.errors[0]
    assert set(pushgateway.read_back(options).series) == held
    allowed = record(Config(allow_reset=True), wrong, stores)
    assert allowed.errors == () and set(pushgateway.read_back(options).series) == {"a"}


def test_the_history_store_refuses_the_same_wipe(tmp_path: Path) -> None:
    stores = Stores(history=history(tmp_path / "h.db"))
    record(Config(), run_at([plan(s, State.DRIFTED) for s in "abc"], T1, set("abc")), stores)
    refused = record(Config(), run_at([], T1 + DAY, known=set()), stores)
    assert "would drop 3 of the 3 stacks held" in refused.errors[0]
    assert set(history(tmp_path / "h.db").load()) == set("abc")


def test_one_read_back_before_the_push_and_none_for_the_schedule(
    gateway: Pushgateway, job: str, tmp_path: Path
) -> None:
    # issue 13 item 8: the durations for longest-first come from the history store, not the gateway
    with recording_server({"GET": [FORWARD], "PUT": [FORWARD]}, gateway.url) as proxy:
        config = Config(
            root=tmp_path,
            push=True,
            pushgateway_url=proxy.url,
            job=job,
            history_url=f"sqlite:///{tmp_path}/h.db",
        )
        stores = open_stores(config, {}, "x")
        record(config, run_at([plan("slow", State.CLEAN)], T1), stores)
        assert proxy.methods() == ["GET", "GET", "PUT"]  # read-back, the check before the PUT, the PUT
        again = open_stores(config, {}, "x")
        assert again.durations() == {"slow": 2.5} and proxy.methods() == ["GET", "GET", "PUT"]


def test_bad_store_settings_are_config_errors(tmp_path: Path) -> None:
    for config, message in (
        (Config(root=tmp_path, history_url="mongodb://x"), "expected sqlite:///path/to/file.db"),
        (Config(root=tmp_path, push=True, pushgateway_url="http://[::1"), "Invalid IPv6 URL"),
        (Config(root=tmp_path, push=True), "--push needs --pushgateway URL"),
    ):
        with pytest.raises(StoreConfigError, match=message.replace("[", r"\[")):
            open_stores(config, {}, "x")


def test_no_store_at_all_gives_the_sinks_this_run_alone(tmp_path: Path) -> None:
    done = record(replace(Config(), history_url="none"), run_at([plan("a", State.DRIFTED)], T1), Stores())
    assert done.merged is not None and done.merged.previous == {} and done.merged.series["a"].first_seen == T1
