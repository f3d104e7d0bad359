"""Prints how close a whole `driftctl plan` run comes to the best possible, beside the seed's shell loop.

    python benchmarks/bench_run.py latency [--stacks 40] [--runs 3]
    python benchmarks/bench_run.py scale [--stacks 10000]

latency: N real Terraform stacks (the null provider, applied, so every plan is clean) behind a thin
wrapper that sleeps a per-stack latency before `plan`, as a cloud refresh waits on its API; most take
LATENCY seconds, a few slow ones sit late in name order. Side by side, in alternation, run after run:
the seed's loop (`find | sort | xargs -P 4 -I{} sh -c 'cd {} && terraform plan -detailed-exitcode'`),
the same loop fed longest first, and `driftctl plan --all -p 4 --push` (the durations of its last run
come back from the history store it recorded in, so plans start longest first from the second run on).
The lower bound is `max(longest stack, total work / P)`, the work being each stack's plan time as
driftctl measured it in that run.

scale: N stacks and a fast fake tool (a shell script printing a short plan): driftctl's own CPU per
stack, its peak RSS, the push of N series (read-back, merge, one PUT), then `publish` of the 10 shard
reports a 10-worker run would write (the run's report split as --shard splits it).

Own CPU is the driftctl process's user+system time without its children (getrusage RUSAGE_SELF at exit,
through a launcher that runs driftctl's own entry point); peak RSS is that process's ru_maxrss.
Needs the real Terraform from ci/install-test-tools on PATH and Debian's prometheus-pushgateway.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' gateway helpers

from pushgateway_server import running_pushgateway

P = 4
LATENCY = 2.0  # seconds most plans wait on the "API"
SLOW = {"zz-slow-1": 24.0, "zz-slow-2": 22.0}  # late in name order: the seed's loop starts them last
STACK = 'resource "null_resource" "thing" {\n  triggers = { value = "one" }\n}\n'

# Runs driftctl's entry point and, at exit, writes its own CPU and peak RSS (children excluded).
LAUNCHER = """
import atexit, json, os, resource, sys
def _report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_RUSAGE"], "w") as out:
        json.dump({"cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}, out)
atexit.register(_report)
from driftctl.cli import main
sys.argv[0] = "driftctl"
main()
"""

WRAPPER = """#!/bin/sh
# the real terraform, after the stack's API latency when it plans
if [ "$1" = plan ] && [ -f .latency ]; then sleep "$(cat .latency)"; fi
exec "{real}" "$@"
"""

FAKE_TOOL = r"""#!/bin/sh
# a fast stand-in for terraform: a short clean plan (printf is the shell's own: one process per plan)
printf '%s\n' \
  'null_resource.thing: Refreshing state... [id=1234567890]' \
  'null_resource.other: Refreshing state... [id=1234567891]' \
  '' \
  'No changes. Your infrastructure matches the configuration.' \
  '' \
  'Terraform has compared your real infrastructure against your configuration and found no' \
  'differences, so no changes are needed.'
"""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float = 0.0
    rss_mib: float = 0.0
    durations: dict[str, float] | None = None


def _executable(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def driftctl(
    args: Sequence[str], work: Path, env: dict[str, str]
) -> tuple[Run, subprocess.CompletedProcess[str]]:
    rusage = work / "rusage.json"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        env={**env, "BENCH_RUSAGE": str(rusage)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 2):
        sys.exit(f"driftctl {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    usage = json.loads(rusage.read_text())
    return Run(wall, usage["cpu"], usage["rss_kib"] / 1024), done


def _durations(report: Path) -> dict[str, float]:
    return {s["stack"]: s["duration_seconds"] for s in json.loads(report.read_text())["stacks"]}


def seed_loop(root: Path, binary: Path, env: dict[str, str], order: Sequence[str] | None = None) -> Run:
    """The seed's cron: every stack directory, sorted (or in `order`), four plans at a time."""
    plan = f"cd {{}} && {binary} plan -detailed-exitcode -input=false -lock=false -no-color >/dev/null 2>&1"
    plan += "; true"  # a drifted or failed plan must not stop xargs
    if order is None:
        listing = f"find {root} -name main.tf -not -path '*/.terraform/*' -printf '%h\\n' | sort"
    else:
        listing = "printf '%s\\n' " + " ".join(str(root / s) for s in order)
    started = time.perf_counter()
    subprocess.run(["sh", "-c", f"{listing} | xargs -P {P} -I{{}} sh -c '{plan}'"], env=env, check=True)
    return Run(time.perf_counter() - started)


def latency_mode(stacks: int, runs: int) -> None:
    real = shutil.which("terraform")
    if real is None:
        sys.exit('terraform not on PATH: eval "$(bash ci/install-test-tools)" first')
    version = subprocess.run([real, "version"], capture_output=True, text=True).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory() as temporary, running_pushgateway() as gateway:
        work = Path(temporary)
        root = work / "live"
        latencies = {f"stack-{i:03d}": LATENCY for i in range(stacks - len(SLOW))} | SLOW
        # the history store (the durations longest-first reads) lives and dies with the run's directory
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "XDG_STATE_HOME": str(work / "state")}
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        for name, latency in latencies.items():
            directory = root / name
            directory.mkdir(parents=True)
            (directory / "main.tf").write_text(STACK)
            for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
                subprocess.run([real, *args], cwd=directory, check=True, capture_output=True, env=env)
            (directory / ".latency").write_text(f"{latency}\n")
        wrapper = _executable(work / "terraform", WRAPPER.format(real=real))
        longest_first = sorted(latencies, key=lambda s: (-latencies[s], s))
        report = work / "report.json"
        args = [
            "plan", "--all", "--root", str(root), "--tool", "terraform", "--tool-binary", str(wrapper),
            "-p", str(P), "--fail-on", "never", "--report", str(report), "--format", "json",
            "--push", "--pushgateway", gateway.url, "--job", "bench-run",
        ]  # fmt: skip
        print(f"{version}; {stacks} stacks: {stacks - len(SLOW)} wait {LATENCY:.0f}s on the API, ", end="")
        print(f"{', '.join(f'{s} {v:.0f}s' for s, v in SLOW.items())}; P={P}; {os.cpu_count()} cores")
        print(f"{'run':>3}  {'seed loop':>9}  {'longest-1st loop':>16}  {'driftctl':>8}  {'bound':>6}  "
              f"{'ratio':>5}  {'efficiency':>10}  {'own CPU/stack':>13}  {'peak RSS':>8}")  # fmt: skip
        for run in range(1, runs + 1):
            seed = seed_loop(root, wrapper, env)
            ordered = seed_loop(root, wrapper, env, longest_first)
            ours, _ = driftctl(args, work, env)
            durations = _durations(report)
            bound = max(max(durations.values()), sum(durations.values()) / P)
            print(
                f"{run:>3}  {seed.wall:8.1f}s  {ordered.wall:15.1f}s  {ours.wall:7.1f}s  {bound:5.1f}s  "
                f"{ours.wall / seed.wall:5.2f}  {bound / ours.wall:10.2f}  "
                f"{ours.cpu / stacks * 1000:10.1f} ms  {ours.rss_mib:5.0f} MiB"
            )


def scale_mode(stacks: int) -> None:
    with tempfile.TemporaryDirectory() as temporary, running_pushgateway() as gateway:
        work = Path(temporary)
        root = work / "live"
        for i in range(stacks):
            directory = root / f"team-{i % 50:02d}" / f"service-{i:05d}"
            (directory / ".terraform").mkdir(parents=True)  # initialised: no init runs
            (directory / "main.tf").write_text(STACK)
        tool = _executable(work / "fake-terraform", FAKE_TOOL)
        env = {**os.environ, "XDG_STATE_HOME": str(work / "state")}
        base = ["--root", str(root), "--tool", "terraform", "--tool-binary", str(tool), "--fail-on", "never"]
        print(f"{stacks} stacks, a fake tool printing a 7-line clean plan; {os.cpu_count()} cores")

        listed, _ = driftctl(["stacks", "--root", str(root), "--tool", "terraform"], work, env)
        print(f"stacks (discovery only):     {listed.wall:6.2f} s wall, {listed.cpu:5.2f} s own CPU, "
              f"{listed.rss_mib:4.0f} MiB peak RSS")  # fmt: skip

        report = work / "all.json"
        plan_args = ["plan", "--all", *base, "-p", "8", "--report", str(report), "--format", "json"]
        planned, _ = driftctl(plan_args, work, env)
        per_stack = planned.cpu / stacks * 1000
        print(f"plan --all -p 8:             {planned.wall:6.2f} s wall, {planned.cpu:5.2f} s own CPU "
              f"({per_stack:.2f} ms/stack), {planned.rss_mib:4.0f} MiB peak RSS")  # fmt: skip

        push = ["--pushgateway", gateway.url, "--job", "bench-scale"]
        published, _ = driftctl(
            ["publish", str(report), *push, "--fail-on", "never", "--format", "json"], work, env
        )
        print(f"push of {stacks} series (read-back, merge, PUT, as `publish` of one report): "
              f"{published.wall:5.2f} s wall, {published.cpu:5.2f} s own CPU")  # fmt: skip

        # the 10 shard reports a 10-worker run would have written: the same stacks, split as --shard does
        shards = _split_report(report, 10, work)
        merged, _ = driftctl(["publish", *shards, *push, "--fail-on", "never", "--format", "json"], work, env)
        print(f"publish of 10 shard reports ({stacks} stacks): {merged.wall:5.2f} s wall, "
              f"{merged.cpu:5.2f} s own CPU, {merged.rss_mib:4.0f} MiB peak RSS")  # fmt: skip


def _split_report(report: Path, total: int, work: Path) -> list[str]:
    """The reports of `total` shards holding the stacks of `report`, each stack where --shard puts it."""
    from driftctl import shard

    document = json.loads(report.read_text())
    owners = shard.assign(document["known"], total)
    partition = shard.fingerprint(document["known"], total, None)
    paths = []
    for index in range(1, total + 1):
        part = dict(document, shard={"index": index, "total": total, "partition": partition})
        part["stacks"] = [s for s in document["stacks"] if owners[s["stack"]] == index]
        path = work / f"shard-{index}.json"
        path.write_text(json.dumps(part), encoding="utf-8")
        paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["latency", "scale"])
    parser.add_argument("--stacks", type=int)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "latency":
        latency_mode(args.stacks or 40, args.runs)
    else:
        scale_mode(args.stacks or 10_000)


if __name__ == "__main__":
    main()
