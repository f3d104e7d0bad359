"""The Terragrunt TEST STAND-IN behaves like Terragrunt v0.99.4 where driftctl depends on it.

Most tests run the real Terraform 1.0.3 from ci/install-test-tools under the stand-in; a few use a
recording fake binary (via TG_TF_PATH) where they check exactly what the stand-in passes on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from terragrunt_standin import STANDIN, clean_environ, run_terragrunt, terraform_path

# the fixtures `standin_toolchain` and `standin_environ`
pytest_plugins = ["standin_fixtures"]

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (STDOUT|STDERR|INFO  |WARN  |ERROR ) (terraform: )?")

MODULE = """
variable "name" {
  type = string
}

variable "size" {
  type    = number
  default = 1
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "zones" {
  type    = list(string)
  default = []
}

variable "enabled" {
  type    = bool
  default = true
}

variable "owner" {
  type    = string
  default = "nobody"
}

resource "null_resource" "thing" {
  count    = var.size
  triggers = { name = var.name, owner = var.owner }
}

output "name" {
  value = var.name
}

output "size" {
  value = var.size
}

output "tags" {
  value = var.tags
}

output "zones" {
  value = var.zones
}

output "enabled" {
  value = var.enabled
}

output "owner" {
  value = var.owner
}
"""

ROOT_HCL = """
inputs = {
  owner = "platform"
  name  = "from-root"
}
"""

UNIT_HCL = """
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules//thing"
}

dependency "network" {
  config_path = "../network"
}

inputs = {
  name    = "%(name)s"
  size    = 2
  tags    = { team = "core", "cost-center" = "<42>" }
  zones   = ["a", "b"]
  enabled = false
}
"""


def b64sha1(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()).decode().rstrip("=")


def make_live(root: Path, name: str = "app") -> Path:
    """root.hcl + modules/thing + dev/app; returns the unit directory."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "root.hcl").write_text(ROOT_HCL, encoding="utf-8")
    module = root / "modules" / "thing"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(MODULE, encoding="utf-8")
    (module / ".hidden.tf").write_text("this is not HCL and must not be copied", encoding="utf-8")
    unit = root / "dev" / "app"
    unit.mkdir(parents=True)
    (unit / "terragrunt.hcl").write_text(UNIT_HCL % {"name": name}, encoding="utf-8")
    return unit


def cache_working_dir(unit: Path, live: Path) -> Path:
    return unit / ".terragrunt-cache" / b64sha1(str(unit)) / b64sha1(f"file://{live / 'modules'}") / "thing"


def plan_args(out: str) -> list[str]:
    return ["plan", "-detailed-exitcode", "-input=false", "-lock=false", "-no-color", f"-out={out}"]


# ------------------------------------------------------------------------------------------------
# no terraform needed
# ------------------------------------------------------------------------------------------------


def test_version_names_the_standin(tmp_path: Path) -> None:
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout == "terragrunt version v0.99.4-standin\n"


def test_unknown_command_is_refused_like_terragrunt(tmp_path: Path) -> None:
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "workspace", "list", "-no-color")
    assert done.returncode == 1
    assert 'unknown command: "workspace"' in done.stderr
    assert "terragrunt run -- workspace" in done.stderr


def test_hcl_parse_error_exits_1_with_an_error_line(tmp_path: Path) -> None:
    (tmp_path / "terragrunt.hcl").write_text("inputs = {\n  a = \n", encoding="utf-8")
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "plan", "-no-color")
    assert done.returncode == 1
    assert done.stdout == ""
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} ERROR  .*terragrunt\.hcl: error parsing HCL", done.stderr, re.M)


def test_include_without_parent_file_is_a_config_error(tmp_path: Path) -> None:
    unit = tmp_path / "unit"
    unit.mkdir()
    (unit / "terragrunt.hcl").write_text(
        'include "root" {\n  path = find_in_parent_folders("nope.hcl")\n}\n', encoding="utf-8"
    )
    done = run_terragrunt(clean_environ(os.environ), unit, "plan", "-no-color")
    assert done.returncode == 1
    assert "ParentFileNotFoundError: Could not find a nope.hcl" in done.stderr


