"""driftctl's terragrunt code path, run through the tests' Terragrunt stand-in over the real Terraform.

The stand-in (tests/terragrunt_standin) behaves like Terragrunt >= 0.67 where it matters: it runs
Terraform inside `.terragrunt-cache/<hash>/<hash>/`, auto-inits, and wraps stdout in log lines
unless TG_TF_FORWARD_STDOUT is set. driftctl passes the same arguments and environment as to the
real binary; a real `terragrunt` on PATH gets the same test as a second pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, driftctl

STANDIN = REPO / "tests" / "terragrunt_standin" / "terragrunt"
REAL = shutil.which("terragrunt")
BINARIES = [pytest.param(str(STANDIN), id="standin")] + (
    [pytest.param(REAL, id="real-terragrunt")] if REAL else []
)


@pytest.fixture
def example(tmp_path: Path, tf_environ: dict[str, str]) -> Path:
    """The bundled example repo, applied: every unit clean."""
    root = tmp_path / "live"
    shutil.copytree(REPO / "examples" / "live", root)
    for unit in sorted(p.parent for p in root.rglob("terragrunt.hcl")):
        subprocess.run(
            [str(STANDIN), "apply", "-auto-approve", "-input=false"],
            cwd=unit,
            env=dict(tf_environ, TG_NON_INTERACTIVE="true"),
            check=True,
            capture_output=True,
        )
    return root


@pytest.mark.parametrize("binary", BINARIES)
def test_terragrunt_units_classified_with_counts(example: Path, binary: str, tmp_path: Path) -> None:
    app = example / "prod" / "app" / "terragrunt.hcl"
    app.write_text(app.read_text().replace("instance_count = 3", "instance_count = 5"))
    dns = example / "prod" / "dns" / "terragrunt.hcl"
    dns.write_text(dns.read_text() + "\ninputs = merge({}, { undeclared_thing = var.nope })\n")
    report = tmp_path / "report.json"
    result = driftctl(
        "plan", "--all", "--root", str(example), "--tool-binary", binary, "--report", str(report), "-p", "3"
    )
    assert result.returncode == 1, result.stderr
    rows = {row["stack"]: row for row in json.loads(report.read_text())["stacks"]}
    assert set(rows) == {"dev/app", "dev/network", "prod/app", "prod/dns", "prod/network", "staging/app"}
    assert rows["prod/app"]["state"] == "drifted"
    assert rows["prod/app"]["resources"]["add"] == 2, "counts come from show -json through terragrunt"
    assert [(c["address"], c["action"]) for c in rows["prod/app"]["changes"]] == [
        ("null_resource.instance[3]", "create"),
        ("null_resource.instance[4]", "create"),
    ]
    # the plan's JSON stream reached driftctl unwrapped (terragrunt forwards `-json` output raw)
    log = Path(rows["prod/app"]["log"]).read_text(encoding="utf-8")
    assert "null_resource.instance[3]: Plan to create" in log
    assert "lines of the plan's stdout were not JSON" not in log
    # HCL's "Unknown variable" in terragrunt.hcl, from stderr (terragrunt's own error, not a diagnostic)
    assert rows["prod/dns"]["error"]["kind"] == "config", rows["prod/dns"]["error"]["message"]
    assert rows["prod/dns"]["state"] == "errored"
    assert {rows[s]["state"] for s in ("dev/app", "dev/network", "prod/network", "staging/app")} == {"clean"}
    # an absolute -out: nothing of driftctl's lands in terragrunt's cache directory
    assert not list(example.rglob(".terragrunt-cache/**/*.tfplan"))


def test_root_config_is_not_a_stack(example: Path) -> None:
    listed = driftctl("stacks", "--root", str(example)).stdout.split()
    assert listed == ["dev/app", "dev/network", "prod/app", "prod/dns", "prod/network", "staging/app"]


def test_terragrunt_gets_non_interactive_and_forwarded_stdout(tmp_path: Path) -> None:
    """The environment driftctl hands terragrunt, recorded by a fake binary."""
    seen = tmp_path / "env.json"
    fake = tmp_path / "terragrunt"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(seen)!r}, 'w'))\n"
    )
    fake.chmod(0o755)
    unit = tmp_path / "live" / "unit"
    unit.mkdir(parents=True)
    (unit / "terragrunt.hcl").write_text("inputs = {}\n")
    result = driftctl("plan", "--all", "--root", str(tmp_path / "live"), "--tool-binary", str(fake))
    assert result.returncode == 0, result.stderr
    recorded = json.loads(seen.read_text())
    for name in ("TG_NON_INTERACTIVE", "TERRAGRUNT_NON_INTERACTIVE", "TG_TF_FORWARD_STDOUT"):
        assert recorded["env"][name] == "true"
    argv = recorded["argv"]
    # through terragrunt too, the one plan invocation streams JSON (forwarded raw: `-json` forces it)
    assert argv[:3] == ["plan", "-json", "-detailed-exitcode"]
    assert "-lock=false" in argv and "-input=false" in argv
    out = next(a for a in argv if a.startswith("-out="))
    assert os.path.isabs(out.removeprefix("-out="))
