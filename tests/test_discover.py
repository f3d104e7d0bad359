"""driftctl.discover: the walk that finds stacks, and selection by glob and by path."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from driftctl.discover import (
    DiscoveryError,
    detect_tool,
    discover,
    discover_all,
    filter_stacks,
    matches_any,
    stack_id,
    stacks_at_paths,
)
from driftctl.model import Stack, Tool

TG = 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
TF = 'resource "null_resource" "x" {}\n'


def touch(path: Path, body: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def tg_stacks(root: Path, *ids: str) -> None:
    for stack in ids:
        touch(root / stack / "terragrunt.hcl", TG)


def tf_stacks(root: Path, *ids: str, name: str = "main.tf") -> None:
    for stack in ids:
        touch(root / stack / name, TF)


def ids(stacks: Iterable[Stack]) -> list[str]:
    return [s.id for s in stacks]


def stack(stack_id_: str, root: Path = Path("/repo")) -> Stack:
    return Stack(id=stack_id_, path=root / stack_id_, tool=Tool.TERRAGRUNT)


# ---- terragrunt layout ----


def test_terragrunt_stacks_are_dirs_with_terragrunt_hcl(tmp_path: Path) -> None:
    touch(tmp_path / "root.hcl", "remote_state {}\n")
    tg_stacks(tmp_path, "prod/vpc", "prod/eks", "dev/vpc")
    touch(tmp_path / "prod" / "env.hcl", "locals {}\n")  # not a stack: no terragrunt.hcl
    touch(tmp_path / "docs" / "README.md")

    found = discover(tmp_path, Tool.TERRAGRUNT)

    assert ids(found) == ["dev/vpc", "prod/eks", "prod/vpc"]
    assert all(s.tool is Tool.TERRAGRUNT for s in found)
    assert {s.path for s in found} == {(tmp_path / i).resolve() for i in ids(found)}


def test_root_hcl_is_never_a_stack(tmp_path: Path) -> None:
    touch(tmp_path / "root.hcl")
    touch(tmp_path / "live" / "root.hcl")
    tg_stacks(tmp_path, "live/app")

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["live/app"]


def test_root_level_terragrunt_hcl_is_a_stack_by_default(tmp_path: Path) -> None:
    touch(tmp_path / "terragrunt.hcl")
    tg_stacks(tmp_path, "app")

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == [".", "app"]


def test_root_config_terragrunt_hcl_makes_the_root_file_an_include_parent(tmp_path: Path) -> None:
    touch(tmp_path / "terragrunt.hcl", "remote_state {}\n")
    tg_stacks(tmp_path, "app", "nested/app")

    found = discover(tmp_path, Tool.TERRAGRUNT, root_config="terragrunt.hcl")

    assert ids(found) == ["app", "nested/app"]


def test_root_config_only_exempts_the_root_directory(tmp_path: Path) -> None:
    # a terragrunt.hcl below the root is still a unit even when the root one is the parent
    touch(tmp_path / "terragrunt.hcl")
    tg_stacks(tmp_path, "a")

    assert "a" in ids(discover(tmp_path, Tool.TERRAGRUNT, root_config="terragrunt.hcl"))


@pytest.mark.parametrize("skipped", [".terragrunt-cache", ".terraform", ".git", ".hidden", "node_modules"])
def test_cache_and_hidden_dirs_are_skipped_even_with_terragrunt_hcl(tmp_path: Path, skipped: str) -> None:
    tg_stacks(tmp_path, "app")
    touch(tmp_path / "app" / skipped / "abc" / "def" / "terragrunt.hcl")
    touch(tmp_path / skipped / "terragrunt.hcl")
    touch(tmp_path / skipped / "deep" / "terragrunt.hcl")

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["app"]


def test_a_hidden_root_is_still_walked(tmp_path: Path) -> None:
    root = tmp_path / ".checkout"
    tg_stacks(root, "app")

    assert ids(discover(root, Tool.TERRAGRUNT)) == ["app"]


def test_terragrunt_hcl_directory_is_not_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "odd" / "terragrunt.hcl").mkdir(parents=True)

    with pytest.raises(
        DiscoveryError, match=r"no terragrunt\.hcl, terragrunt\.hcl\.json or terragrunt\.stack\.hcl"
    ):
        discover(tmp_path, Tool.TERRAGRUNT)


def test_nested_terragrunt_stacks_are_both_found(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "app", "app/child")

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["app", "app/child"]


def test_ids_are_relative_slash_separated_and_sorted(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "z", "a/b/c", "a/b", "m/n", "A")

    found = ids(discover(tmp_path, Tool.TERRAGRUNT))

    assert found == sorted(found) == ["A", "a/b", "a/b/c", "m/n", "z"]
    assert all(not i.startswith("/") and "\\" not in i for i in found)


def test_relative_root_gives_absolute_resolved_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tg_stacks(tmp_path, "repo/app")
    monkeypatch.chdir(tmp_path)

    [found] = discover(Path("repo"), Tool.TERRAGRUNT)

    assert found.id == "app"
    assert found.path == (tmp_path / "repo" / "app").resolve()
    assert found.path.is_absolute()


def test_root_that_is_not_a_directory_is_an_error(tmp_path: Path) -> None:
    file = touch(tmp_path / "file")
    with pytest.raises(DiscoveryError, match="not a directory"):
        discover(file, Tool.TERRAGRUNT)
    with pytest.raises(DiscoveryError, match="missing"):
        discover(tmp_path / "missing", Tool.TERRAGRUNT)


# ---- terraform / tofu layouts ----


def test_terraform_stacks_are_dirs_with_tf_files(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "prod/network", "dev/network")
    tf_stacks(tmp_path, "json", name="main.tf.json")
    touch(tmp_path / "scripts" / "deploy.sh")
    touch(tmp_path / "notes" / "main.tfvars")  # variables only: not a stack
    touch(tmp_path / "backup" / "main.tf.bak")

    assert ids(discover(tmp_path, Tool.TERRAFORM)) == ["dev/network", "json", "prod/network"]


def test_terraform_root_with_tf_files_is_the_dot_stack(tmp_path: Path) -> None:
    tf_stacks(tmp_path, ".")
    tf_stacks(tmp_path, "sub")

    found = discover(tmp_path, Tool.TERRAFORM)

    assert ids(found) == [".", "sub"]
    assert found[0].path == tmp_path.resolve()


def test_terraform_ignores_terragrunt_hcl(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "tg")
    tf_stacks(tmp_path, "tf")

    assert ids(discover(tmp_path, Tool.TERRAFORM)) == ["tf"]
    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["tg"]


def test_modules_are_excluded_at_any_depth_by_default(tmp_path: Path) -> None:
    tf_stacks(
        tmp_path,
        "modules/vpc",
        "modules",
        "prod/modules/db",
        "prod/modules/db/nested",
        "prod/app",
        "prod/modules-legacy/x",  # only a directory named exactly `modules` is excluded
        "my_modules",
    )

    found = ids(discover(tmp_path, Tool.TERRAFORM))

    assert found == ["my_modules", "prod/app", "prod/modules-legacy/x"]


def test_modules_pattern_does_not_apply_to_terragrunt(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "modules/vpc")

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["modules/vpc"]


def test_custom_module_patterns_replace_the_default(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "modules/vpc", "examples/basic", "examples/full", "test/fixtures/a", "live/app")

    found = discover(tmp_path, Tool.TERRAFORM, module_patterns=["examples/*", "fixtures/"])

    assert ids(found) == ["live/app", "modules/vpc"]


def test_empty_module_patterns_keep_everything(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "modules/vpc", "app")

    assert ids(discover(tmp_path, Tool.TERRAFORM, module_patterns=())) == ["app", "modules/vpc"]


def test_tofu_files_count_for_tofu_only(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "tofu_only", name="main.tofu")
    tf_stacks(tmp_path, "tofu_json", name="main.tofu.json")
    tf_stacks(tmp_path, "both", name="main.tf")

    assert ids(discover(tmp_path, Tool.TOFU)) == ["both", "tofu_json", "tofu_only"]
    assert ids(discover(tmp_path, Tool.TERRAFORM)) == ["both"]
    assert all(s.tool is Tool.TOFU for s in discover(tmp_path, Tool.TOFU))


def test_tf_named_directory_does_not_make_a_stack(tmp_path: Path) -> None:
    (tmp_path / "app" / "main.tf").mkdir(parents=True)

    with pytest.raises(DiscoveryError, match=r"no directory with \*\.tf files"):
        discover(tmp_path, Tool.TERRAFORM)


@pytest.mark.parametrize("skipped", [".terraform", ".terragrunt-cache", ".git"])
def test_terraform_skips_tool_caches(tmp_path: Path, skipped: str) -> None:
    tf_stacks(tmp_path, "app")
    tf_stacks(tmp_path, f"app/{skipped}/modules/x", f"{skipped}/y")

    assert ids(discover(tmp_path, Tool.TERRAFORM)) == ["app"]


# ---- hostile names and symlinks ----


@pytest.mark.parametrize(
    "name",
    [
        "with space",
        "it's",
        'say "hi"',
        "ünïcødé",
        "日本語",
        "a|b",
        "[brackets]",
        "*star*",
        "-dash",
        "back`tick",
    ],
)
@pytest.mark.parametrize("tool", [Tool.TERRAGRUNT, Tool.TERRAFORM])
def test_hostile_names_keep_exact_ids(tmp_path: Path, name: str, tool: Tool) -> None:
    stack_dir = tmp_path / "envs" / name
    if tool is Tool.TERRAGRUNT:
        touch(stack_dir / "terragrunt.hcl")
    else:
        touch(stack_dir / "main.tf", TF)

    [found] = discover(tmp_path, tool)

    assert found.id == f"envs/{name}"
    assert found.path == stack_dir.resolve()


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    tg_stacks(root, "real/app")
    outside = tmp_path / "outside"
    tg_stacks(outside, "secret")
    os.symlink(outside, root / "linked", target_is_directory=True)
    os.symlink(root / "real", root / "alias", target_is_directory=True)

    assert ids(discover(root, Tool.TERRAGRUNT)) == ["real/app"]


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "app")
    os.symlink(tmp_path, tmp_path / "app" / "loop", target_is_directory=True)

    assert ids(discover(tmp_path, Tool.TERRAGRUNT)) == ["app"]


def test_symlinked_root_is_resolved(tmp_path: Path) -> None:
    tg_stacks(tmp_path / "real", "app")
    os.symlink(tmp_path / "real", tmp_path / "link", target_is_directory=True)

    [found] = discover(tmp_path / "link", Tool.TERRAGRUNT)

    assert found.id == "app"
    assert found.path == (tmp_path / "real" / "app").resolve()


def test_stack_id_of_root_is_dot(tmp_path: Path) -> None:
    assert stack_id(tmp_path, tmp_path) == "."
    assert stack_id(tmp_path, tmp_path / "a" / "b") == "a/b"


# ---- globs ----


@pytest.mark.parametrize(
    ("stack_id_", "pattern", "expected"),
    [
        ("prod/vpc", "prod/vpc", True),
        ("prod/vpc", "prod/*", True),
        ("prod/vpc", "prod", True),  # a bare folder selects everything beneath it
        ("prod/vpc/sub", "prod", True),
        ("production/vpc", "prod", False),
        ("prod/vpc", "*/vpc", True),
        ("prod/vpc", "vpc", False),  # globs are anchored at the root
        ("prod/vpc", "vpc/", True),  # `name/`: a directory of that name at any depth
        ("eu/prod/vpc", "prod/", True),
        ("eu/production/vpc", "prod/", False),
        ("prod/vpc", "Prod/*", False),  # case-sensitive
        ("prod/vpc", "prod/vp?", True),
        ("prod/vpc", "prod/[uv]pc", True),
        ("prod/vpc", "prod/", True),
    ],
)
def test_matches_any(stack_id_: str, pattern: str, expected: bool) -> None:
    assert matches_any(stack_id_, [pattern]) is expected


def test_matches_any_with_no_patterns_is_false() -> None:
    assert matches_any("anything", []) is False


def test_multi_segment_directory_pattern_matches_beneath_it() -> None:
    assert matches_any("envs/prod/vpc", ["envs/prod/"])


def test_directory_pattern_with_glob_matches_at_any_depth() -> None:
    assert matches_any("live/modules-v2/vpc", ["modules*/"])


def test_filter_stacks_include_and_exclude() -> None:
    stacks = [stack(i) for i in ["dev/app", "dev/db", "prod/app", "prod/db", "shared/dns"]]

    assert ids(filter_stacks(stacks, [], [])) == ids(stacks)
    assert ids(filter_stacks(stacks, ["prod/*"], [])) == ["prod/app", "prod/db"]
    assert ids(filter_stacks(stacks, ["prod/*", "shared"], [])) == ["prod/app", "prod/db", "shared/dns"]
    assert ids(filter_stacks(stacks, [], ["*/db"])) == ["dev/app", "prod/app", "shared/dns"]
    assert ids(filter_stacks(stacks, ["prod/*"], ["*/db"])) == ["prod/app"]
    assert filter_stacks(stacks, ["nothing/*"], []) == []
    assert filter_stacks(stacks, ["*"], ["*"]) == []


def test_filter_stacks_exclude_wins_over_include_and_keeps_order() -> None:
    stacks = [stack(i) for i in ["b", "a", "c"]]

    assert ids(filter_stacks(stacks, ["a", "b", "c"], ["a"])) == ["b", "c"]


def test_filter_globs_match_hostile_ids_literally() -> None:
    stacks = [stack(i) for i in ["with space/x", "[x]", "x"]]

    assert ids(filter_stacks(stacks, ["with space/*"], [])) == ["with space/x"]
    assert ids(filter_stacks(stacks, ["[[]x]"], [])) == ["[x]"]


# ---- selection by path ----


@pytest.fixture
def layout(tmp_path: Path) -> list[Stack]:
    tg_stacks(tmp_path, "prod/vpc", "prod/eks", "prod/eks/addons", "dev/vpc", "with space/ü")
    touch(tmp_path / "prod" / "env.hcl")
    (tmp_path / "empty").mkdir()
    return discover(tmp_path, Tool.TERRAGRUNT)


def test_path_to_a_stack_selects_it_and_stacks_beneath(tmp_path: Path, layout: list[Stack]) -> None:
    assert ids(stacks_at_paths(layout, [tmp_path / "prod" / "vpc"])) == ["prod/vpc"]
    assert ids(stacks_at_paths(layout, [tmp_path / "prod" / "eks"])) == ["prod/eks", "prod/eks/addons"]


def test_parent_folder_selects_all_stacks_beneath(tmp_path: Path, layout: list[Stack]) -> None:
    assert ids(stacks_at_paths(layout, [tmp_path / "prod"])) == ["prod/eks", "prod/eks/addons", "prod/vpc"]
    assert ids(stacks_at_paths(layout, [tmp_path])) == ids(layout)


def test_file_inside_a_stack_selects_that_stack(tmp_path: Path, layout: list[Stack]) -> None:
    chosen = stacks_at_paths(layout, [tmp_path / "dev" / "vpc" / "terragrunt.hcl"])

    assert ids(chosen) == ["dev/vpc"]


def test_file_in_a_folder_selects_the_stacks_beneath_that_folder(tmp_path: Path, layout: list[Stack]) -> None:
    chosen = stacks_at_paths(layout, [tmp_path / "prod" / "env.hcl"])

    assert ids(chosen) == ["prod/eks", "prod/eks/addons", "prod/vpc"]


def test_several_paths_are_merged_without_duplicates(tmp_path: Path, layout: list[Stack]) -> None:
    chosen = stacks_at_paths(
        layout, [tmp_path / "prod" / "vpc", tmp_path / "prod", tmp_path / "dev" / "vpc", tmp_path / "prod"]
    )

    assert ids(chosen) == ["dev/vpc", "prod/eks", "prod/eks/addons", "prod/vpc"]


def test_relative_paths_and_hostile_names(
    tmp_path: Path, layout: list[Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path / "prod")

    assert ids(stacks_at_paths(layout, [Path("../with space")])) == ["with space/ü"]
    assert ids(stacks_at_paths(layout, [Path("vpc")])) == ["prod/vpc"]


def test_nonexistent_path_is_an_error_naming_it(tmp_path: Path, layout: list[Stack]) -> None:
    missing = tmp_path / "prod" / "nope"

    with pytest.raises(DiscoveryError) as caught:
        stacks_at_paths(layout, [tmp_path / "prod", missing])

    assert str(caught.value) == f"{missing}: no such file or directory"


def test_path_with_no_stack_is_an_error_naming_it(tmp_path: Path, layout: list[Stack]) -> None:
    with pytest.raises(DiscoveryError) as caught:
        stacks_at_paths(layout, [tmp_path / "empty"])

    assert str(caught.value) == f"{tmp_path / 'empty'}: no stack at or below this path"


def test_path_outside_the_root_is_an_error(
    layout: list[Stack], tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    tg_stacks(elsewhere, "prod/vpc")  # a stack-shaped folder, but not one of the discovered stacks

    with pytest.raises(DiscoveryError, match="no stack at or below"):
        stacks_at_paths(layout, [elsewhere / "prod" / "vpc"])


def test_sibling_with_common_prefix_is_not_selected(tmp_path: Path) -> None:
    tg_stacks(tmp_path, "app", "app-two")
    found = discover(tmp_path, Tool.TERRAGRUNT)

    assert ids(stacks_at_paths(found, [tmp_path / "app"])) == ["app"]


def test_no_paths_selects_nothing(layout: list[Stack]) -> None:
    assert stacks_at_paths(layout, []) == []


# ---- include parents, exclude/skip, .hcl.json, Terragrunt Stacks (issue 14) ----


def git_repo(root: Path) -> Path:
    """A real git repository, so `get_repo_root()` answers as it does for Terragrunt."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_legacy_root_terragrunt_hcl_included_by_units_is_a_parent_not_a_unit(tmp_path: Path) -> None:
    git_repo(tmp_path)
    touch(tmp_path / "terragrunt.hcl", "remote_state {}\n")
    for unit in ("prod/app", "dev/app"):
        touch(tmp_path / unit / "terragrunt.hcl", "include {\n  path = find_in_parent_folders()\n}\n")

    found = discover_all(tmp_path, Tool.TERRAGRUNT)

    assert ids(found.stacks) == ["dev/app", "prod/app"]
    assert found.parents == ((tmp_path / "terragrunt.hcl").resolve(),)


