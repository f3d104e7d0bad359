"""The literal pre-filter: which paths a file could possibly name, from its string literals alone.

A path a configuration refers to ends with literal text of some string (`"../../modules//vpc"`,
`find_in_parent_folders("root.hcl")`, `"${local.base}/app"`), unless the string ends with an
interpolation. So one cheap pass over a file's strings (no parse) gives the *tails* it can end a path
with; a file needs a real parse only when one of its tails ends a path that matters (a change, a chosen
unit, a module a change reaches), or when a reference is written so that no tail bounds it
(`source = local.x`, `"${local.base}?ref=v1"`). The pass may over-approximate (a tail in a comment or an
input value), never under: that is what makes skipping every other file safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from driftctl.selection.refs import READ_FUNCTIONS

# outside strings: a string without interpolation (most of them), the start of one with, a comment,
# a heredoc's opening line
_TOKEN = re.compile(
    r'"(?:[^"\\$%\n]|\\.|\$(?!\{)|%(?!\{))*"|"|#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z)|<<-?[ \t]*"?(\w+)"?[^\n]*\n',
    re.S,
)
_STRING_BODY = re.compile(r"(?:\$\$\{|%%\{|[^\"\\$%\n]|\\.|\$(?!\{)|%(?!\{))*")
_EXPRESSION = re.compile(r'[{}"]')
_INTERPOLATION = re.compile(r"(?<!\$)\$\{|(?<!%)%\{")
# where a reference's path is written: attributes of include/dependency/dependencies/terraform, and
# the first argument of a function that reads a file
_SITE = re.compile(
    r"\b(?:source|config_path|path|paths)\s*=\s*|\b(?:" + "|".join(READ_FUNCTIONS) + r")\s*\(\s*"
)
_BOUNDED_CALL = re.compile(r"find_in_parent_folders\s*\(")
_DEFAULT_PARENT = re.compile(r"\bfind_in_parent_folders\s*\(\s*\)")
_LIST_FILLER = re.compile(r"[\s,]*")


@dataclass(frozen=True)
class Literals:
    """A file's tails: how the paths it names can end."""

    tails: frozenset[str]  # whole trailing names, `a/b` for `"../a/b"` and `"${x}/a/b"`
    glued: frozenset[str]  # a tail glued to an interpolation, `.hcl` for `"${name}.hcl"`: any text before
    unbounded: bool  # a reference whose path ends with an interpolation or is no string at all


@dataclass(frozen=True)
class _String:
    start: int
    end: int
    tail: str  # the literal text after the last interpolation
    interpolated: bool


def scan(text: str, references: bool) -> Literals:
    """The tails of every string in `text`; with `references`, whether some reference is unbounded."""
    strings = {string.start: string for string in _strings(text)}
    tails: set[str] = set()
    glued: set[str] = set()
    for string in strings.values():
        tail, is_glued = normal_tail(string.tail, string.interpolated)
        if tail:
            (glued if is_glued else tails).add(tail)
    if _DEFAULT_PARENT.search(text):  # find_in_parent_folders() looks for terragrunt.hcl(.json)
        tails.update(("terragrunt.hcl", "terragrunt.hcl.json"))
    unbounded = references and any(not _bounded(text, m.end(), strings) for m in _SITE.finditer(text))
    return Literals(frozenset(tails), frozenset(glued), unbounded)


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


def _bounded(text: str, at: int, strings: dict[int, _String]) -> bool:
    """Whether the value written at `at` ends with literal text: a string with a tail, or a list of them."""
    string = strings.get(at)
    if string is not None:
        return bool(normal_tail(string.tail, string.interpolated)[0])
    if _BOUNDED_CALL.match(text, at):
        return True
    if text.startswith("[", at):
        position = at + 1
        while True:
            position = _skip(_LIST_FILLER, text, position)
            if text.startswith("]", position):
                return True
            item = strings.get(position)
            if item is None or not normal_tail(item.tail, item.interpolated)[0]:
                return False
            position = item.end
    return False


def _skip(pattern: re.Pattern[str], text: str, position: int) -> int:
    """The end of what `pattern` (which matches the empty string too) matches at `position`."""
    match = pattern.match(text, position)
    return match.end() if match is not None else position


def _strings(text: str) -> Iterator[_String]:
    """Every string of the text, nested ones (inside interpolations) included."""
    position = 0
    while True:
        token = _TOKEN.search(text, position)
        if token is None:
            return
        lexeme = token.group(0)
        if lexeme.startswith('"') and len(lexeme) > 1:
            yield _String(token.start(), token.end(), lexeme[1:-1], False)
            position = token.end()
        elif lexeme == '"':
            found: list[_String] = []
            position = _string(text, token.start(), found)
            yield from found
        elif token.group(1) is not None:  # a heredoc: its interpolations may hold strings
            end = re.compile(rf"^[ \t]*{re.escape(token.group(1))}[ \t]*$", re.M).search(text, token.end())
            stop = end.start() if end is not None else len(text)
            found = []
            for interpolation in _INTERPOLATION.finditer(text, token.end(), stop):
                _expression(text, interpolation.end(), found)
            yield from found
            position = end.end() if end is not None else len(text)
        else:
            position = token.end()


def _string(text: str, start: int, found: list[_String]) -> int:
    """Scans the string opening at `start` into `found` (its nested strings too); returns its end."""
    position, tail_start, interpolated = start + 1, start + 1, False
    while True:
        position = _skip(_STRING_BODY, text, position)
        if position >= len(text) or text[position] == "\n":  # unterminated: what was read counts
            found.append(_String(start, position, text[tail_start:position], interpolated))
            return position
        if text[position] == '"':
            found.append(_String(start, position + 1, text[tail_start:position], interpolated))
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
