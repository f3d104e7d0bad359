"""What hcl.py reads out of Terragrunt and Terraform files with python-hcl2."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Tree

from driftctl import hcl
from driftctl.hcl import Call, Dialect, FileRefs, IncludeLocal, Lit, LocalVar, Opaque, ParseFailure, RefKind


def refs(text: str, dialect: Dialect = Dialect.TERRAGRUNT) -> list[tuple[RefKind, hcl.PathExpr, str]]:
    return [(ref.kind, ref.expr, ref.name) for ref in hcl.parse_text(text, dialect).refs]


def test_include_blocks_labelled_and_not() -> None:
    text = """
include "root" {
  path = find_in_parent_folders("root.hcl")
}
include {
  path = find_in_parent_folders()
}
"""
    assert refs(text) == [
        (RefKind.INCLUDE, (Call("find_in_parent_folders", ((Lit("root.hcl"),),)),), "root"),
        (RefKind.INCLUDE, (Call("find_in_parent_folders"),), ""),
    ]


def test_dependency_and_dependencies() -> None:
    text = """
dependency "vpc" {
  config_path = "../vpc"
  mock_outputs = { vpc_id = "x" }
}
dependencies {
  paths = ["../a", "${get_terragrunt_dir()}/../b"]
}
"""
    assert refs(text) == [
        (RefKind.DEPENDENCY, (Lit("../vpc"),), "vpc"),
        (RefKind.DEPENDENCY, (Lit("../a"),), ""),
        (RefKind.DEPENDENCY, (Call("get_terragrunt_dir"), Lit("/../b")), ""),
    ]


def test_dependencies_that_are_not_a_list_literal_stay_opaque() -> None:
    assert refs("dependencies {\n  paths = local.deps\n}\n") == [
        (RefKind.DEPENDENCY, (LocalVar("deps"),), "")
    ]
    assert refs('dependencies {\n  paths = concat(["../a"], local.more)\n}\n') == [
        (RefKind.DEPENDENCY, (Opaque('concat(["../a"], local.more)'),), "")
    ]


def test_terraform_source_and_var_files() -> None:
    text = """
terraform {
  source = "${get_terragrunt_dir()}/../../modules//vpc"
  extra_arguments "common" {
    commands           = ["plan"]
    required_var_files = ["${get_parent_terragrunt_dir()}/common.tfvars"]
    optional_var_files = ["${get_terragrunt_dir()}/${path_relative_from_include()}/x.tfvars"]
  }
}
"""
    assert refs(text) == [
        (RefKind.SOURCE, (Call("get_terragrunt_dir"), Lit("/../../modules//vpc")), ""),
        (RefKind.READ_FILE, (Call("get_parent_terragrunt_dir"), Lit("/common.tfvars")), "required_var_files"),
        (
            RefKind.READ_FILE,
            (Call("get_terragrunt_dir"), Lit("/"), Call("path_relative_from_include"), Lit("/x.tfvars")),
            "optional_var_files",
        ),
    ]


def test_read_functions_anywhere_with_nested_path_functions() -> None:
    text = """
locals {
  env    = read_terragrunt_config(find_in_parent_folders("env.hcl"))
  policy = jsondecode(file("${get_terragrunt_dir()}/policy.json"))
}
inputs = {
  user_data = templatefile("tpl/user_data.sh", { name = "x" })
  names     = fileset("${path_relative_to_include()}/files", "*.json")
}
generate "provider" {
  path     = "provider.tf"
  contents = file(("provider.tf.tpl"))
}
"""
    assert refs(text) == [
        (
            RefKind.READ_CONFIG,
            (Call("find_in_parent_folders", ((Lit("env.hcl"),),)),),
            "read_terragrunt_config",
        ),
        (RefKind.READ_FILE, (Call("get_terragrunt_dir"), Lit("/policy.json")), "file"),
        (RefKind.READ_FILE, (Lit("tpl/user_data.sh"),), "templatefile"),
        (RefKind.READ_DIR, (Call("path_relative_to_include"), Lit("/files")), "fileset"),
        (RefKind.READ_FILE, (Lit("provider.tf.tpl"),), "file"),
    ]


def test_locals_traversals_and_opaque_expressions() -> None:
    text = """
