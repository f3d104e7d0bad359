"""Walks real commits of a Terragrunt live repository and checks `--changed` against an oracle.

    python benchmarks/walk_public_repos.py GIT_DIR [--commits 25] [--root-config auto] [--verbose]

Runs by hand, never in CI: GIT_DIR is a clone (or a bare mirror) of a public repository. For each of
the last commits that change something, the selection for `HEAD~1..HEAD` is compared with an oracle
that reads every unit without the pre-filter, at both commits: a unit is affected when the content of
anything it reads (its directory, its config and what that includes or reads, its source module and
the modules that calls, the parent folders it searches) differs between the two, or a unit it depends
on is affected or was removed. Printed per commit: exact, over (more than the oracle) or under (less:
a miss), with the differences and any fallback reason.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from driftctl.discover import DiscoveryError, discover
from driftctl.model import Stack, Tool
from driftctl.selection import select_changed
from driftctl.selection.files import DiskFiles
from driftctl.selection.graph import Graph

_SKIPPED = {".git", ".terragrunt-cache", ".terraform", ".terragrunt-stack"}


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(directory), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def files_below(path: Path, units: set[Path]) -> Iterator[Path]:
    """Every file below `path`, not descending into other units' directories."""
    if path.is_file():
        yield path
        return
    for current, dirnames, filenames in os.walk(path):
        here = Path(current)
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED and (here / d) not in units]
        yield from (here / name for name in filenames)


def digests(root: Path, root_config: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]], set[str]]:
    """Per unit: a digest of everything it reads, the units it depends on, and units with unknowns."""
    stacks = discover(root, Tool.TERRAGRUNT, root_config=root_config)
    files = DiskFiles()
    top = root.resolve().as_posix()
    graph = Graph(top, top, files)
    unit_dirs = {stack.path.resolve() for stack in stacks}
    result: dict[str, str] = {}
    dependencies: dict[str, tuple[str, ...]] = {}
    unknown: set[str] = set()
    for stack in stacks:
        inputs = graph.stack_inputs(stack)
        digest = hashlib.sha256()
        read = {stack.path.resolve()} | {(root / watch.path).resolve() for watch in inputs.watches}
        for path in sorted(read):
            others = unit_dirs - {path, stack.path.resolve()}
            for file in sorted(files_below(path, others) if path.exists() else []):
                digest.update(str(file.relative_to(root) if file.is_relative_to(root) else file).encode())
                digest.update(file.read_bytes())
        result[stack.id] = digest.hexdigest()
        dependencies[stack.id] = inputs.dependencies
        if inputs.unresolved or inputs.failures:
            unknown.add(stack.id)
    return result, dependencies, unknown


def oracle(clone: Path, commit: str, root_config: str) -> tuple[set[str], set[str]]:
    git(clone, "checkout", "-q", "--detach", f"{commit}~1")
    before, _, _ = digests(clone, root_config)
    git(clone, "checkout", "-q", "--detach", commit)
    after, dependencies, unknown = digests(clone, root_config)
    affected = {unit for unit, digest in after.items() if before.get(unit) != digest}
    affected |= set(before) - set(after)  # removed: the units still depending on one are affected
    while True:
        more = {u for u, deps in dependencies.items() if u not in affected and set(deps) & affected}
        if not more:
            return affected & set(after), unknown
        affected |= more


def _root_config(clone: Path, wanted: str) -> str:
    """`auto`: the root `terragrunt.hcl` is the include parent when there is no root.hcl (older layouts)."""
    if wanted != "auto":
        return wanted
    legacy = (clone / "terragrunt.hcl").is_file() and not (clone / "root.hcl").is_file()
    return "terragrunt.hcl" if legacy else "root.hcl"


def walk(clone: Path, commits: int, root_config: str, verbose: bool) -> dict[str, int]:
    # merges count as what they brought to the first parent, as `--changed` on a main branch sees them
    history = git(clone, "rev-list", "--first-parent", "-n", str(commits * 3), "HEAD").split()
    counts = {"exact": 0, "over": 0, "under": 0}
    walked = 0
    for commit in history:
        if walked == commits:
            break
        if not git(clone, "rev-list", "--parents", "-n", "1", commit).split()[1:]:
            continue  # the first commit
        changed = git(clone, "diff", "--name-only", f"{commit}~1", commit).splitlines()
        if not changed:
            continue
        git(clone, "checkout", "-q", "--detach", commit)
        parent = _root_config(clone, root_config)
        try:
            expected, unknown = oracle(clone, commit, parent)
        except DiscoveryError as error:  # before the repository had units (or between layouts)
            print(f"{commit[:10]} skipped: {error}")
            continue
        stacks: list[Stack] = discover(clone, Tool.TERRAGRUNT, root_config=parent)
        selection = select_changed(clone, stacks, base=f"{commit}~1")
        chosen = {stack.id for stack in selection.stacks}
        verdict = "exact" if chosen == expected else "under" if expected - chosen else "over"
        counts[verdict] += 1
        walked += 1
        subject = git(clone, "log", "-1", "--format=%s", commit)[:60]
        print(
            f"{commit[:10]} {verdict:<5} files {len(changed):>3}  selected {len(chosen):>3}  oracle"
            f" {len(expected):>3}  units {len(stacks):>3}  {subject}"
        )
        if verdict != "exact" or verbose:
            print(f"    changed: {', '.join(changed[:6])}{' ...' if len(changed) > 6 else ''}")
            if expected - chosen:
                print(f"    missed: {', '.join(sorted(expected - chosen)[:8])}")
            if chosen - expected:
                extra = sorted(chosen - expected)
                print(f"    extra: {len(extra)}: {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
            if selection.fallback_reason:
                print(f"    fallback: {selection.fallback_reason}")
            if unknown & (chosen - expected):
                print(f"    (oracle: {len(unknown)} units read something it cannot evaluate either)")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("git_dir", type=Path)
    parser.add_argument("--commits", type=int, default=25)
    parser.add_argument(
        "--root-config", default="auto", help="root.hcl, terragrunt.hcl, or auto (per commit)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walk-") as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(args.git_dir), str(clone)], check=True)
        counts = walk(clone.resolve(), args.commits, args.root_config, args.verbose)
    print(", ".join(f"{name} {count}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
