"""The choice (pure): from what changed and what units read, the units to plan, each with its reasons.

A unit is chosen when a changed path is in its directory, among its inputs, or in a unit it depends
on, transitively. When an input cannot be known (`Unresolved`) and what it can be matches a change,
or a file a unit reads cannot be parsed, every unit is chosen and the fallback reason names the file,
line and expression: missing a unit is worse than planning too many.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from driftctl.model import Selection, Stack
from driftctl.selection import git
from driftctl.selection.evaluate import TERRAGRUNT_CONFIG
from driftctl.selection.graph import StackInputs, Step, Unresolved, Watch
from driftctl.selection.paths import ancestors, join, relative, show
from driftctl.selection.refs import RefKind

MODE = "changed"

# A change to one of these (globs relative to the root; `*` stays within a directory, `**` spans any)
# can affect every unit in ways the graph does not show: shared config, tool versions, driftctl itself.
DEFAULT_GLOBAL_PATTERNS: tuple[str, ...] = (
    "root.hcl",
    "terragrunt.hcl",
    "*.hcl",
    "*.yaml",
    "*.yml",
    ".terraform-version",
    ".terragrunt-version",
    ".tool-versions",
    "mise.toml",
    ".mise.toml",
    ".terraform.lock.hcl",
    ".driftctl.yaml",
)
# what Terragrunt writes while it runs (downloaded sources, generated units): never a change of intent
GENERATED_DIRS = frozenset({".terragrunt-cache", ".terragrunt-stack"})
_NOT_UNIT_DIRS = frozenset({".terragrunt-cache", ".terraform", "node_modules", "__pycache__"})


@dataclass(frozen=True)
class Touch:
    """A path a change touched (both sides of a rename or copy), relative to the root."""

    path: str
    description: str  # "modules/vpc/main.tf changed", for reasons
    gone: bool = False  # deleted, or the old side of a rename


_VERBS = {"A": "added", "D": "deleted", "M": "changed", "T": "changed (type)", "?": "added (untracked)"}


def touches(changes: Iterable[git.Change], top: str, root: str) -> tuple[Touch, ...]:
    """The changed paths (relative to the repository top) as touches relative to the root."""
    found: list[Touch] = []
    for change in changes:
        path = relative(join(top, change.path), root)
        if change.old_path is None:
            verb = _VERBS.get(change.status, "changed")
            found.append(Touch(path, f"{show(path)} {verb}", gone=change.status == "D"))
            continue
        old = relative(join(top, change.old_path), root)
        renamed = change.status == "R"
        found.append(Touch(path, f"{show(path)} {'renamed' if renamed else 'copied'} from {show(old)}"))
        found.append(Touch(old, f"{show(old)} {'renamed' if renamed else 'copied'} to {show(path)}", renamed))
    return tuple(touch for touch in found if GENERATED_DIRS.isdisjoint(touch.path.split("/")))


def is_global(path: str, patterns: Sequence[str]) -> bool:
    """Whether a root-relative path matches a global pattern (`*` within a directory, `**` across)."""
    return not path.startswith("../") and any(_glob(path.split("/"), p.split("/")) for p in patterns)


def _glob(parts: Sequence[str], pattern: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_glob(parts[index:], pattern[1:]) for index in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _glob(parts[1:], pattern[1:])


def select_global(found: Sequence[Touch], patterns: Sequence[str]) -> tuple[str, ...]:
    """The reasons to plan everything: touched paths that match a global pattern."""
    return tuple(f"global file {touch.description}" for touch in found if is_global(touch.path, patterns))


def removed_units(
    found: Sequence[Touch], unit_ids: Iterable[str], is_unit_file: Callable[[str, str], bool]
) -> tuple[str, ...]:
    """Units whose configuration went away: not planned, but named so their metrics can be dropped.

    `is_unit_file(directory, name)`: whether a deleted file `name` made `directory` a unit.
    """
    current = set(unit_ids)
    removed: dict[str, None] = {}
    for touch in found:
        if not touch.gone or touch.path.startswith("../"):
            continue
        directory, name = posixpath.split(touch.path)
        directory = directory or "."
        if directory in current or any(
            p.startswith(".") or p in _NOT_UNIT_DIRS for p in directory.split("/")
        ):
            continue
        if is_unit_file(directory, name):
            removed[directory] = None
    return tuple(sorted(removed))


def select(
    stacks: Sequence[Stack],
    inputs: Mapping[str, StackInputs],
    found: Sequence[Touch],
    removed: tuple[str, ...] = (),
    *,
    planned: Collection[str] | None = None,
    modules: Sequence[str] = (),
) -> Selection:
    """The units the touched paths affect, with a reason chain for each; all, with why, when unsure.

    `planned`: the ids that may be planned (None: all); only they can force the fallback. `modules`:
    the root-relative module directories a change reaches, for sources that cannot be resolved.
    """
    reasons = affected(stacks, inputs, found)
    fallback = fallback_reason(stacks, inputs, found, reasons.keys(), planned, modules)
    if fallback is not None:
        return everything(stacks, fallback, removed, reasons)
    return Selection(
        tuple(stack for stack in stacks if stack.id in reasons),
        MODE,
        removed,
        {stack.id: reasons[stack.id] for stack in stacks if stack.id in reasons},
    )


def affected(
    stacks: Sequence[Stack], inputs: Mapping[str, StackInputs], found: Sequence[Touch]
) -> dict[str, tuple[str, ...]]:
    """Every unit a touched path reaches, directly or through dependencies, with its reasons."""
    ids = {stack.id for stack in stacks}
    reasons: dict[str, list[str]] = {}
    index = _Index.build(inputs)

    def add(stack_id: str, reason: str) -> None:
        reasons.setdefault(stack_id, [])
        if reason not in reasons[stack_id]:
            reasons[stack_id].append(reason)

    for touch in found:
        found_owner = owner(touch.path, ids)
        if found_owner is not None:
            add(found_owner, touch.description)
        for stack_id, watch in index.files.get(touch.path, ()):
            add(stack_id, _chain(watch.steps, touch))
        for directory in ancestors(touch.path):
            for stack_id, watch in index.directories.get(directory, ()):
                add(stack_id, _chain(watch.steps, touch))
            if directory not in ids:  # depends on a directory that is no unit (any more)
                for stack_id in index.dependents.get(directory, ()):
                    add(stack_id, f"dependency {show(directory)} <- {touch.description}")
        if touch.path.endswith(".hcl"):
            directory = posixpath.dirname(touch.path) or "."
            for stack_id in index.hcl_dirs.get(directory, ()):
                add(stack_id, f"remote unit source: {touch.description}")

    queue = deque(reasons)
    while queue:
        dependency = queue.popleft()
        for stack_id in index.dependents.get(dependency, ()):
            first = stack_id not in reasons
            add(stack_id, f"dependency {show(dependency)} <- {reasons[dependency][0]}")
            if first:
                queue.append(stack_id)
    return {stack_id: tuple(found_reasons) for stack_id, found_reasons in reasons.items()}


def everything(
    stacks: Sequence[Stack],
    fallback: str | None,
    removed: tuple[str, ...] = (),
    known: Mapping[str, tuple[str, ...]] | None = None,
    default: tuple[str, ...] = ("fallback: every stack is planned (see the fallback reason)",),
) -> Selection:
    """Every unit, keeping the reasons already found and giving the others `default`."""
    known = known or {}
    reasons = {stack.id: known.get(stack.id) or default for stack in stacks}
    return Selection(tuple(stacks), MODE, removed, reasons, fallback)


@dataclass(frozen=True)
class _Index:
    """The reverse of every unit's inputs, built once: path -> the units that read it."""

    files: Mapping[str, list[tuple[str, Watch]]]
    directories: Mapping[str, list[tuple[str, Watch]]]
    dependents: Mapping[str, list[str]]
    hcl_dirs: Mapping[str, list[str]]

    @classmethod
    def build(cls, inputs: Mapping[str, StackInputs]) -> _Index:
        files: dict[str, list[tuple[str, Watch]]] = {}
        directories: dict[str, list[tuple[str, Watch]]] = {}
        dependents: dict[str, list[str]] = {}
        hcl_dirs: dict[str, list[str]] = {}
        for stack_id, stack_inputs in inputs.items():
            for directory in stack_inputs.hcl_dirs:
                hcl_dirs.setdefault(directory, []).append(stack_id)
            for watch in stack_inputs.watches:
                (directories if watch.directory else files).setdefault(watch.path, []).append(
                    (stack_id, watch)
                )
            for dependency in stack_inputs.dependencies:
                dependents.setdefault(dependency, []).append(stack_id)
        return cls(files, directories, dependents, hcl_dirs)


