"""Growing the frontier: which units and modules to parse, from the change outward, until nothing new.

Every configuration file is first read by the literal pre-filter (literals.py). A file is parsed only
when one of its tails can end a path that matters: a changed path (or a directory holding one), a
module a change reaches, a shared file (root.hcl, _envcommon/x.hcl, env.hcl) whose references reach
one, or a unit already chosen (for those depending on it). What is parsed may make more paths matter;
the loop stops when a round adds none. Units the loop never parses cannot name any path that matters,
so their inputs cannot change the choice.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from driftctl.model import Stack
from driftctl.selection import choose, literals
from driftctl.selection.evaluate import MAX_DEPTH, TERRAGRUNT_CONFIG
from driftctl.selection.files import DiskFiles
from driftctl.selection.graph import TF_SUFFIXES, Graph, ModuleEdges, StackInputs, config_of
from driftctl.selection.paths import ancestors, join, relative
from driftctl.selection.refs import Call, Dialect, FileRefs, Lit, LocalVar, PathExpr

CONFIG_SUFFIXES = (".hcl", ".hcl.json", *TF_SUFFIXES)
_NO_REFERENCES = frozenset({".terraform.lock.hcl"})
_Tail = tuple[str, bool]  # the names a path ends with, and whether text before may extend the first


@dataclass(frozen=True)
class Reached:
    inputs: dict[str, StackInputs]  # the units parsed, by id
    modules: tuple[str, ...]  # root-relative module directories a change reaches


class Frontier:
    def __init__(self, root: str, stacks: Sequence[Stack], files: DiskFiles, graph: Graph) -> None:
        self.root, self.stacks, self.files, self.graph = root, stacks, files, graph
        self._units = {join(root, stack.id): stack for stack in stacks}
        self._configs: dict[str, list[Stack]] = {}  # a config file -> the units it configures
        for stack in stacks:
            config = config_of(stack, join(root, stack.id))
            if config is not None:
                self._configs.setdefault(config, []).append(stack)
        self._ids = {stack.id for stack in stacks}
        self._touched: set[str] = set()  # root-relative paths a change touched
        self._holding: set[str] = set()  # ... and the directories holding them
        self._wanted: set[str] = set()  # suffixes of every path that matters so far
        self._new: list[str] = []  # ... added since the last round
        self._chosen: set[str] = set()  # units a change reaches (choose.py says why, once, at the end)
        self._dependents: dict[str, list[str]] = {}  # a unit's directory -> the parsed units depending on it

    def grow(self, paths: Sequence[str], found: Sequence[choose.Touch]) -> Reached:
        """`paths`: every configuration file (absolute); `found`: what changed."""
        scanned = {path: self._scan(path) for path in dict.fromkeys(paths)}
        unseen = {path for path, lits in scanned.items() if lits is not None}
        inputs: dict[str, StackInputs] = {}
        modules: set[str] = set()  # module directories to check, absolute
        shared: set[str] = set()  # shared configuration files to check, absolute
        hot_modules, hot_shared = self._start(found), set[str]()
        candidates = [path for path in unseen if scanned[path].unbounded]  # type: ignore[union-attr]
        # a Stacks unit reads its stack files and its source: few, and always worth reading
        generated = [stack for stack in self.stacks if stack.stack_files]
        while True:
            units = [*generated, *(unit for path in candidates for unit in self._units_of(path))]
            generated = []
            for unit in units:
                if unit.id not in inputs:
                    inputs[unit.id] = self.graph.stack_inputs(unit)
                    self._add(unit.id, inputs[unit.id])
            for path in candidates:
                unseen.discard(path)
                if self._units_of(path):
                    continue
                if path.endswith(TF_SUFFIXES):
                    modules.add(posixpath.dirname(path))
                else:
                    shared.add(path)
            for directory in sorted(modules):
                rel = relative(directory, self.root)
                if rel not in hot_modules and self._reaches(self.graph.module_edges(directory), hot_modules):
                    hot_modules.add(rel)
                    self._want(literals.suffixes(rel))
            for path in sorted(shared - hot_shared):
                if self._shared_reaches(path):
                    hot_shared.add(path)
                    self._want(literals.suffixes(relative(path, self.root)))
            if not self._new:
                break
            new, self._new = self._new, []
            candidates = [
                path
                for path in unseen
                if literals.matches(scanned[path], self._wanted, new)  # type: ignore[arg-type]
            ]
        return Reached(inputs, tuple(sorted(hot_modules)))

    def _scan(self, path: str) -> literals.Literals | None:
        if posixpath.basename(path) in _NO_REFERENCES:
            return None
        data = self.files.data(path)
        if data is None:
            return None
        tf = path.endswith(TF_SUFFIXES)
        # a unit's or a module's own file is evaluated in its directory; a shared one in its includer's,
        # a Stacks unit's where it is generated
        own = tf or any(not unit.stack_files for unit in self._units_of(path))
        directory = relative(posixpath.dirname(path), self.root) if own else None
        return literals.scan(data.decode("utf-8", "replace"), directory, references=not tf)

    def _units_of(self, path: str) -> list[Stack]:
        """The units a file configures: their config, or a Terraform file in a unit's directory."""
        if path.endswith(TF_SUFFIXES):
            unit = self._units.get(posixpath.dirname(path))
            return [unit] if unit is not None else []
        return self._configs.get(path, [])

    def _want(self, suffixes: Iterable[str]) -> None:
        for suffix in suffixes:
            if suffix not in self._wanted:
                self._wanted.add(suffix)
                self._new.append(suffix)

    def _start(self, found: Sequence[choose.Touch]) -> set[str]:
        """Every path a change touched matters, and every directory holding one; returns its modules."""
        modules: set[str] = set()
        for touch in found:
            self._touched.add(touch.path)
            for path in ancestors(touch.path):
                self._want(literals.suffixes(path))
                if path != touch.path:
                    self._holding.add(path)
                    if path not in self._ids and self.files.tf_files(join(self.root, path)):
                        modules.add(path)
                elif path.endswith(TF_SUFFIXES) and posixpath.dirname(path) not in self._ids:
                    modules.add(posixpath.dirname(path) or ".")
        for touch in found:
            owner = choose.owner(touch.path, self._ids)
            if owner is not None:
                self._choose(owner)
        return modules

    def _add(self, unit_id: str, inputs: StackInputs) -> None:
        """A parsed unit: chosen when its inputs hold a change or a chosen unit (choose.affected's rule)."""
        for dependency in inputs.dependencies:
            self._dependents.setdefault(dependency, []).append(unit_id)
        if unit_id in self._chosen:
            return
        if any(
            dependency in self._chosen or dependency in self._holding for dependency in inputs.dependencies
        ) or any(
            watch.path in self._touched or (watch.directory and watch.path in self._holding)
            for watch in inputs.watches
        ):
            self._choose(unit_id)

    def _choose(self, unit_id: str) -> None:
        pending = [unit_id]
        while pending:
            chosen = pending.pop()
            if chosen in self._chosen:
                continue
            self._chosen.add(chosen)
            self._want(literals.suffixes(chosen))
            # dependency config_path and read_terragrunt_config may name the unit's file
            self._want(s for s in literals.suffixes(f"{chosen}/{TERRAGRUNT_CONFIG}") if "/" in s)
            pending.extend(self._dependents.get(chosen, ()))

    def _reaches(self, edges: ModuleEdges, hot: set[str]) -> bool:
        """Whether a module calls a module a change reaches, or reads a changed file."""
        for module in edges.modules:
            rel = relative(module, self.root)
            if rel in hot or rel in self._holding:
                return True
        return bool(edges.failures) or any(
            relative(path, self.root) in (self._holding if is_dir else self._touched)
            for _, path, is_dir in edges.reads
        )

    def _shared_reaches(self, path: str) -> bool:
        """Whether a shared file's references can end a path that matters, in whatever unit includes it."""
        parsed = self.files.refs(path, Dialect.TERRAGRUNT)
        if not isinstance(parsed, FileRefs):
            return parsed is not None  # unparseable: the units reading it must say so
        for ref in parsed.refs:
            tail = _tail(ref.expr, parsed, 0)
            if tail is None or literals.tail_matches(*tail, self._wanted):
                return True
        return False


def _tail(expr: PathExpr, parsed: FileRefs, depth: int) -> _Tail | None:
    """How a path expression ends, evaluated in no unit: None when an unknown part ends it."""
    if not expr or depth > MAX_DEPTH:
        return None
    last = expr[-1]
    if isinstance(last, Lit):
        names, glued = literals.normal_tail(last.text, len(expr) > 1)
        return (names, glued) if names else None
    if isinstance(last, Call) and last.name == "find_in_parent_folders":
        return _tail(last.args[0], parsed, depth + 1) if last.args else (TERRAGRUNT_CONFIG, False)
    if isinstance(last, LocalVar) and last.name in parsed.locals:
        local = _tail(parsed.locals[last.name], parsed, depth + 1)
        return None if local is None else (local[0], local[1] or len(expr) > 1)
    return None
