"""The graph: what one unit reads (its inputs), and what one module directory calls.

A unit's inputs are the files and directories whose change affects it (its config, everything it
includes or reads, its source and the modules that source calls, transitively) and the units it
depends on. References that cannot be evaluated are kept as `Unresolved`, with a pattern of what they
can be, for choose.py to decide whether they matter.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from driftctl.model import Stack, Tool
from driftctl.selection.evaluate import (
    MAX_DEPTH,
    TERRAGRUNT_CONFIG,
    Evaluator,
    Files,
    Scope,
    Value,
    pattern,
)
from driftctl.selection.paths import ancestors, join, relative, show
from driftctl.selection.refs import Dialect, FileRefs, ParseFailure, Ref, RefKind

TF_SUFFIXES = (".tf", ".tofu", ".tf.json", ".tofu.json")


@dataclass(frozen=True)
class Step:
    """One link of a reason's chain, e.g. `source modules/app`."""

    label: str
    path: str

    def __str__(self) -> str:
        return f"{self.label} {show(self.path)}"


@dataclass(frozen=True)
class Watch:
    """A file (or a directory and everything beneath it) whose change affects a unit."""

    path: str
    directory: bool
    steps: tuple[Step, ...]  # from the unit to this path, e.g. (source modules/app, module modules/vpc)


@dataclass(frozen=True)
class Unresolved:
    """A reference whose path cannot be worked out statically; `pattern` is what it could be."""

    file: str
    line: int
    text: str
    kind: RefKind
    pattern: str  # a regular expression over root-relative paths
    why: str


