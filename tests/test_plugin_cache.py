"""driftctl.plugin_cache: parallel first-time inits against one shared provider cache.

Without a lock, 16 parallel `terraform init`s of fresh stacks against one empty TF_PLUGIN_CACHE_DIR fail
now and then here (`failed to create directory .../null/2.1.2/linux_amd64: file exists`, 2 of 80 inits
in five rounds). The real-Terraform tests run driftctl's parallel plans against one cache with the real
provider mirror and a wrapper that records when each init ran: the inits that may write the cache never
overlap another, the ones that only read it do run in parallel, and every stack plans.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import driftctl, terraform, terraform_binary, write_stack

from driftctl import plugin_cache

LOCK_HCL = """
provider "registry.terraform.io/hashicorp/null" {
  version = "2.1.2"
  hashes = ["h1:abc"]
}
"""


def test_pinned_providers_come_from_the_dependency_lock_file(tmp_path: Path) -> None:
    assert plugin_cache.pinned_providers(tmp_path) == []
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK_HCL, encoding="utf-8")
    pinned = plugin_cache.pinned_providers(tmp_path)
    assert pinned == [("registry.terraform.io/hashicorp/null", "2.1.2")]
    cache = tmp_path / "cache"
    assert not plugin_cache.providers_cached(pinned, cache)
    (cache / "registry.terraform.io/hashicorp/null/2.1.2" / plugin_cache.terraform_platform()).mkdir(
        parents=True
    )
    assert plugin_cache.providers_cached(pinned, cache)
    assert not plugin_cache.providers_cached([], cache)
    (tmp_path / ".terraform.lock.hcl").write_text('provider "x" {\n  version = \n', encoding="utf-8")
    assert plugin_cache.pinned_providers(tmp_path) == []


def _hold(
    stack: Path, environ: dict[str, str], spans: list[tuple[float, float]], cancel: threading.Event
) -> None:
    with plugin_cache.init_lock(stack, environ, cancel):
        started = time.monotonic()
        time.sleep(0.15)
        spans.append((started, time.monotonic()))


def _overlaps(spans: list[tuple[float, float]]) -> int:
    """How many pairs of spans ran at the same time."""
    return sum(1 for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] < b[1] and b[0] < a[1])


def _run_all(stacks: list[Path], environ: dict[str, str]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    cancel = threading.Event()
    threads = [threading.Thread(target=_hold, args=(s, environ, spans, cancel)) for s in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(spans) == len(stacks)
    return spans


def test_inits_that_may_write_take_the_cache_alone_and_readers_share_it(tmp_path: Path) -> None:
    environ = {"TF_PLUGIN_CACHE_DIR": str(tmp_path / "cache")}
    stacks = [tmp_path / f"s{i}" for i in range(4)]
    for stack in stacks:
        stack.mkdir()
    assert _overlaps(_run_all(stacks, environ)) == 0  # no lock file: each may write

    for stack in stacks:
        (stack / ".terraform.lock.hcl").write_text(LOCK_HCL, encoding="utf-8")
    assert _overlaps(_run_all(stacks, environ)) == 0  # pinned, but not in the cache yet
    (tmp_path / "cache/registry.terraform.io/hashicorp/null/2.1.2" / plugin_cache.terraform_platform()).mkdir(
        parents=True
    )
    assert _overlaps(_run_all(stacks, environ)) == 6  # all in the cache: all four at once

    assert _overlaps(_run_all(stacks, {})) == 6  # no shared cache, no lock


def test_a_cancelled_run_stops_waiting_for_the_lock(tmp_path: Path) -> None:
    environ = {"TF_PLUGIN_CACHE_DIR": str(tmp_path / "cache")}
    cancel = threading.Event()
    with plugin_cache.init_lock(tmp_path, environ, cancel):
        waited: list[float] = []

        def wait() -> None:
            started = time.monotonic()
            with plugin_cache.init_lock(tmp_path, environ, cancel):
                waited.append(time.monotonic() - started)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.2)
        assert waited == []
        cancel.set()
        waiter.join(timeout=5)
    assert len(waited) == 1 and waited[0] < 2


WRAPPER = """#!/bin/sh
# the real terraform, recording when each init ran (driftctl starts it once it holds the cache lock)
if [ "$1" = init ]; then
  start=$(date +%s.%N)
  "{real}" "$@"
  code=$?
  echo "$start $(date +%s.%N) $PWD" >> "{log}"
  exit $code
fi
exec "{real}" "$@"
"""


def _init_spans(log: Path) -> list[tuple[float, float]]:
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(float(row[0]), float(row[1])) for row in rows]


@pytest.mark.parametrize("locked", [False, True], ids=["no-lock-file", "lock-file"])
def test_many_parallel_first_time_inits_share_one_cache(
    tf_environ: dict[str, str], tmp_path: Path, locked: bool
) -> None:
    real = terraform_binary(tf_environ)
    template = write_stack(tmp_path / "template")
    terraform({**tf_environ}, template, "init", "-input=false", "-no-color")
    root = tmp_path / "live"
    count = 16
    for i in range(count):
        stack = write_stack(root / f"stack-{i:02d}")
        if locked:
            shutil.copy(template / ".terraform.lock.hcl", stack / ".terraform.lock.hcl")
    log = tmp_path / "inits.log"
    wrapper = tmp_path / "terraform"
    wrapper.write_text(WRAPPER.format(real=real, log=log), encoding="utf-8")
    wrapper.chmod(0o755)
    cache = tmp_path / "plugin-cache"
    environ = {**tf_environ, "TF_PLUGIN_CACHE_DIR": str(cache)}

    args = ["plan", "--all", "--tool", "terraform", "--tool-binary", str(wrapper), "-p", str(count)]
    done = driftctl(*args, "--root", str(root), "--retries", "0", "--fail-on", "error", env=environ)

    assert done.returncode == 0, (
        done.stdout + done.stderr
    )  # no stack errored (each would create its resource)
    assert f"{count} drifted · 0 errored · 0 clean" in done.stdout
    provider = cache / "registry.terraform.io/hashicorp/null/2.1.2" / plugin_cache.terraform_platform()
    assert [p.name for p in provider.iterdir()] == ["terraform-provider-null_v2.1.2_x4"]
    spans = sorted(_init_spans(log))
    assert len(spans) == count
    first, rest = spans[0], spans[1:]
    assert all(other[0] >= first[1] for other in rest), "the init that filled the cache ran alone"
    if locked:
        assert _overlaps(rest) > 0, "inits that only read the cache ran in parallel"
    else:
        assert _overlaps(spans) == 0, "without a lock file every init may write: one at a time"
    for i in range(count):
        assert (root / f"stack-{i:02d}" / ".terraform" / "providers").is_dir()
    assert sorted(os.listdir(cache)) == [plugin_cache.LOCK_FILE, "registry.terraform.io"]