# ---- Stacks: `terragrunt stack generate` (pkg/config/stack.go, internal/stacks/generate) ----


def write_stack_catalog(root: Path) -> None:
    """live/terragrunt.stack.hcl: a local unit, a no_dot unit, and a nested local stack."""
    files = {
        "root.hcl": "locals {}\n",
        "catalog/units/app/terragrunt.hcl": "inputs = {\n  name = values.name\n}\n",
        "catalog/units/app/main.tf": 'variable "name" {\n  type = string\n}\n',
        "catalog/units/app/.hidden/keep.txt": "copied too\n",
        "catalog/stacks/env/terragrunt.stack.hcl": (
            'unit "app" {\n  source = "../../../catalog/units/app"\n  path = "app"\n'
            '  values = { name = "${values.env}-app", nested = { b = [1, "x"], a = true } }\n}\n'
        ),
        "live/terragrunt.stack.hcl": (
            'locals {\n  units = "../catalog/units"\n}\n'
            'unit "app" {\n  source = "${local.units}/app"\n  path = "services/app"\n'
            '  values = { name = "svc", "odd key" = "a\\"b${"$"}{x}" }\n}\n'
            'unit "legacy" {\n  source = "../catalog/units/app"\n  path = "legacy"\n'
            "  no_dot_terragrunt_stack = true\n}\n"
            'stack "dev" {\n  source = "../catalog/stacks/env"\n  path = "dev"\n'
            '  values = { env = "dev" }\n}\n'
        ),
    }
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body, encoding="utf-8")


def test_stack_generate_writes_units_values_and_nested_stacks(tmp_path: Path) -> None:
    write_stack_catalog(tmp_path)
    live = tmp_path / "live"

    done = run_terragrunt(clean_environ(os.environ), live, "stack", "generate", "--no-color")

    assert done.returncode == 0, done.stderr
    assert "Generating unit app from" in done.stderr and "Generating stack dev from" in done.stderr
    app = live / ".terragrunt-stack" / "services" / "app"
    assert (app / "terragrunt.hcl").read_text() == (tmp_path / "catalog/units/app/terragrunt.hcl").read_text()
    assert (app / "main.tf").is_file() and (app / ".hidden" / "keep.txt").is_file()
    assert (app / "terragrunt.values.hcl").read_text() == (
        "# Auto-generated by the terragrunt.stack.hcl file by Terragrunt. Do not edit manually\n"
        'name      = "svc"\n'  # keys sorted as written, then aligned
        '"odd key" = "a\\"b$${x}"\n'
    )
    assert (live / "legacy" / "terragrunt.hcl").is_file()  # no_dot_terragrunt_stack
    assert not (live / "legacy" / "terragrunt.values.hcl").exists()  # no values, no file
    nested = live / ".terragrunt-stack" / "dev"
    assert (nested / "terragrunt.stack.hcl").is_file()
    assert (nested / "terragrunt.values.hcl").read_text().endswith('env = "dev"\n')
    assert (nested / ".terragrunt-stack" / "app" / "terragrunt.values.hcl").read_text() == (
        "# Auto-generated by the terragrunt.stack.hcl file by Terragrunt. Do not edit manually\n"
        'name = "dev-app"\n'
        "nested = {\n"
        "  a = true\n"
        '  b = [1, "x"]\n'
        "}\n"
    )


def test_stack_generate_twice_replaces_what_the_first_copied(tmp_path: Path) -> None:
    write_stack_catalog(tmp_path)
    live = tmp_path / "live"
    run_terragrunt(clean_environ(os.environ), live, "stack", "generate")
    (tmp_path / "catalog/units/app/main.tf").unlink()

    done = run_terragrunt(clean_environ(os.environ), live, "stack", "generate")

    assert done.returncode == 0, done.stderr
    assert not (live / ".terragrunt-stack/services/app/main.tf").exists()  # the manifest's files go first