def fallback_reason(
    stacks: Sequence[Stack],
    inputs: Mapping[str, StackInputs],
    found: Sequence[Touch],
    selected: Iterable[str],
    planned: Collection[str] | None,
    modules: Sequence[str],
) -> str | None:
    """Why the choice cannot be trusted: something unknown in a planned unit not chosen anyway."""
    chosen = set(selected)
    paths = [touch.path for touch in found]
    units = sorted(chosen)
    # the same unresolved reference (in a shared include) recurs for every unit: match it once
    matches: dict[Unresolved, str | None] = {}
    for stack in stacks:
        if stack.id in chosen or (planned is not None and stack.id not in planned):
            continue  # chosen anyway, or never planned: what else it reads cannot add anything
        stack_inputs = inputs.get(stack.id, StackInputs())
        for file, message in stack_inputs.failures:
            return f"{show(file)} ({stack.id} reads it): {message}; cannot tell what it depends on"
        for unresolved in stack_inputs.unresolved:
            if unresolved not in matches:
                matches[unresolved] = may_refer_to(unresolved, paths, units, modules)
            match = matches[unresolved]
            if match is not None:
                return (
                    f"{show(unresolved.file)}:{unresolved.line}: cannot resolve {unresolved.text} "
                    f"({unresolved.why}) and it may refer to {show(match)}, read by {stack.id}"
                )
    return None