locals {
  base   = "../modules"
  source = "${local.base}/app"
  shared = include.envcommon.locals.base_source
  picked = var.enabled ? "a" : "b"
  called = lower("X")
  here   = "${path.module}/x"
}
"""
    parsed = hcl.parse_text(text, Dialect.TERRAGRUNT)
    assert dict(parsed.locals) == {
        "base": (Lit("../modules"),),
        "source": (LocalVar("base"), Lit("/app")),
        "shared": (IncludeLocal("envcommon", "base_source"),),
        "picked": (Opaque('var.enabled ? "a" : "b"'),),
        "called": (Opaque('lower("X")'),),
        "here": (Call("path.module"), Lit("/x")),
    }


def test_string_escapes_and_template_directives() -> None:
    text = r"""
locals {
  quoted    = "a\"b\\c\u00e9"
  escaped   = "$${not_interpolated}/%%{not_a_directive}"
  directive = "x/%{ if true }y%{ endif }"
}
"""
    parsed = hcl.parse_text(text, Dialect.TERRAGRUNT)
    assert parsed.locals["quoted"] == (Lit('a"b\\cé'),)
    assert parsed.locals["escaped"] == (Lit("${not_interpolated}/%{not_a_directive}"),)
    assert parsed.locals["directive"][0] == Lit("x/")
    assert isinstance(parsed.locals["directive"][1], Opaque)


def test_heredoc_reads_are_kept_literal_or_opaque() -> None:
    text = """
locals {
  script = <<-EOT
    echo ${file("scripts/a.sh")}
    echo ${file(local.other)}
  EOT
}
"""
    found = hcl.parse_text(text, Dialect.TERRAGRUNT).refs
    assert [(r.kind, r.expr, r.line) for r in found] == [
        (RefKind.READ_FILE, (Lit("scripts/a.sh"),), 4),
        (RefKind.READ_FILE, (Opaque("file(…"),), 5),
    ]


def test_refs_keep_their_text_and_line_for_messages() -> None:
    text = "locals {\n  a = 1\n  b = file(  local.x  )\n}\n"
    (ref,) = hcl.parse_text(text, Dialect.TERRAGRUNT).refs
    assert (ref.text, ref.line) == ("file( local.x )", 3)


def test_terraform_module_sources_and_reads() -> None:
    text = """