def test_stack_generate_refuses_remote_sources_and_missing_units(tmp_path: Path) -> None:
    (tmp_path / "terragrunt.stack.hcl").write_text(
        'unit "x" {\n  source = "git::https://example.com/c.git//u"\n  path = "x"\n}\n', encoding="utf-8"
    )
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "stack", "generate")
    assert done.returncode == 1
    assert "Failed to fetch unit x" in done.stderr

    (tmp_path / "empty").mkdir()
    (tmp_path / "terragrunt.stack.hcl").write_text(
        'unit "x" {\n  source = "./empty"\n  path = "x"\n}\n', encoding="utf-8"
    )
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "stack", "generate")
    assert done.returncode == 1
    assert "Validation failed for unit x" in done.stderr and "terragrunt.hcl file" in done.stderr


def test_stack_generate_without_stack_files_warns(tmp_path: Path) -> None:
    done = run_terragrunt(clean_environ(os.environ), tmp_path, "stack", "generate")
    assert done.returncode == 0
    assert "No stack files found" in done.stderr


def test_skip_is_an_unsupported_argument_since_0_93(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "terragrunt.hcl").write_text("skip = true\n", encoding="utf-8")
    done = run_terragrunt(fake_tf, tmp_path, "plan", "-no-color")
    assert done.returncode == 1
    assert 'An argument named "skip" is not expected here' in done.stderr
    assert calls(fake_tf) == []


def test_values_without_a_values_file_is_an_unknown_variable(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "terragrunt.hcl").write_text("inputs = {\n  name = values.name\n}\n", encoding="utf-8")
    done = run_terragrunt(fake_tf, tmp_path, "plan", "-no-color")
    assert done.returncode == 1
    assert "There is no variable named 'values'" in done.stderr


# ------------------------------------------------------------------------------------------------
# a recording fake terraform (TG_TF_PATH): exactly what the stand-in passes on
# ------------------------------------------------------------------------------------------------

FAKE_TF = r"""#!/usr/bin/env python3
import json, os, signal, sys, time
entry = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "tf_vars": {k: v for k, v in os.environ.items() if k.startswith("TF_VAR_")},
    "files": sorted(os.listdir(".")),
}
with open(os.environ["FAKE_TF_RECORD"], "a") as record:
    record.write(json.dumps(entry) + "\n")
if sys.argv[1:2] == ["init"]:
    os.makedirs(".terraform/providers", exist_ok=True)
    with open(".terraform.lock.hcl", "w") as lock:
        lock.write("# fake lock\n")
    print("Initializing the backend...")
    sys.exit(int(os.environ.get("FAKE_TF_INIT_EXIT", "0")))
print("first line")
print("")
print("second line")
print("a warning", file=sys.stderr)
if os.environ.get("FAKE_TF_WAIT"):
    def stop(signum, frame):
        print("child got signal %d" % signum, flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    time.sleep(60)
sys.exit(int(os.environ.get("FAKE_TF_EXIT", "0")))
"""


@pytest.fixture
def fake_tf(tmp_path: Path) -> dict[str, str]:
    """Environment whose TG_TF_PATH is a fake terraform recording each call to FAKE_TF_RECORD."""
    binary = tmp_path / "bin" / "terraform"
    binary.parent.mkdir()
    binary.write_text(FAKE_TF.replace("/usr/bin/env python3", sys.executable, 1), encoding="utf-8")
    binary.chmod(0o755)
    env = clean_environ(os.environ)
    env.update({"TG_TF_PATH": str(binary), "FAKE_TF_RECORD": str(tmp_path / "calls.jsonl")})
    return env