def test_mid_level_parents_found_through_every_include_form(tmp_path: Path) -> None:
    git_repo(tmp_path)
    touch(tmp_path / "root.hcl", "locals {}\n")
    touch(
        tmp_path / "prod" / "terragrunt.hcl",
        'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    )
    touch(tmp_path / "envs" / "terragrunt.hcl", "inputs = {}\n")
    touch(tmp_path / "common" / "terragrunt.hcl", "inputs = {}\n")
    touch(tmp_path / "prod" / "a" / "terragrunt.hcl", 'include "p" {\n  path = "../terragrunt.hcl"\n}\n')
    touch(
        tmp_path / "envs" / "b" / "terragrunt.hcl",
        'include "e" {\n  path = "${get_repo_root()}/envs/terragrunt.hcl"\n}\n',
    )
    touch(
        tmp_path / "envs" / "c" / "terragrunt.hcl",
        'locals {\n  dir = "common"\n}\ninclude "c" {\n'
        '  path = "${get_terragrunt_dir()}/${path_relative_from_include()}/../../${local.dir}/terragrunt.hcl"'
        "\n}\n",
    )
    touch(
        tmp_path / "solo" / "terragrunt.hcl",
        'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    )

    found = discover_all(tmp_path, Tool.TERRAGRUNT)

    assert ids(found.stacks) == ["envs/b", "envs/c", "prod/a", "solo"]
    assert [p.relative_to(tmp_path.resolve()).as_posix() for p in found.parents] == [
        "common/terragrunt.hcl",
        "envs/terragrunt.hcl",
        "prod/terragrunt.hcl",
    ]


def test_terragrunt_hcl_json_units_and_json_includes(tmp_path: Path) -> None:
    touch(tmp_path / "root.hcl")
    touch(tmp_path / "mid" / "terragrunt.hcl.json", json.dumps({"inputs": {}}))
    touch(
        tmp_path / "mid" / "app" / "terragrunt.hcl.json",
        json.dumps({"include": {"mid": {"path": '${find_in_parent_folders("terragrunt.hcl.json")}'}}}),
    )
    touch(tmp_path / "both" / "terragrunt.hcl", TG)
    touch(tmp_path / "both" / "terragrunt.hcl.json", "{}")

    found = discover(tmp_path, Tool.TERRAGRUNT)

    assert ids(found) == ["both", "mid/app"]
    assert {s.id: s.config.name for s in found if s.config} == {
        "both": "terragrunt.hcl",  # Terragrunt reads the .hcl when both are there
        "mid/app": "terragrunt.hcl.json",
    }


EXCLUDE = "exclude {{\n  if = {condition}\n  actions = {actions}\n}}\n"


@pytest.mark.parametrize(
    ("body", "excluded", "note"),
    [
        (EXCLUDE.format(condition="true", actions='["plan", "apply"]'), True, None),
        (EXCLUDE.format(condition="true", actions='["all"]'), True, None),
        (EXCLUDE.format(condition="true", actions='["all_except_output"]'), True, None),
        (EXCLUDE.format(condition='"true"', actions='["PLAN"]'), True, None),
        (EXCLUDE.format(condition="true", actions='["apply", "destroy"]'), False, None),
        (EXCLUDE.format(condition="false", actions='["all"]'), False, None),
        (
            'locals {\n  env = "sandbox"\n}\n'
            + EXCLUDE.format(condition='local.env == "sandbox"', actions='["all"]'),
            True,
            None,
        ),
        (
            'locals {\n  env = "prod"\n}\n'
            + EXCLUDE.format(condition='local.env == "sandbox"', actions='["all"]'),
            False,
            None,
        ),
        (EXCLUDE.format(condition="feature.off.value", actions='["plan"]'), False, "feature.off"),
        (EXCLUDE.format(condition="dependency.x.outputs.y", actions='["plan"]'), False, "dependency.x"),
        ("skip = true\n", True, None),
        ("skip = false\n", False, None),
    ],
)
def test_exclude_and_skip(tmp_path: Path, body: str, excluded: bool, note: str | None) -> None:
    touch(tmp_path / "root.hcl")
    touch(tmp_path / "app" / "terragrunt.hcl", TG + body)

    (unit,) = discover(tmp_path, Tool.TERRAGRUNT)

    assert (unit.excluded is not None) is excluded
    if excluded:
        assert "app/terragrunt.hcl" in (unit.excluded or "")
    assert (note is not None) == bool(unit.notes)
    if note is not None:
        assert note in unit.notes[0] and "planned" in unit.notes[0]


def test_a_parents_exclude_applies_unless_the_child_has_its_own(tmp_path: Path) -> None:
    touch(
        tmp_path / "root.hcl",
        EXCLUDE.format(condition='basename(get_terragrunt_dir()) == "old"', actions='["all"]'),
    )
    touch(tmp_path / "old" / "terragrunt.hcl", TG)
    touch(tmp_path / "new" / "terragrunt.hcl", TG)
    touch(
        tmp_path / "kept" / "old" / "terragrunt.hcl",
        TG + EXCLUDE.format(condition="false", actions='["all"]'),
    )

    found = {s.id: s.excluded for s in discover(tmp_path, Tool.TERRAGRUNT)}

    assert found["new"] is None and found["kept/old"] is None
    assert "root.hcl" in (found["old"] or "")


def stack_repo(tmp_path: Path) -> Path:
    """live/terragrunt.stack.hcl with local and remote units and a nested local stack."""
    root = git_repo(tmp_path / "repo")
    touch(root / "root.hcl", "locals {}\n")
    touch(root / "catalog" / "units" / "app" / "terragrunt.hcl", TG + "inputs = {\n  name = values.name\n}\n")
    touch(
        root / "catalog" / "units" / "old" / "terragrunt.hcl",
        TG + EXCLUDE.format(condition="values.retired", actions='["plan"]'),
    )
    touch(
        root / "catalog" / "stacks" / "env" / "terragrunt.stack.hcl",
        'unit "app" {\n  source = "../../../catalog/units/app"\n  path = "app"\n'
        '  values = { name = "${values.env}-app" }\n}\n'
        'unit "db" {\n  source = "git::https://example.com/catalog.git//units/db?ref=v1"\n  path = "db"\n}\n',
    )
    touch(
        root / "live" / "terragrunt.stack.hcl",
        'locals {\n  units = "../catalog/units"\n}\n'
        'unit "app" {\n  source = "${local.units}/app"\n  path = "services/app"\n'
        '  values = { name = "a" }\n}\n'
        'unit "legacy" {\n  source = "../catalog/units/app"\n  path = "legacy"\n'
        "  no_dot_terragrunt_stack = true\n"
        '  values = { name = "l" }\n}\n'
        'unit "old" {\n  source = find_in_parent_folders("catalog/units/old")\n  path = "old"\n'
        "  values = { retired = true }\n}\n"
        'unit "vpc" {\n  source = "tfr:///terraform-aws-modules/vpc/aws?version=5.0.0"\n  path = "vpc"\n}\n'
        'stack "dev" {\n  source = "../catalog/stacks/env"\n  path = "dev"\n  values = { env = "dev" }\n}\n'
        'stack "remote" {\n  source = "git::https://example.com/catalog.git//stacks/env"\n  path = "r"\n}\n',
    )
    return root


def test_stack_units_are_found_where_terragrunt_generates_them(tmp_path: Path) -> None:
    root = stack_repo(tmp_path)

    found = discover_all(root, Tool.TERRAGRUNT)
    units = {s.id: s for s in found.stacks}

    assert sorted(units) == [
        "live/.terragrunt-stack/dev/.terragrunt-stack/app",
        "live/.terragrunt-stack/dev/.terragrunt-stack/db",
        "live/.terragrunt-stack/old",
        "live/.terragrunt-stack/services/app",
        "live/.terragrunt-stack/vpc",
        "live/legacy",
    ]
    real = root.resolve()
    app = units["live/.terragrunt-stack/services/app"]
    assert app.path == real / "live/.terragrunt-stack/services/app"
    assert app.stack_files == (real / "live/terragrunt.stack.hcl",)
    assert app.source == "../catalog/units/app"
    assert app.source_dir == real / "catalog/units/app"
    assert app.config == real / "catalog/units/app/terragrunt.hcl"
    vpc = units["live/.terragrunt-stack/vpc"]
    assert (vpc.source_dir, vpc.config) == (None, None)
    nested = units["live/.terragrunt-stack/dev/.terragrunt-stack/app"]
    assert nested.stack_files == (
        real / "live/terragrunt.stack.hcl",
        real / "catalog/stacks/env/terragrunt.stack.hcl",
    )
    assert nested.source_dir == real / "catalog/units/app"  # resolved from the generated dev/ dir
    assert units["live/.terragrunt-stack/dev/.terragrunt-stack/db"].source_dir is None
    assert "values.retired" in (units["live/.terragrunt-stack/old"].excluded or "")
    assert any('stack "remote"' in w and "not listed" in w for w in found.warnings)


def test_generated_dirs_on_disk_are_not_found_twice(tmp_path: Path) -> None:
    root = stack_repo(tmp_path)
    touch(root / "live" / ".terragrunt-stack" / "services" / "app" / "terragrunt.hcl", TG)
    touch(root / "live" / ".terragrunt-stack" / "stale" / "terragrunt.hcl", TG)

    found = ids(discover(root, Tool.TERRAGRUNT))

    assert "live/.terragrunt-stack/stale" not in found
    assert found.count("live/.terragrunt-stack/services/app") == 1


# ---- never silent: finding nothing is an error naming what was looked for ----


def test_empty_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match=r"no terragrunt\.hcl.* under .* \(--tool terragrunt\)$"):
        discover(tmp_path, Tool.TERRAGRUNT)


def test_terragrunt_on_a_terraform_repo_suggests_the_tool(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "app", "db")

    with pytest.raises(DiscoveryError, match="try --tool terraform"):
        discover(tmp_path, Tool.TERRAGRUNT)


def test_terraform_on_a_terragrunt_repo_suggests_the_tool(tmp_path: Path) -> None:
    touch(tmp_path / "live" / "terragrunt.stack.hcl", 'unit "a" {\n  source = "x"\n  path = "a"\n}\n')

    with pytest.raises(DiscoveryError, match="try --tool terragrunt"):
        discover(tmp_path, Tool.TERRAFORM)


def test_only_include_parents_is_an_error_naming_them(tmp_path: Path) -> None:
    touch(tmp_path / "terragrunt.hcl")
    touch(tmp_path / "catalog" / "app" / "terragrunt.hcl", "inputs = {}\n")
    touch(
        tmp_path / "live" / "terragrunt.stack.hcl",
        'unit "a" {\n  source = "../catalog/app"\n  path = local.x\n}\n',
    )

    with pytest.raises(
        DiscoveryError,
        match=r"holds terragrunt\.hcl, catalog/app/terragrunt\.hcl, live/terragrunt\.stack\.hcl: "
        "its terragrunt\\.hcl files are include parents or catalog sources",
    ):
        discover(tmp_path, Tool.TERRAGRUNT, root_config="terragrunt.hcl")


def test_stack_file_without_known_units_is_an_error_naming_it(tmp_path: Path) -> None:
    touch(tmp_path / "live" / "terragrunt.stack.hcl", 'unit "a" {\n  source = "x"\n  path = local.nope\n}\n')

    with pytest.raises(
        DiscoveryError,
        match=r"holds live/terragrunt\.stack\.hcl: the stack files declare no unit.*local\.nope",
    ):
        discover(tmp_path, Tool.TERRAGRUNT)


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match=r"nope: not a directory \(--root\)"):
        discover(tmp_path / "nope", Tool.TERRAGRUNT)


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({"a/terragrunt.hcl": TG}, Tool.TERRAGRUNT),
        ({"live/terragrunt.stack.hcl": "", "m/main.tf": TF}, Tool.TERRAGRUNT),
        ({"a/terragrunt.hcl.json": "{}"}, Tool.TERRAGRUNT),
        ({"a/main.tf": TF}, Tool.TERRAFORM),
        ({"a/main.tofu": TF}, Tool.TOFU),
        ({}, Tool.TERRAFORM),
    ],
)
def test_detect_tool(tmp_path: Path, layout: dict[str, str], expected: Tool) -> None:
    for name, body in layout.items():
        touch(tmp_path / name, body)

    assert detect_tool(tmp_path) is expected


