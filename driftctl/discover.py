"""Where stacks are found: a walk of the repository, and the selection of stacks by glob or path."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from driftctl.model import Stack, Tool

TERRAGRUNT_CONFIG = "terragrunt.hcl"
# never descended into: tool caches and anything hidden (.git, .terraform, .terragrunt-cache, ...)
_SKIPPED_DIRS = frozenset({".terragrunt-cache", ".terraform", "node_modules", "__pycache__"})
_SOURCE_SUFFIXES = {
    Tool.TERRAFORM: (".tf", ".tf.json"),
    Tool.TOFU: (".tf", ".tf.json", ".tofu", ".tofu.json"),
}


class DiscoveryError(Exception):
    """A path or pattern that selects nothing the user can have meant."""


def stack_id(root: Path, directory: Path) -> str:
    relative = directory.relative_to(root).as_posix()
    return relative if relative else "."


def discover(
    root: Path,
    tool: Tool,
    *,
    root_config: str = "root.hcl",
    module_patterns: Sequence[str] = ("modules/",),
) -> list[Stack]:
    """Every stack under `root`, sorted by id."""
    root = root.resolve()
    if not root.is_dir():
        raise DiscoveryError(f"{root}: not a directory")
    stacks = [
        Stack(id=stack_id(root, directory), path=directory, tool=tool)
        for directory in _walk(root)
        if _is_stack(root, directory, tool, root_config, module_patterns)
    ]
    return sorted(stacks, key=lambda s: s.id)


def _walk(root: Path) -> Iterable[Path]:
    for current, dirnames, _ in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS)
        yield Path(current)


def _is_stack(
    root: Path, directory: Path, tool: Tool, root_config: str, module_patterns: Sequence[str]
) -> bool:
    if tool is Tool.TERRAGRUNT:
        config = directory / TERRAGRUNT_CONFIG
        # a root-level terragrunt.hcl can be configured to be the include parent, not a unit
        is_parent = directory == root and root_config == TERRAGRUNT_CONFIG
        return config.is_file() and not is_parent
    if matches_any(stack_id(root, directory), module_patterns):
        return False
    suffixes = _SOURCE_SUFFIXES[tool]
    return any(entry.is_file() and entry.name.endswith(suffixes) for entry in directory.iterdir())


def matches_any(stack: str, patterns: Iterable[str]) -> bool:
    """Shell-style globs against a stack id; `name/` matches a directory of that name at any depth."""
    return any(_matches(stack, pattern) for pattern in patterns)


def _matches(stack: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return _has_segments(stack.split("/"), pattern.rstrip("/").split("/"))
    return fnmatch.fnmatchcase(stack, pattern) or fnmatch.fnmatchcase(stack, pattern.rstrip("/") + "/*")


def _has_segments(parts: list[str], wanted: list[str]) -> bool:
    """Whether `wanted` (globs, one per directory) matches a run of consecutive `parts`."""
    width = len(wanted)
    return any(
        all(fnmatch.fnmatchcase(p, g) for p, g in zip(parts[start : start + width], wanted, strict=True))
        for start in range(len(parts) - width + 1)
    )


def filter_stacks(stacks: Sequence[Stack], include: Sequence[str], exclude: Sequence[str]) -> list[Stack]:
    """Keep stacks matching any `include` glob (all when none given) and no `exclude` glob."""
    return [
        stack
        for stack in stacks
        if (not include or matches_any(stack.id, include)) and not matches_any(stack.id, exclude)
    ]


def stacks_at_paths(stacks: Sequence[Stack], paths: Sequence[Path]) -> list[Stack]:
    """The stacks at or below each path: a path to a stack selects it, a folder selects all beneath it."""
    selected: dict[str, Stack] = {}
    for path in paths:
        target = path.resolve()
        if not target.exists():
            raise DiscoveryError(f"{path}: no such file or directory")
        if target.is_file():
            target = target.parent
        found = [s for s in stacks if s.path == target or target in s.path.parents]
        if not found:
            raise DiscoveryError(f"{path}: no stack at or below this path")
        selected.update((s.id, s) for s in found)
    return sorted(selected.values(), key=lambda s: s.id)