module "vpc" {
  source = "../vpc"
}
module net {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0.0"
}
resource "x" "y" {
  policy = file("${path.module}/policy.json")
  other  = provider::x::file("not-ours")
}
"""
    assert refs(text, Dialect.TERRAFORM) == [
        (RefKind.MODULE, (Lit("../vpc"),), "vpc"),
        (RefKind.MODULE, (Lit("terraform-aws-modules/vpc/aws"),), "net"),
        (RefKind.READ_FILE, (Call("path.module"), Lit("/policy.json")), "file"),
    ]


def test_terraform_blocks_are_not_terragrunt_references() -> None:
    # a Terraform file with a `terraform {}` block holds no Terragrunt source
    assert refs('terraform {\n  required_version = ">= 1.0"\n}\n', Dialect.TERRAFORM) == []


def test_files_that_cannot_refer_to_anything_are_not_parsed() -> None:
    # the pre-filter is sound: no block keyword, no read function, nothing to find (even if broken)
    assert hcl.parse_text('inputs = {\n  name = "x"\n', Dialect.TERRAGRUNT) == FileRefs()
    assert hcl.parse_text('output "x" { value = "${path.module}"\n', Dialect.TERRAFORM) == FileRefs()


def test_unparseable_text_raises_with_one_line() -> None:
    with pytest.raises(hcl.HclError) as raised:
        hcl.parse_text('include "root" {\n  path = \n}\n', Dialect.TERRAGRUNT)
    assert "\n" not in str(raised.value)


def test_parse_bytes_reports_failures_as_values() -> None:
    assert isinstance(hcl.parse_bytes(b"locals {\n", Dialect.TERRAGRUNT), ParseFailure)
    bad = hcl.parse_bytes(b'locals { a = "\xff" }', Dialect.TERRAGRUNT)
    assert isinstance(bad, ParseFailure) and "not UTF-8" in bad.message
    bom = hcl.parse_bytes('\ufeffdependency "x" {\n  config_path = "../x"\n}\n'.encode(), Dialect.TERRAGRUNT)
    assert isinstance(bom, FileRefs) and bom.refs[0].expr == (Lit("../x"),)


def test_terraform_json_module_sources() -> None:
    parsed = hcl.parse_bytes(
        b'{"module": {"a": {"source": "../a"}, "b": [{"source": "./b"}]}, "resource": {}}',
        Dialect.TERRAFORM_JSON,
    )
    assert isinstance(parsed, FileRefs)
    assert [(r.kind, r.expr, r.name) for r in parsed.refs] == [
        (RefKind.MODULE, (Lit("../a"),), "a"),
        (RefKind.MODULE, (Lit("./b"),), "b"),
    ]
    assert isinstance(hcl.parse_bytes(b"{", Dialect.TERRAFORM_JSON), ParseFailure)


def _hcl_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


@given(
    st.text(
        st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="$%{}") | st.sampled_from("\n\t"),
        max_size=40,
    )
)
def test_literal_paths_round_trip(path: str) -> None:
    text = f'dependency "x" {{\n  config_path = {_hcl_string(path)}\n}}\n'
    (ref,) = hcl.parse_text(text, Dialect.TERRAGRUNT).refs
    assert ref.expr == ((Lit(path),) if path else ())


# ---- the cache ----


def test_the_cache_parses_identical_contents_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hcl.parse_bytes

    def counting(data: bytes, dialect: Dialect) -> FileRefs | ParseFailure:
        calls.append(data)
        return real(data, dialect)

    monkeypatch.setattr(hcl, "parse_bytes", counting)
    body = 'dependency "x" {\n  config_path = "../x"\n}\n'
    paths = []
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text(body)
        paths.append(str(tmp_path / name))
    cache = hcl.RefCache(workers=1)
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
    parallel = hcl.RefCache(workers=2)
    parallel.preload(paths, Dialect.TERRAGRUNT)
    serial = hcl.RefCache(workers=1)
    assert [parallel.get(p, Dialect.TERRAGRUNT) for p in paths] == [
        serial.get(p, Dialect.TERRAGRUNT) for p in paths
    ]
    assert isinstance(parallel.get(paths[0], Dialect.TERRAGRUNT), ParseFailure)


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
    encoded = json.loads(json.dumps([hcl.encode(value, table) for value in values]))
    refs = hcl.decode_refs(json.loads(json.dumps(hcl.encode_refs(table))))
    assert [hcl.decode(data, refs) for data in encoded] == values


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
        hcl.decode(data, (_REF,))


@pytest.mark.parametrize("data", [None, {}, [["bogus", [], "", 1, ""]], [["include", [], "", "2", ""]]])
def test_malformed_stored_references_are_rejected(data: object) -> None:
    with pytest.raises(ValueError):
        hcl.decode_refs(data)


def test_the_store_is_reused_and_a_bad_store_ignored(tmp_path: Path) -> None:
    config = tmp_path / "terragrunt.hcl"
    config.write_text('dependency "x" {\n  config_path = "../x"\n}\n')
    store = tmp_path / "cache" / "refs.json"
    first = hcl.RefCache(workers=1, store=store)
    expected = first.get(str(config), Dialect.TERRAGRUNT)
    assert first.parsed == 1
    first.save()
    again = hcl.RefCache(workers=1, store=store)
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
        fresh = hcl.RefCache(workers=1, store=store)
        assert fresh.get(str(config), Dialect.TERRAGRUNT) == expected
        assert fresh.parsed == 1
    # an edited file has other contents, so it is parsed again whatever the store holds
    config.write_text('dependency "y" {\n  config_path = "../y"\n}\n')
    edited = hcl.RefCache(workers=1, store=store)
    result = edited.get(str(config), Dialect.TERRAGRUNT)
    assert isinstance(result, FileRefs) and result.refs[0].expr == (Lit("../y"),)


def test_a_store_that_would_not_change_is_not_rewritten(tmp_path: Path) -> None:
    config = tmp_path / "terragrunt.hcl"
    config.write_text('dependency "x" {\n  config_path = "../x"\n}\n')
    store = tmp_path / "refs.json"
    first = hcl.RefCache(workers=1, store=store)
    first.get(str(config), Dialect.TERRAGRUNT)
    first.save()
    written = store.stat().st_ino  # a rewrite replaces the file
    again = hcl.RefCache(workers=1, store=store)
    again.get(str(config), Dialect.TERRAGRUNT)
    again.save()
    assert store.stat().st_ino == written
    # an entry no file needs any more is dropped
    config.write_text('dependency "y" {\n  config_path = "../y"\n}\n')
    edited = hcl.RefCache(workers=1, store=store)
    edited.get(str(config), Dialect.TERRAGRUNT)
    edited.save()
    assert len(json.loads(store.read_text())["entries"]) == 1


def test_an_unwritable_store_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = hcl.RefCache(workers=1, store=tmp_path / "file" / "below-a-file.json")
    cache.get(str(tmp_path / "file"), Dialect.TERRAGRUNT)
    cache.save()


# ---- the fast parser: python-hcl2's trees without Lark's position bookkeeping ----

CORPUS = [
    "",
    "# only a comment",
    "\n\n// slashes\n/* a\nblock */\n",
    'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    'include {\n  path = "${get_terragrunt_dir()}/../root.hcl"\n}\nlocals { a = 1 }',
    # CRLF line endings, tabs, a BOM-less file ending without a newline
    'locals {\r\n\tenv = read_terragrunt_config(find_in_parent_folders("env.hcl"))\r\n}\r\n',
    'terraform {\n  source = "git::https://x/y.git//m?ref=v1"\n  extra_arguments "v" {\n'
    '    commands = ["plan", "apply"]\n    required_var_files = ["a.tfvars", local.b]\n  }\n}',
    'dependency "vpc" {\n  config_path = "../vpc"\n  mock_outputs = {\n    id = "x"\n    n  = 1\n  }\n'
    '  mock_outputs_allowed_terraform_commands = ["validate"]\n}\n'
    'dependencies {\n  paths = [\n    "../a",\n    "../b", # trailing comment\n  ]\n}\n',
    # binary operators continued on the next line (the post-lexer joins the newline to the operator)
    'locals {\n  a = 1\n    + 2\n  b = var.x\n    ? "y"\n    : "z"\n  c = var.a &&\n    var.b\n'
    "  d = (var.p\n    == 1)\n  e = -1\n  f = !var.q\n}\n",
    # strings: escapes, interpolation, directives, escaped markers, template strings in directives
    'locals {\n  a = "q\\"uote\\\\ \\u00e9 \\n"\n  b = "$${x} %%{y}"\n  c = "${local.a}/${var.b[0]}"\n'
    '  d = "%{ if var.x == \\"a\\" }yes%{ else }no%{ endif }"\n'
    '  e = "%{~ for k, v in var.m ~}${k}=${v},%{~ endfor ~}"\n}\n',
    # heredocs, both kinds, with reads inside and CRLF
    'locals {\n  a = <<EOT\nline ${file("x")}\nEOT\n  b = <<-EOT\n    indented\n    EOT\n'
    "  c = <<-E\r\n  crlf\r\n  E\r\n}\n",
    # collections, for expressions, splats, indexing, attribute access, provider functions
    'locals {\n  a = [for x in var.l : upper(x) if x != ""]\n'
    "  b = { for k, v in var.m : k => v... }\n  c = var.l[*].id\n  d = var.l.*.name\n"
    '  e = var.m["k"].x[0]\n  f = var.t.0\n  g = provider::aws::arn_parse(var.arn)\n'
    '  h = concat([1, 2.5, -3e2], [true, false, null], [])\n  i = { "q" : 1, r = 2, in = 3, for = 4 }\n'
    "  j = f(1, 2, [3]...)\n  k = {}\n  l = []\n}\n",
    # Terraform
    'module "vpc" {\n  source  = "./modules/vpc"\n  version = "~> 5.0"\n  for_each = toset(["a"])\n}\n'
    'resource "aws_s3_object" "o" {\n  content = file("${path.module}/x.json")\n'
    '  dynamic "tag" {\n    for_each = var.tags\n    content {\n      key = tag.key\n    }\n  }\n}\n'
    'output "o" { value = templatefile("t.tpl", { a = 1 }) }\n'
    'variable "v" {\n  type = map(object({ a = string }))\n  default = {}\n}\n',
    # blocks named like keywords and nested one-line blocks
    'in {\n  if = 1\n}\nblock "a" b {\n  inner { x = 1 }\n}\n',
    'locals {\n  unicode = "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \U0001f600"\n  path = "a b/c"\n}\n',
]


def test_the_fast_parser_is_in_use() -> None:
    # the self-check against python-hcl2 passed for this python-hcl2 and Lark
    assert hcl._fast_parser() is not None


@pytest.mark.parametrize("text", CORPUS)
def test_fast_trees_equal_python_hcl2_trees_token_for_token(text: str) -> None:
    fast = hcl._fast_parser()
    assert fast is not None
    tree = fast.parse(text + "\n")
    reference = hcl2.parses_to_tree(text)
    assert tree == reference
    assert hcl._same_trees(tree, reference)


@pytest.mark.parametrize("text", CORPUS)
def test_positions_from_tokens_equal_lark_positions(text: str) -> None:
    # python-hcl2 propagates positions to every node; `_source` and `_line` work them out from the
    # first and last token: both must agree on every node
    reference = hcl2.parses_to_tree(text)
    for node in reference.iter_subtrees():
        first, last = hcl._edge_token(node, first=True), hcl._edge_token(node, first=False)
        if node.meta.empty:
            assert first is None and last is None
        else:
            assert first is not None and last is not None
            assert (first.start_pos, last.end_pos, first.line) == (
                node.meta.start_pos,
                node.meta.end_pos,
                node.meta.line,
            )


def _refs_without_fast_parser(text: str, dialect: Dialect) -> FileRefs:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hcl, "_fast_parser", lambda: None)
        return hcl.parse_text(text, dialect)


@pytest.mark.parametrize("text", CORPUS)
@pytest.mark.parametrize("dialect", [Dialect.TERRAGRUNT, Dialect.TERRAFORM])
def test_fast_and_python_hcl2_parses_find_the_same_refs(text: str, dialect: Dialect) -> None:
    assert hcl.parse_text(text, dialect) == _refs_without_fast_parser(text, dialect)


BROKEN = [
    "locals {\n",
    'include "root" {\n  path = \n}\n',
    "locals { a = 1 = 2 }\n",
    'locals {\n  a = "unterminated\n}\n',
    "locals {\n  a = <<EOT\nno end\n}\n",
    "locals {\n  a = 1 +\n}\n",
    "locals {\n  a = (1\n}\n",
    "locals }\n",
    "locals {\n  a = $\n}\n",
    "locals {\n  a = 1\n}}\n",
    "locals {\n  = 1\n}\n",
]


@pytest.mark.parametrize("text", BROKEN)
def test_broken_text_fails_in_both_parsers_with_python_hcl2s_message(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = hcl._fast_parser()
    assert fast is not None
    with pytest.raises(Exception):  # noqa: B017 - any failure: python-hcl2 then words the error
        fast.parse(text + "\n")
    with pytest.raises(hcl.HclError) as raised:
        hcl.parse_text(text, Dialect.TERRAGRUNT)
    with pytest.raises(hcl.HclError) as expected, monkeypatch.context() as patch:
        patch.setattr(hcl, "_fast_parser", lambda: None)
        hcl.parse_text(text, Dialect.TERRAGRUNT)
    assert str(raised.value) == str(expected.value)


def test_when_the_fast_parser_fails_python_hcl2_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def parse(self, text: str) -> object:
            raise RuntimeError("a fast parser bug")

    monkeypatch.setattr(hcl, "_fast_parser", lambda: Failing())
    text = 'dependency "x" {\n  config_path = "../x"\n}\n'
    assert refs(text) == [(RefKind.DEPENDENCY, (Lit("../x"),), "x")]
    with pytest.raises(hcl.HclError):
        hcl.parse_text("locals {\n", Dialect.TERRAGRUNT)


def test_a_fast_parser_that_disagrees_with_python_hcl2_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    real = hcl2.parses_to_tree

    def different(text: str) -> object:
        tree = real(text)
        tree.children.append(Tree("extra", []))
        return tree

    monkeypatch.setattr(hcl2, "parses_to_tree", different)
    assert hcl._fast_parser.__wrapped__() is None


_FRAGMENTS = [
    *("a", "b", "local", "file", "locals", "for", "in", "if", "true", "null", "1", "2.5"),
    *("=", "==", "{", "}", "[", "]", "(", ")", ",", ".", ":", "?", "+", "-", "*", "!", "&&", "||"),
    *("=>", "...", "::", "[*]", ".*", "\n", "\n", "\n", " ", "# c\n", "/* c */", "<<EOT\nx\nEOT\n"),
    *('"s"', '"${a}"', '"%{ if a }x%{ endif }"'),
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map(" ".join))
def test_token_soup_parses_alike_or_fails_in_the_fast_parser(text: str) -> None:
    # never a tree where python-hcl2 has an error, never another tree where it has one
    fast = hcl._fast_parser()
    assert fast is not None
    try:
        reference = hcl2.parses_to_tree(text)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017
            fast.parse(text + "\n")
        return
    assert hcl._same_trees(fast.parse(text + "\n"), reference)


_names = st.sampled_from(["a", "b_1", "local", "var", "in", "for", "file", "x-y"])
_values = st.recursive(
    st.one_of(
        st.sampled_from(
            ['"s"', '"${local.a}/x"', "1", "-2.5", "true", "null", "var.v", 'file("f")', "<<E\nh\nE\n"]
        ),
        _names,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(_names, inner), max_size=3).map(
            lambda items: "{\n" + "".join(f"{k} = {v}\n" for k, v in items) + "}"
        ),
        st.tuples(inner, st.sampled_from([" + ", "\n  * ", " == ", " && "]), inner).map("".join),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        st.lists(inner, max_size=2).map(lambda args: "f(" + ", ".join(args) + ")"),
        inner.map(lambda v: f"({v})"),
    ),
    max_leaves=8,
)
_bodies = st.lists(
    st.one_of(
        st.tuples(_names, _values).map(lambda a: f"{a[0]} = {a[1]}\n"),
        st.tuples(_names, st.lists(st.tuples(_names, _values), max_size=3)).map(
            lambda b: f'{b[0]} "l" {{\n' + "".join(f"  {k} = {v}\n" for k, v in b[1]) + "}\n"
        ),
        st.just("# comment\n"),
    ),
    max_size=5,
).map("".join)


@given(_bodies)
def test_generated_configs_parse_alike(text: str) -> None:
    fast = hcl._fast_parser()
    assert fast is not None
    try:
        reference = hcl2.parses_to_tree(text)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017
            fast.parse(text + "\n")
        return
    assert hcl._same_trees(fast.parse(text + "\n"), reference)
    for dialect in (Dialect.TERRAGRUNT, Dialect.TERRAFORM):
        assert hcl.parse_text(text, dialect) == _refs_without_fast_parser(text, dialect)


READS = [
    'inputs = {\n  a = file("a") + file("b")\n  b = templatefile(file("c"), { d = filebase64("d") })\n}\n'
    'locals { e = [file("e"), <<EOT\n${file("f")} ${fileset(".", "*")}\nEOT\n, file("g")] }\n'
    'generate "x" {\n  contents = "${file("h")}${read_terragrunt_config("i")}"\n}\n',
    '# file("not a call") in a comment\ninputs = { a = "file" }\nlocals { b = mark_as_read("m") }\n',
    "inputs = {\n  a = <<-EOT\n    ${filemd5(local.x)}\n  EOT\n}\n",
]


@pytest.mark.parametrize("text", CORPUS + READS)
def test_reads_found_item_by_item_equal_one_walk_over_the_whole_tree(text: str) -> None:
    tree = hcl2.parses_to_tree(text)
    expected = sorted(hcl._read_calls(tree, text), key=lambda ref: ref.line)
    for dialect in (Dialect.TERRAGRUNT, Dialect.TERRAFORM):
        found = [ref for ref in hcl.parse_text(text, dialect).refs if ref.name in hcl.READ_FUNCTIONS]
        assert found == expected


def test_a_batch_closed_early_is_parsed_here_when_asked(tmp_path: Path) -> None:
    paths = []
    for number in range(200):
        path = tmp_path / f"{number}.hcl"
        path.write_text(f'dependency "d" {{\n  config_path = "../{number % 150}"\n}}\n')
        paths.append(str(path))
    serial = hcl.RefCache(workers=1)
    expected = [serial.get(p, Dialect.TERRAGRUNT) for p in paths]
    for close_early in (False, True):
        parallel = hcl.RefCache(workers=2)
        parallel.preload(paths, Dialect.TERRAGRUNT)
        if close_early:
            parallel.close()  # the chunks no worker started are cancelled
        found = [parallel.get(p, Dialect.TERRAGRUNT) for p in reversed(paths)][::-1]
        assert found == expected
        assert all(parallel.ready(p, Dialect.TERRAGRUNT) for p in paths)
        assert not parallel.ready(str(tmp_path / "unseen.hcl"), Dialect.TERRAGRUNT)
        assert parallel.parsed == 150  # 50 copies share a parse
        parallel.close()
