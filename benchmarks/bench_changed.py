"""Times `--changed` selection on a generated Terragrunt repository (default: 2,000 units), cold.

    python benchmarks/bench_changed.py [--stacks 2000] [--modules 60] [--keep DIR]

The repository has envs/<env>/<region>/<service> units that include root.hcl, read env.hcl through
find_in_parent_folders, take a local module source (modules call modules), and depend on up to three
earlier units of their region. Three commits on top of it, each timed in a fresh process (cold: no
parse done before, python-hcl2's grammar not loaded):

- leaf: a unit nothing depends on changes;
- region: the first unit of a region changes (its region's units depend on it, transitively);
- module: a module low in the call graph changes (used by most units).

Printed per commit: units selected, files parsed, git's time (base + diff) and the selection's, wall
and CPU (this process's; on a shared machine the CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod", "sandbox")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
# run in a fresh interpreter per commit: imports are not timed, everything after them is
_MEASURE = """
import json, sys, time
from pathlib import Path
from driftctl.discover import discover
from driftctl.model import Tool
from driftctl.selection import git, select_for_changes
from driftctl.selection.files import DiskFiles

root = Path(sys.argv[1])
stacks = discover(root, Tool.TERRAGRUNT)
started = time.perf_counter()
changes = git.collect_changes(root, None, False)
diffed, cpu = time.perf_counter(), time.process_time()
files = DiskFiles()
selection = select_for_changes(root, stacks, changes, files=files)
done, cpu_done = time.perf_counter(), time.process_time()
print(json.dumps({"stacks": len(stacks), "selected": len(selection.stacks), "parsed": files.parsed,
                  "fallback": selection.fallback_reason, "git": diffed - started, "select": done - diffed,
                  "cpu": cpu_done - cpu}))
"""


def run_git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def module_body(index: int, rng: random.Random) -> str:
    calls = rng.sample(range(index), k=min(index, rng.randint(0, 2)))
    body = "".join(f'module "m{c}" {{\n  source = "../m{c}"\n  name   = var.name\n}}\n\n' for c in calls)
    return body + f'resource "null_resource" "r{index}" {{\n  triggers = {{ name = var.name }}\n}}\n'


def stack_body(module: int, dependencies: list[str], service: int) -> str:
    blocks = [
        'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}',
        'locals {\n  env = read_terragrunt_config(find_in_parent_folders("env.hcl"))\n}',
        f'terraform {{\n  source = "${{get_repo_root()}}/modules/m{module}"\n}}',
        *(
            f'dependency "d{n}" {{\n  config_path = "../{d}"\n  mock_outputs = {{ id = "x" }}\n}}'
            for n, d in enumerate(dependencies)
        ),
        "inputs = {\n"
        + "".join(f'  setting_{k} = "value-{service}-{k}"\n' for k in range(8))
        + "".join(f"  dep_{n} = dependency.d{n}.outputs.id\n" for n in range(len(dependencies)))
        + "}",
    ]
    return "\n\n".join(blocks) + "\n"


def generate(root: Path, stacks: int, modules: int, seed: int) -> None:
    rng = random.Random(seed)
    write(root / "root.hcl", 'remote_state {\n  backend = "local"\n  config = { path = "state" }\n}\n')
    for index in range(modules):
        write(root / f"modules/m{index}/main.tf", module_body(index, rng))
        write(root / f"modules/m{index}/variables.tf", 'variable "name" {\n  type = string\n}\n')
    per_region = max(1, stacks // (len(ENVS) * len(REGIONS)))
    made = 0
    for env in ENVS:
        write(root / f"envs/{env}/env.hcl", f'locals {{\n  environment = "{env}"\n}}\n')
        for region in REGIONS:
            for service in range(per_region):
                if made == stacks:
                    return
                dependencies = [
                    f"svc{d}" for d in rng.sample(range(service), k=min(service, rng.randint(0, 3)))
                ]
                body = stack_body(rng.randrange(modules), dependencies, service)
                write(root / f"envs/{env}/{region}/svc{service}/terragrunt.hcl", body)
                made += 1


def commit_change(root: Path, branch: str, path: str) -> None:
    run_git(root, "checkout", "-q", "-b", branch, "main")
    with (root / path).open("a", encoding="utf-8") as handle:
        handle.write("# changed\n")
    run_git(root, "commit", "-q", "-am", f"change {path}")


def measure(root: Path, branch: str) -> dict[str, object]:
    run_git(root, "checkout", "-q", branch)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(root)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", type=int, default=2000)
    parser.add_argument("--modules", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="generate here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-changed-") as scratch:
        root = args.keep or Path(scratch) / "repo"
        root.mkdir(parents=True, exist_ok=True)
        generate(root, args.stacks, args.modules, args.seed)
        run_git(root, "-c", "init.defaultBranch=main", "init", "-q")
        run_git(root, "add", "-A")
        run_git(root, "commit", "-q", "-m", "generated")
        per_region = max(1, args.stacks // (len(ENVS) * len(REGIONS)))
        commits = {
            "leaf": f"envs/prod/eu-west-1/svc{per_region - 1}/terragrunt.hcl",
            "region": "envs/prod/eu-west-1/svc0/terragrunt.hcl",
            "module": "modules/m1/main.tf",
        }
        for branch, path in commits.items():
            commit_change(root, branch, path)
        print(f"CPUs: {os.cpu_count()}; python-hcl2 parses on demand, in this one process")
        for branch, path in commits.items():
            result = measure(root, branch)
            share = 100 * int(str(result["selected"])) / max(1, int(str(result["stacks"])))
            print(
                f"{branch:<7} {path:<42} selected {result['selected']:>5} ({share:4.1f}%)"
                f"  parsed {result['parsed']:>5}  git {float(str(result['git'])) * 1000:7.1f} ms"
                f"  selection {float(str(result['select'])) * 1000:8.1f} ms"
                f" (CPU {float(str(result['cpu'])) * 1000:7.1f} ms)"
                + (f"  FALLBACK: {result['fallback']}" if result["fallback"] else "")
            )


if __name__ == "__main__":
    main()
