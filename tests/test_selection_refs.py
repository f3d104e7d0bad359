"""What hcl.py reads out of Terragrunt and Terraform files with python-hcl2."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftctl.selection import refs as hcl
from driftctl.selection.refs import (
    Call,
    Dialect,
    FileRefs,
    IncludeLocal,
    Lit,
    LocalVar,
    Opaque,
    ParseFailure,
    RefKind,
)


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


def test_terragrunt_json_configs_are_read_as_native_syntax() -> None:
    document = (
        b'{"include": {"root": {"path": "${find_in_parent_folders(\\"root.hcl\\")}"}},'
        b' "terraform": {"source": "a\\"b/${local.x}"}, "locals": {"x": "y"}, "inputs": {"n": 1}}'
    )
    parsed = hcl.parse_bytes(document, Dialect.TERRAGRUNT_JSON)
    assert isinstance(parsed, FileRefs)
    assert [(ref.kind, ref.expr) for ref in parsed.refs] == [
        (RefKind.INCLUDE, (Call("find_in_parent_folders", ((Lit("root.hcl"),),)),)),
        (RefKind.SOURCE, (Lit('a"b/'), LocalVar("x"))),
    ]
    assert parsed.locals == {"x": (Lit("y"),)}
    assert hcl.parse_bytes(b"[1]", Dialect.TERRAGRUNT_JSON) == ParseFailure(
        "cannot parse: a terragrunt.hcl.json document must be an object"
    )
