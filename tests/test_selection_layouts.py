"""Exact `--changed` selections on real git repositories in the layouts people use.

Each test builds a repository, commits a change and asserts the exact units chosen (no fallback),
or the fallback and the file, line and expression it names when something truly cannot be known.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest
from test_selection_git import GitRepo, isolate_git

from driftctl.discover import discover
from driftctl.model import Selection, Stack, Tool
from driftctl.selection import select_changed


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


def choose(repo: GitRepo, parents: Collection[str] = (), **options: object) -> Selection:
    """The selection for HEAD~1..HEAD; `parents`: include parents, which are never units."""
    stacks = [s for s in discover(repo.path, Tool.TERRAGRUNT) if s.id not in parents]
    return select_changed(repo.path, stacks, **options)  # type: ignore[arg-type]


def ids(selection: Selection) -> list[str]:
    assert selection.fallback_reason is None, selection.fallback_reason
    return [s.id for s in selection.stacks]


def append(repo: GitRepo, path: str) -> None:
    target = repo.path / path
    target.write_text(target.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    repo.commit(f"change {path}")


def module(repo: GitRepo, path: str, *calls: str) -> None:
    body = "".join(f'module "m{n}" {{\n  source = "{call}"\n}}\n' for n, call in enumerate(calls))
    repo.write(f"{path}/main.tf", body + 'resource "null_resource" "x" {}\n')


def test_legacy_root_terragrunt_hcl(tmp_path: Path) -> None:
    """The layout before root.hcl: units include the root `terragrunt.hcl` with find_in_parent_folders()."""
    repo = GitRepo.create(tmp_path / "legacy")
    repo.write("terragrunt.hcl", 'remote_state {\n  backend = "local"\n}\n')
    repo.write("README.md", "docs\n")
    module(repo, "modules/vpc")
    module(repo, "modules/app")
    for unit, source in [("prod/vpc", "vpc"), ("prod/app", "app"), ("dev/app", "app")]:
        repo.write(
            f"{unit}/terragrunt.hcl",
            "include {\n  path = find_in_parent_folders()\n}\n"
            f'terraform {{\n  source = "../../modules//{source}"\n}}\n',
        )
    repo.write("prod/app/README.md", "app docs\n")
    repo.commit("legacy")
    append(repo, "README.md")
    assert ids(choose(repo, ["."])) == []
    append(repo, "modules/app/main.tf")
    assert ids(choose(repo, ["."])) == ["dev/app", "prod/app"]
    append(repo, "prod/app/README.md")
    assert ids(choose(repo, ["."])) == ["prod/app"]
    append(repo, "terragrunt.hcl")  # the parent every unit includes: a global file too
    assert ids(choose(repo, ["."])) == ["dev/app", "prod/app", "prod/vpc"]
    assert ids(choose(repo, ["."], global_patterns=[])) == ["dev/app", "prod/app", "prod/vpc"]
    assert choose(repo, ["."], global_patterns=[]).reasons["prod/vpc"] == ("include terragrunt.hcl changed",)


def test_mid_level_parents(tmp_path: Path) -> None:
    """`prod/terragrunt.hcl` and `terraform/envs/terragrunt.hcl` are included by the units below them."""
    repo = GitRepo.create(tmp_path / "mid")
    repo.write("prod/terragrunt.hcl", 'inputs = {\n  env = "prod"\n}\n')
    repo.write("terraform/envs/terragrunt.hcl", 'inputs = {\n  env = "any"\n}\n')
    repo.write("prod/README.md", "prod docs\n")
    for unit in ("prod/a", "prod/b", "terraform/envs/c"):
        repo.write(f"{unit}/terragrunt.hcl", "include {\n  path = find_in_parent_folders()\n}\n")
    repo.commit("mid-level parents")
    parents = ["prod", "terraform/envs"]
    append(repo, "prod/README.md")
    assert ids(choose(repo, parents)) == []
    append(repo, "prod/terragrunt.hcl")
    selection = choose(repo, parents)
    assert ids(selection) == ["prod/a", "prod/b"]
    assert selection.reasons["prod/a"] == ("include prod/terragrunt.hcl changed",)
    append(repo, "terraform/envs/terragrunt.hcl")
    assert ids(choose(repo, parents)) == ["terraform/envs/c"]


def test_envcommon_named_after_the_unit(tmp_path: Path) -> None:
    """`_envcommon/${basename(get_terragrunt_dir())}.hcl` and a source named after the unit in the parent."""
    repo = GitRepo.create(tmp_path / "envcommon")
    repo.write(
        "live/common.hcl",
        "terraform {\n"
        '  source = "${get_parent_terragrunt_dir()}/../modules/${basename(path_relative_to_include())}"\n'
        "}\n",
    )
    repo.write("_envcommon/app.hcl", 'inputs = {\n  tier = "app"\n}\n')
    repo.write("_envcommon/db.hcl", 'inputs = {\n  tier = "db"\n}\n')
    repo.write("README.md", "docs\n")
    repo.write("docs/guide.md", "guide\n")
    for name in ("app", "db"):
        module(repo, f"modules/{name}")
    for env in ("prod", "dev"):
        for name in ("app", "db"):
            repo.write(
                f"live/{env}/{name}/terragrunt.hcl",
                'include "root" {\n  path = find_in_parent_folders("common.hcl")\n}\n'
                'include "common" {\n'
                '  path = "${get_repo_root()}/_envcommon/${basename(get_terragrunt_dir())}.hcl"\n}\n',
            )
    repo.commit("envcommon")
    for docs in ("README.md", "docs/guide.md"):  # docs-only commits plan nothing
        append(repo, docs)
        assert ids(choose(repo)) == []
    append(repo, "_envcommon/app.hcl")
    selection = choose(repo)
    assert ids(selection) == ["live/dev/app", "live/prod/app"]
    assert selection.reasons["live/prod/app"] == ("include _envcommon/app.hcl changed",)
    append(repo, "modules/db/main.tf")
    selection = choose(repo)
    assert ids(selection) == ["live/dev/db", "live/prod/db"]
    assert selection.reasons["live/dev/db"] == (
        "include live/common.hcl <- source modules/db <- modules/db/main.tf changed",
    )
    append(repo, "live/common.hcl")
    assert len(ids(choose(repo))) == 4


def test_get_env_with_a_default_is_evaluated(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "env")
    module(repo, "modules/app")
    module(repo, "modules/db")
    repo.write(
        "prod/app/terragrunt.hcl",
        'terraform {\n  source = "${get_env("MODULES_DIR", "../../modules")}/app"\n}\n',
    )
    repo.write("prod/db/terragrunt.hcl", 'terraform {\n  source = "../../modules/db"\n}\n')
    repo.write("README.md", "docs\n")
    repo.commit("env")
    append(repo, "README.md")
    assert ids(choose(repo)) == []
    append(repo, "modules/app/main.tf")
    assert ids(choose(repo)) == ["prod/app"]


def test_unknown_paths_match_only_what_they_can_be(tmp_path: Path) -> None:
    """An unknown dependency is matched against chosen units only, an unknown source against modules."""
    repo = GitRepo.create(tmp_path / "unknown")
    module(repo, "modules/app")
    repo.write("prod/vpc/terragrunt.hcl", "inputs = {}\n")
    repo.write("prod/db/terragrunt.hcl", 'terraform {\n  source = "../../modules/app"\n}\n')
    repo.write("prod/app/terragrunt.hcl", 'dependency "x" {\n  config_path = get_env("DEPENDENCY")\n}\n')
    repo.write("prod/web/terragrunt.hcl", 'terraform {\n  source = "${get_env("MODULES")}//app"\n}\n')
    module(repo, "modules/other")
    repo.write("docs/a.md", "a\n")
    repo.write("shared/data.json", "{}\n")
    repo.commit("unknown")
    append(repo, "docs/a.md")
    assert ids(choose(repo)) == []
    append(repo, "shared/data.json")
    assert ids(choose(repo)) == []
    append(repo, "prod/vpc/terragrunt.hcl")
    selection = choose(repo)
    assert selection.fallback_reason == (
        'prod/app/terragrunt.hcl:2: cannot resolve get_env("DEPENDENCY") (get_env(...) cannot be evaluated'
        " without running Terragrunt) and it may refer to prod/vpc, read by prod/app"
    )
    append(repo, "modules/other/main.tf")  # `<unknown>/app` cannot be modules/other
    assert ids(choose(repo)) == []
    append(repo, "modules/app/main.tf")
    planned = {"prod/db", "prod/vpc", "prod/web"}
    selection = choose(repo, only=planned)
    assert selection.fallback_reason == (
        'prod/web/terragrunt.hcl:2: cannot resolve "${get_env("MODULES")}//app" (get_env(...) cannot be'
        " evaluated without running Terragrunt) and it may refer to modules/app, read by prod/web"
    )
    # a unit that is not planned never forces the fallback
    assert ids(choose(repo, only={"prod/db", "prod/vpc"})) == ["prod/db"]


def test_terragrunt_caches_and_generated_stacks_are_no_change(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "caches")
    repo.write("prod/app/terragrunt.hcl", "inputs = {}\n")
    repo.commit("unit")
    repo.write("prod/app/.terragrunt-cache/abc/main.tf", "# downloaded\n")
    repo.write(".terragrunt-stack/x/terragrunt.hcl", "# generated\n")
    repo.git("add", "-f", "prod/app/.terragrunt-cache", ".terragrunt-stack")
    repo.commit("generated files committed by mistake")
    selection = choose(repo)
    assert ids(selection) == [] and selection.removed == ()


def test_mise_toml_is_a_global_file(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "mise")
    repo.write("prod/app/terragrunt.hcl", "inputs = {}\n")
    repo.write("prod/db/terragrunt.hcl", "inputs = {}\n")
    repo.commit("units")
    repo.write("mise.toml", '[tools]\nterragrunt = "0.99.0"\n')
    repo.commit("pin tools")
    selection = choose(repo)
    assert ids(selection) == ["prod/app", "prod/db"]
    assert selection.reasons["prod/db"] == ("global file mise.toml added",)


def stacks_repo(tmp_path: Path) -> tuple[GitRepo, list[Stack]]:
    """live/terragrunt.stack.hcl: `app` from a local catalog unit, `db` from a remote one."""
    repo = GitRepo.create(tmp_path / "stacks")
    repo.write("root.hcl", 'remote_state {\n  backend = "local"\n}\n')
    repo.write("live/account.hcl", 'locals {\n  account = "prod"\n}\n')
    repo.write("other/x.hcl", "locals {}\n")
    repo.write("README.md", "docs\n")
    repo.write(
        "live/terragrunt.stack.hcl",
        'unit "app" {\n  source = "../catalog/units/app"\n  path = "app"\n}\n'
        'unit "db" {\n  source = "git::https://example.com/units.git//db?ref=v1"\n  path = "db"\n}\n',
    )
    repo.write(
        "catalog/units/app/terragrunt.hcl",
        'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
        'locals {\n  account = read_terragrunt_config(find_in_parent_folders("account.hcl"))\n}\n'
        'terraform {\n  source = "${get_repo_root()}/catalog/modules/app"\n}\n',
    )
    module(repo, "catalog/modules/app")
    repo.write("live/classic/terragrunt.hcl", 'terraform {\n  source = "../../catalog/modules/app"\n}\n')
    repo.commit("stacks")
    root = repo.path.resolve()
    stack_file = root / "live/terragrunt.stack.hcl"
    units = [
        Stack(
            "live/.terragrunt-stack/app",
            root / "live/.terragrunt-stack/app",
            Tool.TERRAGRUNT,
            config=root / "catalog/units/app/terragrunt.hcl",
            stack_files=(stack_file,),
            source="../catalog/units/app",
            source_dir=root / "catalog/units/app",
        ),
        Stack(
            "live/.terragrunt-stack/db",
            root / "live/.terragrunt-stack/db",
            Tool.TERRAGRUNT,
            stack_files=(stack_file,),
            source="git::https://example.com/units.git//db?ref=v1",
        ),
        Stack(
            "live/classic",
            root / "live/classic",
            Tool.TERRAGRUNT,
            config=root / "live/classic/terragrunt.hcl",
        ),
    ]
    return repo, units


def test_stacks_units(tmp_path: Path) -> None:
    """Units generated from terragrunt.stack.hcl, as discovery describes them (`Stack.stack_files`...)."""
    repo, units = stacks_repo(tmp_path)
    app, db = "live/.terragrunt-stack/app", "live/.terragrunt-stack/db"

    def chosen(**options: object) -> Selection:
        return select_changed(repo.path, units, **options)  # type: ignore[arg-type]

    for unrelated in ("README.md", "other/x.hcl"):
        append(repo, unrelated)
        assert ids(chosen()) == []
    append(repo, "live/terragrunt.stack.hcl")
    selection = chosen()
    assert ids(selection) == [app, db]
    assert selection.reasons[db][0] == "stack file live/terragrunt.stack.hcl changed"
    append(repo, "catalog/units/app/terragrunt.hcl")
    selection = chosen()
    assert ids(selection) == [app]
    assert selection.reasons[app] == (
        "unit source catalog/units/app <- catalog/units/app/terragrunt.hcl changed",
    )
    append(repo, "catalog/modules/app/main.tf")
    selection = chosen()
    assert ids(selection) == [app, "live/classic"]
    assert selection.reasons[app] == ("source catalog/modules/app <- catalog/modules/app/main.tf changed",)
    # the remote unit may read any *.hcl above it; the local one reads account.hcl
    append(repo, "live/account.hcl")
    selection = chosen()
    assert ids(selection) == [app, db]
    assert selection.reasons[app] == ("read_terragrunt_config live/account.hcl changed",)
    assert selection.reasons[db] == ("remote unit source: live/account.hcl changed",)
    append(repo, "root.hcl")
    assert ids(chosen(global_patterns=[])) == [app, db]  # live/classic includes nothing


def test_excluded_units_are_never_chosen_nor_force_the_fallback(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "excluded")
    repo.write("prod/app/terragrunt.hcl", "inputs = {}\n")
    repo.write("prod/old/terragrunt.hcl", 'inputs = {\n  x = file(get_env("SECRET_FILE"))\n}\n')
    repo.write("docs/a.md", "a\n")
    repo.commit("units")
    root = repo.path.resolve()
    units = [
        Stack("prod/app", root / "prod/app", Tool.TERRAGRUNT),
        Stack(
            "prod/old",
            root / "prod/old",
            Tool.TERRAGRUNT,
            excluded="exclude block in prod/old/terragrunt.hcl",
        ),
    ]
    append(repo, "docs/a.md")
    selection = select_changed(repo.path, units)
    assert ids(selection) == [] and selection.known == ("prod/app", "prod/old")
    append(repo, "prod/old/terragrunt.hcl")
    assert ids(select_changed(repo.path, units)) == []
    units[1] = Stack("prod/old", root / "prod/old", Tool.TERRAGRUNT)
    assert select_changed(repo.path, units).fallback_reason is None  # chosen itself: no fallback needed
    append(repo, "docs/a.md")
    assert select_changed(repo.path, units).fallback_reason is not None


def test_terragrunt_hcl_json_units(tmp_path: Path) -> None:
    repo = GitRepo.create(tmp_path / "json")
    module(repo, "modules/app")
    repo.write("prod/vpc/terragrunt.hcl", "inputs = {}\n")
    repo.write(
        "prod/app/terragrunt.hcl.json",
        '{"terraform": {"source": "${get_terragrunt_dir()}/../../modules//app"},\n'
        ' "dependency": {"vpc": {"config_path": "../vpc", "mock_outputs": {"id": "x"}}},\n'
        ' "inputs": {"name": "app"}}\n',
    )
    repo.write("README.md", "docs\n")
    repo.commit("json")
    root = repo.path.resolve()
    units = [
        Stack("prod/app", root / "prod/app", Tool.TERRAGRUNT, config=root / "prod/app/terragrunt.hcl.json"),
        Stack("prod/vpc", root / "prod/vpc", Tool.TERRAGRUNT, config=root / "prod/vpc/terragrunt.hcl"),
    ]
    append(repo, "README.md")
    assert ids(select_changed(repo.path, units)) == []
    append(repo, "modules/app/main.tf")
    selection = select_changed(repo.path, units)
    assert ids(selection) == ["prod/app"]
    assert selection.reasons["prod/app"] == ("source modules/app <- modules/app/main.tf changed",)
    append(repo, "prod/vpc/terragrunt.hcl")
    assert ids(select_changed(repo.path, units)) == ["prod/app", "prod/vpc"]


def test_stacks_found_by_discovery_with_values(tmp_path: Path) -> None:
    """discover() reads terragrunt.stack.hcl; a unit's `values` lead its source to the right module."""
    repo = GitRepo.create(tmp_path / "values")
    repo.write(
        "live/terragrunt.stack.hcl",
        'locals {\n  modules = "catalog/modules"\n}\n'
        'unit "app" {\n  source = "../catalog/units/service"\n  path = "app"\n'
        '  values = { module = "${local.modules}/app" }\n}\n'
        'unit "db" {\n  source = "../catalog/units/service"\n  path = "db"\n'
        '  values = { "module" = "${local.modules}/db" }\n}\n',
    )
    repo.write(
        "catalog/units/service/terragrunt.hcl",
        'terraform {\n  source = "${get_repo_root()}/${values.module}"\n}\n',
    )
    module(repo, "catalog/modules/app")
    module(repo, "catalog/modules/db")
    repo.write("docs/x.md", "x\n")
    repo.commit("stack with values")
    assert [s.id for s in discover(repo.path, Tool.TERRAGRUNT)] == [
        "live/.terragrunt-stack/app",
        "live/.terragrunt-stack/db",
    ]
    append(repo, "docs/x.md")
    assert ids(choose(repo)) == []
    append(repo, "catalog/modules/db/main.tf")
    selection = choose(repo)
    assert ids(selection) == ["live/.terragrunt-stack/db"]
    assert selection.reasons["live/.terragrunt-stack/db"] == (
        "source catalog/modules/db <- catalog/modules/db/main.tf changed",
    )
    append(repo, "catalog/units/service/terragrunt.hcl")
    assert ids(choose(repo)) == ["live/.terragrunt-stack/app", "live/.terragrunt-stack/db"]
