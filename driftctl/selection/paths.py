"""POSIX path helpers shared by the selection modules: absolute while evaluating, root-relative after."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator


def join(base: str, *parts: str) -> str:
    # posixpath.join without its generality (bytes, os.fspath) costs a third as much on the hot path
    path = base
    for part in parts:
        path = part if part.startswith("/") else f"{path}/{part}" if part else path
    return posixpath.normpath(path)


def within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def relative(path: str, root: str) -> str:
    if path == root:
        return "."
    prefix = root.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else posixpath.relpath(path, root)


def show(path: str) -> str:
    """A path for one line of output: control characters (a newline in a file name) escaped."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def ancestors(path: str) -> Iterator[str]:
    """The path itself and each directory above it, deepest first, up to (not including) the root."""
    while path and path not in (".", "..", "/") and not path.endswith("/.."):
        yield path
        path = posixpath.dirname(path)
