"""Changed-stack selection against real git repositories of Terragrunt and Terraform stacks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_selection_git import GitRepo, isolate_git

from driftctl.discover import discover
from driftctl.model import Selection, Stack, Tool
from driftctl.selection import choose, evaluate, git, select_changed
from driftctl.selection.choose import Touch, explain_lines
from driftctl.selection.graph import StackInputs


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


def stack(
    repo: GitRepo,
    stack_id: str,
    *,
    source: str | None = None,
    dependencies: Sequence[str] = (),
    root: bool = True,
    extra: str = "",
) -> None:
    """Writes `<stack_id>/terragrunt.hcl`: include of root.hcl, a source, dependency blocks, more."""
    lines = ['include "root" {\n  path = find_in_parent_folders("root.hcl")\n}'] if root else []
    if source is not None:
        lines.append(f'terraform {{\n  source = "{source}"\n}}')
    for dependency in dependencies:
        name = dependency.rsplit("/", 1)[-1]
        lines.append(f'dependency "{name}" {{\n  config_path = "{dependency}"\n}}')
    lines.append(extra)
    repo.write(f"{stack_id}/terragrunt.hcl", "\n".join(lines) + "\n")


def module(repo: GitRepo, path: str, *calls: str) -> None:
    body = "".join(f'module "m{n}" {{\n  source = "{call}"\n}}\n' for n, call in enumerate(calls))
    repo.write(f"{path}/main.tf", body + 'resource "null_resource" "x" {}\n')


@pytest.fixture
def infra(tmp_path: Path) -> GitRepo:
    """
    prod/vpc  -> modules/vpc -> modules/subnet
    prod/app  -> modules/app, dependency prod/vpc
    prod/web  -> dependencies [prod/app]
    prod/db   -> modules/db, reads prod/env.hcl, prod/db/policy.json, shared/user_data.tpl
    dev/app   -> modules/app
    """
    repo = GitRepo.create(tmp_path / "infra")
    repo.write("root.hcl", 'locals {\n  org = "acme"\n}\n')
    module(repo, "modules/vpc", "../subnet")
    module(repo, "modules/subnet")
    module(repo, "modules/app")
    module(repo, "modules/db")
    repo.write("prod/env.hcl", 'locals {\n  env = "prod"\n}\n')
    repo.write("shared/user_data.tpl", "#!/bin/sh\n")
    stack(repo, "prod/vpc", source="../../modules//vpc")
    stack(repo, "prod/app", source="${get_terragrunt_dir()}/../../modules/app", dependencies=["../vpc"])
    stack(repo, "prod/web", extra='dependencies {\n  paths = ["../app"]\n}')
    stack(
        repo,
        "prod/db",
        source="../../modules/db",
        extra="""locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl"))
}
inputs = {
  policy    = file("policy.json")
  user_data = templatefile("${get_terragrunt_dir()}/../../shared/user_data.tpl", {})
}""",
    )
    repo.write("prod/db/policy.json", "{}\n")
    stack(repo, "dev/app", source="../../modules/app")
    repo.write("docs/README.md", "docs\n")
    repo.commit("infrastructure")
    return repo


def select(
    repo: GitRepo, root: Path | None = None, tool: Tool = Tool.TERRAGRUNT, **options: object
) -> Selection:
    directory = root or repo.path
    stacks = discover(directory, tool)
    return select_changed(directory, stacks, **options)  # type: ignore[arg-type]


def ids(selection: Selection) -> list[str]:
    return [s.id for s in selection.stacks]


def change(repo: GitRepo, path: str, text: str = "\n# changed\n") -> None:
    target = repo.path / path
    target.write_text(target.read_text(encoding="utf-8") + text, encoding="utf-8")


# ---- what a change selects ----


def test_a_leaf_stack_change_selects_only_that_stack(infra: GitRepo) -> None:
    change(infra, "prod/web/terragrunt.hcl")
    infra.commit()
    selection = select(infra)
    assert selection.mode == "changed"
    assert ids(selection) == ["prod/web"]
    assert selection.reasons == {"prod/web": ("prod/web/terragrunt.hcl changed",)}
    assert selection.fallback_reason is None and selection.removed == ()


def test_a_shared_module_change_selects_its_users_and_their_dependents(infra: GitRepo) -> None:
    change(infra, "modules/app/main.tf")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["dev/app", "prod/app", "prod/web"]
    assert selection.reasons["dev/app"] == ("source modules/app <- modules/app/main.tf changed",)
    assert selection.reasons["prod/web"] == (
        "dependency prod/app <- source modules/app <- modules/app/main.tf changed",
    )


def test_a_module_called_by_a_module_selects_through_the_chain(infra: GitRepo) -> None:
    change(infra, "modules/subnet/main.tf")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/app", "prod/vpc", "prod/web"]
    assert explain_lines(selection) == [
        "prod/app <- dependency prod/vpc <- source modules/vpc <- module modules/subnet"
        " <- modules/subnet/main.tf changed",
        "prod/vpc <- source modules/vpc <- module modules/subnet <- modules/subnet/main.tf changed",
        "prod/web <- dependency prod/app <- dependency prod/vpc <- source modules/vpc"
        " <- module modules/subnet <- modules/subnet/main.tf changed",
    ]


def test_a_dependency_change_selects_dependents_transitively(infra: GitRepo) -> None:
    change(infra, "prod/vpc/terragrunt.hcl")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/app", "prod/vpc", "prod/web"]
    assert selection.reasons["prod/web"] == (
        "dependency prod/app <- dependency prod/vpc <- prod/vpc/terragrunt.hcl changed",
    )


def test_files_a_config_reads_through_literal_paths(infra: GitRepo) -> None:
    for path, reason in [
        ("prod/env.hcl", "read_terragrunt_config prod/env.hcl changed"),
        ("shared/user_data.tpl", "templatefile shared/user_data.tpl changed"),
    ]:
        change(infra, path)
        infra.commit()
        selection = select(infra)
        assert ids(selection) == ["prod/db"], path
        assert selection.reasons["prod/db"] == (reason,)
    change(infra, "prod/db/policy.json")
    infra.commit()
    assert select(infra).reasons["prod/db"] == (
        "prod/db/policy.json changed",
        "file prod/db/policy.json changed",
    )


def test_a_change_no_stack_reads_selects_nothing(infra: GitRepo) -> None:
    change(infra, "docs/README.md")
    infra.commit()
    selection = select(infra)
    assert selection.stacks == () and selection.fallback_reason is None


def test_a_global_file_change_selects_everything(infra: GitRepo) -> None:
    change(infra, "root.hcl")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["dev/app", "prod/app", "prod/db", "prod/vpc", "prod/web"]
    assert set(selection.reasons.values()) == {("global file root.hcl changed",)}
    assert selection.fallback_reason is None


@pytest.mark.parametrize(
    "path", [".terraform-version", ".tool-versions", ".terraform.lock.hcl", "common.yaml", ".driftctl.yaml"]
)
def test_default_global_files(infra: GitRepo, path: str) -> None:
    infra.write(path, "x\n")
    infra.commit()
    assert len(select(infra).stacks) == 5


def test_global_patterns_are_configurable(infra: GitRepo) -> None:
    infra.write("config/team/owners.yaml", "a: b\n")
    infra.commit()
    assert select(infra).stacks == ()
    assert len(select(infra, global_patterns=["config/**"]).stacks) == 5
    # without root.hcl as a global file, its includes still lead to every stack including it
    change(infra, "root.hcl")
    infra.commit()
    selection = select(infra, global_patterns=[])
    assert len(selection.stacks) == 5
    assert selection.reasons["prod/db"] == ("include root.hcl changed",)


def test_a_deleted_stack_is_removed_and_its_dependents_selected(infra: GitRepo) -> None:
    infra.git("rm", "-q", "-r", "prod/vpc")
    infra.commit()
    selection = select(infra)
    assert selection.removed == ("prod/vpc",)
    assert ids(selection) == ["prod/app", "prod/web"]
    assert selection.reasons["prod/app"] == ("dependency prod/vpc <- prod/vpc/terragrunt.hcl deleted",)


def test_a_deleted_leaf_is_only_removed(infra: GitRepo) -> None:
    infra.git("rm", "-q", "-r", "prod/web")
    infra.commit()
    selection = select(infra)
    assert selection.removed == ("prod/web",) and selection.stacks == ()
    assert explain_lines(selection) == ["prod/web removed: not planned; its metrics can be dropped"]


def test_a_rename_across_stacks_selects_both(infra: GitRepo) -> None:
    infra.write("prod/app/extra.tf", "".join(f'locals {{ n{n} = "{n}" }}\n' for n in range(20)))
    infra.commit()
    infra.git("mv", "prod/app/extra.tf", "prod/db/extra.tf")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/app", "prod/db", "prod/web"]
    assert selection.reasons["prod/app"] == ("prod/app/extra.tf renamed to prod/db/extra.tf",)
    assert selection.reasons["prod/db"] == ("prod/db/extra.tf renamed from prod/app/extra.tf",)


def test_a_renamed_stack_is_selected_at_its_new_place_and_removed_at_the_old(infra: GitRepo) -> None:
    infra.git("mv", "prod/web", "prod/frontend")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/frontend"]
    assert selection.removed == ("prod/web",)


def test_paths_with_spaces_unicode_and_newlines(infra: GitRepo) -> None:
    for name in ("prod/db/with space.json", "prod/vpc/ünïcødé.json", "dev/app/new\nline.json"):
        infra.write(name, "{}\n")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["dev/app", "prod/app", "prod/db", "prod/vpc", "prod/web"]
    assert selection.reasons["dev/app"] == ("dev/app/new\\nline.json added",)
    assert all("\n" not in line for line in explain_lines(selection))


def test_include_uncommitted(infra: GitRepo) -> None:
    change(infra, "prod/web/terragrunt.hcl")
    infra.commit()
    change(infra, "prod/db/policy.json")  # unstaged
    change(infra, "modules/vpc/main.tf")
    infra.git("add", "modules/vpc/main.tf")  # staged
    infra.write("dev/app/new.auto.tfvars", 'x = "y"\n')  # untracked
    infra.write(".gitignore", "*.log\n")
    infra.write("prod/vpc/debug.log", "ignored\n")
    assert ids(select(infra)) == ["prod/web"]
    selection = select(infra, include_uncommitted=True)
    assert ids(selection) == ["dev/app", "prod/app", "prod/db", "prod/vpc", "prod/web"]
    assert selection.reasons["dev/app"] == ("dev/app/new.auto.tfvars added (untracked)",)
    assert "prod/vpc/debug.log" not in " ".join(explain_lines(selection))


# ---- Terragrunt's path functions ----


def test_envcommon_includes_with_repo_root_and_included_locals(infra: GitRepo) -> None:
    infra.write(
        "_envcommon/app.hcl",
        """locals {
  source = "${get_repo_root()}/modules/app"
}
dependency "vpc" {
  config_path = "${get_terragrunt_dir()}/../vpc"
}
""",
    )
    stack(
        infra,
        "staging/app",
        extra="""include "envcommon" {
  path   = "${dirname(find_in_parent_folders("root.hcl"))}/_envcommon/app.hcl"
  expose = true
}
terraform {
  source = include.envcommon.locals.source
}""",
    )
    stack(infra, "staging/vpc", source="../../modules/vpc")
    infra.commit()
    change(infra, "modules/app/main.tf")
    infra.commit()
    assert select(infra).reasons["staging/app"] == ("source modules/app <- modules/app/main.tf changed",)
    change(infra, "staging/vpc/terragrunt.hcl")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["staging/app", "staging/vpc"]
    assert selection.reasons["staging/app"] == (
        "dependency staging/vpc <- staging/vpc/terragrunt.hcl changed",
    )
    change(infra, "_envcommon/app.hcl")
    infra.commit()
    assert select(infra).reasons == {"staging/app": ("include _envcommon/app.hcl changed",)}


def test_path_relative_to_include_in_the_included_file(infra: GitRepo) -> None:
    infra.write(
        "root.hcl",
        'inputs = {\n  extra = file("${get_parent_terragrunt_dir()}/vars/'
        '${path_relative_to_include()}/x.json")\n}\n',
    )
    infra.write("vars/prod/db/x.json", "{}\n")
    infra.write("vars/dev/app/x.json", "{}\n")
    infra.commit()
    change(infra, "vars/prod/db/x.json")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/db"]
    assert selection.reasons["prod/db"] == ("include root.hcl <- file vars/prod/db/x.json changed",)


def test_find_in_parent_folders_notices_a_nearer_file_appearing(infra: GitRepo) -> None:
    infra.write("prod/db/../../dev/env.hcl", 'locals {\n  env = "dev"\n}\n')
    infra.commit()
    assert select(infra).stacks == ()  # dev/app does not read env.hcl
    stack(
        infra,
        "dev/db",
        extra='locals {\n  env = read_terragrunt_config(find_in_parent_folders("env.hcl"))\n}',
    )
    infra.commit()
    infra.write("dev/db/../env.hcl", 'locals {\n  env = "dev2"\n}\n')
    infra.commit()
    assert ids(select(infra)) == ["dev/db"]


def test_dependency_config_path_may_name_the_config_file(infra: GitRepo) -> None:
    stack(infra, "prod/cdn", dependencies=["../web/terragrunt.hcl"])
    infra.commit()
    change(infra, "prod/web/terragrunt.hcl")
    infra.commit()
    assert ids(select(infra)) == ["prod/cdn", "prod/web"]


# ---- when the graph cannot be trusted ----


def test_an_unparseable_config_falls_back_to_all_naming_the_file(infra: GitRepo) -> None:
    infra.write("dev/app/terragrunt.hcl", 'terraform {\n  source = "../../modules/vpc"\n')
    infra.commit()
    change(infra, "modules/vpc/main.tf")
    infra.commit()
    selection = select(infra)
    assert len(selection.stacks) == 5
    assert selection.fallback_reason is not None
    assert selection.fallback_reason.startswith("dev/app/terragrunt.hcl (dev/app reads it): cannot parse")
    assert "\n" not in selection.fallback_reason
    # the stacks found for a reason keep it; the others say why they are planned
    assert selection.reasons["prod/vpc"] == ("source modules/vpc <- modules/vpc/main.tf changed",)
    assert selection.reasons["prod/db"][0].startswith("fallback")
    assert explain_lines(selection)[0].startswith("all stacks selected: dev/app/terragrunt.hcl")


def test_an_unparseable_config_whose_strings_cannot_name_the_change_needs_no_fallback(infra: GitRepo) -> None:
    infra.write("dev/app/terragrunt.hcl", 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n')
    infra.commit()
    change(infra, "modules/vpc/main.tf")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/app", "prod/vpc", "prod/web"] and selection.fallback_reason is None


def test_an_unparseable_config_that_is_itself_selected_needs_no_fallback(infra: GitRepo) -> None:
    infra.write("dev/app/terragrunt.hcl", "locals {\n")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["dev/app"] and selection.fallback_reason is None


def test_a_non_literal_path_that_may_matter_falls_back(infra: GitRepo) -> None:
    stack(infra, "dev/app", source="../../modules/app", extra="inputs = {\n  data = file(var.data_file)\n}")
    infra.commit()
    change(infra, "shared/user_data.tpl")
    infra.commit()
    selection = select(infra)
    assert len(selection.stacks) == 5
    assert selection.fallback_reason == (
        "dev/app/terragrunt.hcl:8: cannot resolve file(var.data_file) (var.data_file cannot be evaluated"
        " without running Terragrunt) and it may refer to shared/user_data.tpl, read by dev/app"
    )


def test_a_non_literal_path_that_cannot_match_the_change_does_not_matter(infra: GitRepo) -> None:
    stack(
        infra,
        "dev/app",
        source="../../modules/app",
        extra='inputs = {\n  c = file("cfg/${local.env}.yaml")\n}',
    )
    infra.commit()
    change(infra, "shared/user_data.tpl")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/db"] and selection.fallback_reason is None
    infra.write("dev/app/cfg/prod.yaml", "a: 1\n")
    infra.commit()
    assert ids(select(infra)) == ["dev/app"]  # inside the stack: selected directly anyway


def test_a_non_literal_source_is_matched_only_against_module_directories(infra: GitRepo) -> None:
    stack(infra, "dev/app", source="${local.modules}/app")
    infra.commit()
    # `<unknown>/app` cannot be modules/db, and modules/app does not call it
    change(infra, "modules/db/main.tf")
    infra.commit()
    selection = select(infra)
    assert ids(selection) == ["prod/db"] and selection.fallback_reason is None
    # modules/subnet is called by modules/vpc, not modules/app: still exact
    change(infra, "modules/subnet/main.tf")
    infra.commit()
    assert select(infra).fallback_reason is None
    # a stack directory named app is no module
    infra.write("prod/app/extra.tf", "# overlay\n")
    infra.commit()
    assert select(infra).fallback_reason is None
    change(infra, "modules/app/main.tf")
    infra.commit()
    selection = select(infra)
    assert selection.fallback_reason == (
        'dev/app/terragrunt.hcl:5: cannot resolve "${local.modules}/app" (local.modules cannot be'
        " evaluated without running Terragrunt) and it may refer to modules/app, read by dev/app"
    )
    assert len(selection.stacks) == 5
    # a module calling modules/app is reached by the change too
    module(infra, "modules/app", "../leaf")
    module(infra, "modules/leaf")
    infra.commit()
    change(infra, "modules/leaf/main.tf")
    infra.commit()
    assert select(infra).fallback_reason is not None


def test_locals_of_a_read_config_are_followed(infra: GitRepo) -> None:
    infra.write("prod/versions.hcl", 'locals {\n  app_module = "${get_repo_root()}/modules/app"\n}\n')
    stack(
        infra,
        "prod/worker",
        source="${local.versions.locals.app_module}",
        extra='locals {\n  versions = read_terragrunt_config(find_in_parent_folders("versions.hcl"))\n}',
    )
    infra.commit()
    change(infra, "modules/app/main.tf")
    infra.commit()
    selection = select(infra)
    assert selection.fallback_reason is None
    assert selection.reasons["prod/worker"] == ("source modules/app <- modules/app/main.tf changed",)


def test_a_remote_source_is_not_followed(infra: GitRepo) -> None:
    stack(infra, "dev/app", source="git::https://example.com/modules.git//app?ref=v1.0.0")
    infra.commit()
    change(infra, "modules/app/main.tf")
    infra.commit()
    assert ids(select(infra)) == ["prod/app", "prod/web"]


# ---- git problems ----


def test_a_directory_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "a").mkdir(parents=True)
    (plain / "a" / "terragrunt.hcl").write_text("")
    with pytest.raises(git.NotAGitRepoError, match=f"{plain} is not inside a git work tree"):
        select_changed(plain, discover(plain, Tool.TERRAGRUNT))


def test_an_unknown_base_is_a_clear_error(infra: GitRepo) -> None:
    with pytest.raises(git.UnknownRefError, match="base ref 'origin/nope' does not exist"):
        select(infra, base="origin/nope")


def test_a_shallow_clone_is_deepened(infra: GitRepo, tmp_path: Path) -> None:
    change(infra, "modules/db/main.tf")
    infra.commit()
    shallow = infra.clone(tmp_path / "shallow", "--depth", "1")
    selection = select(shallow)
    assert ids(selection) == ["prod/db"] and selection.fallback_reason is None


def test_a_shallow_clone_without_a_remote_plans_everything_with_a_warning(
    infra: GitRepo, tmp_path: Path
) -> None:
    change(infra, "modules/db/main.tf")
    infra.commit()
    shallow = infra.clone(tmp_path / "shallow", "--depth", "1")
    shallow.git("remote", "remove", "origin")
    selection = select(shallow)
    assert len(selection.stacks) == 5
    assert selection.fallback_reason is not None
    assert "shallow clone" in selection.fallback_reason and "planning all stacks" in selection.fallback_reason


# ---- roots inside a repository, Terraform stacks ----


def test_a_root_below_the_repository_top(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "mono")
    stack(repo, "infra/live/a", root=False, extra='inputs = {\n  x = file("../../../shared/x.json")\n}')
    stack(repo, "infra/live/b", root=False)
    repo.write("infra/root.hcl", "locals {}\n")
    repo.write("shared/x.json", "{}\n")
    repo.write("root.hcl", "# the repository's, not the driftctl root's\n")
    repo.commit()
    change(repo, "shared/x.json")
    change(repo, "root.hcl")
    repo.commit()
    selection = select(repo, root=repo.path / "infra")
    assert ids(selection) == ["live/a"]
    assert selection.reasons["live/a"] == ("file ../shared/x.json changed",)
    change(repo, "infra/root.hcl")
    repo.commit()
    assert len(select(repo, root=repo.path / "infra").stacks) == 2


def test_terraform_stacks_and_modules(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "tf")
    module(repo, "modules/net")
    module(repo, "modules/app", "../net")
    module(repo, "stacks/one", "../../modules/app")
    module(repo, "stacks/two")
    repo.write("stacks/three/main.tf.json", '{"module": {"n": {"source": "../../modules/net"}}}')
    repo.commit()
    change(repo, "modules/net/main.tf")
    repo.commit()
    selection = select(repo, tool=Tool.TERRAFORM)
    assert ids(selection) == ["stacks/one", "stacks/three"]
    assert selection.reasons["stacks/one"] == (
        "module modules/app <- module modules/net <- modules/net/main.tf changed",
    )
    repo.git("rm", "-q", "-r", "stacks/two")
    repo.git("rm", "-q", "modules/app/main.tf")
    repo.commit()
    selection = select(repo, tool=Tool.TERRAFORM)
    assert selection.removed == ("stacks/two",)  # modules/app was never a stack
    assert ids(selection) == ["stacks/one"]


# ---- the pure selection ----


def _stacks(count: int) -> list[Stack]:
    return [Stack(f"s{n}", Path(f"/r/s{n}"), Tool.TERRAGRUNT) for n in range(count)]


@given(
    st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
            st.sets(st.integers(0, n - 1), max_size=n),
        )
    )
)
def test_selection_is_the_reverse_dependency_closure(
    case: tuple[int, list[tuple[int, int]], set[int]],
) -> None:
    count, edges, touched = case
    stacks = _stacks(count)
    depends: dict[int, set[int]] = {n: set() for n in range(count)}
    for dependent, dependency in edges:
        depends[dependent].add(dependency)
    inputs = {
        f"s{n}": StackInputs(dependencies=tuple(f"s{d}" for d in sorted(depends[n]))) for n in range(count)
    }
    found = [Touch(f"s{n}/main.tf", f"s{n}/main.tf changed") for n in sorted(touched)]
    expected = set(touched)
    while True:
        more = {n for n in range(count) if depends[n] & expected} - expected
        if not more:
            break
        expected |= more
    selection = choose.select(stacks, inputs, found)
    assert {s.id for s in selection.stacks} == {f"s{n}" for n in expected}
    assert [s.id for s in selection.stacks] == [s.id for s in stacks if s.id in selection.reasons]
    for stack_id, reasons in selection.reasons.items():
        assert reasons and all(reason.endswith("changed") for reason in reasons), stack_id


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("root.hcl", "*.hcl", True),
        ("prod/env.hcl", "*.hcl", False),
        ("prod/env.hcl", "**/*.hcl", True),
        ("config/a/b.yaml", "config/**", True),
        ("../outside.hcl", "*.hcl", False),
        (".tool-versions", ".tool-versions", True),
    ],
)
def test_global_patterns(path: str, pattern: str, expected: bool) -> None:
    assert choose.is_global(path, [pattern]) is expected


def test_terraform_root_modules_resolve_relative_reads(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "tf")
    repo.write("stacks/one/main.tf", 'locals {\n  policy = file("../../shared/policy.json")\n}\n')
    repo.write(
        "stacks/two/main.tf", 'locals {\n  p = templatefile("${path.root}/../../shared/t.tpl", {})\n}\n'
    )
    # in a module, a relative path is relative to whoever runs it: not followed
    repo.write("modules/m/main.tf", 'locals {\n  x = file("../shared/policy.json")\n}\n')
    repo.write("stacks/three/main.tf", 'module "m" {\n  source = "../../modules/m"\n}\n')
    repo.write("shared/policy.json", "{}\n")
    repo.write("shared/t.tpl", "x\n")
    repo.commit()
    change(repo, "shared/policy.json")
    change(repo, "shared/t.tpl")
    repo.commit()
    selection = select(repo, tool=Tool.TERRAFORM)
    assert ids(selection) == ["stacks/one", "stacks/two"]
    assert selection.reasons["stacks/one"] == ("file shared/policy.json changed",)


def test_an_unresolvable_include_falls_back_only_on_what_it_can_name(infra: GitRepo) -> None:
    stack(infra, "dev/app", extra='include "env" {\n  path = "${get_env("ENV_DIR")}/env.hcl"\n}')
    infra.commit()
    change(infra, "docs/README.md")
    infra.commit()
    selection = select(infra)
    assert selection.stacks == () and selection.fallback_reason is None
    change(infra, "prod/env.hcl")
    infra.commit()
    selection = select(infra)
    assert selection.fallback_reason is not None
    assert 'get_env("ENV_DIR")' in selection.fallback_reason


@pytest.mark.parametrize(
    ("segments", "expected", "matching", "not_matching"),
    [
        ((None, "/app"), r"(?:.*/)?app", "modules/app", "modules/db"),
        ((None, "/app"), r"(?:.*/)?app", "app", "webapp"),
        # the known prefix is kept, resolved against the directory the expression is evaluated in
        (("../modules/", None), r"prod/modules/.*", "prod/modules/x", "modules/x"),
        (("cfg/", None, ".yaml"), r"prod/app/cfg/.*\.yaml", "prod/app/cfg/a.yaml", "cfg/a.yaml"),
        (("x-", None), r"prod/app/x\-.*", "prod/app/x-1", "x-1"),
        (
            ("./", None, "/policy.json"),
            r"prod/app/(?:.*/)?policy\.json",
            "prod/app/policy.json",
            "shared/policy.json",
        ),
        (("/r/_envcommon/", None, ".hcl"), r"_envcommon/.*\.hcl", "_envcommon/app.hcl", "README.md"),
        (("/elsewhere/", None), r"\.\./elsewhere/.*", "../elsewhere/x", "elsewhere/x"),
        # after an unknown part, `..` leaves only what follows it certain
        (("a/", None, "/../b/c"), r"(?:.*/)?b/c", "prod/b/c", "prod/b"),
        ((None, "/app/.."), r".*", "anything", None),
        ((None, "-v2/x"), r".*\-v2/x", "mod-v2/x", "mod-v2/y"),
    ],
)
def test_patterns_for_partly_known_paths(
    segments: tuple[str | None, ...], expected: str, matching: str, not_matching: str | None
) -> None:
    pattern = evaluate.pattern(segments, "/r/prod/app", "/r")
    assert pattern == expected
    assert re.fullmatch(pattern, matching)
    assert not_matching is None or not re.fullmatch(pattern, not_matching)


def test_only_limits_what_is_planned_not_the_graph(infra: GitRepo) -> None:
    change(infra, "prod/vpc/terragrunt.hcl")
    infra.commit()
    stacks = discover(infra.path, Tool.TERRAGRUNT)
    selection = select_changed(infra.path, stacks, only={"prod/web", "dev/app"})
    # prod/web depends on prod/vpc through prod/app, which is excluded from planning
    assert ids(selection) == ["prod/web"]
    assert selection.reasons == {
        "prod/web": ("dependency prod/app <- dependency prod/vpc <- prod/vpc/terragrunt.hcl changed",)
    }
    assert selection.known == tuple(stack.id for stack in stacks)


def test_find_in_parent_folders_finds_directories_too(infra: GitRepo) -> None:
    stack(
        infra, "prod/net/edge", extra='dependency "vpc" {\n  config_path = find_in_parent_folders("vpc")\n}'
    )
    infra.write("prod/net/vpc/terragrunt.hcl", "locals {}\n")
    infra.commit()
    change(infra, "prod/net/vpc/terragrunt.hcl")
    infra.commit()
    assert ids(select(infra)) == ["prod/net/edge", "prod/net/vpc"]
