"""Evaluation of Terragrunt's (and Terraform's) path functions, without running either.

An expression is evaluated in a `Scope`: Terragrunt evaluates an included file as part of its child,
so `get_terragrunt_dir()`, relative paths and `find_in_parent_folders()` mean the including unit's
directory, while `path_relative_to_include()` and `get_parent_terragrunt_dir()` mean the included file.
What cannot be known without running the tool (`get_env` without a default, `run_cmd`, outputs) stays
unknown, segment by segment, so that the known prefix and tail of a path still narrow what it can be.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from driftctl.selection.paths import join, within
from driftctl.selection.refs import (
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
    ValuesVar,
)

TERRAGRUNT_CONFIG = "terragrunt.hcl"
MAX_DEPTH = 16  # locals referring to locals, includes of includes: deeper than this is a cycle
_MAX_PARENTS = 256


class Files(Protocol):
    """Read access to the work tree, by absolute POSIX path."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def tf_files(self, directory: str) -> tuple[str, ...]: ...

    def refs(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None: ...


@dataclass(frozen=True)
class Value:
    """An evaluated path expression: known text, or None for each part that cannot be known."""

    segments: tuple[str | None, ...]
    watches: tuple[str, ...] = ()  # paths whose creation or removal changes the value
    unknowns: tuple[str, ...] = ()  # the parts that could not be evaluated, as written

    @property
    def known(self) -> str | None:
        if None in self.segments:
            return None
        return "".join(segment or "" for segment in self.segments)

    def __add__(self, other: Value) -> Value:
        segments = list(self.segments)
        for segment in other.segments:  # adjacent known text merges, so only unknowns split it
            if segment is not None and segments and segments[-1] is not None:
                segments[-1] = (segments[-1] or "") + segment
            else:
                segments.append(segment)
        return Value(tuple(segments), self.watches + other.watches, self.unknowns + other.unknowns)


def unknown(text: str) -> Value:
    return Value((None,), (), (text,))


@dataclass(frozen=True)
class Scope:
    """Where one file's references are evaluated."""

    config_dir: str  # relative paths, get_terragrunt_dir(), find_in_parent_folders() start here
    unit_dir: str  # get_original_terragrunt_dir(); "" in a Terraform module (its root is its caller)
    file: str  # the file holding the references
    parent: str | None = None  # the included file being evaluated, for path_relative_*_include()
    locals: Mapping[str, PathExpr] = field(default_factory=dict)
    includes: Mapping[str, str] = field(default_factory=dict)  # the unit's include label -> file
    values: Mapping[str, Value] = field(default_factory=dict)  # a Stacks unit's values, evaluated


class Evaluator:
    """Evaluates path expressions; parent-folder searches are shared between units side by side."""

    def __init__(self, top: str, files: Files) -> None:
        self.top, self.files = top, files
        self._found: dict[tuple[str, tuple[str, ...]], tuple[str | None, tuple[str, ...]]] = {}

    def eval(self, expr: PathExpr, scope: Scope, depth: int = 0) -> Value:
        if len(expr) == 1 and isinstance(expr[0], Lit):  # the common case: a plain string
            return Value((expr[0].text,))
        value = Value(())
        for part in expr:
            value = value + self._part(part, scope, depth)
        return value

    def _part(self, part: Part, scope: Scope, depth: int) -> Value:
        if depth > MAX_DEPTH:
            return unknown("a cyclic reference")
        if isinstance(part, Lit):
            return Value((part.text,))
        if isinstance(part, Call):
            return self._call(part, scope, depth)
        if isinstance(part, LocalVar):
            expr = scope.locals.get(part.name)
            return unknown(f"local.{part.name}") if expr is None else self.eval(expr, scope, depth + 1)
        if isinstance(part, IncludeLocal):
            return self._include_local(part, scope, depth)
        if isinstance(part, ConfigLocal):
            return self._config_local(part, scope, depth)
        if isinstance(part, ValuesVar):
            return scope.values.get(part.name) or unknown(f"values.{part.name}")
        return unknown(part.text)

    def _config_local(self, part: ConfigLocal, scope: Scope, depth: int) -> Value:
        """`local.<config>.locals.<name>` with `local.<config> = read_terragrunt_config(<path>)`."""
        written = f"local.{part.config}.locals.{part.name}"
        expr = scope.locals.get(part.config, ())
        call = expr[0] if len(expr) == 1 else None
        if not isinstance(call, Call) or call.name != "read_terragrunt_config" or not call.args:
            return unknown(written)
        path = self.eval(call.args[0], scope, depth + 1)
        target = None if path.known is None else join(scope.config_dir, path.known)
        parsed = self.files.refs(target, Dialect.TERRAGRUNT) if target else None
        if target is None or not isinstance(parsed, FileRefs) or part.name not in parsed.locals:
            return unknown(written)
        # the read file is evaluated in its own directory, like read_terragrunt_config does
        read = Scope(posixpath.dirname(target), scope.unit_dir, target, locals=parsed.locals)
        value = self.eval(parsed.locals[part.name], read, depth + 1)
        return Value(value.segments, path.watches + value.watches, value.unknowns)

    def _include_local(self, part: IncludeLocal, scope: Scope, depth: int) -> Value:
        written = f"include.{part.label}.locals.{part.name}"
        target = scope.includes.get(part.label)
        parsed = self.files.refs(target, Dialect.TERRAGRUNT) if target else None
        expr = parsed.locals.get(part.name) if isinstance(parsed, FileRefs) else None
        if target is None or expr is None or not isinstance(parsed, FileRefs):
            return unknown(written)
        included = Scope(
            scope.config_dir, scope.unit_dir, target, target, parsed.locals, scope.includes, scope.values
        )
        return self.eval(expr, included, depth + 1)

    def _call(self, call: Call, scope: Scope, depth: int) -> Value:
        args = [self.eval(arg, scope, depth + 1) for arg in call.args]
        if call.name == "find_in_parent_folders":
            return self._find_in_parent_folders(scope.config_dir, args)
        if call.name == "get_env":  # the environment of a plan is not this run's: only a default is known
            return args[1] if len(args) > 1 else unknown(f"get_env({'...' if args else ''})")
        texts = [arg.known for arg in args]
        value = None if None in texts else self._function(call.name, [t or "" for t in texts], scope)
        if value is None:
            return unknown(f"{call.name}({'...' if args else ''})")
        return Value((value,), tuple(w for arg in args for w in arg.watches))

    def _function(self, name: str, args: Sequence[str], scope: Scope) -> str | None:
        """The value of a path function; None when it depends on more than is known."""
        if name == "get_terragrunt_dir":
            return scope.config_dir
        if name == "path.module":
            return posixpath.dirname(scope.file)
        if name == "path.root":  # also path.cwd: the directory Terraform runs in, for a root module
            return scope.unit_dir or None
        if name == "get_original_terragrunt_dir":
            return scope.unit_dir
        if name == "get_repo_root":
            return self.top
        if name == "get_path_to_repo_root":
            return posixpath.relpath(self.top, scope.config_dir)
        if name == "get_path_from_repo_root":
            return posixpath.relpath(scope.config_dir, self.top)
        if name in ("dirname", "basename"):
            path = args[0].rstrip("/") or args[0] if args else None
            if path is None:
                return None
            return posixpath.dirname(path) if name == "dirname" else posixpath.basename(path)
        parent = self._parent(scope, args[0] if args else None)
        if parent is None:
            return None
        if name == "get_parent_terragrunt_dir":
            return posixpath.dirname(parent)
        if name == "path_relative_to_include":
            return posixpath.relpath(scope.unit_dir, posixpath.dirname(parent))
        if name == "path_relative_from_include":
            return posixpath.relpath(posixpath.dirname(parent), scope.unit_dir)
        return None

    def _parent(self, scope: Scope, label: str | None) -> str | None:
        """The included file the path_relative_*/get_parent_* functions refer to, when it is certain."""
        if scope.parent is not None:
            return scope.parent
        if label is not None:
            return scope.includes.get(label)
        return next(iter(scope.includes.values())) if len(scope.includes) == 1 else None

    def _find_in_parent_folders(self, start: str, args: Sequence[Value]) -> Value:
        if args and args[0].known is None:
            return Value((None,), args[0].watches, ("find_in_parent_folders(...)",))
        names = (args[0].known or "",) if args else (TERRAGRUNT_CONFIG, TERRAGRUNT_CONFIG + ".json")
        key = (posixpath.dirname(start), names)  # the search starts in the parent folder
        if key not in self._found:
            self._found[key] = self._search_parents(key[0], names)
        found, candidates = self._found[key]
        if found is not None:
            return Value((found,), candidates)
        if len(args) > 1:  # the fallback value
            return Value(args[1].segments, args[1].watches + candidates, args[1].unknowns)
        # Terragrunt fails here; the nearest candidate stands in, so that creating it is a change
        return Value((candidates[0] if candidates else join(start, "..", names[0]),), candidates)

    def _search_parents(self, first: str, names: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
        """The first file found from `first` upwards, and every candidate up to it inside the repository."""
        candidates: list[str] = []
        directory, previous = first, ""
        for _ in range(_MAX_PARENTS):
            if directory == previous:
                break
            for name in names:
                candidate = join(directory, name)
                if within(candidate, self.top):  # outside the repository nothing changes
                    candidates.append(candidate)
                # Terragrunt only checks that the path exists: a directory is found too
                if self.files.is_file(candidate) or self.files.is_dir(candidate):
                    return candidate, tuple(candidates)
            directory, previous = posixpath.dirname(directory), directory
        return None, tuple(candidates)


def pattern(segments: Sequence[str | None], config_dir: str, root: str) -> str:
    """A regular expression over root-relative paths for what a partly known path can be.

    The known prefix is kept (resolved against `config_dir`), each unknown part may be any text; after
    an unknown part a `..` makes what precedes it no anchor, so only what follows the last `..` is.
    """
    parts = [_tidy(segment) if segment is not None else None for segment in segments]
    first_unknown = next((i for i, part in enumerate(parts) if part is None), len(parts))
    if any(part is not None and ".." in part.split("/") for part in parts[first_unknown:]):
        return _tail_pattern(parts)
    regex = []
    head = parts[0] if parts else None
    if head is not None:
        resolved = join(config_dir, head) + ("/" if head.endswith("/") else "")
        relative = resolved[len(root) + 1 :] if resolved.startswith(root + "/") else None
        if relative is None:  # outside the root: a relative `../` path, as touches outside it are
            relative = posixpath.relpath(resolved, root) + ("/" if head.endswith("/") else "")
        regex.append(re.escape(relative))
    else:
        regex.append("")
    for previous, part in itertools.pairwise(parts):
        if part is None:
            continue
        if previous is None:  # an unknown part may be empty, or end at a directory boundary
            regex.append(f"(?:.*/)?{re.escape(part[1:])}" if part.startswith("/") else f".*{re.escape(part)}")
        else:
            regex.append(re.escape(part))
    if parts and parts[-1] is None:
        regex.append(".*")
    return "".join(regex)


def _tidy(text: str) -> str:
    while "//" in text or "/./" in text:
        text = text.replace("//", "/").replace("/./", "/")
    return text


def _tail_pattern(parts: Sequence[str | None]) -> str:
    """What follows the last `..` after an unknown part: the end of the path, wherever it starts."""
    last_unknown = max((i for i, part in enumerate(parts) if part is None), default=-1)
    tail = "".join(part or "" for part in parts[last_unknown + 1 :])
    pieces = tail.split("/")
    if ".." in pieces:
        pieces = ["", *pieces[len(pieces) - pieces[::-1].index("..") :]]  # a fresh boundary after `..`
    glued, whole = pieces[0], [piece for piece in pieces[1:] if piece not in ("", ".")]
    if len(pieces) > 1 and not glued:  # the tail starts at a `/`: whole names end the path
        return "(?:.*/)?" + re.escape("/".join(whole)) if whole else ".*"
    return ".*" + re.escape("/".join([glued, *whole]))
