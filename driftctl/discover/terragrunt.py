"""Terragrunt's units, as `run --all` sees them, read from the files alone (no network, no binary).

- A unit is a directory with `terragrunt.hcl` (or `terragrunt.hcl.json`, read when there is no
  `.hcl`), unless another config includes it: include parents (a legacy root `terragrunt.hcl`,
  `prod/terragrunt.hcl`) are found from the include graph, whatever their name.
- The units of a `terragrunt.stack.hcl` are where `terragrunt stack generate` writes them:
  `<stack dir>/.terragrunt-stack/<path>` (`no_dot_terragrunt_stack = true`: `<stack dir>/<path>`);
  a nested `stack` block with a local source nests its own units under its generated dir. Facts from
  Terragrunt's pkg/config/stack.go (v0.99.4: generateComponent, copyFiles, isLocal, GetUnitDir).
- `exclude { if, actions }` (Terragrunt >= 0.68.16) with `plan`, `all` or `all_except_output` among
  its actions, and `skip = true` (Terragrunt < 0.93), leave a unit out, as `run --all plan` does;
  a child's block wins over its include parent's (pkg/config/include.go, exclude.go), and
  `exclude_dependencies = true` leaves out its direct dependencies too.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import hcl2

from driftctl.discover.evaluate import Scope, Unknown, evaluate
from driftctl.model import Stack, Tool

CONFIG_NAMES = ("terragrunt.hcl", "terragrunt.hcl.json")
STACK_FILE = "terragrunt.stack.hcl"
STACK_DIR = ".terragrunt-stack"
VALUES_FILE = "terragrunt.values.hcl"
_PLAN_ACTIONS = frozenset({"all", "all_except_output"})
# Literal pre-filters: python-hcl2 takes ~40 ms a file, so a file is parsed only when its text could
# hold what is looked for (a false positive costs a parse, never a wrong answer).
_BARE_FIND = re.compile(r"find_in_parent_folders\(\s*\)")
_NAMED_CONFIG = re.compile(r"([^/\"\s{}$()]+)/terragrunt\.hcl")  # the directory a literal path names
_MAY_EXCLUDE = re.compile(r"\bexclude\s*\{|\bskip\s*=|\"(exclude|skip)\"\s*:")
_MAX_STACK_DEPTH = 32


class ConfigReadError(Exception):
    """A config that cannot be parsed; the message names the file."""


@dataclass
class Found:
    """What one discovery collects besides the units."""

    root: Path
    repo_root: Path
    environ: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)
    parents: set[Path] = field(default_factory=set)
    # local sources of `unit` dirs and nested `stack` files: templates, never units themselves
    sources: set[Path] = field(default_factory=set)
    # excluded units whose block says exclude_dependencies = true, with their config
    excludes_dependencies: dict[Path, Path] = field(default_factory=dict)
    # names of includable files (root.hcl, a parent terragrunt.hcl) with an exclude block or skip:
    # a unit whose text names none of them cannot inherit one
    excluding_parents: frozenset[str] = frozenset()
    _documents: dict[Path, dict[str, Any]] = field(default_factory=dict)
    _texts: dict[Path, str] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def text(self, path: Path) -> str:
        """A file's text for the literal pre-filters ("" when unreadable: the parse says why)."""
        if path not in self._texts:
            try:
                self._texts[path] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[path] = ""
        return self._texts[path]

    def may_exclude(self, path: Path) -> bool:
        text = self.text(path)
        return ("exclude" in text or "skip" in text) and _MAY_EXCLUDE.search(text) is not None

    def may_inherit_exclude(self, path: Path) -> bool:
        text = self.text(path)
        if "include" not in text or not self.excluding_parents:
            return False
        bare = "terragrunt.hcl" in self.excluding_parents and bool(_BARE_FIND.search(text))
        return bare or any(name in text for name in self.excluding_parents)

    def may_include_config(self, path: Path) -> bool:
        """Whether the file's includes could name a terragrunt.hcl (by name, or by default)."""
        text = self.text(path)
        return "terragrunt.hcl" in text or (
            "find_in_parent_folders(" in text and bool(_BARE_FIND.search(text))
        )

    def document(self, path: Path) -> dict[str, Any]:
        """A parsed config: `hcl2.loads`'s shape, JSON strings turned into HCL templates."""
        if path not in self._documents:
            self._documents[path] = _read(path)
        return self._documents[path]


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.name.endswith(".json"):
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise ValueError("not a JSON object")
            return dict(_json_as_hcl(loaded))
        return dict(hcl2.loads(text))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigReadError(f"{path}: cannot be read: {error}") from None
    except Exception as error:  # python-hcl2 raises Lark's parse errors, several types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigReadError(f"{path}: not valid HCL: {first}") from None


