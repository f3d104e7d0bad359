"""What parse_cache.py keeps: each file parsed once, in worker processes when there are many, and the
store kept between runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftctl import hcl, parse_cache
from driftctl.hcl import Dialect, FileRefs, Lit, ParseFailure, RefKind

# ---- the cache ----


# ---- the cache ----


def test_the_cache_parses_identical_contents_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hcl.parse_bytes

    def counting(data: bytes, dialect: Dialect) -> FileRefs | ParseFailure:
        calls.append(data)
        return real(data, dialect)

    monkeypatch.setattr(parse_cache, "parse_bytes", counting)
    body = 'dependency "x" {\n  config_path = "../x"\n}\n'
    paths = []
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text(body)
        paths.append(str(tmp_path / name))
    cache = parse_cache.RefCache(workers=1)
    results = [cache.get(path, Dialect.TERRAGRUNT) for path in paths]
    assert len(calls) == 1
    assert results[0] == results[1] == results[2]
    assert cache.get(str(tmp_path / "missing"), Dialect.TERRAGRUNT) is None
    assert cache.get(str(tmp_path), Dialect.TERRAGRUNT) is None  # a directory is no file


def test_many_files_parse_in_worker_processes_with_the_same_result(tmp_path: Path) -> None:
    paths = []
    for number in range(80):
        path = tmp_path / f"{number}.hcl"
        path.write_text(f'dependency "d" {{\n  config_path = "../{number}"\n}}\n' if number else "locals {\n")
        paths.append(str(path))
    parallel = parse_cache.RefCache(workers=2)
    parallel.preload(paths, Dialect.TERRAGRUNT)
    serial = parse_cache.RefCache(workers=1)
    assert [parallel.get(p, Dialect.TERRAGRUNT) for p in paths] == [
        serial.get(p, Dialect.TERRAGRUNT) for p in paths
    ]
    assert isinstance(parallel.get(paths[0], Dialect.TERRAGRUNT), ParseFailure)


def test_a_batch_closed_early_is_parsed_here_when_asked(tmp_path: Path) -> None:
    paths = []
    for number in range(200):
        path = tmp_path / f"{number}.hcl"
        path.write_text(f'dependency "d" {{\n  config_path = "../{number % 150}"\n}}\n')
        paths.append(str(path))
    serial = parse_cache.RefCache(workers=1)
    expected = [serial.get(p, Dialect.TERRAGRUNT) for p in paths]
    for close_early in (False, True):
        parallel = parse_cache.RefCache(workers=2)
        parallel.preload(paths, Dialect.TERRAGRUNT)
        if close_early:
            parallel.close()  # the chunks no worker started are cancelled
        found = [parallel.get(p, Dialect.TERRAGRUNT) for p in reversed(paths)][::-1]
        assert found == expected
        assert all(parallel.ready(p, Dialect.TERRAGRUNT) for p in paths)
        assert not parallel.ready(str(tmp_path / "unseen.hcl"), Dialect.TERRAGRUNT)
        assert parallel.parsed == 150  # 50 copies share a parse
        parallel.close()


# ---- the store kept between runs ----
# ---- the store kept between runs ----

_texts = st.text(max_size=8)
_exprs = st.recursive(
    st.lists(
        st.one_of(
            st.builds(hcl.Lit, _texts),
            st.builds(hcl.LocalVar, _texts),
            st.builds(hcl.IncludeLocal, _texts, _texts),
            st.builds(hcl.ConfigLocal, _texts, _texts),
            st.builds(hcl.Opaque, _texts),
        ),
        max_size=3,
    ).map(tuple),
    lambda inner: st.lists(
        st.builds(hcl.Call, _texts, st.lists(inner, max_size=2).map(tuple)), min_size=1, max_size=2
    ).map(tuple),
    max_leaves=6,
)
_file_refs = st.builds(
    FileRefs,
    st.lists(
        st.builds(hcl.Ref, st.sampled_from(RefKind), _exprs, _texts, st.integers(0, 10_000), _texts),
        max_size=4,
    ).map(tuple),
    st.dictionaries(_texts, _exprs, max_size=3),
)


@given(st.lists(st.one_of(_file_refs, st.builds(ParseFailure, _texts)), max_size=3))
def test_stored_form_round_trips(values: list[FileRefs | ParseFailure]) -> None:
    table: dict[hcl.Ref, int] = {}  # shared by the values, as in the store
    encoded = json.loads(json.dumps([parse_cache.encode(value, table) for value in values]))
    refs = parse_cache.decode_refs(json.loads(json.dumps(parse_cache.encode_refs(table))))
    assert [parse_cache.decode(data, refs) for data in encoded] == values


_REF = hcl.Ref(RefKind.INCLUDE, (Lit("../root.hcl"),), '"../root.hcl"', 2, "root")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"refs": [1], "locals": {}},  # no such reference
        {"refs": [-1], "locals": {}},
        {"refs": [True], "locals": {}},
        {"refs": [[0]], "locals": {}},
        {"refs": [0], "locals": []},
    ],
)
def test_malformed_stored_entries_are_rejected(data: object) -> None:
    with pytest.raises(ValueError):
        parse_cache.decode(data, (_REF,))


@pytest.mark.parametrize("data", [None, {}, [["bogus", [], "", 1, ""]], [["include", [], "", "2", ""]]])
def test_malformed_stored_references_are_rejected(data: object) -> None:
    with pytest.raises(ValueError):
        parse_cache.decode_refs(data)


def test_the_store_is_reused_and_a_bad_store_ignored(tmp_path: Path) -> None:
    config = tmp_path / "terragrunt.hcl"
    config.write_text('dependency "x" {\n  config_path = "../x"\n}\n')
    store = tmp_path / "cache" / "refs.json"
    first = parse_cache.RefCache(workers=1, store=store)
    expected = first.get(str(config), Dialect.TERRAGRUNT)
    assert first.parsed == 1
    first.save()
    again = parse_cache.RefCache(workers=1, store=store)
    assert again.get(str(config), Dialect.TERRAGRUNT) == expected
    assert again.parsed == 0
    saved = json.loads(store.read_text())
    ((key, entry),) = saved["entries"].items()
    # version 2 kept each file's references in its entry
    previous = {
        "version": 2,
        "parser": saved["parser"],
        "entries": {key: {"refs": [saved["refs"][i] for i in entry["refs"]], "locals": entry["locals"]}},
    }
    bad_stores = [
        "not json",
        '{"version": -1, "entries": {}}',
        json.dumps({**saved, "parser": "0"}),
        json.dumps(previous),
        json.dumps({**saved, "refs": [["bogus"]]}),  # a broken table: nothing in the store is used
        json.dumps({**saved, "refs": []}),  # the entry names a reference the table lacks
    ]
    for bad in bad_stores:
        store.write_text(bad)
        fresh = parse_cache.RefCache(workers=1, store=store)
        assert fresh.get(str(config), Dialect.TERRAGRUNT) == expected
        assert fresh.parsed == 1
    # an edited file has other contents, so it is parsed again whatever the store holds
    config.write_text('dependency "y" {\n  config_path = "../y"\n}\n')
    edited = parse_cache.RefCache(workers=1, store=store)
    result = edited.get(str(config), Dialect.TERRAGRUNT)
    assert isinstance(result, FileRefs) and result.refs[0].expr == (Lit("../y"),)


def test_a_store_that_would_not_change_is_not_rewritten(tmp_path: Path) -> None:
    config = tmp_path / "terragrunt.hcl"
    config.write_text('dependency "x" {\n  config_path = "../x"\n}\n')
    store = tmp_path / "refs.json"
    first = parse_cache.RefCache(workers=1, store=store)
    first.get(str(config), Dialect.TERRAGRUNT)
    first.save()
    written = store.stat().st_ino  # a rewrite replaces the file
    again = parse_cache.RefCache(workers=1, store=store)
    again.get(str(config), Dialect.TERRAGRUNT)
    again.save()
    assert store.stat().st_ino == written
    # an entry no file needs any more is dropped
    config.write_text('dependency "y" {\n  config_path = "../y"\n}\n')
    edited = parse_cache.RefCache(workers=1, store=store)
    edited.get(str(config), Dialect.TERRAGRUNT)
    edited.save()
    assert len(json.loads(store.read_text())["entries"]) == 1


def test_an_unwritable_store_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = parse_cache.RefCache(workers=1, store=tmp_path / "file" / "below-a-file.json")
    assert cache.get(str(tmp_path / "file"), Dialect.TERRAGRUNT) == FileRefs(refs=(), locals={})
    cache.save()  # cannot be written: skipped, not raised
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert (tmp_path / "file").read_text() == ""