def calls(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["FAKE_TF_RECORD"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_inputs_become_tf_vars_json_encoded_and_parent_inputs_merge_under_child(
    tmp_path: Path, fake_tf: dict[str, str]
) -> None:
    unit = make_live(tmp_path / "live")
    fake_tf["TF_VAR_zones"] = "preset-by-user"
    done = run_terragrunt(fake_tf, unit, "plan", "-no-color")
    assert done.returncode == 0, done.stderr
    init, plan = calls(fake_tf)
    assert init["argv"] == ["init", "-no-color"]
    assert plan["argv"] == ["plan", "-no-color"]
    assert plan["tf_vars"] == {
        "TF_VAR_name": "app",  # the child's value wins over root.hcl's
        "TF_VAR_owner": "platform",  # only in root.hcl
        "TF_VAR_size": "2",
        "TF_VAR_tags": '{"cost-center":"\\u003c42\\u003e","team":"core"}',  # Go's json.Marshal
        "TF_VAR_enabled": "false",
        "TF_VAR_zones": "preset-by-user",  # Terragrunt never overrides a TF_VAR_ already set
    }


def test_locals_functions_and_templates_are_evaluated(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    live = tmp_path / "live"
    unit = live / "envs" / "dev"
    unit.mkdir(parents=True)
    (live / "terragrunt.hcl").write_text(
        'inputs = {\n  region = "eu-${get_env("STANDIN_REGION", "west")}-1"\n'
        "  rel = path_relative_to_include()\n}\n",
        encoding="utf-8",
    )
    (unit / "terragrunt.hcl").write_text(
        """
include {
  path = find_in_parent_folders()
}

locals {
  env  = basename(get_terragrunt_dir())
  name = "${local.env}-app"
}

inputs = {
  name  = local.name
  label = "$${literal} and 100%"
  home  = "${get_parent_terragrunt_dir()}"
}
""",
        encoding="utf-8",
    )
    done = run_terragrunt({**fake_tf, "STANDIN_REGION": "north"}, unit, "plan", "-no-color")
    assert done.returncode == 0, done.stderr
    assert calls(fake_tf)[-1]["tf_vars"] == {
        "TF_VAR_region": "eu-north-1",
        "TF_VAR_rel": "envs/dev",
        "TF_VAR_name": "dev-app",
        "TF_VAR_label": "${literal} and 100%",
        "TF_VAR_home": str(live),
    }
    # Terragrunt's deprecation warnings for a bare include and a root terragrunt.hcl
    assert "Using an `include` block without a label is deprecated." in done.stderr
    assert "Using `terragrunt.hcl` as the root of Terragrunt configurations is an anti-pattern" in done.stderr


def test_source_is_copied_into_hashed_cache_dir_and_terraform_runs_there(
    tmp_path: Path, fake_tf: dict[str, str]
) -> None:
    live = tmp_path / "live"
    unit = make_live(live)
    (unit / "extra.tf").write_text("# unit file", encoding="utf-8")
    (unit / ".secret").write_text("hidden files stay behind", encoding="utf-8")
    done = run_terragrunt(fake_tf, unit, "plan", "-no-color")
    assert done.returncode == 0, done.stderr
    work = cache_working_dir(unit, live)
    assert [call["cwd"] for call in calls(fake_tf)] == [str(work), str(work)]
    files = set(os.listdir(work))
    assert {"main.tf", "extra.tf", "terragrunt.hcl", ".terraform.lock.hcl"} <= files
    assert ".hidden.tf" not in files and ".secret" not in files
    assert "Downloading Terraform configurations from ../../modules into ./.terragrunt-cache/" in done.stderr
    # after the auto-init, the lock file is copied back next to terragrunt.hcl
    assert (unit / ".terraform.lock.hcl").read_text(encoding="utf-8") == "# fake lock\n"

    # second run: same dir, no re-download, no second init; a removed unit file leaves the cache
    (unit / "extra.tf").unlink()
    again = run_terragrunt(fake_tf, unit, "plan", "-no-color")
    assert again.returncode == 0, again.stderr
    assert [call["argv"][0] for call in calls(fake_tf)] == ["init", "plan", "plan"]
    assert "Downloading" not in again.stderr
    assert not (work / "extra.tf").exists()


def test_without_source_terraform_runs_in_the_unit_dir(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "main.tf").write_text("# plain module", encoding="utf-8")
    (tmp_path / "terragrunt.hcl").write_text('inputs = { name = "x" }\n', encoding="utf-8")
    done = run_terragrunt(fake_tf, tmp_path, "plan", "-out=plan.tfplan", "-no-color")
    assert done.returncode == 0, done.stderr
    assert {call["cwd"] for call in calls(fake_tf)} == {str(tmp_path)}
    assert not (tmp_path / ".terragrunt-cache").exists()


def test_log_lines_drop_empty_lines_and_colour_unless_no_color(
    tmp_path: Path, fake_tf: dict[str, str]
) -> None:
    (tmp_path / "terragrunt.hcl").write_text("", encoding="utf-8")
    plain = run_terragrunt(fake_tf, tmp_path, "plan", "-no-color")
    assert [line.split(" ", 1)[1] for line in plain.stdout.splitlines()] == [
        "STDOUT terraform: first line",
        "STDOUT terraform: second line",
    ]
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} STDERR terraform: a warning$", plain.stderr, re.M)
    coloured = run_terragrunt(fake_tf, tmp_path, "plan")
    assert "\x1b[" in coloured.stdout
    assert calls(fake_tf)[-1]["argv"] == ["plan"]
    via_env = run_terragrunt({**fake_tf, "TG_NO_COLOR": "true"}, tmp_path, "plan")
    assert "\x1b[" not in via_env.stdout
    assert calls(fake_tf)[-1]["argv"] == ["plan", "-no-color"]  # passed on to terraform, as Terragrunt does


def test_exit_code_passes_through_and_failure_is_logged(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "terragrunt.hcl").write_text("", encoding="utf-8")
    drift = run_terragrunt(
        {**fake_tf, "FAKE_TF_EXIT": "2"}, tmp_path, "plan", "-detailed-exitcode", "-no-color"
    )
    assert drift.returncode == 2
    assert "ERROR" not in drift.stderr
    odd = run_terragrunt({**fake_tf, "FAKE_TF_EXIT": "3"}, tmp_path, "plan", "-no-color")
    assert odd.returncode == 3
    assert 'ERROR  Failed to execute "' in odd.stderr and "exit status 3" in odd.stderr


def test_failed_auto_init_stops_the_run(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "terragrunt.hcl").write_text("", encoding="utf-8")
    done = run_terragrunt({**fake_tf, "FAKE_TF_INIT_EXIT": "1"}, tmp_path, "plan", "-no-color")
    assert done.returncode == 1
    assert [call["argv"][0] for call in calls(fake_tf)] == ["init"]
    assert "init -no-color" in done.stderr


def test_sigterm_is_forwarded_to_terraform(tmp_path: Path, fake_tf: dict[str, str]) -> None:
    (tmp_path / "terragrunt.hcl").write_text("", encoding="utf-8")
    (tmp_path / ".terraform" / "providers").mkdir(parents=True)
    (tmp_path / ".terraform.lock.hcl").write_text("", encoding="utf-8")  # initialised: no auto-init
    process = subprocess.Popen(
        [str(STANDIN), "apply", "-no-color"],
        cwd=tmp_path,
        env={**fake_tf, "FAKE_TF_WAIT": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while "ready" not in process.stdout.readline():
            assert time.monotonic() < deadline and process.poll() is None
        # like Terragrunt: the first signal is forwarded after a delay (the child usually got it
        # from the process group), a second one at once
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert "child got signal 15" in out
    assert "Terminated signal received. Gracefully shutting down..." in err
    assert process.returncode == 7


# ------------------------------------------------------------------------------------------------
# the real Terraform 1.0.3
# ------------------------------------------------------------------------------------------------


@pytest.mark.terraform
def test_relative_out_lands_in_the_cache_and_show_json_is_raw(
    tmp_path: Path, standin_environ: dict[str, str]
) -> None:
    live = tmp_path / "live"
    unit = make_live(live)
    done = run_terragrunt(standin_environ, unit, *plan_args("plan.tfplan"))
    assert done.returncode == 2, done.stderr
    work = cache_working_dir(unit, live)
    assert (work / "plan.tfplan").is_file()
    assert not (unit / "plan.tfplan").exists()
    assert (work / ".terraform" / "providers").is_dir()
    lines = done.stdout.splitlines()
    assert lines and all(line.split(" ", 1)[1].startswith("STDOUT terraform: ") for line in lines)
    assert any("Plan: 2 to add, 0 to change, 0 to destroy." in line for line in lines)
    assert all(LOG_LINE.match(line) for line in done.stderr.splitlines() if line.strip()[:2].isdigit())
    assert "INFO   terraform: Terraform has been successfully initialized!" in done.stderr

    # `-json` forces raw forwarding even without TG_TF_FORWARD_STDOUT (Terragrunt's run_cmd.go)
    shown = run_terragrunt(standin_environ, unit, "show", "-json", "-no-color", str(work / "plan.tfplan"))
    assert shown.returncode == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert plan["variables"]["name"]["value"] == "app"
    assert sorted(change["change"]["actions"][0] for change in plan["resource_changes"]) == ["create"] * 2


@pytest.mark.terraform
@pytest.mark.parametrize("variable", ["TG_TF_FORWARD_STDOUT", "TERRAGRUNT_FORWARD_TF_STDOUT"])
def test_forwarded_stdout_is_raw(tmp_path: Path, standin_environ: dict[str, str], variable: str) -> None:
    live = tmp_path / "live"
    unit = make_live(live)
    env = {**standin_environ, variable: "true"}
    done = run_terragrunt(env, unit, *plan_args(str(tmp_path / "plan.tfplan")))
    assert done.returncode == 2, done.stderr
    assert (tmp_path / "plan.tfplan").is_file()
    assert "STDOUT terraform:" not in done.stdout
    assert "\nTerraform will perform the following actions:\n" in done.stdout
    # the headless auto-init is forwarded raw too: on stdout, before the plan
    assert done.stdout.index("Terraform has been successfully initialized!") < done.stdout.index(
        "Plan: 2 to add"
    )
    deprecated = "The `TERRAGRUNT_FORWARD_TF_STDOUT` environment variable is deprecated"
    assert (deprecated in done.stderr) == (variable == "TERRAGRUNT_FORWARD_TF_STDOUT")


@pytest.mark.terraform
def test_typed_inputs_and_exit_codes_clean_drift_error_with_state_kept_in_the_cache(
    tmp_path: Path, standin_environ: dict[str, str]
) -> None:
    live = tmp_path / "live"
    unit = make_live(live)
    env = {
        **standin_environ,
        "TG_NON_INTERACTIVE": "true",
        "TG_TF_FORWARD_STDOUT": "true",
        "TG_TF_PATH": terraform_path(standin_environ),
    }
    applied = run_terragrunt(env, unit, "apply", "-auto-approve", "-input=false", "-no-color")
    assert applied.returncode == 0, applied.stderr
    assert (cache_working_dir(unit, live) / "terraform.tfstate").is_file()
    assert not (unit / "terraform.tfstate").exists()

    # the inputs reached terraform with their types (TF_VAR_ values, JSON for non-strings)
    output = run_terragrunt(env, unit, "output", "-json")
    assert output.returncode == 0, output.stderr
    values = {name: entry["value"] for name, entry in json.loads(output.stdout).items()}
    assert values == {
        "name": "app",
        "owner": "platform",
        "size": 2,
        "tags": {"team": "core", "cost-center": "<42>"},
        "zones": ["a", "b"],
        "enabled": False,
    }

    clean = run_terragrunt(env, unit, *plan_args(str(tmp_path / "clean.tfplan")))
    assert clean.returncode == 0, clean.stderr

    hcl = unit / "terragrunt.hcl"
    hcl.write_text(UNIT_HCL % {"name": "renamed"}, encoding="utf-8")
    drifted = run_terragrunt(env, unit, *plan_args(str(tmp_path / "drift.tfplan")))
    assert drifted.returncode == 2, drifted.stderr
    assert "must be replaced" in drifted.stdout

    hcl.write_text(hcl.read_text(encoding="utf-8").replace('name    = "renamed"', ""), encoding="utf-8")
    root = live / "root.hcl"
    root.write_text(ROOT_HCL.replace('name  = "from-root"', ""), encoding="utf-8")
    errored = run_terragrunt(env, unit, *plan_args(str(tmp_path / "error.tfplan")))
    assert errored.returncode == 1
    assert "No value for required variable" in errored.stderr
    assert re.search(r'ERROR  Failed to execute "\S*terraform plan -detailed-exitcode', errored.stderr)
