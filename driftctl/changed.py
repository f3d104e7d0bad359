"""Changed-stack selection: from the paths a change touched to every stack it can affect, with reasons.

A stack is affected by a change to a file in its directory, to anything its configuration reads
(includes, read_terragrunt_config, file()/templatefile(), var files), to the modules its source and
their local module calls lead to, and to the stacks it depends on, transitively. When a file that
matters cannot be parsed or a path that matters cannot be worked out without running Terragrunt, every
stack is planned and `Selection.fallback_reason` says which file and why: missing a stack is worse
than planning too many.

Paths are POSIX strings: absolute while configurations are evaluated, relative to the driftctl root
(`../x` outside it) in the graph, the selection and the reasons. The selection itself (`select`) is
pure; reading configurations goes through `Files`, whose disk implementation is `DiskFiles`, and
`select_changed` is the front door that asks git what changed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import os
import posixpath
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from driftctl import git
from driftctl.discover import matches_any
from driftctl.hcl import (
    Call,
    ConfigLocal,
    Dialect,
    FileRefs,
    IncludeLocal,
    Lit,
    LocalVar,
    ParseFailure,
    Part,
    PathExpr,
    Ref,
    RefKind,
)
from driftctl.model import Selection, Stack, Tool
from driftctl.parse_cache import RefCache

MODE = "changed"
TERRAGRUNT_CONFIG = "terragrunt.hcl"
# parse results kept between runs, inside the repository's git directory (see parse_cache.RefCache)
CACHE_FILE = "driftctl/hcl-refs.json"

# A change to one of these (globs relative to the root; `*` stays within a directory, `**` spans any)
# can affect every stack in ways the graph does not show: shared config, tool versions, driftctl itself.
DEFAULT_GLOBAL_PATTERNS: tuple[str, ...] = (
    "root.hcl",
    "terragrunt.hcl",
    "*.hcl",
    "*.yaml",
    "*.yml",
    ".terraform-version",
    ".terragrunt-version",
    ".tool-versions",
    ".terraform.lock.hcl",
    ".driftctl.yaml",
)

_HCL_SUFFIXES = (".tf", ".tofu")
_JSON_SUFFIXES = (".tf.json", ".tofu.json")
_NOT_STACK_DIRS = frozenset({".terragrunt-cache", ".terraform", "node_modules", "__pycache__"})
_MAX_DEPTH = 16  # locals referring to locals, includes of includes: deeper than this is a cycle
_MAX_PARENTS = 256


# ---- what changed, relative to the root ----


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
        path = _relative(_join(top, change.path), root)
        if change.old_path is None:
            verb = _VERBS.get(change.status, "changed")
            found.append(Touch(path, f"{_show(path)} {verb}", gone=change.status == "D"))
            continue
        old = _relative(_join(top, change.old_path), root)
        renamed = change.status == "R"
        found.append(Touch(path, f"{_show(path)} {'renamed' if renamed else 'copied'} from {_show(old)}"))
        found.append(
            Touch(old, f"{_show(old)} {'renamed' if renamed else 'copied'} to {_show(path)}", renamed)
        )
    return tuple(found)


# ---- the graph: what each stack reads ----


@dataclass(frozen=True)
class Step:
    """One link of a reason's chain, e.g. `source modules/app`."""

    label: str
    path: str

    def __str__(self) -> str:
        return f"{self.label} {_show(self.path)}"


@dataclass(frozen=True)
class Watch:
    """A file (or a directory and everything beneath it) whose change affects a stack."""

    path: str
    directory: bool
    steps: tuple[Step, ...]  # from the stack to this path, e.g. (source modules/app, module modules/vpc)


@dataclass(frozen=True)
class Unresolved:
    """A reference whose path cannot be worked out statically; `pattern` is what it could be."""

    file: str
    line: int
    text: str
    kind: RefKind
    pattern: str  # a regular expression over root-relative paths
    why: str

    @property
    def directory(self) -> bool:
        return self.kind in (RefKind.SOURCE, RefKind.MODULE, RefKind.READ_DIR, RefKind.DEPENDENCY)


