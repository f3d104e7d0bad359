"""hcl_parser.py's fast parser: python-hcl2's trees without Lark's position bookkeeping."""

from __future__ import annotations

import hcl2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Tree
from test_hcl import refs

from driftctl import hcl, hcl_parser
from driftctl.hcl import Dialect, FileRefs, Lit, RefKind

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
    assert hcl_parser.fast_parser() is not None


@pytest.mark.parametrize("text", CORPUS)
def test_fast_trees_equal_python_hcl2_trees_token_for_token(text: str) -> None:
    fast = hcl_parser.fast_parser()
    assert fast is not None
    tree = fast.parse(text + "\n")
    reference = hcl2.parses_to_tree(text)
    assert tree == reference
    assert hcl_parser._same_trees(tree, reference)


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
        patch.setattr(hcl_parser, "fast_parser", lambda: None)
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
    fast = hcl_parser.fast_parser()
    assert fast is not None
    with pytest.raises(Exception):  # noqa: B017 - any failure: python-hcl2 then words the error
        fast.parse(text + "\n")
    with pytest.raises(hcl.HclError) as raised:
        hcl.parse_text(text, Dialect.TERRAGRUNT)
    with pytest.raises(hcl.HclError) as expected, monkeypatch.context() as patch:
        patch.setattr(hcl_parser, "fast_parser", lambda: None)
        hcl.parse_text(text, Dialect.TERRAGRUNT)
    assert str(raised.value) == str(expected.value)


def test_when_the_fast_parser_fails_python_hcl2_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def parse(self, text: str) -> object:
            raise RuntimeError("a fast parser bug")

    monkeypatch.setattr(hcl_parser, "fast_parser", lambda: Failing())
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
    assert hcl_parser.fast_parser.__wrapped__() is None


_FRAGMENTS = [
    *("a", "b", "local", "file", "locals", "for", "in", "if", "true", "null", "1", "2.5"),
    *("=", "==", "{", "}", "[", "]", "(", ")", ",", ".", ":", "?", "+", "-", "*", "!", "&&", "||"),
    *("=>", "...", "::", "[*]", ".*", "\n", "\n", "\n", " ", "# c\n", "/* c */", "<<EOT\nx\nEOT\n"),
    *('"s"', '"${a}"', '"%{ if a }x%{ endif }"'),
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map(" ".join))
def test_token_soup_parses_alike_or_fails_in_the_fast_parser(text: str) -> None:
    _assert_parses_alike(text)


def _assert_parses_alike(text: str) -> bool:
    """Never a tree where python-hcl2 has an error, never another tree where it has one.

    Returns whether python-hcl2 accepted the text.
    """
    fast = hcl_parser.fast_parser()
    assert fast is not None
    try:
        reference = hcl2.parses_to_tree(text)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017
            fast.parse(text + "\n")
        return False
    assert hcl_parser._same_trees(fast.parse(text + "\n"), reference)
    return True


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
    if not _assert_parses_alike(text):
        return
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
