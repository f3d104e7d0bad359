"""The sharded-run examples for GitHub Actions and Kubernetes: valid for their engines, and every
driftctl command in them parses with this driftctl and names each shard once.

Validity is checked by the engines' published schemas, offline: SchemaStore's GitHub workflow schema as
check-jsonschema vendors it, and the Kubernetes 1.37 OpenAPI schemas kubernetes-validate ships. The
Kubernetes pods' shell commands run in a real `sh` with a stand-in `driftctl` that records its arguments.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from driftctl import cli, config
from driftctl.model import Shard

REPO = Path(__file__).resolve().parents[1]
GITHUB = REPO / "examples" / "github-actions" / "drift.yml"
KUBERNETES = REPO / "examples" / "kubernetes" / "drift-shards.yaml"
MATRIX_SHARD = re.compile(r"\$\{\{\s*matrix\.shard\s*\}\}")


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def _parse(command: click.Command, args: list[str]) -> click.Context:
    return command.make_context(command.name or "", list(args))


def _driftctl_words(script: str, command: str) -> list[str]:
    """The arguments of `driftctl <command>` in a shell line, up to a redirection."""
    words = shlex.split(script)
    start = words.index("driftctl") + 1
    assert words[start] == command, script
    rest = words[start + 1 :]
    return rest[: rest.index(">>")] if ">>" in rest else rest


# ---- GitHub Actions --------------------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    document = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_github_workflow_is_valid_against_the_workflow_schema() -> None:
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(GITHUB)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_github_matrix_plans_each_shard_once_and_publish_merges_their_artifacts() -> None:
    jobs = _workflow()["jobs"]
    plan, publish = jobs["plan"], jobs["publish"]
    shards = plan["strategy"]["matrix"]["shard"]
    total = len(shards)
    assert shards == list(range(1, total + 1)) and plan["strategy"]["fail-fast"] is False
    plan_step = next(step for step in plan["steps"] if step.get("name") == "plan")
    upload = next(step for step in plan["steps"] if "upload-artifact" in step.get("uses", ""))
    reports = set()
    for index in shards:
        environ = {k: MATRIX_SHARD.sub(str(index), v) for k, v in plan["env"].items() if "secrets." not in v}
        assert config.load({}, environ).shard == Shard(index, total)
        args = _driftctl_words(MATRIX_SHARD.sub(str(index), plan_step["run"]), "plan")
        params = _parse(cli.plan, args).params
        assert params["fail_on"] == "never" and not params["push"]
        reports.add(params["report"])
        assert MATRIX_SHARD.sub(str(index), upload["with"]["name"]).startswith("drift-report-")
    assert len(reports) == total
    assert publish["needs"] == "plan"
    download = next(step for step in publish["steps"] if "download-artifact" in step.get("uses", ""))
    assert download["with"] == {"pattern": "drift-report-*", "path": "drift-reports", "merge-multiple": True}
    publish_step = next(step for step in publish["steps"] if step.get("name") == "publish")
    context = _parse(cli.publish, _driftctl_words(publish_step["run"], "publish"))
    assert context.params["fail_on"] == "error" and not context.params["allow_partial"]
    assert [str(p) for p in context.params["reports"]] == ["drift-reports/*.json"]
    assert all(Path(report).parent == Path("drift-reports") for report in reports)


def test_github_actions_are_pinned_by_commit() -> None:
    uses = [step["uses"] for job in _workflow()["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}", use) for use in uses), uses


# ---- Kubernetes ------------------------------------------------------------------------------------


def _manifests() -> dict[tuple[str, str], dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(KUBERNETES.read_text(encoding="utf-8")) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def test_kubernetes_manifests_are_valid_for_kubernetes() -> None:
    done = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--kubernetes-version", "1.37.0", str(KUBERNETES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == len(_manifests())


RECORDER = """#!/usr/bin/env python3
import json, sys
print(json.dumps(sys.argv[1:]))
"""


def _run_pod_script(script: str, tmp_path: Path, environ: dict[str, str]) -> list[str]:
    """Runs a container's `sh -c` script with a `driftctl` that prints its arguments as JSON."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    recorder = bin_dir / "driftctl"
    recorder.write_text(RECORDER.replace("python3", sys.executable, 1), encoding="utf-8")
    recorder.chmod(0o755)
    done = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    words: list[str] = json.loads(done.stdout)
    return words


def test_kubernetes_indexed_job_maps_the_completion_index_to_each_shard_once(tmp_path: Path) -> None:
    manifests = _manifests()
    job = manifests[("Job", "drift-plan")]["spec"]
    assert job["completionMode"] == "Indexed"
    total = job["completions"]
    assert job["parallelism"] == total
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] == ["sh", "-c"]
    reports = []
    for index in range(total):
        words = _run_pod_script(
            container["args"][0], tmp_path, {"JOB_COMPLETION_INDEX": str(index), "JOB_UID": "u1"}
        )
        assert words[0] == "plan"
        params = _parse(cli.plan, words[1:]).params
        assert config.load({"shard": params["shard"]}, {}).shard == Shard(index + 1, total)
        assert params["fail_on"] == "never" and not params["push"]
        reports.append(params["report"])
    assert len(set(reports)) == total and all(r.startswith("/reports/u1/") for r in reports)
    uid_env = next(e for e in container["env"] if e["name"] == "JOB_UID")
    assert (
        uid_env["valueFrom"]["fieldRef"]["fieldPath"]
        == "metadata.labels['batch.kubernetes.io/controller-uid']"
    )

    # publish: the reports of exactly this plan Job, found by the uid its init container hands over
    publish = manifests[("Job", "drift-publish")]["spec"]["template"]["spec"]
    (wait,) = publish["initContainers"]
    assert "kubectl wait --for=condition=Complete" in wait["args"][0] and "job/drift-plan" in wait["args"][0]
    (publisher,) = publish["containers"]
    handoff, reports_dir = tmp_path / "handoff", tmp_path / "reports"
    handoff.mkdir()
    (handoff / "plan-uid").write_text("u1", encoding="utf-8")
    for report in reports:
        written = reports_dir / Path(report).relative_to("/reports")
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text("{}", encoding="utf-8")
    (reports_dir / "u0").mkdir()
    (reports_dir / "u0" / "shard-1.json").write_text("{}", encoding="utf-8")  # last run's: never merged
    script = publisher["args"][0].replace("/run/drift", str(handoff)).replace("/reports/", f"{reports_dir}/")
    words = _run_pod_script(script, tmp_path, {})
    assert words[0] == "publish"
    context = _parse(cli.publish, words[1:])
    assert sorted(str(p) for p in context.params["reports"]) == sorted(
        str(reports_dir / Path(r).relative_to("/reports")) for r in reports
    )
    assert context.params["fail_on"] == "error"
