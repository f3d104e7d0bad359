"""driftctl.stackgen: Terragrunt Stacks are generated once per stack-file directory, then their units planned.

The slow tests plan generated units for real: the Terragrunt stand-in's `stack generate` writes them,
the real Terraform 1.0.3 plans them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import NULL_STACK, REPO, driftctl

from driftctl.model import ErrorKind, PlanError, Stack, State, Tool
from driftctl.stackgen import failed_results, generation_dirs

STANDIN = REPO / "tests" / "terragrunt_standin" / "terragrunt"


def unit(stack_id: str, *stack_files: str) -> Stack:
    return Stack(
        id=stack_id,
        path=Path("/r") / stack_id,
        tool=Tool.TERRAGRUNT,
        stack_files=tuple(Path("/r") / f for f in stack_files),
    )


def test_one_generation_per_outermost_stack_file_directory() -> None:
    stacks = [
        unit("live/.terragrunt-stack/a", "live/terragrunt.stack.hcl"),
        unit("live/.terragrunt-stack/b", "live/terragrunt.stack.hcl"),
        unit(
            "live/.terragrunt-stack/dev/.terragrunt-stack/c",
            "live/terragrunt.stack.hcl",
            "cat/terragrunt.stack.hcl",
        ),
        unit("live/prod/.terragrunt-stack/d", "live/prod/terragrunt.stack.hcl"),  # generated from live/ too
        unit("other/.terragrunt-stack/e", "other/terragrunt.stack.hcl"),
        unit("plain/unit"),
    ]

    assert generation_dirs(stacks) == [Path("/r/live"), Path("/r/other")]


def test_units_of_a_failed_generation_are_errored_with_its_log() -> None:
    stacks = [
        unit("live/.terragrunt-stack/a", "live/terragrunt.stack.hcl"),
        unit("live/prod/.terragrunt-stack/d", "live/prod/terragrunt.stack.hcl"),
        unit("other/.terragrunt-stack/e", "other/terragrunt.stack.hcl"),
        unit("plain/unit"),
    ]
    error = PlanError(ErrorKind.CONFIG, "`terragrunt stack generate` in /r/live failed (exit 1)")

    results = failed_results(stacks, {Path("/r/live"): (error, Path("/logs/gen.log"))})

    assert [(r.stack.id, r.state, r.error, r.log_path) for r in results] == [
        ("live/.terragrunt-stack/a", State.ERRORED, error, Path("/logs/gen.log")),
        ("live/prod/.terragrunt-stack/d", State.ERRORED, error, Path("/logs/gen.log")),
    ]


# ---- real plans of generated units: the stand-in's `stack generate`, the real Terraform ----

UNIT_CONFIG = (
    'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
    "inputs = {\n  value = values.value\n}\n"
)


def write(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body, encoding="utf-8")


def stacks_repo(root: Path) -> Path:
    """A git repository of Terragrunt Stacks: local unit sources, a nested stack, an excluded unit."""
    write(
        root,
        {
            "root.hcl": "inputs = {}\n",
            "catalog/units/thing/terragrunt.hcl": UNIT_CONFIG,
            "catalog/units/thing/main.tf": NULL_STACK,
            "catalog/stacks/env/terragrunt.stack.hcl": (
                'unit "app" {\n  source = "../../../catalog/units/thing"\n  path = "app"\n'
                '  values = { value = "${values.env}-app" }\n}\n'
            ),
            "live/terragrunt.stack.hcl": (
                'unit "db" {\n  source = "../catalog/units/thing"\n  path = "db"\n'
                '  values = { value = "db" }\n}\n'
                'unit "cache" {\n  source = "../catalog/units/thing"\n  path = "cache"\n'
                '  values = { value = "cache" }\n}\n'
                'stack "dev" {\n  source = "../catalog/stacks/env"\n  path = "dev"\n'
                '  values = { env = "dev" }\n}\n'
            ),
            ".gitignore": ".terragrunt-stack/\n",
        },
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "stacks"],
        check=True,
    )
    return root


def apply_generated(root: Path, environ: dict[str, str]) -> None:
    """What a deploy pipeline did before: generate, then apply every unit (state stays in the unit dir)."""
    env = dict(environ, TG_NON_INTERACTIVE="true")
    subprocess.run(
        [str(STANDIN), "stack", "generate"], cwd=root / "live", env=env, check=True, capture_output=True
    )
    for config in sorted((root / "live").rglob(".terragrunt-stack/**/terragrunt.hcl")):
        subprocess.run(
            [str(STANDIN), "apply", "-auto-approve", "-input=false", "-no-color"],
            cwd=config.parent,
            env=env,
            check=True,
            capture_output=True,
        )


def test_generated_units_are_listed_then_generated_and_planned(
    tmp_path: Path, tf_environ: dict[str, str]
) -> None:
    root = stacks_repo(tmp_path / "repo")
    apply_generated(root, tf_environ)
    stack_file = root / "live" / "terragrunt.stack.hcl"
    stack_file.write_text(stack_file.read_text().replace('value = "cache"', 'value = "cache-v2"'))
    report = tmp_path / "report.json"

    listed = driftctl("stacks", "--root", str(root), "--format", "json")
    result = driftctl(
        "plan",
        "--all",
        "--root",
        str(root),
        "--tool-binary",
        str(STANDIN),
        "--report",
        str(report),
        "-p",
        "2",
    )

    assert listed.returncode == 0, listed.stderr
    rows = {row["stack"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {
        "live/.terragrunt-stack/cache",
        "live/.terragrunt-stack/db",
        "live/.terragrunt-stack/dev/.terragrunt-stack/app",
    }
    assert rows["live/.terragrunt-stack/db"]["source"] == "../catalog/units/thing"
    assert rows["live/.terragrunt-stack/db"]["stack_files"] == [str(stack_file.resolve())]
    assert result.returncode == 2, result.stderr  # drift, no error
    states = {row["stack"]: row for row in json.loads(report.read_text())["stacks"]}
    assert {s: row["state"] for s, row in states.items()} == {
        "live/.terragrunt-stack/cache": "drifted",
        "live/.terragrunt-stack/db": "clean",
        "live/.terragrunt-stack/dev/.terragrunt-stack/app": "clean",
    }
    assert states["live/.terragrunt-stack/cache"]["resources"]["replace"] == 1  # the new value, regenerated
    values = root / "live" / ".terragrunt-stack" / "cache" / "terragrunt.values.hcl"
    assert 'value = "cache-v2"' in values.read_text()


def test_a_stack_that_cannot_be_generated_errors_its_units_only(
    tmp_path: Path, tf_environ: dict[str, str]
) -> None:
    root = stacks_repo(tmp_path / "repo")
    apply_generated(root, tf_environ)
    write(
        root,
        {
            "remote/terragrunt.stack.hcl": (
                'unit "vpc" {\n  source = "git::https://example.invalid/catalog.git//units/vpc?ref=v1"\n'
                '  path = "vpc"\n}\n'
            ),
        },
    )
    report = tmp_path / "report.json"

    result = driftctl(
        "plan", "--all", "--root", str(root), "--tool-binary", str(STANDIN), "--report", str(report)
    )

    assert result.returncode == 1, result.stderr
    states = {row["stack"]: row for row in json.loads(report.read_text())["stacks"]}
    vpc = states["remote/.terragrunt-stack/vpc"]
    assert vpc["state"] == "errored"
    assert (
        "`terragrunt stack generate` in" in vpc["error"]["message"]
        and "Failed to fetch unit vpc" in vpc["error"]["message"]
    )
    assert {states[s]["state"] for s in states if s.startswith("live/")} == {"clean"}
    assert "Traceback" not in result.stderr


def test_excluded_stack_units_are_listed_with_the_reason_and_not_planned(
    tmp_path: Path, tf_environ: dict[str, str]
) -> None:
    root = stacks_repo(tmp_path / "repo")
    apply_generated(root, tf_environ)
    config = root / "catalog" / "units" / "thing" / "terragrunt.hcl"
    config.write_text(
        config.read_text() + 'exclude {\n  if = values.value == "db"\n  actions = ["plan"]\n}\n'
    )
    report = tmp_path / "report.json"

    shown = driftctl("stacks", "--root", str(root), "--show-excluded")
    result = driftctl(
        "plan", "--all", "--root", str(root), "--tool-binary", str(STANDIN), "--report", str(report)
    )

    assert shown.returncode == 0, shown.stderr
    assert (
        "live/.terragrunt-stack/db\texcluded: exclude block in catalog/units/thing/terragrunt.hcl"
        in shown.stdout
    )
    assert "1 unit excluded" in shown.stderr
    assert result.returncode == 0, result.stderr
    planned = {row["stack"] for row in json.loads(report.read_text())["stacks"]}
    assert planned == {"live/.terragrunt-stack/cache", "live/.terragrunt-stack/dev/.terragrunt-stack/app"}
    assert os.path.isdir(
        root / "live" / ".terragrunt-stack" / "db"
    )  # generated, as Terragrunt does, but not planned
