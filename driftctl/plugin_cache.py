"""Terraform's shared provider cache (`TF_PLUGIN_CACHE_DIR`) made safe for parallel first-time inits.

Terraform documents the plugin cache as not safe for concurrent use: two `init`s unpacking the same
provider into it at once can leave a package that fails its checksum or is "text file busy"
(hashicorp/terraform#31964). OpenTofu locks it itself from 1.10 (opentofu/opentofu#1878), and so do
Terragrunt's `--provider-cache` server and, with OpenTofu >= 1.10, its automatic provider cache dir.

driftctl therefore takes a lock in the cache directory around the inits it runs for plain Terraform
and OpenTofu stacks: shared when the stack's `.terraform.lock.hcl` names only providers the cache
already holds for this platform (that init only reads the cache), exclusive otherwise (it may write).
So the first init of each provider set fills the cache alone, and every later one runs in parallel.
The lock is an advisory `flock` on a file in the cache, so it also holds between driftctl processes
(shards on one machine) that share the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

LOCK_FILE = ".driftctl-init.lock"
DEPENDENCY_LOCK_FILE = ".terraform.lock.hcl"
_POLL_SECONDS = 0.05
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386"}


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """The shared provider cache the tool will use, if one is set."""
    value = environ.get("TF_PLUGIN_CACHE_DIR", "").strip()
    return Path(value) if value else None


def terraform_platform() -> str:
    """This machine as Terraform names platforms in the cache: `linux_amd64`, `darwin_arm64`."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCHITECTURES.get(machine, machine)}"


def pinned_providers(stack_dir: Path) -> list[tuple[str, str]]:
    """(source, version) of each provider the stack's dependency lock file pins; [] when unknown."""
    try:
        text = (stack_dir / DEPENDENCY_LOCK_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return _pinned_providers(text)


def providers_cached(pinned: list[tuple[str, str]], cache: Path) -> bool:
    """Whether the cache holds every pinned provider for this platform (False when none are known)."""
    where = terraform_platform()
    return bool(pinned) and all((cache / source / version / where).is_dir() for source, version in pinned)


def _pinned_providers(text: str) -> list[tuple[str, str]]:
    import hcl2  # only here: most runs never read a dependency lock file

    try:
        document = hcl2.loads(text)
    except Exception:  # python-hcl2 raises Lark's and its own errors; any of them means "unknown"
        return []
    pinned = []
    for block in document.get("provider", []):
        for label, body in block.items():
            version = body.get("version") if isinstance(body, dict) else None
            if not isinstance(version, str):
                return []
            pinned.append((label.strip('"'), version.strip('"')))
    return pinned


@contextlib.contextmanager
def init_lock(stack_dir: Path, environ: Mapping[str, str], cancel: threading.Event) -> Iterator[None]:
    """Held around a first-time init that uses a shared provider cache; nothing without one.

    Waiting stops when `cancel` is set: the init is then stopped at once by the runner anyway.
    """
    cache = cache_dir(environ)
    if cache is None:
        yield
        return
    pinned = pinned_providers(stack_dir)
    cache.mkdir(parents=True, exist_ok=True)
    handle = os.open(cache / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while not cancel.is_set():
            # asked again at every try: once another init has filled the cache, this one only reads
            mode = fcntl.LOCK_SH if providers_cached(pinned, cache) else fcntl.LOCK_EX
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                cancel.wait(_POLL_SECONDS)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock
