"""Where stacks are found: one walk of the repository, the units of each layout, globs and paths.

`terragrunt.py` reads Terragrunt's units (include parents, Stacks, exclude/skip) and `evaluate.py`
the expressions they need; this module walks, picks the layout, and refuses to find nothing.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from driftctl.discover import terragrunt
from driftctl.model import Stack, Tool

# never descended into: tool caches and anything hidden (.git, .terraform, .terragrunt-cache,
# .terragrunt-stack: generated units are found from their stack files, not from the disk)
_SKIPPED_DIRS = frozenset({".terragrunt-cache", ".terraform", "node_modules", "__pycache__"})
_SOURCE_SUFFIXES = {
    Tool.TERRAFORM: (".tf", ".tf.json"),
    Tool.TOFU: (".tf", ".tf.json", ".tofu", ".tofu.json"),
}
_SHOWN = 5  # files named in an error before "and N more"


class DiscoveryError(Exception):
    """A root, layout or pattern that selects nothing the user can have meant."""


@dataclass(frozen=True)
class Discovery:
    """Every unit under a root (excluded ones too, with the reason), and what discovery noticed."""

    stacks: tuple[Stack, ...]
    # configs that other configs include: never units (a legacy root terragrunt.hcl, prod/terragrunt.hcl)
    parents: tuple[Path, ...] = ()
    stack_files: tuple[Path, ...] = ()
    # local sources of Stacks units and nested stacks (catalog templates): never units either
    sources: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class _Tree:
    """One walk's findings, for every layout at once (to suggest the other `--tool`)."""

    configs: list[Path] = field(default_factory=list)  # terragrunt.hcl, else terragrunt.hcl.json
    stack_files: list[Path] = field(default_factory=list)
    tf_dirs: list[Path] = field(default_factory=list)
    tofu_dirs: list[Path] = field(default_factory=list)  # with *.tofu files
    hcl_files: list[Path] = field(default_factory=list)  # other *.hcl: root.hcl, env.hcl, _envcommon/...


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
    """Every unit under `root`, sorted by id: excluded units too (`Stack.excluded` says why)."""
    found = discover_all(root, tool, root_config=root_config, module_patterns=module_patterns)
    return list(found.stacks)


def discover_all(
    root: Path,
    tool: Tool,
    *,
    root_config: str = "root.hcl",
    module_patterns: Sequence[str] = ("modules/",),
    environ: Mapping[str, str] | None = None,
) -> Discovery:
    """Every unit under `root`; finding none is a DiscoveryError naming what was looked for."""
    root = root.resolve()
    if not root.is_dir():
        raise DiscoveryError(f"{root}: not a directory (--root)")
    tree = _walk(root)
    if tool is Tool.TERRAGRUNT:
        return _terragrunt(root, tree, root_config, os.environ if environ is None else environ)
    dirs = tree.tofu_dirs + tree.tf_dirs if tool is Tool.TOFU else tree.tf_dirs
    stacks = [
        Stack(id=stack_id(root, d), path=d, tool=tool)
        for d in sorted(set(dirs))
        if not matches_any(stack_id(root, d), module_patterns)
    ]
    if not stacks:
        kinds = "*.tf or *.tofu" if tool is Tool.TOFU else "*.tf"
        looked = f"no directory with {kinds} files under {root} (--tool {tool.value}"
        skipped = f", not counting --module-pattern {', '.join(module_patterns)}" if dirs else ""
        raise DiscoveryError(looked + skipped + ")" + _other_layout(tree, tool))
    return Discovery(stacks=tuple(sorted(stacks, key=lambda s: s.id)))


def detect_tool(root: Path, *, tofu_only: bool = False) -> Tool:
    """`--tool auto`: Terragrunt when the root holds its configs or stack files, else OpenTofu for
    `*.tofu` files (or when only `tofu` is installed: `tofu_only`), else Terraform."""
    tree = _walk(root.resolve()) if root.is_dir() else _Tree()
    if tree.configs or tree.stack_files:
        return Tool.TERRAGRUNT
    if tree.tofu_dirs or tofu_only:
        return Tool.TOFU
    return Tool.TERRAFORM


