"""The literal pre-filter: which paths a file could possibly name, from its strings alone (no parse).

Where a configuration writes a path (an include's `path`, a `config_path`, a `source`, `paths`, var
files, the first argument of `file()` / `read_terragrunt_config()` / ...), the path ends with literal
text of a string (`"../../modules//vpc"`, `find_in_parent_folders("root.hcl")`, `"${local.base}/app"`)
unless that string ends with an interpolation or the value is no string at all. So one cheap pass over
those places gives the *tails* a file can end a path with; a file needs a real parse only when one of
its tails ends a path that matters (a change, a chosen unit, a module a change reaches), or when one
of its references has no tail (`source = local.x`, `"${local.base}?ref=v1"`). A plain relative string
of a unit's or a module's own file is resolved against its directory, as Terragrunt and Terraform do.
The pass may over-approximate (a place in a comment), never under: that makes skipping the rest safe.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from driftctl.selection.refs import READ_FUNCTIONS

_STRING_BODY = re.compile(r"(?:\$\$\{|%%\{|[^\"\\$%\n]|\\.|\$(?!\{)|%(?!\{))*")
_EXPRESSION = re.compile(r'[{}"]')
# where a reference's path is written
# where a reference's path is written: attributes (`=` in HCL, `":` in JSON) and reading functions' first
# argument; a name only counts where no other name or a traversal (`local.path`) runs into it
_SITE = re.compile(
    "(?:"
    + "|".join(
        sorted(
            {
                "source",
                "config_path",
                "path",
                "paths",
                "required_var_files",
                "optional_var_files",
                *READ_FUNCTIONS,
            },
            key=len,
            reverse=True,
        )
    )
    + r')"?\s*[=(:]\s*'  # no leading \b: the alternation's first letters let `re` skip ahead fast
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_FIND = re.compile(r"find_in_parent_folders\s*\(\s*")
_FILLER = re.compile(r"[\s,]*")
_COMMA = re.compile(r"\s*,\s*")
_FIND_DEFAULTS = ("terragrunt.hcl", "terragrunt.hcl.json")  # find_in_parent_folders() looks for these


@dataclass(frozen=True)
class Literals:
    """How the paths a file names can end."""

    tails: frozenset[str]  # whole trailing names, `a/b` for `"../a/b"` and `"${x}/a/b"`
    glued: frozenset[str]  # a tail glued to an interpolation, `.hcl` for `"${name}.hcl"`: any text before
    unbounded: bool  # a reference whose path ends with an interpolation or is no string at all


def scan(text: str, directory: str | None, references: bool = True) -> Literals:
    """The tails of the paths `text` writes. `directory`: the root-relative directory plain relative
    strings are resolved against (None in a file included elsewhere: the includer's directory counts).
    `references`: whether a reference without a tail makes the file unbounded (Terraform requires
    literal module sources, so in a `.tf` file it cannot be a module's)."""
    tails: set[str] = set()
    glued: set[str] = set()
    unbounded = False
    for site in _SITE.finditer(text):
        if site.start() and text[site.start() - 1] in _NAME_CHARS:
            continue
        for value in _values(text, site.end()):
            if value is None:
                unbounded = unbounded or references
                continue
            tail, interpolated, resolvable = value
            if resolvable and directory is not None and tail.startswith(("./", "../")):
                resolved = posixpath.normpath(posixpath.join(directory, strip_query(tail)))
                if not resolved.startswith("../"):
                    tails.add(resolved)
                    continue
            names, is_glued = normal_tail(tail, interpolated)
            if names:
                (glued if is_glued else tails).add(names)
            else:
                unbounded = unbounded or references
    return Literals(frozenset(tails), frozenset(glued), unbounded)


def strip_query(path: str) -> str:
    return path.split("?", 1)[0].replace("//", "/")


@functools.lru_cache(maxsize=4096)
def normal_tail(tail: str, interpolated: bool) -> tuple[str, bool]:
    """The names a tail ends a path with, and whether text before it may extend its first name.

    A `?query` is no path, `//` marks a source's subdirectory, and after `..` the names start afresh.
    """
    pieces = tail.split("?", 1)[0].split("/")
    glued = interpolated and bool(pieces[0])
    if ".." in pieces:
        pieces = pieces[len(pieces) - pieces[::-1].index("..") :]
        glued = False
    names = [piece for piece in pieces if piece not in ("", ".")]
    return "/".join(names), glued and bool(names) and names[0] == pieces[0]


def suffixes(path: str) -> Iterator[str]:
    """The trailing runs of whole names of a root-relative path: `a/b/c`, `b/c`, `c`."""
    names = path.split("/")
    for index in range(len(names)):
        if ".." not in names[index:]:
            yield "/".join(names[index:])


def matches(literals: Literals, wanted: set[str], new: Iterable[str]) -> bool:
    """Whether a tail of the file can end one of the paths whose suffixes are `wanted` (`new`: added now)."""
    if not literals.tails.isdisjoint(wanted):
        return True
    return any(suffix.endswith(tail) for tail in literals.glued for suffix in new)


def tail_matches(tail: str, glued: bool, wanted: set[str]) -> bool:
    """Whether one tail can end a path whose suffixes are `wanted`."""
    return any(suffix.endswith(tail) for suffix in wanted) if glued else tail in wanted


_Value = tuple[str, bool, bool]  # a string's tail, whether an interpolation precedes it, whether plain


def _values(text: str, at: int) -> Iterator[_Value | None]:
    """The strings a reference's value at `at` ends with; None for a value that ends with no string."""
    if text.startswith('"', at):
        yield _string_at(text, at, resolvable=True)
        return
    call = _FIND.match(text, at)
    if call is not None:  # names searched for upwards, then the fallback: never relative to this file
        if text.startswith(")", call.end()):
            yield from ((name, False, False) for name in _FIND_DEFAULTS)
            return
        position = call.end()
        for _ in range(2):
            if not text.startswith('"', position):
                yield None
                return
            found: list[_String] = []
            position = _string(text, position, found)
            yield _value(found[-1], resolvable=False)
            comma = _COMMA.match(text, position)
            if comma is None:
                return
            position = comma.end()
        return
    if text.startswith("[", at):
        position = at + 1
        while True:
            position = _skip(_FILLER, text, position)
            if text.startswith("]", position):
                return
            if not text.startswith('"', position):
                yield None
                return
            items: list[_String] = []
            position = _string(text, position, items)
            yield _value(items[-1], resolvable=True)
    yield None


def _string_at(text: str, at: int, resolvable: bool) -> _Value:
    found: list[_String] = []
    _string(text, at, found)
    return _value(found[-1], resolvable)  # the outermost string is found last


def _value(string: _String, resolvable: bool) -> _Value:
    return string.tail, string.interpolated, resolvable and not string.interpolated


@dataclass(frozen=True)
class _String:
    end: int
    tail: str  # the literal text after the last interpolation
    interpolated: bool


def _skip(pattern: re.Pattern[str], text: str, position: int) -> int:
    """The end of what `pattern` (which matches the empty string too) matches at `position`."""
    match = pattern.match(text, position)
    return match.end() if match is not None else position


def _string(text: str, start: int, found: list[_String]) -> int:
    """Scans the string opening at `start` into `found` (its nested strings first); returns its end."""
    position, tail_start, interpolated = start + 1, start + 1, False
    while True:
        position = _skip(_STRING_BODY, text, position)
        if position >= len(text) or text[position] == "\n":  # unterminated: what was read counts
            found.append(_String(position, text[tail_start:position], interpolated))
            return position
        if text[position] == '"':
            found.append(_String(position + 1, text[tail_start:position], interpolated))
            return position + 1
        position = _expression(text, position + 2, found)  # `${` or `%{`
        tail_start, interpolated = position, True


def _expression(text: str, position: int, found: list[_String]) -> int:
    """Scans an interpolation's expression up to its closing brace; returns the position after it."""
    depth = 1
    while True:
        token = _EXPRESSION.search(text, position)
        if token is None:
            return len(text)
        if token.group(0) == '"':
            position = _string(text, token.start(), found)
            continue
        depth += 1 if token.group(0) == "{" else -1
        position = token.end()
        if depth == 0:
            return position


_STRUCTURE = re.compile(r'["{}\[\]()\n#]|//|/\*|<<-?[ \t]*"?(\w+)"?[ \t]*\n')
_OPENS, _CLOSES = frozenset("{[("), frozenset("}])")
_BLANK = re.compile(r"[^\n]")
_KEPT = re.compile(r"\s*(?:locals|values)\b")  # what evaluation may need though it holds no site


def relevant(text: str) -> str:
    """The text with every item that holds no reference site blanked (`locals` and `values` kept).

    Items are a body's lines at its own depth: a top-level attribute or block, and, inside a kept
    block or object, its own lines, recursively (a dependency's `mock_outputs` goes, its
    `config_path` stays). Blanking keeps every offset and line, so positions python-hcl2 reports
    stay true; what is blanked cannot name a path (a reference is written at a site), so parsing it
    would only cost time. Text whose structure this cannot follow comes back whole.
    """
    kept: list[str] = []
    start = position = depth = 0
    opened = closed = -1  # the current item's outermost `{` and its `}`
    while True:
        token = _STRUCTURE.search(text, position)
        if token is None:
            break
        lexeme, position = token.group(0), token.end()
        if lexeme == '"':
            position = _string(text, token.start(), [])
        elif lexeme in ("#", "//"):
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
        elif lexeme == "/*":
            close = text.find("*/", position)
            position = len(text) if close < 0 else close + 2
        elif token.group(1) is not None:  # a heredoc: to its closing marker's line
            end = re.compile(rf"^[ \t]*{re.escape(token.group(1))}[ \t]*$", re.M).search(text, position)
            position = len(text) if end is None else end.end()
        elif lexeme in _OPENS:
            if depth == 0 and lexeme == "{" and opened < 0:
                opened = token.start()
            depth += 1
        elif lexeme in _CLOSES:
            depth -= 1
            if depth < 0:
                return text
            if depth == 0 and lexeme == "}" and opened >= 0:
                closed = token.start()
        elif depth == 0:  # a newline ending an item
            kept.append(_keep(text, start, position, opened, closed))
            start, opened, closed = position, -1, -1
    if depth:
        return text
    kept.append(_keep(text, start, len(text), opened, closed))
    return "".join(kept)


def _keep(text: str, start: int, end: int, opened: int, closed: int) -> str:
    item = text[start:end]
    if _KEPT.match(item):
        return item
    if not any(not (site.start() and item[site.start() - 1] in _NAME_CHARS) for site in _SITE.finditer(item)):
        return _BLANK.sub(" ", item)
    if opened < 0 or closed < opened:
        return item
    return text[start : opened + 1] + relevant(text[opened + 1 : closed]) + text[closed:end]