def _json_as_hcl(value: Any) -> Any:
    """JSON HCL: every string is a template, so it becomes the quoted template `evaluate` reads."""
    if isinstance(value, str):
        return _quoted_template(value)
    if isinstance(value, list):
        return [_json_as_hcl(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_as_hcl(item) for key, item in value.items()}
    return value


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}


def _quoted_template(text: str) -> str:
    """`text` as an HCL quoted template: quotes and backslashes escaped outside `${...}` only."""
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if depth == 0 and text.startswith("${", index):
            out.append("${")
            depth, index = 1, index + 2
            continue
        if depth and char == '"':  # a string inside the interpolation is copied whole
            end = index + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[index : end + 1])
            index = end + 1
            continue
        if depth:
            depth += {"{": 1, "}": -1}.get(char, 0)
            out.append(char)
        else:
            out.append(_ESCAPES.get(char, char))
        index += 1
    return '"' + "".join(out) + '"'


def blocks(document: Mapping[str, Any], kind: str) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(label, body) of each block of a kind, in `hcl2.loads`'s shape or JSON HCL's."""
    raw = document.get(kind)
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("__is_block__") or any(key in item for key in ("path", "if", "actions", "source")):
            yield None, item
            continue
        for label, body in item.items():
            if isinstance(body, dict):
                yield label.strip('"'), body


def first_block(document: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    return next((body for _, body in blocks(document, kind)), None)


def locals_of(document: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, body in blocks(document, "locals"):
        merged.update({k: v for k, v in body.items() if k != "__is_block__"})
    return merged


def _text(raw: Any) -> str:
    """An attribute as written, for messages."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


# ---- include graph ----


def include_targets(config: Path, found: Found, unit_dir: Path | None = None) -> list[Path]:
    """The files a config includes, evaluated from the unit's directory (a generated Stacks unit
    reads its source's config from where it is generated); an unknown path is a warning."""
    unit_dir = config.parent if unit_dir is None else unit_dir
    document = found.document(config)
    scope = Scope(unit_dir, found.repo_root, locals_of(document), environ=found.environ)
    targets = []
    for label, body in blocks(document, "include"):
        if "path" not in body:
            continue
        try:
            value = evaluate(body["path"], scope)
        except Unknown as error:
            name = f' "{label}"' if label else ""
            found.warnings.append(f"{found.rel(config)}: include{name} path unknown ({error})")
            continue
        target = Path(os.path.normpath(unit_dir / str(value)))
        targets.append(target)
    return targets


# ---- exclude / skip ----


@dataclass(frozen=True)
class Exclusion:
    reason: str | None = None  # why the unit is left out of plans
    notes: tuple[str, ...] = ()  # what could not be decided (the unit is planned)
    dependencies: bool = False  # exclude_dependencies = true: its direct dependencies are out too


def exclusion(
    config: Path, unit_dir: Path, found: Found, values: Mapping[str, Any] | None = None
) -> Exclusion:
    """Whether `run --all plan` would leave the unit out: its own block, else its parents'."""
    inherits = found.may_inherit_exclude(config)
    if not found.may_exclude(config) and not inherits:
        return Exclusion()
    parents = [t for t in include_targets(config, found, unit_dir) if t.is_file()] if inherits else []
    # the exclude block and `skip` merge separately, the child's over its parents' (include.go)
    for check in (_exclude_block, _skip):
        for source in (config, *parents):
            if not found.may_exclude(source):
                continue
            try:
                document = found.document(source)
            except ConfigReadError:
                continue
            scope = Scope(unit_dir, found.repo_root, locals_of(document), values, found.environ)
            result = check(source, document, scope, found)
            if result is not None:
                if result.reason or result.notes or check is _skip:
                    return result
                break  # a block that does not exclude plans: the next check may still
    return Exclusion()