def _terragrunt(root: Path, tree: _Tree, root_config: str, environ: Mapping[str, str]) -> Discovery:
    found = terragrunt.Found(root=root, repo_root=_repo_root(root), environ=environ)
    configs = tree.configs
    if root_config in terragrunt.CONFIG_NAMES:
        # named as the root's include parent (--root-config): never a unit, even if nothing includes it
        found.parents.update(c for c in configs if c == root / root_config)
    stacks = terragrunt.units(configs, tree.stack_files, tree.hcl_files, found)
    if not stacks:
        raise DiscoveryError(_no_units(root, tree, found))
    return Discovery(
        stacks=tuple(sorted(stacks, key=lambda s: s.id)),
        parents=tuple(sorted(found.parents)),
        stack_files=tuple(tree.stack_files),
        sources=tuple(sorted(found.sources)),
        warnings=tuple(dict.fromkeys(found.warnings)),
    )


def _no_units(root: Path, tree: _Tree, found: terragrunt.Found) -> str:
    files = [*tree.configs, *tree.stack_files]
    if not files:
        return (
            f"no terragrunt.hcl, terragrunt.hcl.json or terragrunt.stack.hcl under {root} (--tool terragrunt)"
            + _other_layout(tree, Tool.TERRAGRUNT)
        )
    named = ", ".join(found.rel(f) for f in files[:_SHOWN]) + (
        f" and {len(files) - _SHOWN} more" if len(files) > _SHOWN else ""
    )
    why = "; ".join(found.warnings[:3])
    return (
        f"no Terragrunt unit under {root}, though it holds {named}: "
        + ("its terragrunt.hcl files are include parents or catalog sources" if tree.configs else "")
        + ("; " if tree.configs and tree.stack_files else "")
        + ("the stack files declare no unit whose path is known" if tree.stack_files else "")
        + (f" ({why})" if why else "")
    )


def _other_layout(tree: _Tree, tool: Tool) -> str:
    if tool is not Tool.TERRAGRUNT and (tree.configs or tree.stack_files):
        return "; it holds Terragrunt configs: try --tool terragrunt (or --tool auto)"
    if tool is not Tool.TOFU and tree.tofu_dirs:
        return "; it holds *.tofu files: try --tool tofu (or --tool auto)"
    if tool is Tool.TERRAGRUNT and tree.tf_dirs:
        return "; it holds *.tf files: try --tool terraform (or --tool auto)"
    return ""


def _repo_root(root: Path) -> Path:
    """get_repo_root(): the enclosing git work tree, else the discovery root."""
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return root


def _walk(root: Path) -> _Tree:
    tree = _Tree()
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS)
        directory = Path(current)
        names = set(filenames)
        config = next((n for n in terragrunt.CONFIG_NAMES if n in names), None)
        if config is not None:
            tree.configs.append(directory / config)
        if terragrunt.STACK_FILE in names:
            tree.stack_files.append(directory / terragrunt.STACK_FILE)
        special = {config, terragrunt.STACK_FILE, terragrunt.VALUES_FILE}
        tree.hcl_files.extend(
            directory / n for n in sorted(names - special) if n.endswith((".hcl", ".hcl.json"))
        )
        if any(n.endswith(_SOURCE_SUFFIXES[Tool.TERRAFORM]) for n in names):
            tree.tf_dirs.append(directory)
        elif any(n.endswith((".tofu", ".tofu.json")) for n in names):
            tree.tofu_dirs.append(directory)
    return tree


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
    """The stacks at or below each path: a path to a stack selects it, a folder selects all beneath it.

    A Stacks unit's directory may not be generated yet: its path selects it all the same.
    """
    selected: dict[str, Stack] = {}
    for path in paths:
        target = path.resolve()
        if not target.exists() and not any(s.path == target or target in s.path.parents for s in stacks):
            raise DiscoveryError(f"{path}: no such file or directory")
        if target.is_file():
            target = target.parent
        found = [s for s in stacks if s.path == target or target in s.path.parents]
        if not found:
            raise DiscoveryError(f"{path}: no stack at or below this path")
        selected.update((s.id, s) for s in found)
    return sorted(selected.values(), key=lambda s: s.id)
