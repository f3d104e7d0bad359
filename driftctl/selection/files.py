"""The work tree as the selection reads it (the I/O edge): files, directories, parses, each once a run."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from driftctl.selection.graph import TF_SUFFIXES
from driftctl.selection.literals import relevant
from driftctl.selection.paths import join
from driftctl.selection.refs import Dialect, FileRefs, ParseFailure, parse_bytes


class DiskFiles:
    """`evaluate.Files` on the real work tree, caching every answer for the run."""

    def __init__(self) -> None:
        self._data: dict[str, bytes | None] = {}
        self._refs: dict[tuple[str, Dialect], FileRefs | ParseFailure | None] = {}
        self._is_file: dict[str, bool] = {}
        self._is_dir: dict[str, bool] = {}
        self._tf_files: dict[str, tuple[str, ...]] = {}
        self.parsed = 0  # files python-hcl2 parsed, for benchmarks
        self._listed: str | None = None  # the directory below which `list` gave every file

    def list(self, top: str, paths: Iterable[str]) -> None:
        """Every file below `top` (git's list): Terraform files are looked up there, not on disk."""
        self._listed = top.rstrip("/") + "/"
        listing: dict[str, list[str]] = {}
        for path in paths:
            if path.endswith(TF_SUFFIXES):
                listing.setdefault(posixpath.dirname(path), []).append(path)
        self._tf_files.update((directory, tuple(sorted(found))) for directory, found in listing.items())

    def data(self, path: str) -> bytes | None:
        """The file's bytes; None when it is missing or unreadable (its watch is all there is to know)."""
        if path not in self._data:
            try:
                with open(path, "rb") as handle:  # noqa: PTH123 - str paths on a hot path
                    self._data[path] = handle.read()
            except OSError:
                self._data[path] = None
        return self._data[path]

    def refs(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None:
        if dialect is Dialect.TERRAGRUNT and path.endswith(".json"):
            dialect = Dialect.TERRAGRUNT_JSON  # terragrunt.hcl.json
        key = (path, dialect)
        if key not in self._refs:
            data = self.data(path)
            if data is not None:
                self.parsed += 1
            self._refs[key] = None if data is None else parse_bytes(data, dialect, relevant)
        return self._refs[key]

    def is_file(self, path: str) -> bool:
        if path not in self._is_file:
            self._is_file[path] = os.path.isfile(path)  # noqa: PTH113
        return self._is_file[path]

    def is_dir(self, path: str) -> bool:
        if path not in self._is_dir:
            self._is_dir[path] = os.path.isdir(path)  # noqa: PTH112
        return self._is_dir[path]

    def tf_files(self, directory: str) -> tuple[str, ...]:
        if directory not in self._tf_files and self._listed and f"{directory}/".startswith(self._listed):
            return ()  # git lists no Terraform file there (a generated, ignored one is no change)
        if directory not in self._tf_files:
            try:
                with os.scandir(directory) as entries:
                    names = sorted(e.name for e in entries if e.name.endswith(TF_SUFFIXES) and e.is_file())
            except OSError:
                names = []
            self._tf_files[directory] = tuple(join(directory, name) for name in names)
        return self._tf_files[directory]