@dataclass(frozen=True)
class StackInputs:
    watches: tuple[Watch, ...] = ()
    dependencies: tuple[str, ...] = ()  # root-relative directories of the units it depends on
    unresolved: tuple[Unresolved, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (root-relative file, why it cannot be read)
    # a unit whose config comes from a remote source: a change to a `*.hcl` file directly in one of
    # these directories (its ancestors) may change what that config reads
    hcl_dirs: tuple[str, ...] = ()


@dataclass
class _Collected:
    watches: list[Watch] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    hcl_dirs: list[str] = field(default_factory=list)

    def freeze(self) -> StackInputs:
        return StackInputs(
            tuple(dict.fromkeys(self.watches)),
            tuple(dict.fromkeys(self.dependencies)),
            tuple(dict.fromkeys(self.unresolved)),
            tuple(dict.fromkeys(self.failures)),
            tuple(dict.fromkeys(self.hcl_dirs)),
        )


@dataclass(frozen=True)
class ModuleEdges:
    """What one directory's Terraform files refer to."""

    modules: tuple[str, ...] = ()  # absolute directories of local module sources
    reads: tuple[tuple[str, str, bool], ...] = ()  # (function, absolute path, is a directory)
    failures: tuple[tuple[str, str], ...] = ()


class Graph:
    """Works out units' inputs; parses, module edges and module walks are shared between units."""

    def __init__(self, root: str, top: str, files: Files) -> None:
        self.root, self.files = root, files
        self.evaluator = Evaluator(top, files)
        self._module_edges: dict[tuple[str, bool], ModuleEdges] = {}
        # units with the same source reach the same modules the same way: one walk for all of them
        self._reachable: dict[tuple[str, tuple[Step, ...], bool], _Collected] = {}

    def stack_inputs(self, stack: Stack) -> StackInputs:
        directory = join(self.root, stack.id)
        collected = _Collected()
        for stack_file in stack.stack_files:  # a Stacks unit: generated from these
            step = Step("stack file", self._rel(stack_file.as_posix()))
            collected.watches.append(Watch(step.path, False, (step,)))
        if stack.source_dir is not None:  # ... out of this local source, copied as it is
            step = Step("unit source", self._rel(stack.source_dir.as_posix()))
            collected.watches.append(Watch(step.path, True, (step,)))
        if stack.tool is Tool.TERRAGRUNT:
            config = config_of(stack, directory)
            if config is not None:  # evaluated where the unit runs (a Stacks unit: where it is generated)
                scope = Scope(directory, directory, config, values=self._values(stack, directory))
                self._config(config, scope, (), collected, set(), 0)
            else:  # a remote source: whatever it reads, it can only find it above the unit
                collected.hcl_dirs.extend([*ancestors(posixpath.dirname(stack.id)), "."])
        # Terraform files in the unit's own directory (all of a Terraform stack; an overlay on the
        # source for Terragrunt) call modules too; a Terraform stack is also the working directory
        self._modules_from(directory, (), collected, root_module=stack.tool is not Tool.TERRAGRUNT)
        return collected.freeze()

    def _values(self, stack: Stack, directory: str) -> dict[str, Value]:
        """The `values` a Stacks unit's block passes, evaluated in its stack file (a nested stack's
        values are not followed: what uses them stays unknown)."""
        stack_file = stack.stack_file
        parsed = self.files.refs(stack_file.as_posix(), Dialect.TERRAGRUNT) if stack_file else None
        if stack_file is None or not isinstance(parsed, FileRefs):
            return {}
        exprs = parsed.units.get(directory.rsplit("/.terragrunt-stack/", 1)[-1], {})
        where = Scope(stack_file.parent.as_posix(), directory, stack_file.as_posix(), locals=parsed.locals)
        return {name: self.evaluator.eval(expr, where) for name, expr in exprs.items()}

    def module_edges(self, directory: str, root_module: bool = False) -> ModuleEdges:
        key = (directory, root_module)
        if key not in self._module_edges:
            self._module_edges[key] = self._read_module(directory, root_module)
        return self._module_edges[key]

    # -- Terragrunt configurations --

    def _config(
        self,
        path: str,
        scope: Scope,
        steps: tuple[Step, ...],
        out: _Collected,
        seen: set[tuple[str, str]],
        depth: int,
    ) -> None:
        if (path, scope.config_dir) in seen or depth > MAX_DEPTH:
            return
        seen.add((path, scope.config_dir))
        parsed = self.files.refs(path, Dialect.TERRAGRUNT)
        if parsed is None:  # missing: the watch on it is all there is to know
            return
        if isinstance(parsed, ParseFailure):
            out.failures.append((self._rel(path), parsed.message))
            return
        includes = scope.includes
        if depth == 0:  # the unit's own config: its includes are what include.<label> means
            includes = self._includes(
                parsed.refs, Scope(scope.config_dir, scope.unit_dir, path, None, parsed.locals)
            )
        scope = Scope(
            scope.config_dir, scope.unit_dir, scope.file, scope.parent, parsed.locals, includes, scope.values
        )
        for ref in parsed.refs:
            self._ref(ref, scope, steps, out, seen, depth)

    def _includes(self, refs: Iterable[Ref], scope: Scope) -> dict[str, str]:
        targets: dict[str, str] = {}
        for ref in refs:
            if ref.kind is RefKind.INCLUDE:
                known = self.evaluator.eval(ref.expr, scope).known
                if known is not None:
                    targets[ref.name] = join(scope.config_dir, known)
        return targets

    def _ref(
        self,
        ref: Ref,
        scope: Scope,
        steps: tuple[Step, ...],
        out: _Collected,
        seen: set[tuple[str, str]],
        depth: int,
    ) -> None:
        value = self.evaluator.eval(ref.expr, scope)
        label = ref.name if ref.kind in (RefKind.READ_FILE, RefKind.READ_DIR) and ref.name else ref.kind.value
        out.watches.extend(
            Watch(self._rel(path), False, (*steps, Step(label, self._rel(path)))) for path in value.watches
        )
        if ref.kind is RefKind.SOURCE:
            self._source(ref, value, scope, steps, out)
            return
        known = value.known
        if known is None:
            out.unresolved.append(self._unresolved(ref, value, scope))
            return
        target = join(scope.config_dir, known)
        step = Step(label, self._rel(target))
        if ref.kind is RefKind.DEPENDENCY:
            # config_path may name the configuration file rather than its directory
            out.dependencies.append(
                self._rel(posixpath.dirname(target) if target.endswith(".hcl") else target)
            )
        else:
            out.watches.append(Watch(step.path, ref.kind is RefKind.READ_DIR, (*steps, step)))
        if ref.kind is RefKind.INCLUDE:
            # evaluated as part of the including unit: same directory, this file's locals
            included = Scope(
                scope.config_dir, scope.unit_dir, target, target, {}, scope.includes, scope.values
            )
            self._config(target, included, (*steps, step), out, seen, depth + 1)
        elif ref.kind is RefKind.READ_CONFIG:
            # read_terragrunt_config evaluates the file in its own directory
            read = Scope(posixpath.dirname(target), scope.unit_dir, target)
            self._config(target, read, (*steps, step), out, seen, depth + 1)

    def _source(self, ref: Ref, value: Value, scope: Scope, steps: tuple[Step, ...], out: _Collected) -> None:
        first = value.segments[0] if value.segments else ""
        if first is not None and is_remote(first):
            return
        known = value.known
        if known is None:
            out.unresolved.append(self._unresolved(ref, value, scope))
            return
        directory = local_source(known, scope.config_dir, self.files.is_dir)
        if directory is None:
            return
        step = Step("source", self._rel(directory))
        out.watches.append(Watch(step.path, True, (*steps, step)))
        self._modules_from(directory, (*steps, step), out)

    def _unresolved(self, ref: Ref, value: Value, scope: Scope) -> Unresolved:
        segments = value.segments
        if ref.kind in (RefKind.SOURCE, RefKind.MODULE) and segments and segments[-1] is not None:
            segments = (*segments[:-1], strip_source(segments[-1]))  # `?ref=` and `//` are no path
        why = ", ".join(dict.fromkeys(value.unknowns)) or "the path"
        return Unresolved(
            self._rel(scope.file),
            ref.line,
            ref.text,
            ref.kind,
            pattern(segments, scope.config_dir, self.root),
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
            edges = self.module_edges(directory, root_module and directory == start)
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

    def _read_module(self, directory: str, root_module: bool) -> ModuleEdges:
        """A directory's module calls and reads; `root_module`: Terraform runs in it (path.root, cwd)."""
        modules: list[str] = []
        reads: list[tuple[str, str, bool]] = []
        failures: list[tuple[str, str]] = []
        for path in self.files.tf_files(directory):
            parsed = self.files.refs(path, tf_dialect(path))
            if parsed is None:
                continue
            if isinstance(parsed, ParseFailure):
                failures.append((self._rel(path), parsed.message))
                continue
            # a unit_dir of "" leaves path.root unknown: a module's root is whoever calls it
            scope = Scope(directory, directory if root_module else "", path, locals=parsed.locals)
            for ref in parsed.refs:
                known = self.evaluator.eval(ref.expr, scope).known
                if known is None:
                    # Terraform requires literal module sources; a read path built from variables
                    # names a file of whoever passes the variable, which that caller's own files cover
                    continue
                if ref.kind is RefKind.MODULE:
                    if known.startswith(("./", "../")) or known in (".", ".."):
                        modules.append(join(directory, strip_source(known)))
                elif posixpath.isabs(known) or root_module:
                    # relative reads are relative to the working directory: known only in a root module
                    reads.append((ref.name, join(directory, known), ref.kind is RefKind.READ_DIR))
        return ModuleEdges(tuple(modules), tuple(reads), tuple(failures))

    def _rel(self, path: str) -> str:
        return relative(path, self.root)


def config_of(stack: Stack, directory: str) -> str | None:
    """The Terragrunt config a unit runs with; None for a Stacks unit whose source is remote."""
    if stack.config is not None:
        return stack.config.as_posix()
    return None if stack.stack_files else join(directory, TERRAGRUNT_CONFIG)


def tf_dialect(path: str) -> Dialect:
    return Dialect.TERRAFORM_JSON if path.endswith((".tf.json", ".tofu.json")) else Dialect.TERRAFORM


def is_remote(text: str) -> bool:
    # go-getter forced getters (git::, s3::) and URLs; registry addresses are caught by local_source
    return "::" in text or "://" in text


def strip_source(source: str) -> str:
    # `?ref=` queries do not apply to local paths; `//` marks the subdirectory that is run
    path = source.split("?", 1)[0]
    return re.sub(r"(?<!^)//", "/", path)


def local_source(source: str, config_dir: str, is_dir: Callable[[str], bool]) -> str | None:
    """The directory of a local `terraform { source }`; None for remote ones."""
    if is_remote(source):
        return None
    path = strip_source(source)
    directory = join(config_dir, path) if path else config_dir
    explicit = path.startswith(("/", "./", "../")) or path in (".", "..")
    # a bare `org/name/provider` is a registry address unless such a directory exists here
    return directory if explicit or is_dir(directory) else None
