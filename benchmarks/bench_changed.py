"""Times changed-stack selection on a generated Terragrunt repository (default: 2,000 stacks).

    python benchmarks/bench_changed.py [--stacks 2000] [--modules 60] [--workers N] [--keep DIR]

The repository has envs/<env>/<region>/<service> stacks that include root.hcl, read env.hcl through
find_in_parent_folders, take a local module source (modules call modules), and depend on up to three
earlier stacks of their region. A commit then changes one widely used module and one leaf stack.
Printed: git's time (finding the base and diffing), and the selection's (parsing every configuration,
building the reverse index once, walking it), separately, cold and again on warm caches.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from driftctl import changed, git
from driftctl.discover import discover
from driftctl.model import Selection, Tool
from driftctl.parse_cache import RefCache

T = TypeVar("T")
ENVS = ("dev", "staging", "prod", "sandbox")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")


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


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", type=int, default=2000)
    parser.add_argument("--modules", type=int, default=60)
    parser.add_argument("--workers", type=int, default=None, help="parse processes (default: CPUs, max 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="generate here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-changed-") as scratch:
        root = args.keep or Path(scratch) / "repo"
        root.mkdir(parents=True, exist_ok=True)
        _, generating = timed(lambda: generate(root, args.stacks, args.modules, args.seed))
        run_git(root, "-c", "init.defaultBranch=main", "init", "-q")
        run_git(root, "add", "-A")
        run_git(root, "commit", "-q", "-m", "generated")
        # the change: a module low in the call graph (m1 is called by many) and one leaf stack
        with (root / "modules/m1/main.tf").open("a", encoding="utf-8") as handle:
            handle.write("# changed\n")
        with (root / "envs/prod/eu-west-1/svc3/terragrunt.hcl").open("a", encoding="utf-8") as handle:
            handle.write("# changed\n")
        run_git(root, "commit", "-q", "-am", "change")

        stacks, discovering = timed(lambda: discover(root, Tool.TERRAGRUNT))
        changes, git_time = timed(lambda: git.collect_changes(root, None, False))
        store = Path(scratch) / "hcl-refs.json"

        def selection_with(cache: RefCache) -> Selection:
            return changed.select_for_changes(root, stacks, changes, files=changed.DiskFiles(cache))

        workers = RefCache(workers=args.workers)._workers
        selection, cold = timed(lambda: selection_with(RefCache(workers=args.workers)))
        serial, cold_serial = timed(lambda: selection_with(RefCache(workers=1)))
        seeding = RefCache(workers=args.workers, store=store)
        selection_with(seeding)
        seeding.save()
        stored_cache: list[RefCache] = []

        def from_store() -> Selection:  # loading the store is part of the time
            stored_cache.append(RefCache(workers=args.workers, store=store))
            return selection_with(stored_cache[0])

        stored, warm = timed(from_store)
        assert serial == selection == stored and stored_cache[0].parsed == 0
        # the front door: git, selection and the store in .git/driftctl, first cold then warm
        _, end_to_end_cold = timed(lambda: changed.select_changed(root, stacks))
        _, end_to_end_warm = timed(lambda: changed.select_changed(root, stacks))

        print(f"repository: {len(stacks)} stacks, {args.modules} modules (generated in {generating:.2f}s)")
        print(f"changed: {len(changes.changes)} paths since {changes.base_description}")
        print(f"selected: {len(selection.stacks)} stacks, fallback: {selection.fallback_reason}")
        print(f"CPUs: {os.cpu_count()}")
        rows = [
            ("discovery (driftctl.discover, for scale)", discovering),
            ("git: base + diff", git_time),
            (f"selection, cold: every file parsed, {workers} worker(s)", cold),
            ("selection, cold: every file parsed, 1 worker", cold_serial),
            ("selection, parse results from the previous run's store", warm),
            ("select_changed (git + selection + saving the store), cold", end_to_end_cold),
            ("select_changed (git + selection + store), warm", end_to_end_warm),
        ]
        for label, seconds in rows:
            print(f"{label:<62} {seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