def _exclude_block(source: Path, document: Mapping[str, Any], scope: Scope, found: Found) -> Exclusion | None:
    body = first_block(document, "exclude")
    if body is None:
        return None
    where = found.rel(source)
    try:
        actions = evaluate(body.get("actions", []), scope)
    except Unknown as error:
        return Exclusion(notes=(f"exclude block in {where}: actions unknown ({error}); planned",))
    listed = [str(a) for a in actions] if isinstance(actions, list) else []
    if not any(a in _PLAN_ACTIONS or a.lower() == "plan" for a in listed):
        return Exclusion()  # a block that does not name plan: the child's own block still wins
    if "if" not in body:
        return Exclusion(notes=(f"exclude block in {where} has no `if`; planned",))
    try:
        condition = evaluate(body["if"], scope)
    except Unknown as error:
        note = f"exclude block in {where}: if = {_text(body['if'])} unknown ({error}); planned"
        return Exclusion(notes=(note,))
    if isinstance(condition, str) and condition.lower() in ("true", "false"):
        condition = condition.lower() == "true"  # Terragrunt parses a string `if` like ParseBool
    if condition is True:
        try:
            dependencies = evaluate(body.get("exclude_dependencies", False), scope) is True
        except Unknown:
            dependencies = False
        reason = f"exclude block in {where} (if = {_text(body['if'])}, actions {listed})"
        return Exclusion(reason=reason, dependencies=dependencies)
    return Exclusion()


def _skip(source: Path, document: Mapping[str, Any], scope: Scope, found: Found) -> Exclusion | None:
    if "skip" not in document:
        return None
    where = found.rel(source)
    try:
        value = evaluate(document["skip"], scope)
    except Unknown as error:
        return Exclusion(notes=(f"skip in {where} unknown ({error}); planned",))
    if value is True:
        return Exclusion(
            reason=f"skip = true in {where} (Terragrunt < 0.93 skips it; 0.93 and later reject `skip`)"
        )
    return Exclusion()


# ---- units ----


def units(
    configs: Sequence[Path], stack_files: Sequence[Path], hcl_files: Sequence[Path], found: Found
) -> list[Stack]:
    """Every unit: the Stacks units, then the directories with a config that is neither included by
    another config nor the local source of a stack's `unit` (a catalog template). `hcl_files` are
    the other `*.hcl` files under the root: an include parent among them may exclude its children."""
    find_parents(configs, found)
    found.excluding_parents = frozenset(
        path.name for path in (*hcl_files, *found.parents) if found.may_exclude(path)
    )
    generated = [unit for stack_file in stack_files for unit in stack_units(stack_file, found)]
    # a catalog's stack file, used as a nested stack's source, is generated only through its user
    result = [unit for unit in generated if unit.stack_files[0] not in found.sources]
    for config in configs:
        if config in found.parents or config.parent in found.sources:
            continue
        try:
            excluded = exclusion(config, config.parent, found)
        except ConfigReadError as error:
            excluded = Exclusion(notes=(str(error),))
        if excluded.dependencies:
            found.excludes_dependencies[config.parent] = config
        result.append(
            Stack(
                id=found.rel(config.parent) or ".",
                path=config.parent,
                tool=Tool.TERRAGRUNT,
                config=config,
                excluded=excluded.reason,
                notes=excluded.notes,
            )
        )
    return _exclude_dependencies(result, found)


