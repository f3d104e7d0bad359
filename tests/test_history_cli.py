"""`driftctl plan` recording its runs and `driftctl history` reading them: the real CLI, real plans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import NULL_STACK, applied_stack, driftctl, write_stack
from pushgateway_server import (
    FORWARD,
    Pushgateway,
    Reply,
    recording_server,
)


def plan(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return driftctl("plan", "--all", "--root", str(root), "--tool", "terraform", *extra)


def history(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return driftctl("history", "--root", str(root), *extra)


def stacks_json(root: Path, *extra: str) -> dict[str, dict[str, Any]]:
    shown = history(root, "--format", "json", *extra)
    assert shown.returncode == 0, shown.stderr
    return {row["stack"]: row for row in json.loads(shown.stdout)["stacks"]}


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_drift_drift_clean_keeps_then_clears_first_seen(
    tf_environ: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    root = tmp_path / "live"
    app = applied_stack(tf_environ, root / "prod" / "app")
    applied_stack(tf_environ, root / "prod" / "db")
    extra: tuple[str, ...] = ()
    if store == "postgresql":
        extra = ("--history", request.getfixturevalue("postgres").url())
    write_stack(app, NULL_STACK.replace('"one"', '"two"'))
    assert plan(root, *extra).returncode == 2
    first = stacks_json(root, *extra)["prod/app"]
    assert first["state"] == "drifted" and first["first_seen"] is not None and first["episodes"] == 1
    time.sleep(1.1)  # RFC 3339 seconds: a second run stamping anew would show
    assert plan(root, *extra).returncode == 2
    assert stacks_json(root, *extra)["prod/app"]["first_seen"] == first["first_seen"]
    write_stack(app, NULL_STACK)
    done = plan(root, *extra)
    assert done.returncode == 0 and "run recorded in " in done.stderr
    rows = stacks_json(root, *extra)
    assert rows["prod/app"]["state"] == "clean" and rows["prod/app"]["first_seen"] is None
    assert rows["prod/app"]["episodes"] == 1 and rows["prod/app"]["mean_resolve_seconds"] > 1
    assert rows["prod/db"] == {
        "stack": "prod/db",
        "state": "clean",
        "first_seen": None,
        "episodes": 0,
        "mean_resolve_seconds": None,
        "longest_resolve_seconds": None,
        "last_error_kind": None,
    }
    runs = json.loads(history(root, "--runs", "--format", "json", *extra).stdout)["runs"]
    assert [(r["stacks"], r["drifted"]) for r in runs] == [(2, 1), (2, 1), (2, 0)]
    table = history(root, "prod/app", *extra)
    assert table.returncode == 0 and "prod/app" in table.stdout and "prod/db" not in table.stdout


def test_history_says_when_there_is_nothing_to_show(tmp_path: Path) -> None:
    empty = history(tmp_path)
    assert empty.returncode == 1 and empty.stderr.startswith(
        f"driftctl: no run of {tmp_path} is recorded in "
    )
    assert history(tmp_path, "--history", "none").returncode == 3
    bad = history(tmp_path, "--since", "soon")
    assert bad.returncode == 3 and "--since" in bad.stderr


def test_bad_or_broken_stores_fail_before_any_plan(tmp_path: Path, state_home: Path) -> None:
    (tmp_path / "live" / "a").mkdir(parents=True)
    (tmp_path / "live" / "a" / "main.tf").write_text("")
    fake = ("--tool-binary", "/bin/true")
    bad = plan(tmp_path / "live", *fake, "--history", "ftp://somewhere/x")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "expected sqlite:///" in bad.stderr
    from_env = driftctl(
        "plan", "--all", "--root", str(tmp_path / "live"), "--tool", "terraform", *fake,
        env={**os.environ, "DRIFTCTL_HISTORY_URL": "ftp://somewhere/x"},
    )  # fmt: skip
    assert from_env.returncode == 3 and "history URL 'ftp://somewhere/x'" in from_env.stderr
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 512)
    broken = plan(tmp_path / "live", *fake, "--history", f"sqlite://{corrupt}")
    assert broken.returncode == 1, broken.stderr
    assert broken.stderr == f"driftctl: history database {corrupt}: file is not a database\n"


def test_an_unsplittable_pushgateway_url_is_one_line_exit_3(tmp_path: Path) -> None:
    # issue 13 item 9: `http://[::1` gave a traceback
    (tmp_path / "live" / "a").mkdir(parents=True)
    (tmp_path / "live" / "a" / "main.tf").write_text("")
    result = plan(tmp_path / "live", "--tool-binary", "/bin/true", "--push", "--pushgateway", "http://[::1")
    assert result.returncode == 3
    assert result.stderr == "driftctl: Pushgateway URL 'http://[::1': Invalid IPv6 URL\n"


def test_sigterm_during_the_put_does_not_claim_nothing_was_pushed(
    live: Path, gateway: Pushgateway, tmp_path: Path
) -> None:
    # issue 13 item 7: the PUT may land after driftctl is told to stop
    script = {"GET": [FORWARD], "PUT": [Reply(0, forward=True, delay=3.0)]}
    with recording_server(script, gateway.url) as slow:
        command = [
            sys.executable,
            "-m",
            "driftctl",
            "plan",
            "--all",
            "--root",
            str(live),
            "--tool",
            "terraform",
        ]
        process = subprocess.Popen(
            [*command, "--push", "--pushgateway", slow.url, "--history", "none"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        deadline = time.monotonic() + 120
        while "PUT" not in slow.methods() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "PUT" in slow.methods(), "the run never pushed"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 143
        assert "nothing was pushed" not in stderr and "Traceback" not in stderr
        assert "interrupted during PUT" in stderr and "the push may have landed" in stderr
        # and here it does land, after driftctl has exited
        deadline = time.monotonic() + 15
        while gateway.group({"job": "drift-detection"}) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gateway.group({"job": "drift-detection"}) is not None
