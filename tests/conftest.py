"""Shared fixtures: the real Terraform toolchain from ci/install-test-tools, and stack builders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import Postgres, running_postgres, why_unavailable
from pushgateway_server import NO_PUSHGATEWAY, PUSHGATEWAY_BINARY, Pushgateway, running_pushgateway

REPO = Path(__file__).resolve().parent.parent
NULL_STACK = """
variable "value" {
  type    = string
  default = "one"
}

resource "null_resource" "thing" {
  triggers = { value = var.value }
}

output "value" {
  value = var.value
}
"""


# Tests that start a real tool or server: `pytest -m "not slow"` leaves them out of the fast lane.
SLOW_FIXTURES = frozenset(
    {
        "terraform_env",
        "tf_environ",
        "live",
        "standin_toolchain",
        "standin_environ",
        "gateway",
        "prom",
        "postgres",
    }
)
SLOW_MARKERS = frozenset({"terraform", "prometheus", "postgres", "slow"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        markers = {marker.name for marker in item.iter_markers()}
        if fixtures & SLOW_FIXTURES or markers & SLOW_MARKERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own XDG state directory: the default history stores never touch the real home."""
    home = tmp_path_factory.mktemp("state-home")
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.delenv("DRIFTCTL_HISTORY_URL", raising=False)
    return home


@pytest.fixture
def gateway() -> Iterator[Pushgateway]:
    """A fresh in-memory Pushgateway of the test's own (skips without Debian's package)."""
    if PUSHGATEWAY_BINARY is None:
        pytest.skip(NO_PUSHGATEWAY)
    with running_pushgateway() as started:
        yield started


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; tests keep apart by database or repository root."""
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def terraform_env() -> Iterator[dict[str, str]]:
    """PATH and TF_CLI_CONFIG_FILE for the real Terraform 1.0.3 with the null provider mirror."""
    printed = subprocess.run(
        ["bash", str(REPO / "ci" / "install-test-tools")], check=True, capture_output=True, text=True
    ).stdout
    exported = dict(line.removeprefix("export ").partition("=")[::2] for line in printed.splitlines())
    tools = exported["DRIFTCTL_TOOLS_DIR"].strip("'")
    yield {
        "DRIFTCTL_TOOLS_DIR": tools,
        "TF_CLI_CONFIG_FILE": exported["TF_CLI_CONFIG_FILE"].strip("'"),
        "PATH": f"{tools}/bin{os.pathsep}{os.environ['PATH']}",
    }


@pytest.fixture
def tf_environ(terraform_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process environment with the test toolchain first on PATH."""
    for name, value in terraform_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    return dict(os.environ)


def terraform_binary(environ: dict[str, str]) -> str:
    found = shutil.which("terraform", path=environ["PATH"])
    assert found == f"{environ['DRIFTCTL_TOOLS_DIR']}/bin/terraform", f"not the pinned Terraform: {found}"
    return found


def write_stack(directory: Path, body: str = NULL_STACK) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(body, encoding="utf-8")
    return directory


def terraform(environ: dict[str, str], directory: Path, *args: str, binary: str | None = None) -> None:
    subprocess.run(
        [binary or terraform_binary(environ), *args],
        cwd=directory,
        env=environ,
        check=True,
        capture_output=True,
    )


def applied_stack(environ: dict[str, str], directory: Path, body: str = NULL_STACK) -> Path:
    """A stack with real local state matching its config: a clean plan."""
    write_stack(directory, body)
    terraform(environ, directory, "init", "-input=false", "-no-color")
    terraform(environ, directory, "apply", "-auto-approve", "-input=false", "-no-color")
    return directory


def driftctl(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "driftctl", *args],
        cwd=cwd,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def live(tf_environ: dict[str, str], tmp_path: Path) -> Path:
    """A terraform-layout repo: one clean stack, one drifted, one broken, and a module that is not a stack."""
    root = tmp_path / "live"
    applied_stack(tf_environ, root / "prod" / "clean")
    drifted = applied_stack(tf_environ, root / "prod" / "drifted")
    write_stack(drifted, NULL_STACK.replace('"one"', '"two"'))
    write_stack(root / "dev" / "broken", 'resource "null_resource" "r" {\n  triggers = { x = var.nope }\n}\n')
    write_stack(root / "modules" / "shared")
    return root
