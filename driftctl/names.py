"""Stack ids as people and files see them: a directory name need not be valid UTF-8.

Ids come from the filesystem as `str` with each undecodable byte kept as a lone surrogate (PEP 383).
Such a string cannot be written as UTF-8, so every id that is printed, written to JSON or used as a
metric label first goes through `printable`, and is hashed as the bytes it came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from driftctl.model import Selection

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def to_bytes(name: str) -> bytes:
    """The bytes a name came from (`os.fsencode` on POSIX): what a hash of it must be taken over."""
    return name.encode("utf-8", "surrogateescape")


def printable(name: str) -> str:
    """`name` when it is valid UTF-8 without control characters and does not start with `"`.

    Otherwise the name in double quotes with C escapes, as git quotes paths: `\\"`, `\\\\`, `\\n`,
    `\\t`, `\\r`, `\\xNN` for a byte that is not UTF-8 (always >= 0x80) or an ASCII control
    character, `\\uNNNN` for any other control character. Two different names never print alike.
    """
    if not any(_needs_escape(char) for char in name) and not name.startswith('"'):
        return name
    return '"' + "".join(_escaped(char) for char in name) + '"'


def printable_selection(selection: Selection) -> Selection:
    """The selection with every id printable; paths are kept as they are, so every stack still plans."""
    return replace(
        selection,
        stacks=tuple(replace(stack, id=printable(stack.id)) for stack in selection.stacks),
        removed=tuple(printable(stack) for stack in selection.removed),
        known=None if selection.known is None else tuple(printable(stack) for stack in selection.known),
    )


def _needs_escape(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs")  # control characters, undecodable bytes


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _ESCAPES:
        return _ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80 and unicodedata.category(char) == "Cc":
        return f"\\x{code:02x}"
    if unicodedata.category(char) in ("Cc", "Cs"):
        return f"\\u{code:04x}"
    return char
