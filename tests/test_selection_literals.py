"""The literal pre-filter: tails, unbounded references, and that it never misses a path a file names."""

from __future__ import annotations

import posixpath

from hypothesis import given
from hypothesis import strategies as st

from driftctl.selection import literals
from driftctl.selection.literals import Literals, scan


def wanted(*paths: str) -> set[str]:
    return {suffix for path in paths for suffix in literals.suffixes(path)}


def test_tails_of_every_kind_of_reference() -> None:
    text = """
include "root" {
  path = find_in_parent_folders("root.hcl")
}
include "env" {
  path = "${dirname(find_in_parent_folders("root.hcl"))}/_envcommon/${basename(get_terragrunt_dir())}.hcl"
}
terraform {
  source = "../../modules//vpc?ref=v1"
  extra_arguments "x" {
    required_var_files = ["${get_parent_terragrunt_dir()}/common.tfvars"]
  }
}
dependencies {
  paths = ["../a", "${get_terragrunt_dir()}/../b"]
}
inputs = {
  policy = file("policy.json")
  name   = "not-a-path"
}
"""
    assert scan(text, "prod/app") == Literals(
        frozenset({"root.hcl", "modules/vpc", "common.tfvars", "prod/a", "b", "policy.json"}),
        frozenset({".hcl"}),
        False,
    )


def test_relative_strings_resolve_only_in_a_files_own_directory() -> None:
    text = 'dependency "vpc" {\n  config_path = "../vpc"\n}\n'
    assert scan(text, "prod/app").tails == {"prod/vpc"}
    # an included file's relative paths are the includer's: only the names are known
    assert scan(text, None).tails == {"vpc"}
    # above the root: the names, wherever they are
    assert scan(text, ".").tails == {"vpc"}


def test_references_without_a_tail_are_unbounded() -> None:
    for value in ("local.src", '"${local.base}?ref=v1"', '"${local.dir}/"', '"${get_terragrunt_dir()}/.."'):
        assert scan(f"terraform {{\n  source = {value}\n}}\n", "a").unbounded, value
    assert scan('dependencies {\n  paths = concat(local.a, ["../b"])\n}\n', "a").unbounded
    assert scan("locals {\n  x = file(local.path)\n}\n", "a").unbounded
    # in Terraform a module's source is always a literal: no module is unbounded
    assert not scan('resource "x" "y" {\n  source = var.file\n}\n', "a", references=False).unbounded


def test_find_in_parent_folders_names_and_fallbacks() -> None:
    assert scan("include {\n  path = find_in_parent_folders()\n}\n", "a").tails == {
        "terragrunt.hcl",
        "terragrunt.hcl.json",
    }
    text = 'locals {\n  c = read_terragrunt_config(find_in_parent_folders("c.hcl", "../d/c.hcl"))\n}\n'
    assert scan(text, "a/b").tails == {"c.hcl", "d/c.hcl"}


def test_json_heredocs_and_names_that_only_look_like_sites() -> None:
    assert scan('{"module": {"n": {"source": "../../modules/net"}}}', "stacks/three").tails == {"modules/net"}
    heredoc = 'x = <<EOF\n${file("inside.json")}\nEOF\ny = local.path\nz = path.module\n'
    assert scan(heredoc, "a") == Literals(frozenset({"inside.json"}), frozenset(), False)
    assert scan('source_file = "x.zip"\nnotpath = local.y\n', "a") == Literals(
        frozenset(), frozenset(), False
    )


def test_matching_whole_names_and_glued_tails() -> None:
    lits = scan('include "e" {\n  path = "${local.dir}/_envcommon/${local.name}.hcl"\n}\n', None)
    assert literals.matches(lits, wanted("_envcommon/app.hcl"), wanted("_envcommon/app.hcl"))
    assert not literals.matches(lits, wanted("README.md"), wanted("README.md"))
    lits = scan('terraform {\n  source = "${get_repo_root()}/modules/app"\n}\n', "a")
    assert literals.matches(lits, wanted("modules/app"), [])
    assert not literals.matches(lits, wanted("modules/webapp"), [])


_NAME = st.text(alphabet="abcxyz-_", min_size=1, max_size=4)


@given(
    directory=st.lists(_NAME, min_size=1, max_size=3).map("/".join),
    pieces=st.lists(
        st.one_of(
            _NAME, st.just(".."), st.just("."), st.just("${local.x}"), st.just("${get_terragrunt_dir()}")
        ),
        min_size=1,
        max_size=5,
    ),
    glue=st.lists(st.booleans(), min_size=5, max_size=5),
    values=st.lists(st.lists(_NAME, min_size=1, max_size=3).map("/".join), min_size=5, max_size=5),
)
def test_a_file_is_a_candidate_whenever_the_path_it_names_matters(
    directory: str, pieces: list[str], glue: list[bool], values: list[str]
) -> None:
    """Whatever the interpolations turn out to be, the path written is among what the tails can end."""
    written = ""
    for index, piece in enumerate(pieces):
        written += piece if index == 0 or glue[index] else "/" + piece
    text = f'terraform {{\n  source = "{written}"\n}}\n'
    lits = scan(text, directory)
    actual = written
    for value in values:
        actual = actual.replace("${local.x}", value, 1).replace("${get_terragrunt_dir()}", "/" + value, 1)
    resolved = posixpath.normpath(posixpath.join(directory, actual)).lstrip("/")
    if resolved.startswith("..") or resolved in ("", "."):
        return  # outside the root: nothing there changes
    suffixes = wanted(resolved)
    assert lits.unbounded or literals.matches(lits, suffixes, suffixes), (written, resolved, lits)


def test_relevant_blanks_what_holds_no_reference_and_keeps_every_offset() -> None:
    text = (
        'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
        'locals {\n  name = "x"\n}\n'
        'inputs = {\n  a = "b"\n  c = <<EOF\n}{\nEOF\n}\n'
        'generate "p" {\n  path = "provider.tf"\n}\n'
        'remote_state {\n  backend = "s3"\n}\n'
    )
    blanked = literals.relevant(text)
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert "inputs" not in blanked and "remote_state" not in blanked
    for kept in ('include "root"', "locals {", 'generate "p"'):
        assert blanked.index(kept) == text.index(kept)
    # unbalanced: parsed whole, so that python-hcl2 reports the error
    assert literals.relevant("terraform {\n  x = 1\n") == "terraform {\n  x = 1\n"


def test_relevant_blanks_inside_kept_blocks_too() -> None:
    text = (
        'dependency "vpc" {\n  config_path = "../vpc"\n  mock_outputs = {\n    id = "x"\n  }\n}\n'
        'unit "a" {\n  source = "../units/a"\n  values = { module = "m" }\n}\n'
    )
    blanked = literals.relevant(text)
    assert "mock_outputs" not in blanked and 'config_path = "../vpc"' in blanked
    assert 'values = { module = "m" }' in blanked  # evaluation reads a unit's values
    assert len(blanked) == len(text)