@dataclass(frozen=True)
class StackInputs:
    watches: tuple[Watch, ...] = ()
    dependencies: tuple[str, ...] = ()  # root-relative directories of the stacks it depends on
    unresolved: tuple[Unresolved, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (root-relative file, why it cannot be read)


class Files(Protocol):
    """Read access to the work tree, by absolute POSIX path."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def tf_files(self, directory: str) -> tuple[str, ...]: ...

    def refs(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None: ...

    def preload(self, paths: Sequence[str], dialect: Dialect) -> None: ...


@dataclass(frozen=True)
class _Value:
    """An evaluated path expression: known text, or None for each part that cannot be known."""

    segments: tuple[str | None, ...]
    watches: tuple[str, ...] = ()  # paths whose creation or removal changes the value
    unknowns: tuple[str, ...] = ()  # the parts that could not be evaluated, as written

    @property
    def known(self) -> str | None:
        if None in self.segments:
            return None
        return "".join(segment or "" for segment in self.segments)

    def __add__(self, other: _Value) -> _Value:
        segments = list(self.segments)
        for segment in other.segments:  # adjacent known text merges, so only unknowns split it
            if segment is not None and segments and segments[-1] is not None:
                segments[-1] = (segments[-1] or "") + segment
            else:
                segments.append(segment)
        return _Value(tuple(segments), self.watches + other.watches, self.unknowns + other.unknowns)


def _unknown(text: str) -> _Value:
    return _Value((None,), (), (text,))


@dataclass(frozen=True)
class _Scope:
    """Where one file's references are evaluated (Terragrunt evaluates an include as part of its child)."""

    config_dir: str  # relative paths, get_terragrunt_dir(), find_in_parent_folders() start here
    stack_dir: str  # get_original_terragrunt_dir()
    file: str  # the file holding the references
    parent: str | None = None  # the included file being evaluated, for path_relative_*_include()
    locals: Mapping[str, PathExpr] = field(default_factory=dict)
    includes: Mapping[str, str] = field(default_factory=dict)  # the stack's include label -> file


@dataclass
class _Collected:
    watches: list[Watch] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def freeze(self) -> StackInputs:
        return StackInputs(
            tuple(dict.fromkeys(self.watches)),
            tuple(dict.fromkeys(self.dependencies)),
            tuple(dict.fromkeys(self.unresolved)),
            tuple(dict.fromkeys(self.failures)),
        )


@dataclass(frozen=True)
class _ModuleEdges:
    """What one directory's Terraform files refer to (computed once per directory)."""

    modules: tuple[str, ...] = ()  # absolute directories of local module sources
    reads: tuple[tuple[str, str, bool], ...] = ()  # (function, absolute path, is a directory)
    failures: tuple[tuple[str, str], ...] = ()


class GraphBuilder:
    """Works out every stack's inputs; parses and module directories are shared between stacks."""

    def __init__(self, root: str, top: str, files: Files) -> None:
        self.root, self.top, self.files = root, top, files
        self._module_edges: dict[tuple[str, bool], _ModuleEdges] = {}
        # stacks with the same source reach the same modules the same way: one walk for all of them
        self._reachable: dict[tuple[str, tuple[Step, ...], bool], _Collected] = {}
        # stacks side by side search the same parent folders: one answer per (start, names)
        self._found: dict[tuple[str, tuple[str, ...]], tuple[str | None, tuple[str, ...]]] = {}
        self._relative: dict[str, str] = {}
        # find_in_parent_folders' candidates are the same for stacks side by side: so are their watches
        self._value_watches: dict[tuple[tuple[str, ...], str, tuple[Step, ...]], tuple[Watch, ...]] = {}

    def stack_inputs(self, stack: Stack) -> StackInputs:
        directory = _join(self.root, stack.id)
        collected = _Collected()
        if stack.tool is Tool.TERRAGRUNT:
            config = _join(directory, TERRAGRUNT_CONFIG)
            self._config(config, _Scope(directory, directory, config), (), collected, set(), 0)
        # Terraform files in the stack's own directory (all of a Terraform stack; an overlay on the
        # source for Terragrunt) call modules too; a Terraform stack is also the working directory
        self._modules_from(directory, (), collected, root_module=stack.tool is not Tool.TERRAGRUNT)
        return collected.freeze()

    # -- Terragrunt configurations --

    def _config(
        self,
        path: str,
        scope: _Scope,
        steps: tuple[Step, ...],
        out: _Collected,
        seen: set[tuple[str, str]],
        depth: int,
    ) -> None:
        if (path, scope.config_dir) in seen or depth > _MAX_DEPTH:
            return
        seen.add((path, scope.config_dir))
        parsed = self.files.refs(path, Dialect.TERRAGRUNT)
        if parsed is None:  # missing: the watch on it is all there is to know
            return
        if isinstance(parsed, ParseFailure):
            out.failures.append((self._rel(path), parsed.message))
            return
        scope = _Scope(
            scope.config_dir, scope.stack_dir, scope.file, scope.parent, parsed.locals, scope.includes
        )
        if scope.parent is None and scope.file == _join(scope.stack_dir, TERRAGRUNT_CONFIG):
            includes = self._includes(parsed.refs, scope)
            scope = _Scope(scope.config_dir, scope.stack_dir, scope.file, None, parsed.locals, includes)
        for ref in parsed.refs:
            self._ref(ref, scope, steps, out, seen, depth)

    def _includes(self, refs: Iterable[Ref], scope: _Scope) -> dict[str, str]:
        targets: dict[str, str] = {}
        for ref in refs:
            if ref.kind is RefKind.INCLUDE:
                known = self._eval(ref.expr, scope, 0).known
                if known is not None:
                    targets[ref.name] = _join(scope.config_dir, known)
        return targets

    def _ref(
        self,
        ref: Ref,
        scope: _Scope,
        steps: tuple[Step, ...],
        out: _Collected,
        seen: set[tuple[str, str]],
        depth: int,
    ) -> None:
        value = self._eval(ref.expr, scope, 0)
        label = _label(ref)
        if value.watches:
            out.watches.extend(self._watches(value.watches, label, steps))
        if ref.kind is RefKind.SOURCE:
            self._source(ref, value, scope, steps, out)
            return
        known = value.known
        if known is None:
            out.unresolved.append(self._unresolved(ref, value, scope))
            return
        target = _join(scope.config_dir, known)
        step = Step(label, self._rel(target))
        if ref.kind is RefKind.DEPENDENCY:
            out.dependencies.append(self._rel(_config_dir_of(target)))
        elif ref.kind is RefKind.READ_DIR:
            out.watches.append(Watch(step.path, True, (*steps, step)))
        else:
            out.watches.append(Watch(step.path, False, (*steps, step)))
        if ref.kind is RefKind.INCLUDE:
            # evaluated as part of the including stack: same directory, this file's locals
            included = _Scope(scope.config_dir, scope.stack_dir, target, target, {}, scope.includes)
            self._config(target, included, (*steps, step), out, seen, depth + 1)
        elif ref.kind is RefKind.READ_CONFIG:
            # read_terragrunt_config evaluates the file in its own directory
            read = _Scope(posixpath.dirname(target), scope.stack_dir, target)
            self._config(target, read, (*steps, step), out, seen, depth + 1)

    def _watches(self, paths: tuple[str, ...], label: str, steps: tuple[Step, ...]) -> tuple[Watch, ...]:
        """Watches on the paths whose creation or removal changes a value."""
        key = (paths, label, steps)
        if key not in self._value_watches:
            self._value_watches[key] = tuple(
                Watch(self._rel(path), False, (*steps, Step(label, self._rel(path)))) for path in paths
            )
        return self._value_watches[key]

    def _source(
        self, ref: Ref, value: _Value, scope: _Scope, steps: tuple[Step, ...], out: _Collected
    ) -> None:
        first = value.segments[0] if value.segments else ""
        if first is not None and _is_remote(first):
            return
        known = value.known
        if known is None:
            out.unresolved.append(self._unresolved(ref, value, scope))
            return
        directory = _local_source(known, scope.config_dir, self.files.is_dir)
        if directory is None:
            return
        step = Step("source", self._rel(directory))
        out.watches.append(Watch(step.path, True, (*steps, step)))
        self._modules_from(directory, (*steps, step), out)

    def _unresolved(self, ref: Ref, value: _Value, scope: _Scope) -> Unresolved:
        pattern = _pattern(value.segments)
        why = ", ".join(dict.fromkeys(value.unknowns)) or "the path"
        return Unresolved(
            self._rel(scope.file),
            ref.line,
            ref.text,
            ref.kind,
            pattern,
            f"{why} cannot be evaluated without running Terragrunt",
        )

    # -- Terraform modules --

    def _modules_from(
        self, start: str, steps: tuple[Step, ...], out: _Collected, root_module: bool = False
    ) -> None:
        """Every module reachable from `start` through local module sources, breadth first."""
        key = (start, steps, root_module)
        if key not in self._reachable:
            self._reachable[key] = self._walk_modules(start, steps, root_module)
        reached = self._reachable[key]
        out.watches.extend(reached.watches)
        out.failures.extend(reached.failures)

    def _walk_modules(self, start: str, steps: tuple[Step, ...], root_module: bool) -> _Collected:
        reached = _Collected()
        queue: deque[tuple[str, tuple[Step, ...]]] = deque([(start, steps)])
        visited = {start}
        while queue:
            directory, path = queue.popleft()
            edges = self._edges(directory, root_module and directory == start)
            reached.failures.extend(edges.failures)
            for function, target, is_dir in edges.reads:
                step = Step(function, self._rel(target))
                reached.watches.append(Watch(step.path, is_dir, (*path, step)))
            for module in edges.modules:
                step = Step("module", self._rel(module))
                reached.watches.append(Watch(step.path, True, (*path, step)))
                if module not in visited:
                    visited.add(module)
                    queue.append((module, (*path, step)))
        return reached

    def _edges(self, directory: str, root_module: bool) -> _ModuleEdges:
        key = (directory, root_module)
        if key not in self._module_edges:
            self._module_edges[key] = self._read_module(directory, root_module)
        return self._module_edges[key]

    def _read_module(self, directory: str, root_module: bool) -> _ModuleEdges:
        """A directory's module calls and reads; `root_module`: Terraform runs in it (path.root, cwd)."""
        modules: list[str] = []
        reads: list[tuple[str, str, bool]] = []
        failures: list[tuple[str, str]] = []
        for path in self.files.tf_files(directory):
            parsed = self.files.refs(path, _tf_dialect(path))
            if parsed is None:
                continue
            if isinstance(parsed, ParseFailure):
                failures.append((self._rel(path), parsed.message))
                continue
            # a stack_dir of "" leaves path.root unknown: a module's root is whoever calls it
            scope = _Scope(directory, directory if root_module else "", path, locals=parsed.locals)
            for ref in parsed.refs:
                known = self._eval(ref.expr, scope, 0).known
                if known is None:
                    # Terraform requires literal module sources; a read path built from variables
                    # names a file of whoever passes the variable, which that caller's own files cover
                    continue
                if ref.kind is RefKind.MODULE:
                    if known.startswith(("./", "../")) or known in (".", ".."):
                        modules.append(_join(directory, _strip_source(known)))
                elif posixpath.isabs(known) or root_module:
                    # relative reads are relative to the working directory: known only in a root module
                    is_dir = ref.kind is RefKind.READ_DIR
                    reads.append((ref.name, _join(directory, known), is_dir))
        return _ModuleEdges(tuple(modules), tuple(reads), tuple(failures))

    # -- evaluation --

    def _eval(self, expr: PathExpr, scope: _Scope, depth: int) -> _Value:
        if len(expr) == 1 and isinstance(expr[0], Lit):  # the common case: a plain string
            return _Value((expr[0].text,))
        value = _Value(())
        for part in expr:
            value = value + self._eval_part(part, scope, depth)
        return value

    def _eval_part(self, part: Part, scope: _Scope, depth: int) -> _Value:
        if depth > _MAX_DEPTH:
            return _unknown("a cyclic reference")
        if isinstance(part, Lit):
            return _Value((part.text,))
        if isinstance(part, Call):
            return self._eval_call(part, scope, depth)
        if isinstance(part, LocalVar):
            expr = scope.locals.get(part.name)
            return _unknown(f"local.{part.name}") if expr is None else self._eval(expr, scope, depth + 1)
        if isinstance(part, IncludeLocal):
            return self._include_local(part, scope, depth)
        if isinstance(part, ConfigLocal):
            return self._config_local(part, scope, depth)
        return _unknown(part.text)

    def _config_local(self, part: ConfigLocal, scope: _Scope, depth: int) -> _Value:
        """`local.<config>.locals.<name>` with `local.<config> = read_terragrunt_config(<path>)`."""
        written = f"local.{part.config}.locals.{part.name}"
        expr = scope.locals.get(part.config, ())
        call = expr[0] if len(expr) == 1 else None
        if not isinstance(call, Call) or call.name != "read_terragrunt_config" or not call.args:
            return _unknown(written)
        path = self._eval(call.args[0], scope, depth + 1)
        target = None if path.known is None else _join(scope.config_dir, path.known)
        parsed = self.files.refs(target, Dialect.TERRAGRUNT) if target else None
        if target is None or not isinstance(parsed, FileRefs) or part.name not in parsed.locals:
            return _unknown(written)
        # the read file is evaluated in its own directory, like read_terragrunt_config does
        read = _Scope(posixpath.dirname(target), scope.stack_dir, target, locals=parsed.locals)
        value = self._eval(parsed.locals[part.name], read, depth + 1)
        return _Value(value.segments, path.watches + value.watches, value.unknowns)

    def _include_local(self, part: IncludeLocal, scope: _Scope, depth: int) -> _Value:
        written = f"include.{part.label}.locals.{part.name}"
        target = scope.includes.get(part.label)
        parsed = self.files.refs(target, Dialect.TERRAGRUNT) if target else None
        expr = parsed.locals.get(part.name) if isinstance(parsed, FileRefs) else None
        if target is None or expr is None or not isinstance(parsed, FileRefs):
            return _unknown(written)
        included = _Scope(scope.config_dir, scope.stack_dir, target, target, parsed.locals, scope.includes)
        return self._eval(expr, included, depth + 1)

    def _eval_call(self, call: Call, scope: _Scope, depth: int) -> _Value:
        args = [self._eval(arg, scope, depth + 1) for arg in call.args]
        if call.name == "find_in_parent_folders":
            return self._find_in_parent_folders(scope.config_dir, args)
        texts = [arg.known for arg in args]
        value = None if None in texts else self._function(call.name, [t or "" for t in texts], scope)
        if value is None:
            return _unknown(f"{call.name}({'...' if args else ''})")
        return _Value((value,), tuple(w for arg in args for w in arg.watches))

    def _function(self, name: str, args: Sequence[str], scope: _Scope) -> str | None:
        """The value of a Terragrunt/Terraform path function; None when it depends on more than is known."""
        if name == "get_terragrunt_dir":
            return scope.config_dir
        if name == "path.module":
            return posixpath.dirname(scope.file)
        if name == "path.root":  # also path.cwd: the directory Terraform runs in, for a root module
            return scope.stack_dir or None
        if name == "get_original_terragrunt_dir":
            return scope.stack_dir
        if name == "get_repo_root":
            return self.top
        if name == "get_path_to_repo_root":
            return posixpath.relpath(self.top, scope.config_dir)
        if name == "dirname":
            return posixpath.dirname(args[0]) if args else None
        parent = self._parent(scope, args[0] if args else None)
        if parent is None:
            return None
        if name == "get_parent_terragrunt_dir":
            return posixpath.dirname(parent)
        if name == "path_relative_to_include":
            return posixpath.relpath(scope.stack_dir, posixpath.dirname(parent))
        if name == "path_relative_from_include":
            return posixpath.relpath(posixpath.dirname(parent), scope.stack_dir)
        return None

    def _parent(self, scope: _Scope, label: str | None) -> str | None:
        """The included file the path_relative_*/get_parent_* functions refer to, when it is certain."""
        if scope.parent is not None:
            return scope.parent
        if label is not None:
            return scope.includes.get(label)
        return next(iter(scope.includes.values())) if len(scope.includes) == 1 else None

    def _find_in_parent_folders(self, start: str, args: Sequence[_Value]) -> _Value:
        if args and args[0].known is None:
            return _Value((None,), args[0].watches, ("find_in_parent_folders(...)",))
        names = (args[0].known or "",) if args else (TERRAGRUNT_CONFIG, TERRAGRUNT_CONFIG + ".json")
        key = (posixpath.dirname(start), names)  # the search starts in the parent folder
        if key not in self._found:
            self._found[key] = self._search_parents(key[0], names)
        found, candidates = self._found[key]
        if found is not None:
            return _Value((found,), candidates)
        if len(args) > 1:  # the fallback value
            return _Value(args[1].segments, args[1].watches + candidates, args[1].unknowns)
        # Terragrunt fails here; the nearest candidate stands in, so that creating it is a change
        return _Value((candidates[0] if candidates else _join(start, "..", names[0]),), candidates)

    def _search_parents(self, first: str, names: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
        """The first file found from `first` upwards, and every candidate up to it inside the repository."""
        candidates: list[str] = []
        directory, previous = first, ""
        for _ in range(_MAX_PARENTS):
            if directory == previous:
                break
            for name in names:
                candidate = _join(directory, name)
                if _within(candidate, self.top):  # outside the repository nothing changes
                    candidates.append(candidate)
                # Terragrunt only checks that the path exists: a directory is found too
                if self.files.is_file(candidate) or self.files.is_dir(candidate):
                    return candidate, tuple(candidates)
            directory, previous = posixpath.dirname(directory), directory
        return None, tuple(candidates)

    def _rel(self, path: str) -> str:
        relative = self._relative.get(path)
        if relative is None:  # the same few paths (root.hcl, modules) recur for every stack
            relative = self._relative[path] = _relative(path, self.root)
        return relative


def build_inputs(stacks: Sequence[Stack], builder: GraphBuilder) -> dict[str, StackInputs]:
    files = builder.files
    if not isinstance(files, DiskFiles):
        return {stack.id: builder.stack_inputs(stack) for stack in stacks}
    # worker processes parse the preloaded files from the first on (parse_cache._Batch): take the stacks
    # whose files they have parsed, and when there is none, the last, whose files are parsed here
    # meanwhile; the result keeps the stacks' order
    built: dict[str, StackInputs] = {}
    pending = deque(stacks)
    while pending:
        stack = pending.popleft() if _ready(files, builder.root, pending[0]) else pending.pop()
        built[stack.id] = builder.stack_inputs(stack)
    return {stack.id: built[stack.id] for stack in stacks}


def _ready(files: DiskFiles, root: str, stack: Stack) -> bool:
    directory = _join(root, stack.id)
    if stack.tool is Tool.TERRAGRUNT:
        return files.cache.ready(_join(directory, TERRAGRUNT_CONFIG), Dialect.TERRAGRUNT)
    return all(files.cache.ready(path, _tf_dialect(path)) for path in files.tf_files(directory))


# ---- selection (pure) ----


def is_global(path: str, patterns: Sequence[str]) -> bool:
    """Whether a root-relative path matches a global pattern (`*` within a directory, `**` across)."""
    return not path.startswith("../") and any(_glob(path.split("/"), p.split("/")) for p in patterns)


def _glob(parts: Sequence[str], pattern: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_glob(parts[index:], pattern[1:]) for index in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _glob(parts[1:], pattern[1:])


def removed_stacks(
    found: Sequence[Touch],
    stack_ids: Iterable[str],
    tool: Tool,
    module_patterns: Sequence[str],
    has_tf_files: Callable[[str], bool],
) -> tuple[str, ...]:
    """Stacks whose configuration went away: not planned, but named so their metrics can be dropped."""
    current = set(stack_ids)
    removed: dict[str, None] = {}
    for touch in found:
        if not touch.gone or touch.path.startswith("../"):
            continue
        directory, name = posixpath.split(touch.path)
        directory = directory or "."
        if directory in current or any(
            p.startswith(".") or p in _NOT_STACK_DIRS for p in directory.split("/")
        ):
            continue
        if tool is Tool.TERRAGRUNT:
            # a root terragrunt.hcl is the include parent, never a stack
            if name == TERRAGRUNT_CONFIG and directory != ".":
                removed[directory] = None
        elif (
            name.endswith(_HCL_SUFFIXES + _JSON_SUFFIXES)
            and not matches_any(directory, module_patterns)
            and not has_tf_files(directory)
        ):
            removed[directory] = None
    return tuple(sorted(removed))


def select(
    stacks: Sequence[Stack],
    inputs: Mapping[str, StackInputs],
    found: Sequence[Touch],
    removed: tuple[str, ...] = (),
) -> Selection:
    """The stacks the touched paths affect, with a reason chain for each; all, with why, when unsure."""
    ids = {stack.id for stack in stacks}
    reasons: dict[str, list[str]] = {}
    index = _Index.build(inputs)

    def add(stack_id: str, reason: str) -> None:
        reasons.setdefault(stack_id, [])
        if reason not in reasons[stack_id]:
            reasons[stack_id].append(reason)

    for touch in found:
        owner = _owner(touch.path, ids)
        if owner is not None:
            add(owner, touch.description)
        for stack_id, watch in index.files.get(touch.path, ()):
            add(stack_id, _chain(watch.steps, touch))
        for directory in _ancestors(touch.path):
            for stack_id, watch in index.directories.get(directory, ()):
                add(stack_id, _chain(watch.steps, touch))
            if directory not in ids:  # depends on a directory that is no stack (any more)
                for stack_id in index.dependents.get(directory, ()):
                    add(stack_id, f"dependency {_show(directory)} <- {touch.description}")

    queue = deque(reasons)
    while queue:
        dependency = queue.popleft()
        for stack_id in index.dependents.get(dependency, ()):
            first = stack_id not in reasons
            add(stack_id, f"dependency {_show(dependency)} <- {reasons[dependency][0]}")
            if first:
                queue.append(stack_id)

    unowned = [touch.path for touch in found if _owner(touch.path, ids) is None]
    fallback = _fallback_reason(stacks, inputs, found, reasons.keys(), unowned)
    if fallback is not None:
        return everything(stacks, fallback, removed, {k: tuple(v) for k, v in reasons.items()})
    return Selection(
        tuple(stack for stack in stacks if stack.id in reasons),
        MODE,
        removed,
        {stack.id: tuple(reasons[stack.id]) for stack in stacks if stack.id in reasons},
    )


def everything(
    stacks: Sequence[Stack],
    fallback_reason: str | None,
    removed: tuple[str, ...] = (),
    known: Mapping[str, tuple[str, ...]] | None = None,
    default: tuple[str, ...] = ("fallback: every stack is planned (see the fallback reason)",),
) -> Selection:
    """Every stack, keeping the reasons already found and giving the others `default`."""
    known = known or {}
    reasons = {stack.id: known.get(stack.id) or default for stack in stacks}
    return Selection(tuple(stacks), MODE, removed, reasons, fallback_reason)


def select_global(found: Sequence[Touch], patterns: Sequence[str]) -> tuple[str, ...]:
    """The reasons to plan everything: touched paths that match a global pattern."""
    return tuple(f"global file {touch.description}" for touch in found if is_global(touch.path, patterns))


@dataclass(frozen=True)
class _Index:
    """The reverse of every stack's inputs, built once: path -> the stacks that read it."""

    files: Mapping[str, list[tuple[str, Watch]]]
    directories: Mapping[str, list[tuple[str, Watch]]]
    dependents: Mapping[str, list[str]]

    @classmethod
    def build(cls, inputs: Mapping[str, StackInputs]) -> _Index:
        files: dict[str, list[tuple[str, Watch]]] = {}
        directories: dict[str, list[tuple[str, Watch]]] = {}
        dependents: dict[str, list[str]] = {}
        for stack_id, stack_inputs in inputs.items():
            for watch in stack_inputs.watches:
                (directories if watch.directory else files).setdefault(watch.path, []).append(
                    (stack_id, watch)
                )
            for dependency in stack_inputs.dependencies:
                dependents.setdefault(dependency, []).append(stack_id)
        return cls(files, directories, dependents)


def _fallback_reason(
    stacks: Sequence[Stack],
    inputs: Mapping[str, StackInputs],
    found: Sequence[Touch],
    selected: Iterable[str],
    unowned: Sequence[str],
) -> str | None:
    """Why the selection cannot be trusted: something unknown in a stack that was not selected anyway."""
    chosen = set(selected)
    paths = [touch.path for touch in found]
    directories = sorted({d for path in paths for d in _ancestors(path)} | chosen)
    # the same unresolved reference (in a shared include) recurs for every stack: match it once
    matches: dict[Unresolved, str | None] = {}
    for stack in stacks:
        if stack.id in chosen:  # selected anyway: what else it reads cannot add anything
            continue
        stack_inputs = inputs.get(stack.id, StackInputs())
        for file, message in stack_inputs.failures:
            return f"{_show(file)} ({stack.id} reads it): {message}; cannot tell what it depends on"
        for unresolved in stack_inputs.unresolved:
            if unresolved not in matches:
                matches[unresolved] = _may_refer_to(unresolved, paths, directories, unowned)
            match = matches[unresolved]
            if match is not None:
                return (
                    f"{_show(unresolved.file)}:{unresolved.line}: cannot resolve {unresolved.text} "
                    f"({unresolved.why}) and it may refer to {_show(match)}, read by {stack.id}"
                )
    return None


def _may_refer_to(
    unresolved: Unresolved, paths: Sequence[str], directories: Sequence[str], unowned: Sequence[str]
) -> str | None:
    """A changed path (or selected stack) the unresolved reference could lead to, if any."""
    if unresolved.kind in (RefKind.INCLUDE, RefKind.READ_CONFIG):
        # an unknown configuration can depend on anything: its own includes, sources, dependencies
        return paths[0] if paths else None
    pattern = re.compile(unresolved.pattern)
    candidates = directories if unresolved.directory else paths
    match = next((path for path in candidates if pattern.fullmatch(path)), None)
    if match is None and unresolved.kind is RefKind.DEPENDENCY:  # config_path may name the file
        configs = (_join(d, TERRAGRUNT_CONFIG) for d in directories)
        match = next((path for path in configs if pattern.fullmatch(path)), None)
    if match is None and unresolved.kind in (RefKind.SOURCE, RefKind.MODULE):
        # an unknown module's own module calls are unknown too: any change outside the stacks'
        # directories could be in a module it calls
        match = unowned[0] if unowned else None
    return match


def _owner(path: str, ids: set[str]) -> str | None:
    """The deepest stack whose directory holds the path."""
    for directory in _ancestors(path):
        if directory in ids:
            return directory
    return "." if "." in ids and not path.startswith("../") else None


def _ancestors(path: str) -> Iterator[str]:
    """The path itself and each directory above it, deepest first, up to (not including) the root."""
    while path and path not in (".", "..") and not path.endswith("/.."):
        yield path
        path = posixpath.dirname(path)


def _chain(steps: Sequence[Step], touch: Touch) -> str:
    if steps and steps[-1].path == touch.path:  # "file x.json <- x.json changed" says it twice
        return " <- ".join([*map(str, steps[:-1]), f"{steps[-1].label} {touch.description}"])
    return " <- ".join([*map(str, steps), touch.description])


def explain_lines(selection: Selection) -> list[str]:
    """`--explain`: one line per reason, `stack <- link <- ... <- what changed`."""
    lines = [f"all stacks selected: {selection.fallback_reason}"] if selection.fallback_reason else []
    for stack in selection.stacks:
        for reason in selection.reasons.get(stack.id, ()) or ("(no reason recorded)",):
            lines.append(f"{stack.id} <- {reason}")
    lines.extend(
        f"{stack_id} removed: not planned; its metrics can be dropped" for stack_id in selection.removed
    )
    return lines


# ---- path helpers ----


def _join(base: str, *parts: str) -> str:
    # posixpath.join without its generality (bytes, os.fspath) costs a third as much on the hot path
    path = base
    for part in parts:
        path = part if part.startswith("/") else f"{path}/{part}" if part else path
    return posixpath.normpath(path)


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _relative(path: str, root: str) -> str:
    if path == root:
        return "."
    prefix = root.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else posixpath.relpath(path, root)


def _show(path: str) -> str:
    """A path for one line of output: control characters (a newline in a file name) escaped."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _label(ref: Ref) -> str:
    if ref.kind in (RefKind.READ_FILE, RefKind.READ_DIR) and ref.name:
        return ref.name
    return ref.kind.value


def _config_dir_of(target: str) -> str:
    # config_path may name the configuration file rather than its directory
    return posixpath.dirname(target) if target.endswith(".hcl") else target


def _is_remote(text: str) -> bool:
    # go-getter forced getters (git::, s3::) and URLs; registry addresses are caught by _local_source
    return "::" in text or "://" in text


def _strip_source(source: str) -> str:
    # `?ref=` queries do not apply to local paths; `//` marks the subdirectory that is run
    path = source.split("?", 1)[0]
    return re.sub(r"(?<!^)//", "/", path)


def _local_source(source: str, config_dir: str, is_dir: Callable[[str], bool]) -> str | None:
    """The directory of a local `terraform { source }`; None for remote ones."""
    if _is_remote(source):
        return None
    path = _strip_source(source)
    directory = _join(config_dir, path) if path else config_dir
    explicit = path.startswith(("/", "./", "../")) or path in (".", "..")
    # a bare `org/name/provider` is a registry address unless such a directory exists here
    return directory if explicit or is_dir(directory) else None


def _pattern(segments: Sequence[str | None]) -> str:
    """A regex for what a partly known path could be: only its literal tail is certain.

    Whatever precedes the last unknown part is no anchor, since the unknown part may hold `..`; of the
    tail, what follows its last `..` is the end of the path, whatever came before.
    """
    last_unknown = max((i for i, segment in enumerate(segments) if segment is None), default=-1)
    tail = "".join(segment or "" for segment in segments[last_unknown + 1 :])
    parts = tail.split("/")
    if ".." in parts:
        parts = ["", *parts[len(parts) - parts[::-1].index("..") :]]  # a fresh boundary after `..`
    glued, whole = parts[0], [part for part in parts[1:] if part not in ("", ".")]
    if len(parts) > 1 and not glued:  # the tail starts at a `/`: whole names end the path
        return "(?:.*/)?" + re.escape("/".join(whole)) if whole else ".*"
    return ".*" + re.escape("/".join([glued, *whole]))


def _tf_dialect(path: str) -> Dialect:
    return Dialect.TERRAFORM_JSON if path.endswith(_JSON_SUFFIXES) else Dialect.TERRAFORM


# ---- the disk (I/O edge) ----


class DiskFiles:
    """`Files` on the real work tree, caching every answer for the run."""

    def __init__(self, cache: RefCache | None = None) -> None:
        self.cache = cache or RefCache()
        self._is_file: dict[str, bool] = {}
        self._is_dir: dict[str, bool] = {}
        self._tf_files: dict[str, tuple[str, ...]] = {}

    def is_file(self, path: str) -> bool:
        if path not in self._is_file:
            self._is_file[path] = os.path.isfile(path)  # noqa: PTH113 - str paths on a hot path
        return self._is_file[path]

    def is_dir(self, path: str) -> bool:
        if path not in self._is_dir:
            self._is_dir[path] = os.path.isdir(path)  # noqa: PTH112
        return self._is_dir[path]

    def tf_files(self, directory: str) -> tuple[str, ...]:
        if directory not in self._tf_files:
            try:
                with os.scandir(directory) as entries:
                    names = sorted(
                        e.name
                        for e in entries
                        if e.name.endswith(_HCL_SUFFIXES + _JSON_SUFFIXES) and e.is_file()
                    )
            except OSError:
                names = []
            self._tf_files[directory] = tuple(_join(directory, name) for name in names)
        return self._tf_files[directory]

    def refs(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None:
        return self.cache.get(path, dialect)

    def preload(self, paths: Sequence[str], dialect: Dialect) -> None:
        self.cache.preload(paths, dialect)


def preload_stacks(stacks: Sequence[Stack], root: str, files: Files) -> None:
    """Parses every stack's own files up front, so that many files are parsed in parallel."""
    directories = [_join(root, stack.id) for stack in stacks]
    configs = [
        _join(d, TERRAGRUNT_CONFIG)
        for d, s in zip(directories, stacks, strict=True)
        if s.tool is Tool.TERRAGRUNT
    ]
    files.preload(configs, Dialect.TERRAGRUNT)
    tf = [path for d in directories for path in files.tf_files(d)]
    files.preload([p for p in tf if _tf_dialect(p) is Dialect.TERRAFORM], Dialect.TERRAFORM)
    files.preload([p for p in tf if _tf_dialect(p) is Dialect.TERRAFORM_JSON], Dialect.TERRAFORM_JSON)


# ---- the front door ----


def select_for_changes(
    root: Path,
    stacks: Sequence[Stack],
    changes: git.ChangeSet,
    global_patterns: Sequence[str] | None = None,
    *,
    only: Collection[str] | None = None,
    tool: Tool | None = None,
    module_patterns: Sequence[str] = ("modules/",),
    files: Files | None = None,
) -> Selection:
    """The selection for changes already collected (`git.collect_changes`), reading files with `files`.

    `stacks` must be every stack under the root, so that a dependency chain through a stack that is
    not to be planned still counts; `only` (ids, e.g. what include/exclude globs keep) limits what is
    planned. `Selection.known` is every stack's id.
    """
    with _gc_paused():
        selection = _select_for_changes(root, stacks, changes, global_patterns, tool, module_patterns, files)
    return _restrict(selection, stacks, only)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cycle collection meanwhile: parse results and the graph are many objects and no cycles.

    Allocating them would otherwise trigger full collections that walk every live object (a third
    of a selection's time on a large repository) and find nothing to free.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _select_for_changes(
    root: Path,
    stacks: Sequence[Stack],
    changes: git.ChangeSet,
    global_patterns: Sequence[str] | None,
    tool: Tool | None,
    module_patterns: Sequence[str],
    files: Files | None,
) -> Selection:
    if changes.fallback_reason is not None:
        return everything(stacks, changes.fallback_reason)
    root_dir = root.resolve().as_posix()
    files = files or DiskFiles()
    tool = tool or (stacks[0].tool if stacks else Tool.TERRAGRUNT)
    found = touches(changes.changes, changes.top.resolve().as_posix(), root_dir)
    removed = removed_stacks(
        found,
        (stack.id for stack in stacks),
        tool,
        module_patterns,
        lambda directory: bool(files.tf_files(_join(root_dir, directory))),
    )
    if not found:
        return Selection((), MODE, removed)
    patterns = DEFAULT_GLOBAL_PATTERNS if global_patterns is None else global_patterns
    global_reasons = select_global(found, patterns)
    if global_reasons:  # nothing needs parsing: every stack is planned anyway
        return everything(stacks, None, removed, default=global_reasons)
    preload_stacks(stacks, root_dir, files)
    builder = GraphBuilder(root_dir, changes.top.resolve().as_posix(), files)
    try:
        inputs = build_inputs(stacks, builder)
    finally:
        if isinstance(files, DiskFiles):
            files.cache.close()  # normally done already: every preloaded file was asked for
    return select(stacks, inputs, found, removed)


def _restrict(selection: Selection, stacks: Sequence[Stack], only: Collection[str] | None) -> Selection:
    planned = tuple(s for s in selection.stacks if only is None or s.id in only)
    return Selection(
        planned,
        selection.mode,
        selection.removed,
        {s.id: selection.reasons[s.id] for s in planned if s.id in selection.reasons},
        selection.fallback_reason,
        tuple(stack.id for stack in stacks),
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
    cache: bool = True,
) -> Selection:
    """`--changed`: the stacks a change since `base` can affect (mode "changed").

    `stacks`: every stack under the root (dependency chains may run through stacks not planned);
    `only`: the ids that may be planned (after include/exclude), None for all. `base` None means the
    merge-base of origin/HEAD's branch with HEAD, else HEAD~1. `global_patterns` None means
    DEFAULT_GLOBAL_PATTERNS. With `cache`, parse results are kept in the repository's git directory
    for the next run. Raises git.GitError (NotAGitRepoError, UnknownRefError) with a one-line
    message for usage errors.
    """
    changes = git.collect_changes(root, base, include_uncommitted, deepen_by)
    store = git.common_dir(changes.top) / CACHE_FILE if cache and changes.fallback_reason is None else None
    with _gc_paused():  # loading and saving the store allocate many objects too
        files = DiskFiles(RefCache(store=store))
        selection = select_for_changes(
            root,
            stacks,
            changes,
            global_patterns,
            only=only,
            tool=tool,
            module_patterns=module_patterns,
            files=files,
        )
        files.cache.save()
    return selection
