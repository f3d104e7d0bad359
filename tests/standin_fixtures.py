"""Fixtures and helpers for running the Terragrunt TEST STAND-IN (tests/terragrunt_standin/).

Load the fixtures in a test module with `pytest_plugins = ["standin_fixtures"]`, and import the
helpers from `terragrunt_standin` (importing this module directly makes pytest warn that it cannot
rewrite its asserts).
`standin_environ` is an environment whose PATH finds the stand-in as `terragrunt` and the real
Terraform 1.0.3 from ci/install-test-tools as `terraform`; tests using it skip, with the reason, when
that Terraform cannot be found or installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from terragrunt_standin import STANDIN, STANDIN_DIR, clean_environ, run_terragrunt, terraform_path

__all__ = ["STANDIN", "clean_environ", "run_terragrunt", "terraform_path"]

REPO = Path(__file__).resolve().parent.parent
INSTALLER = REPO / "ci" / "install-test-tools"


def _tools_dir() -> Path:
    configured = os.environ.get("DRIFTCTL_TOOLS_DIR")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "driftctl-tools"


def _parse_exports(printed: str, base_path: str) -> dict[str, str]:
    exports: dict[str, str] = {}
    for line in printed.splitlines():
        if not line.startswith("export "):
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = value.replace('"$PATH"', base_path).replace("'", "")
    return exports


@pytest.fixture(scope="session")
def standin_toolchain() -> dict[str, str]:
    """DRIFTCTL_TOOLS_DIR, TF_CLI_CONFIG_FILE and PATH for the real Terraform 1.0.3 (offline at run time)."""
    terraform = _tools_dir() / "bin" / "terraform"
    try:
        # idempotent: with everything in place it only rewrites the filesystem-mirror config
        done = subprocess.run(
            ["bash", str(INSTALLER)], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(
            f"ci/install-test-tools could not run ({error}); Terraform 1.0.3 not found at {terraform}"
        )
    exports = _parse_exports(done.stdout, os.environ.get("PATH", ""))
    tools_bin = Path(exports.get("DRIFTCTL_TOOLS_DIR", str(_tools_dir()))) / "bin"
    if done.returncode != 0 or not (tools_bin / "terraform").is_file():
        pytest.skip(
            "the real Terraform 1.0.3 from ci/install-test-tools is not installed at "
            f"{tools_bin / 'terraform'} and installing it failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-300:]}"
        )
    exports["DRIFTCTL_TOOLS_DIR"] = str(tools_bin.parent)
    return exports


@pytest.fixture
def standin_environ(standin_toolchain: dict[str, str]) -> dict[str, str]:
    """Environment for subprocesses: the stand-in first on PATH, then the real Terraform 1.0.3."""
    tools_bin = str(Path(standin_toolchain["DRIFTCTL_TOOLS_DIR"]) / "bin")
    env = clean_environ(os.environ, str(STANDIN_DIR), tools_bin)
    env.update({name: value for name, value in standin_toolchain.items() if name != "PATH"})
    return env
