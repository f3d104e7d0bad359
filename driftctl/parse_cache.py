"""The parse cache: each file parsed once, many files in worker processes, results kept between runs.

python-hcl2 costs a few milliseconds per file, which for thousands of stacks is most of a selection's
time: `RefCache` parses each content once (hcl.py's `parse_bytes`), in parallel when there are many
files, and with a store file keeps the results between runs in the stored form `encode`/`decode` make.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from driftctl import hcl_parser
from driftctl.hcl import (
    Call,
    ConfigLocal,
    Dialect,
    FileRefs,
    IncludeLocal,
    Lit,
    LocalVar,
    Opaque,
    ParseFailure,
    Part,
    PathExpr,
    Ref,
    RefKind,
    parse_bytes,
)

# ---- the stored form of FileRefs, for the cache kept between runs ----

# bump whenever what is extracted or how it is stored changes: stores of another version are ignored
STORE_VERSION = 3
try:
    _PARSER_VERSION = importlib.metadata.version("python-hcl2")
except importlib.metadata.PackageNotFoundError:  # vendored or run from a checkout
    _PARSER_VERSION = "unknown"


def encode(value: FileRefs | ParseFailure, table: dict[Ref, int]) -> object:
    """A JSON-able form of a parse result, its references as numbers in `table` (added as needed).

    Many files refer to the same things the same way (every stack's include of root.hcl): the store
    keeps each reference once, in `encode_refs(table)`.
    """
    if isinstance(value, ParseFailure):
        return {"failure": value.message}
    return {
        "refs": [table.setdefault(ref, len(table)) for ref in value.refs],
        "locals": {name: _encode_expr(expr) for name, expr in value.locals.items()},
    }


def encode_refs(table: Mapping[Ref, int]) -> list[object]:
    """The JSON-able form of `encode`'s table, in the order of its numbers."""
    return [[r.kind.value, _encode_expr(r.expr), r.text, r.line, r.name] for r in table]


def decode_refs(data: object) -> tuple[Ref, ...]:
    """The inverse of `encode_refs`; ValueError for anything it would not have produced."""
    return tuple(_decode_ref(item) for item in _list(data))


def decode(data: object, refs: Sequence[Ref]) -> FileRefs | ParseFailure:
    """The inverse of `encode`, given `decode_refs` of its table; ValueError for what it never makes."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    if "failure" in data:
        return ParseFailure(_str(data["failure"]))
    found = tuple(refs[_index(item, len(refs))] for item in _list(data.get("refs")))
    local_exprs = data.get("locals")
    if not isinstance(local_exprs, dict):
        raise ValueError("locals is not an object")
    return FileRefs(found, {_str(name): _decode_expr(expr) for name, expr in local_exprs.items()})


def _encode_expr(expr: PathExpr) -> list[object]:
    encoded: list[object] = []
    for part in expr:
        if isinstance(part, Lit):
            encoded.append(["L", part.text])
        elif isinstance(part, Call):
            encoded.append(["C", part.name, [_encode_expr(arg) for arg in part.args]])
        elif isinstance(part, LocalVar):
            encoded.append(["V", part.name])
        elif isinstance(part, IncludeLocal):
            encoded.append(["I", part.label, part.name])
        elif isinstance(part, ConfigLocal):
            encoded.append(["G", part.config, part.name])
        else:
            encoded.append(["O", part.text])
    return encoded


def _decode_expr(data: object) -> PathExpr:
    parts: list[Part] = []
    for item in _list(data):
        fields = _list(item)
        tag, size = (fields[0], len(fields)) if fields else (None, 0)
        if tag == "L" and size == 2:
            parts.append(Lit(_str(fields[1])))
        elif tag == "C" and size == 3:
            parts.append(Call(_str(fields[1]), tuple(_decode_expr(arg) for arg in _list(fields[2]))))
        elif tag == "V" and size == 2:
            parts.append(LocalVar(_str(fields[1])))
        elif tag == "I" and size == 3:
            parts.append(IncludeLocal(_str(fields[1]), _str(fields[2])))
        elif tag == "G" and size == 3:
            parts.append(ConfigLocal(_str(fields[1]), _str(fields[2])))
        elif tag == "O" and size == 2:
            parts.append(Opaque(_str(fields[1])))
        else:
            raise ValueError(f"unknown part {tag!r}")
    return tuple(parts)


def _decode_ref(data: object) -> Ref:
    kind, expr, text, line, name = _list(data)
    if not isinstance(line, int) or isinstance(line, bool):
        raise ValueError("line is not an integer")
    return Ref(RefKind(_str(kind)), _decode_expr(expr), _str(text), line, _str(name))


def _index(data: object, size: int) -> int:
    if not isinstance(data, int) or isinstance(data, bool) or not 0 <= data < size:
        raise ValueError("not a reference's number")
    return data


def _list(data: object) -> list[object]:
    if not isinstance(data, list):
        raise ValueError("not a list")
    return data


def _str(data: object) -> str:
    if not isinstance(data, str):
        raise ValueError("not a string")
    return data


# ---- reading files (I/O), with a per-content cache and parallel parsing of many files ----

_PARALLEL_AT = 64  # below this, starting worker processes costs more than it saves


class RefCache:
    """Parses each file once; files with identical bytes (copied stacks) share one parse.

    With a `store` file, results are also kept between runs, keyed by content: python-hcl2 costs a
    few milliseconds per file, which for thousands of stacks is most of a selection's time.
    """

    def __init__(self, workers: int | None = None, store: Path | None = None) -> None:
        self._by_path: dict[tuple[str, Dialect], FileRefs | ParseFailure | None] = {}
        self._by_content: dict[tuple[bytes, Dialect], FileRefs | ParseFailure] = {}
        # parses still under way in a batch (see _Batch): content -> where, path -> content
        self._waiting: dict[tuple[bytes, Dialect], tuple[_Batch, int]] = {}
        self._later: dict[tuple[str, Dialect], tuple[bytes, Dialect]] = {}
        self._batches: list[_Batch] = []
        self._workers = workers if workers is not None else _default_workers()
        self._store = store
        self._stored, self._stored_refs = _load_store(store) if store is not None else ({}, ())
        self._parsed = 0  # files actually parsed (not found in memory or the store)

    @property
    def parsed(self) -> int:
        return self._parsed

    def get(self, path: str, dialect: Dialect) -> FileRefs | ParseFailure | None:
        """The file's references; None when it does not exist."""
        key = (path, dialect)
        if key not in self._by_path:
            content = self._later.pop(key, None)
            if content is None:
                self.preload([path], dialect)
            else:
                self._by_path[key] = self._resolve(content)
        return self._by_path[key]

    def preload(self, paths: Sequence[str], dialect: Dialect) -> None:
        """Reads the files not seen yet and parses them, in worker processes when there are many.

        Those are parsed while the caller goes on: `get` then waits for a file's parse, or parses
        its chunk here when no worker has started it (see _Batch).
        """
        pending: dict[tuple[bytes, Dialect], bytes] = {}
        digests: dict[str, bytes] = {}
        for path in paths:
            if (path, dialect) in self._by_path or (path, dialect) in self._later:
                continue
            data = _read(path)
            if data is None or isinstance(data, ParseFailure):
                self._by_path[(path, dialect)] = data
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest()
            digests[path] = digest
            key = (digest, dialect)
            if key not in self._by_content and key not in self._waiting and not self._restore(key):
                pending[key] = data
        texts = list(pending.values())
        self._parsed += len(texts)
        batch = self._start(texts, dialect)
        if batch is None:
            self._by_content.update(zip(pending, _parse_chunk(texts, dialect), strict=True))
        else:
            self._waiting.update((key, (batch, index)) for index, key in enumerate(pending))
        for path, digest in digests.items():
            key = (digest, dialect)
            if key in self._by_content:
                self._by_path[(path, dialect)] = self._by_content[key]
            else:
                self._later[(path, dialect)] = key

    def ready(self, path: str, dialect: Dialect) -> bool:
        """Whether `get` would answer at once: no parse to run here, none to wait for."""
        content = self._later.get((path, dialect))
        if content is None or content in self._by_content:
            return (path, dialect) in self._by_path or content is not None
        batch, index = self._waiting[content]
        return batch.ready(index)

    def close(self) -> None:
        """Stops the worker processes; what they had not parsed yet is parsed here when asked for."""
        for batch in self._batches:
            batch.close()
        self._batches.clear()

    def save(self) -> None:
        """Writes what this run used to the store; a cache that cannot be written is no error."""
        if self._store is None:
            return
        if not self._parsed and {_store_key(key) for key in self._by_content} == self._stored.keys():
            return  # nothing parsed, nothing dropped: the store already says all of it
        for content in list(self._waiting):
            self._resolve(content)
        table: dict[Ref, int] = {}
        entries = {_store_key(key): encode(value, table) for key, value in self._by_content.items()}
        document = {
            "version": STORE_VERSION,
            "parser": _PARSER_VERSION,
            "refs": encode_refs(table),
            "entries": entries,
        }
        try:
            self._store.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._store.with_name(f"{self._store.name}.{os.getpid()}.tmp")
            text = json.dumps(document, separators=(",", ":"), check_circular=False)  # a tree of lists
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(self._store)  # atomic: a concurrent run reads the old or the new file
        except OSError:
            return

    def _resolve(self, content: tuple[bytes, Dialect]) -> FileRefs | ParseFailure:
        if content not in self._by_content:
            batch, index = self._waiting.pop(content)
            self._by_content[content] = batch.result(index)
        return self._by_content[content]

    def _restore(self, key: tuple[bytes, Dialect]) -> bool:
        stored = self._stored.get(_store_key(key))
        if stored is None:
            return False
        try:
            self._by_content[key] = decode(stored, self._stored_refs)
        except (ValueError, TypeError):
            return False
        return True

    def _start(self, texts: list[bytes], dialect: Dialect) -> _Batch | None:
        if self._workers < 2 or len(texts) < _PARALLEL_AT:
            return None
        self.close()  # one pool at a time: forking next to a running pool's thread is unsafe
        batch = _Batch.start(texts, dialect, self._workers)
        if batch is not None:
            self._batches.append(batch)
        return batch


class _Batch:
    """Files parsed in `workers - 1` child processes and in this one, chunk by chunk.

    The children take chunks from the start. A result asked for is awaited if a child has its
    chunk, else its chunk is parsed here and then. changed.py builds stack inputs from the
    start while the children's results are `ready` and from the end otherwise: this process does
    its own work on results as they come, parses from the end only when it would wait, and the
    results it parses need no pickling.
    """

    def __init__(self, pool: ProcessPoolExecutor, texts: list[bytes], dialect: Dialect, workers: int) -> None:
        # small chunks: whoever finishes first idles for at most the chunks handed to a child
        self._size = size = max(16, len(texts) // (workers * 32))
        self._pool, self._dialect = pool, dialect
        self._chunks = [texts[start : start + size] for start in range(0, len(texts), size)]
        self._results: list[list[FileRefs | ParseFailure] | None] = [None] * len(self._chunks)
        self._left = len(self._chunks)
        self._futures: list[Future[list[FileRefs | ParseFailure]]] = [
            pool.submit(_parse_chunk, chunk, dialect) for chunk in self._chunks
        ]

    @classmethod
    def start(cls, texts: list[bytes], dialect: Dialect, workers: int) -> _Batch | None:
        """None when no worker process can start: then the caller parses everything itself."""
        # fork is cheap (the parser built here is inherited) but unsafe once other threads run;
        # then the platform default is used
        fork = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
        if fork:
            hcl_parser.fast_parser()
        try:
            pool = ProcessPoolExecutor(
                workers - 1, mp_context=multiprocessing.get_context("fork" if fork else None)
            )
        except (OSError, RuntimeError):
            return None
        try:
            return cls(pool, texts, dialect, workers)
        except (OSError, RuntimeError):
            pool.shutdown(cancel_futures=True)
            return None

    def result(self, index: int) -> FileRefs | ParseFailure:
        number, offset = divmod(index, self._size)
        chunk = self._results[number]
        if chunk is None:
            future = self._futures[number]
            try:
                chunk = (
                    _parse_chunk(self._chunks[number], self._dialect) if future.cancel() else future.result()
                )
            except (OSError, RuntimeError):  # a worker died (BrokenProcessPool): parse here instead
                chunk = _parse_chunk(self._chunks[number], self._dialect)
            self._results[number] = chunk
            self._left -= 1
            if not self._left:
                self._pool.shutdown()
        return chunk[offset]

    def ready(self, index: int) -> bool:
        number = index // self._size
        return self._results[number] is not None or self._futures[number].done()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _store_key(key: tuple[bytes, Dialect]) -> str:
    return f"{key[1].value}:{key[0].hex()}"


def _load_store(store: Path) -> tuple[dict[str, object], tuple[Ref, ...]]:
    """The stored entries and their references; none when missing, unreadable or of another version."""
    try:
        document = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, ()
    if not isinstance(document, dict) or document.get("version") != STORE_VERSION:
        return {}, ()
    if document.get("parser") != _PARSER_VERSION:  # another parser may read files differently
        return {}, ()
    entries = document.get("entries")
    try:
        refs = decode_refs(document.get("refs"))
    except (ValueError, TypeError):
        return {}, ()
    return (entries, refs) if isinstance(entries, dict) else ({}, ())


def _read(path: str) -> bytes | ParseFailure | None:
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - hot path, str paths avoid Path objects
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as error:
        return ParseFailure(f"cannot read: {error.strerror}")


def _default_workers() -> int:
    cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _parse_chunk(texts: list[bytes], dialect: Dialect) -> list[FileRefs | ParseFailure]:
    # parse trees hold no reference cycles: the cycle collector would only walk them, again and again
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [parse_bytes(data, dialect) for data in texts]
    finally:
        if enabled:
            gc.enable()