def find_parents(configs: Sequence[Path], found: Found) -> None:
    """The configs other configs include, parsing only as many includers as the answer needs.

    Only a config whose text names a terragrunt.hcl, or calls find_in_parent_folders() bare, can
    include one. A config can be included by those below it (find_in_parent_folders) or by those
    naming its directory (`../common/terragrunt.hcl`): they are parsed nearest first, until one
    includes it. In a legacy layout, one parse settles the root terragrunt.hcl for every unit.
    """
    includers = [config for config in configs if found.may_include_config(config)]
    below: dict[Path, list[Path]] = defaultdict(list)
    naming: dict[str, list[Path]] = defaultdict(list)
    for includer in includers:
        for directory in includer.parent.parents:
            below[directory].append(includer)
        for name in {match.group(1) for match in _NAMED_CONFIG.finditer(found.text(includer))}:
            naming[name].append(includer)
    config_set = set(configs)
    parsed: set[Path] = set()
    # a computed directory (`${local.dir}/terragrunt.hcl`) could be anywhere: parsed up front
    for includer in includers:
        if "}/terragrunt.hcl" in found.text(includer):
            parsed.add(includer)
            _record_parents(includer, config_set, found)
    for candidate in configs:
        nearest = sorted(below.get(candidate.parent, []), key=lambda path: len(path.parts))
        for includer in (*nearest, *naming.get(candidate.parent.name, [])):
            if candidate in found.parents:
                break
            if includer in parsed or includer == candidate:
                continue
            parsed.add(includer)
            _record_parents(includer, config_set, found)


def _record_parents(includer: Path, configs: set[Path], found: Found) -> None:
    try:
        found.parents.update(target for target in include_targets(includer, found) if target in configs)
    except ConfigReadError as error:
        found.warnings.append(str(error))


def _exclude_dependencies(units: list[Stack], found: Found) -> list[Stack]:
    """`exclude_dependencies = true` also leaves out the unit's direct dependencies, as
    applyExcludeModules does (internal/discovery/discovery.go, v0.99.4)."""
    reasons: dict[Path, str] = {}
    for unit_dir, config in found.excludes_dependencies.items():
        for dependency in dependency_dirs(config, unit_dir, found):
            reasons.setdefault(
                dependency, f"a dependency of {found.rel(unit_dir)}, excluded with exclude_dependencies"
            )
    return [
        replace(unit, excluded=reasons[unit.path]) if unit.excluded is None and unit.path in reasons else unit
        for unit in units
    ]


def dependency_dirs(config: Path, unit_dir: Path, found: Found) -> list[Path]:
    """The directories of a unit's `dependency` blocks and `dependencies { paths }`, when known."""
    document = found.document(config)
    scope = Scope(unit_dir, found.repo_root, locals_of(document), environ=found.environ)
    raw: list[Any] = [
        body["config_path"] for _, body in blocks(document, "dependency") if "config_path" in body
    ]
    for _, body in blocks(document, "dependencies"):
        raw.extend(body.get("paths", []) if isinstance(body.get("paths"), list) else [])
    dirs = []
    for item in raw:
        try:
            dirs.append(Path(os.path.normpath(unit_dir / str(evaluate(item, scope)))))
        except Unknown as error:
            found.warnings.append(f"{found.rel(config)}: dependency path unknown ({error})")
    return dirs


def stack_units(
    stack_file: Path,
    found: Found,
    stack_dir: Path | None = None,
    chain: tuple[Path, ...] = (),
    values: Mapping[str, Any] | None = None,
) -> list[Stack]:
    """The units `terragrunt stack generate` writes for one stack file, nested stacks included.

    `stack_dir` is where the file is (a nested stack's file is copied into its generated dir, and
    its relative sources resolve from there, as in Terragrunt's copyFiles/isLocal).
    """
    stack_dir = stack_file.parent if stack_dir is None else stack_dir
    chain = chain or (stack_file,)
    where = found.rel(stack_file)
    if len(chain) > _MAX_STACK_DEPTH:
        found.warnings.append(f"{where}: stacks nested more than {_MAX_STACK_DEPTH} deep; a cycle?")
        return []
    try:
        document = found.document(stack_file)
    except ConfigReadError as error:
        found.warnings.append(str(error))
        return []
    if values is None and (stack_dir / VALUES_FILE).is_file():
        values = _values_file(stack_dir / VALUES_FILE, found)
    scope = Scope(stack_dir, found.repo_root, locals_of(document), values, found.environ)
    result: list[Stack] = []
    for kind in ("unit", "stack"):
        for label, body in blocks(document, kind):
            component = _component(kind, label or "?", body, scope, stack_dir, where, found)
            if component is None:
                continue
            dest, source, source_dir, block_values = component
            if kind == "stack":
                nested = _nested(label or "?", dest, source, source_dir, chain, block_values, where, found)
                result.extend(nested)
                continue
            result.append(_stack_unit(dest, source, source_dir, chain, block_values, found))
    return result