def test_detect_tool_picks_tofu_when_only_tofu_is_installed(tmp_path: Path) -> None:
    tf_stacks(tmp_path, "a")

    assert detect_tool(tmp_path, tofu_only=True) is Tool.TOFU


def test_the_stacks_example_lists_its_generated_units() -> None:
    root = Path(__file__).resolve().parent.parent / "examples" / "stacks"

    found = {s.id: s for s in discover(root, Tool.TERRAGRUNT)}

    assert sorted(found) == [
        "live/.terragrunt-stack/dev/.terragrunt-stack/app",
        "live/.terragrunt-stack/dev/.terragrunt-stack/network",
        "live/.terragrunt-stack/dns",
        "live/.terragrunt-stack/legacy",
        "live/.terragrunt-stack/prod/.terragrunt-stack/app",
        "live/.terragrunt-stack/prod/.terragrunt-stack/network",
    ]
    assert [i for i, s in found.items() if s.excluded] == ["live/.terragrunt-stack/legacy"]


def test_exclude_dependencies_leaves_out_the_direct_dependencies_only(tmp_path: Path) -> None:
    touch(tmp_path / "root.hcl")
    touch(tmp_path / "vpc" / "terragrunt.hcl", TG)
    touch(tmp_path / "db" / "terragrunt.hcl", TG + 'dependencies {\n  paths = ["../vpc"]\n}\n')
    touch(
        tmp_path / "app" / "terragrunt.hcl",
        TG + 'dependency "db" {\n  config_path = "../db"\n}\n'
        'exclude {\n  if = true\n  actions = ["all"]\n  exclude_dependencies = true\n}\n',
    )
    touch(
        tmp_path / "web" / "terragrunt.hcl",
        TG + 'dependency "vpc" {\n  config_path = "../vpc"\n}\n'
        'exclude {\n  if = true\n  actions = ["all"]\n  exclude_dependencies = false\n}\n',
    )

    found = {s.id: s.excluded for s in discover(tmp_path, Tool.TERRAGRUNT)}

    assert found["db"] == "a dependency of app, excluded with exclude_dependencies"
    assert found["vpc"] is None  # direct dependencies only, as Terragrunt's applyExcludeModules
    assert found["app"] is not None and found["web"] is not None


