"""The Terragrunt TEST STAND-IN (see tgstandin.py) and helpers for running it from tests.

`terragrunt` in this directory is the executable; put this directory first on PATH to use it.
Fixtures that also provide the real Terraform are in tests/standin_fixtures.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

STANDIN_DIR = Path(__file__).resolve().parent
STANDIN = STANDIN_DIR / "terragrunt"
# The stand-in's `#!/usr/bin/env python3` must find a Python with python-hcl2: the one running the tests.
PYTHON_DIR = str(Path(sys.executable).parent)

# Settings a developer's shell may hold that would change what the stand-in or terraform does.
_SCRUBBED_PREFIXES = (
    "TG_",
    "TERRAGRUNT_",
    "TF_VAR_",
    "TF_CLI_ARGS",
    "TF_DATA_DIR",
    "TF_PLUGIN_CACHE_DIR",
    "TF_LOG",
)
_SCRUBBED_NAMES = frozenset({"TF_INPUT", "TF_IN_AUTOMATION", "TF_WORKSPACE"})


def clean_environ(base: Mapping[str, str], *path_first: str) -> dict[str, str]:
    """`base` without Terragrunt/Terraform settings that would change a test's outcome.

    PATH becomes `path_first`, then this interpreter's directory (for the stand-in's python3), then
    base's PATH.
    """
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED_NAMES
    }
    env["PATH"] = os.pathsep.join([*path_first, PYTHON_DIR, base.get("PATH", os.defpath)])
    return env


def terraform_path(environ: Mapping[str, str]) -> str:
    found = shutil.which("terraform", path=environ["PATH"])
    if found is None:
        raise FileNotFoundError("terraform is not on the environment's PATH")
    return found


def run_terragrunt(
    environ: Mapping[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the stand-in in `cwd`; never raises on a non-zero exit."""
    return subprocess.run(
        [str(STANDIN), *args],
        cwd=cwd,
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