def _values_file(path: Path, found: Found) -> dict[str, Any] | None:
    try:
        document = found.document(path)
        return dict(evaluate(document, Scope(path.parent, found.repo_root, environ=found.environ)))
    except (ConfigReadError, Unknown):
        return None


def _component(
    kind: str, label: str, body: Mapping[str, Any], scope: Scope, stack_dir: Path, where: str, found: Found
) -> tuple[Path, str, Path | None, dict[str, Any] | None] | None:
    """(generated dir, source as written, local source dir, values) of a `unit`/`stack` block."""
    name = f'{kind} "{label}" in {where}'
    try:
        source = str(evaluate(body.get("source", '""'), scope))
        source_dir = _local_source(source, stack_dir)
    except Unknown as error:
        source, source_dir = _text(body.get("source", "")), None
        found.warnings.append(f"{name}: source unknown ({error}); treated as remote")
    if source_dir is not None:  # a template even when this block is disabled or broken
        found.sources.add(source_dir if kind == "unit" else source_dir / STACK_FILE)
    try:
        if "enabled" in body and evaluate(body["enabled"], scope) is False:
            return None
        path = str(evaluate(body["path"], scope))
        no_dot = evaluate(body.get("no_dot_terragrunt_stack", False), scope) is True
    except (Unknown, KeyError) as error:
        found.warnings.append(f"{name}: path unknown ({error}); its units are not listed")
        return None
    base = stack_dir if no_dot else stack_dir / STACK_DIR
    dest = Path(os.path.normpath(base / path))
    if Path(path).is_absolute() or not dest.is_relative_to(base):
        found.warnings.append(f"{name}: path {path!r} is outside the stack directory; Terragrunt rejects it")
        return None
    try:
        block_values = evaluate(body["values"], scope) if "values" in body else None
    except Unknown:
        block_values = None
    return dest, source, source_dir, block_values if isinstance(block_values, dict) else None


def _local_source(source: str, stack_dir: Path) -> Path | None:
    """Terragrunt's isLocal: the path exists (beside the stack file when relative), or is file://."""
    path = source.removeprefix("file://")
    if not path:
        return None
    cleaned = Path(os.path.normpath(stack_dir / path))  # an absolute `path` stays itself
    return cleaned if cleaned.exists() or source.startswith("file://") else None


def _stack_unit(
    dest: Path,
    source: str,
    source_dir: Path | None,
    chain: tuple[Path, ...],
    values: Mapping[str, Any] | None,
    found: Found,
) -> Stack:
    config = source_dir / CONFIG_NAMES[0] if source_dir is not None else None
    excluded = Exclusion()
    if config is not None and config.is_file():
        try:
            excluded = exclusion(config, dest, found, values)
        except ConfigReadError as error:
            excluded = Exclusion(notes=(str(error),))
        if excluded.dependencies:
            found.excludes_dependencies[dest] = config
    return Stack(
        id=found.rel(dest),
        path=dest,
        tool=Tool.TERRAGRUNT,
        config=config if config is not None and config.is_file() else None,
        stack_files=chain,
        source=source,
        source_dir=source_dir,
        excluded=excluded.reason,
        notes=excluded.notes,
    )


def _nested(
    label: str,
    dest: Path,
    source: str,
    source_dir: Path | None,
    chain: tuple[Path, ...],
    values: Mapping[str, Any] | None,
    where: str,
    found: Found,
) -> list[Stack]:
    nested_file = source_dir / STACK_FILE if source_dir is not None else None
    if nested_file is None or not nested_file.is_file():
        found.warnings.append(
            f'stack "{label}" in {where}: source {source} is remote or has no {STACK_FILE}; '
            "its units are not listed (they exist only after `terragrunt stack generate`)"
        )
        return []
    # generation copies the source into `dest`, so the nested file reads from there
    return stack_units(nested_file, found, dest, (*chain, nested_file), values or {})