def test_exclude_and_skip_merge_separately_child_over_parent(tmp_path: Path) -> None:
    touch(tmp_path / "root.hcl", EXCLUDE.format(condition="true", actions='["plan"]'))
    touch(tmp_path / "a" / "terragrunt.hcl", TG + "skip = false\n")  # skip does not cancel an exclude
    touch(tmp_path / "b" / "terragrunt.hcl", TG + EXCLUDE.format(condition="true", actions='["apply"]'))
    touch(tmp_path / "other" / "root.hcl", "skip = true\n")
    touch(
        tmp_path / "other" / "c" / "terragrunt.hcl",
        TG + EXCLUDE.format(condition="true", actions='["apply"]'),
    )
    touch(tmp_path / "other" / "d" / "terragrunt.hcl", TG + "skip = false\n")

    found = {s.id: s.excluded for s in discover(tmp_path, Tool.TERRAGRUNT)}

    assert "root.hcl" in (found["a"] or "")
    assert found["b"] is None  # the child's block (apply only) replaces the parent's
    assert (found["other/c"] or "").startswith("skip = true in other/root.hcl")
    assert found["other/d"] is None


def test_a_stacks_unit_not_generated_yet_is_selected_by_its_path(tmp_path: Path) -> None:
    root = stack_repo(tmp_path)
    units = discover(root, Tool.TERRAGRUNT)

    chosen = stacks_at_paths(units, [root / "live" / ".terragrunt-stack" / "services"])

    assert ids(chosen) == ["live/.terragrunt-stack/services/app"]
    with pytest.raises(DiscoveryError, match="no such file or directory"):
        stacks_at_paths(units, [root / "live" / ".terragrunt-stack" / "nope"])
