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
  a child's block wins over its include parent's (pkg/config/include.go, exclude.go).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    _documents: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

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


def include_targets(config: Path, found: Found) -> list[Path]:
    """The files a config includes, resolved from its directory; an unknown path is a warning."""
    document = found.document(config)
    scope = Scope(config.parent, found.repo_root, locals_of(document), environ=found.environ)
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
        target = Path(os.path.normpath(config.parent / str(value)))
        targets.append(target)
    return targets


# ---- exclude / skip ----


@dataclass(frozen=True)
class Exclusion:
    reason: str | None = None  # why the unit is left out of plans
    notes: tuple[str, ...] = ()  # what could not be decided (the unit is planned)


def exclusion(
    config: Path, unit_dir: Path, found: Found, values: Mapping[str, Any] | None = None
) -> Exclusion:
    """Whether `run --all plan` would leave the unit out: its own block, else its parents'."""
    parents = [t for t in include_targets(config, found) if t.is_file()]
    for source in (config, *parents):
        try:
            document = found.document(source)
        except ConfigReadError:
            continue
        scope = Scope(unit_dir, found.repo_root, locals_of(document), values, found.environ)
        result = _exclude_block(source, document, scope, found) or _skip(source, document, scope, found)
        if result is not None:
            return result
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
        return Exclusion(reason=f"exclude block in {where} (if = {_text(body['if'])}, actions {listed})")
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


def units(configs: Sequence[Path], stack_files: Sequence[Path], found: Found) -> list[Stack]:
    """Every unit: the Stacks units, then the directories with a config that is neither included by
    another config nor the local source of a stack's `unit` (a catalog template)."""
    generated = [unit for stack_file in stack_files for unit in stack_units(stack_file, found)]
    # a catalog's stack file, used as a nested stack's source, is generated only through its user
    result = [unit for unit in generated if unit.stack_files[0] not in found.sources]
    config_set = set(configs)
    for config in configs:
        try:
            found.parents.update(t for t in include_targets(config, found) if t in config_set)
        except ConfigReadError as error:
            found.warnings.append(str(error))
    for config in configs:
        if config in found.parents or config.parent in found.sources:
            continue
        try:
            excluded = exclusion(config, config.parent, found)
        except ConfigReadError as error:
            excluded = Exclusion(notes=(str(error),))
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
    return result


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
