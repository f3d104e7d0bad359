"""`--changed`: from what a change touched to every unit it can affect, with reasons.

One module per job: git.py (the git edge), literals.py (the pre-filter), refs.py (what a file refers
to, with python-hcl2), evaluate.py (Terragrunt's path functions), graph.py (a unit's inputs),
frontier.py (which files to parse), choose.py (the pure choice, with reasons), files.py (the disk).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from driftctl.discover import matches_any
from driftctl.model import Selection, Stack, Tool
from driftctl.selection import git
from driftctl.selection.choose import (
    DEFAULT_GLOBAL_PATTERNS,
    MODE,
    everything,
    explain_lines,
    removed_units,
    select,
    select_global,
    touches,
)
from driftctl.selection.evaluate import TERRAGRUNT_CONFIG
from driftctl.selection.files import DiskFiles
from driftctl.selection.frontier import CONFIG_SUFFIXES, Frontier
from driftctl.selection.graph import TF_SUFFIXES, Graph, config_of
from driftctl.selection.paths import join

__all__ = ["DEFAULT_GLOBAL_PATTERNS", "explain_lines", "select_changed", "select_for_changes"]


def select_for_changes(
    root: Path,
    stacks: Sequence[Stack],
    changes: git.ChangeSet,
    global_patterns: Sequence[str] | None = None,
    *,
    only: Collection[str] | None = None,
    tool: Tool | None = None,
    module_patterns: Sequence[str] = ("modules/",),
    files: DiskFiles | None = None,
) -> Selection:
    """The selection for changes already collected (`git.collect_changes`).

    `stacks` must be every unit under the root, so that a dependency chain through a unit that is not
    to be planned still counts; `only` (ids, e.g. what include/exclude globs keep) limits what is
    planned and what may force the fallback. `Selection.known` is every unit's id.
    """
    ids = tuple(stack.id for stack in stacks)
    # units Terragrunt would not plan (an exclude block, skip) are never chosen, nor force the fallback
    only = {s.id for s in stacks if s.excluded is None and (only is None or s.id in only)}
    if changes.fallback_reason is not None:
        return _restrict(everything(stacks, changes.fallback_reason), ids, only)
    root_dir, top = root.resolve().as_posix(), changes.top.resolve().as_posix()
    files = files or DiskFiles()
    tool = tool or (stacks[0].tool if stacks else Tool.TERRAGRUNT)
    found = touches(changes.changes, top, root_dir)

    def is_unit_file(directory: str, name: str) -> bool:
        if tool is Tool.TERRAGRUNT:  # a root terragrunt.hcl is the include parent, never a unit
            return name == TERRAGRUNT_CONFIG and directory != "."
        return (
            name.endswith(TF_SUFFIXES)
            and not matches_any(directory, module_patterns)
            and not files.tf_files(join(root_dir, directory))
        )

    removed = removed_units(found, ids, is_unit_file)
    if not found:
        return _restrict(Selection((), MODE, removed), ids, only)
    patterns = DEFAULT_GLOBAL_PATTERNS if global_patterns is None else global_patterns
    global_reasons = select_global(found, patterns)
    if global_reasons:  # nothing needs parsing: every unit is planned anyway
        return _restrict(everything(stacks, None, removed, default=global_reasons), ids, only)
    paths = [join(top, path) for path in git.work_files(changes.top) if path.endswith(CONFIG_SUFFIXES)]
    files.list(top, paths)
    configs = (
        config_of(stack, join(root_dir, stack.id)) for stack in stacks if stack.tool is Tool.TERRAGRUNT
    )
    paths += [config for config in configs if config is not None]  # found on disk, tracked or not
    reached = Frontier(root_dir, stacks, files, Graph(root_dir, top, files)).grow(paths, found)
    selection = select(stacks, reached.inputs, found, removed, planned=only, modules=reached.modules)
    return _restrict(selection, ids, only)


def _restrict(selection: Selection, ids: tuple[str, ...], only: Collection[str] | None) -> Selection:
    planned = tuple(s for s in selection.stacks if only is None or s.id in only)
    return Selection(
        planned,
        selection.mode,
        selection.removed,
        {s.id: selection.reasons[s.id] for s in planned if s.id in selection.reasons},
        selection.fallback_reason,
        ids,
    )


def select_changed(
    root: Path,
    stacks: Sequence[Stack],
    base: str | None = None,
    include_uncommitted: bool = False,
    global_patterns: Sequence[str] | None = None,
    *,
    only: Collection[str] | None = None,
    tool: Tool | None = None,
    module_patterns: Sequence[str] = ("modules/",),
    deepen_by: int = git.DEFAULT_DEEPEN,
) -> Selection:
    """`--changed`: the units a change since `base` can affect (mode "changed").

    `stacks`: every unit under the root (dependency chains may run through units not planned);
    `only`: the ids that may be planned (after include/exclude), None for all. `base` None means the
    merge-base of origin/HEAD's branch with HEAD, else HEAD~1. `global_patterns` None means
    DEFAULT_GLOBAL_PATTERNS. Raises git.GitError (NotAGitRepoError, UnknownRefError) with a one-line
    message for usage errors.
    """
    changes = git.collect_changes(root, base, include_uncommitted, deepen_by)
    return select_for_changes(
        root,
        stacks,
        changes,
        global_patterns,
        only=only,
        tool=tool,
        module_patterns=module_patterns,
    )
