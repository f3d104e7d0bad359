"""Prints what driftctl adds over running the plans by hand, and its memory on a huge plan output.

    python benchmarks/bench_plan.py [--stacks 12]

Needs the real Terraform from ci/install-test-tools on PATH (`eval "$(bash ci/install-test-tools)"`).
Figures, not assertions: run it before and after a change to the runner.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from driftctl.model import Stack, Tool
from driftctl.runner import RunnerOptions, run_plans

STACK = """
variable "value" {
  default = "one"
}
resource "null_resource" "thing" {
  count    = 3
  triggers = { value = var.value }
}
"""


def _terraform() -> str:
    found = shutil.which("terraform")
    if not found:
        sys.exit('terraform not on PATH: eval "$(bash ci/install-test-tools)" first')
    return found


def _make_stacks(root: Path, count: int, binary: str) -> list[Stack]:
    stacks = []
    for index in range(count):
        directory = root / f"stack-{index:03d}"
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(STACK)
        for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
            subprocess.run([binary, *args], cwd=directory, check=True, capture_output=True)
        if index % 3 == 0:  # every third stack drifts, so `show -json` is part of the cost
            (directory / "main.tf").write_text(STACK.replace('"one"', '"two"'))
        stacks.append(Stack(id=directory.name, path=directory, tool=Tool.TERRAFORM))
    return stacks


def _direct(stacks: list[Stack], binary: str, plan_dir: Path) -> float:
    """The floor: the same plans (and show -json for drift), one after another, with no driftctl."""
    started = time.perf_counter()
    for stack in stacks:
        plan_file = plan_dir / f"{stack.id}.tfplan"
        command = [binary, "plan", "-detailed-exitcode", "-input=false", "-lock=false", f"-out={plan_file}"]
        code = subprocess.run(command, cwd=stack.path, capture_output=True).returncode
        if code == 2:
            subprocess.run([binary, "show", "-json", str(plan_file)], cwd=stack.path, capture_output=True)
    return time.perf_counter() - started


def _driftctl(stacks: list[Stack], binary: str, log_dir: Path, parallelism: int) -> float:
    options = RunnerOptions(binary=binary, tool=Tool.TERRAFORM, log_dir=log_dir, parallelism=parallelism)
    started = time.perf_counter()
    run_plans(stacks, options)
    return time.perf_counter() - started


def _memory_on_huge_output(work: Path, megabytes: int) -> tuple[float, float]:
    """Peak RSS (MiB) before and after a stack whose tool prints `megabytes` of output."""
    script = work / "chatty"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nline = 'x' * 1023 + '\\n'\n"
        f"for _ in range({megabytes} * 1024):\n    sys.stdout.write(line)\n"
    )
    script.chmod(0o755)
    directory = work / "chatty-stack"
    directory.mkdir()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    options = RunnerOptions(binary=str(script), tool=Tool.TERRAFORM, log_dir=work / "chatty-logs", init=False)
    run_plans([Stack(id="chatty", path=directory, tool=Tool.TERRAFORM)], options)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stacks", type=int, default=12)
    parser.add_argument("--output-mb", type=int, default=200)
    args = parser.parse_args()
    binary = _terraform()
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        stacks = _make_stacks(work / "live", args.stacks, binary)
        (work / "plans").mkdir()
        # best of two, alternating, so neither side profits from a warmer page cache
        direct = serial = parallel = float("inf")
        for _ in range(2):
            direct = min(direct, _direct(stacks, binary, work / "plans"))
            serial = min(serial, _driftctl(stacks, binary, work / "logs-1", parallelism=1))
            parallel = min(parallel, _driftctl(stacks, binary, work / "logs-4", parallelism=4))
        before, after = _memory_on_huge_output(work, args.output_mb)
    print(f"{version}, {args.stacks} stacks (every third drifted), {os.cpu_count()} cores")
    print(f"direct plans, serial:          {direct:7.2f} s  ({direct / args.stacks:.3f} s/stack)")
    print(f"driftctl --parallelism 1:      {serial:7.2f} s  ({serial / args.stacks:.3f} s/stack)")
    print(f"driftctl overhead per stack:   {(serial - direct) / args.stacks * 1000:7.1f} ms")
    print(f"driftctl --parallelism 4:      {parallel:7.2f} s  ({direct / parallel:.2f}x the serial floor)")
    print(f"peak RSS around {args.output_mb} MB of plan output: {before:.0f} MiB -> {after:.0f} MiB")


if __name__ == "__main__":
    main()