def may_refer_to(
    unresolved: Unresolved, paths: Sequence[str], units: Sequence[str], modules: Sequence[str]
) -> str | None:
    """A changed path, chosen unit or reached module the unresolved reference could lead to, if any."""
    if unresolved.kind in (RefKind.INCLUDE, RefKind.READ_CONFIG):
        # an unknown configuration can depend on anything: its own includes, sources, dependencies
        return paths[0] if paths else None
    pattern = re.compile(unresolved.pattern)
    if unresolved.kind is RefKind.DEPENDENCY:  # only a unit's directory (or its config file)
        candidates: Iterable[str] = (c for unit in units for c in (unit, join(unit, TERRAGRUNT_CONFIG)))
    elif unresolved.kind in (RefKind.SOURCE, RefKind.MODULE):  # only a module's directory
        candidates = modules
    elif unresolved.kind is RefKind.READ_DIR:
        candidates = dict.fromkeys(a for path in paths for a in ancestors(path))
    else:
        candidates = paths
    return next((candidate for candidate in candidates if pattern.fullmatch(candidate)), None)


def owner(path: str, ids: Collection[str]) -> str | None:
    """The deepest unit whose directory holds the path."""
    for directory in ancestors(path):
        if directory in ids:
            return directory
    return "." if "." in ids and not path.startswith("../") else None


def _chain(steps: Sequence[Step], touch: Touch) -> str:
    if steps and steps[-1].path == touch.path:  # "file x.json <- x.json changed" says it twice
        return " <- ".join([*map(str, steps[:-1]), f"{steps[-1].label} {touch.description}"])
    return " <- ".join([*map(str, steps), touch.description])


def explain_lines(selection: Selection) -> list[str]:
    """`--explain`: one line per reason, `unit <- link <- ... <- what changed`."""
    lines = [f"all stacks selected: {selection.fallback_reason}"] if selection.fallback_reason else []
    for stack in selection.stacks:
        for reason in selection.reasons.get(stack.id, ()) or ("(no reason recorded)",):
            lines.append(f"{stack.id} <- {reason}")
    lines.extend(
        f"{stack_id} removed: not planned; its metrics can be dropped" for stack_id in selection.removed
    )
    return lines
