"""driftctl.ignore: noise rules tag what they match, never drop it, and expire."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from factories import plan_result

from driftctl import config
from driftctl.ignore import IgnoreRule, apply, parse_rule, suggest
from driftctl.model import PlanResult, ResourceChange, ResourceCounts, State

TODAY = date(2026, 12, 2)
SG = ResourceChange("aws_security_group.web", "update", "aws_security_group", ("ingress", "tags.owner"))
ROLE = ResourceChange("module.x.aws_iam_role.ci", "replace", "aws_iam_role", ("assume_role_policy",))
BUCKET = ResourceChange('aws_s3_bucket.logs["eu"]', "create", "aws_s3_bucket")


def drifted(stack: str, *changes: ResourceChange, outside: tuple[ResourceChange, ...] = ()) -> PlanResult:
    counts = ResourceCounts(
        add=sum(c.action == "create" for c in changes),
        change=sum(c.action == "update" for c in changes),
        replace=sum(c.action == "replace" for c in changes),
    )
    return replace(plan_result(stack, State.DRIFTED, counts), changes=changes, outside=outside)


def test_a_rule_for_a_whole_resource_tags_it_and_keeps_it() -> None:
    rule = IgnoreRule(reason="IAM team owns roles", address="module.x.aws_iam_role.*")

    (result,) = apply([drifted("prod/app", SG, ROLE)], [rule], TODAY).results

    assert result.state is State.DRIFTED
    assert [c.ignored_by for c in result.changes] == [None, "IAM team owns roles"]
    assert result.resources == ResourceCounts(change=1)


def test_a_stack_whose_every_change_is_ignored_is_clean_and_lists_them() -> None:
    rules = [IgnoreRule(reason="roles", type="aws_iam_role"), IgnoreRule(reason="bucket", action="create")]

    (result,) = apply([drifted("prod/app", ROLE, BUCKET)], rules, TODAY).results

    assert result.state is State.CLEAN
    assert result.resources == ResourceCounts()
    assert [(c.address, c.ignored_by) for c in result.changes] == [
        (ROLE.address, "roles"),
        (BUCKET.address, "bucket"),
    ]


def test_attribute_rules_ignore_paths_below_them() -> None:
    rule = IgnoreRule(reason="tagging bot", type="aws_security_group", attribute="tags")

    (result,) = apply([drifted("prod/app", SG)], [rule], TODAY).results

    (change,) = result.changes
    assert change.attributes == ("ingress",)
    assert change.ignored_attributes == ("tags.owner",)
    assert change.ignored_by is None
    assert result.state is State.DRIFTED


def test_when_every_attribute_is_ignored_the_change_is() -> None:
    rules = [
        IgnoreRule(reason="tags", attribute="tags.*"),
        IgnoreRule(reason="ingress", attribute="ingress"),
    ]

    (result,) = apply([drifted("prod/app", SG)], rules, TODAY).results

    assert result.state is State.CLEAN
    assert result.changes[0].ignored_by == "ingress"
    assert result.changes[0].ignored_attributes == ("ingress", "tags.owner")


def test_an_attribute_rule_never_ignores_a_create() -> None:
    (result,) = apply([drifted("prod/app", BUCKET)], [IgnoreRule(reason="r", attribute="*")], TODAY).results

    assert result.state is State.DRIFTED and result.changes == (BUCKET,)


@pytest.mark.parametrize(
    ("pattern", "address", "matched"),
    [
        ('aws_s3_bucket.logs["eu"]', 'aws_s3_bucket.logs["eu"]', True),
        ("aws_s3_bucket.logs[*]", 'aws_s3_bucket.logs["eu"]', True),
        # `[` is literal, not a character class as in fnmatch
        ("aws_s3_bucket.logs[e]", "aws_s3_bucket.logse", False),
        ("module.x.*", "module.x.aws_iam_role.ci", True),
        ("module.x.*", "module.xy.aws_iam_role.ci", False),
        ("aws_iam_role.?", "aws_iam_role.a", False),
    ],
)
def test_address_globs(pattern: str, address: str, matched: bool) -> None:
    rule = IgnoreRule(reason="r", address=pattern)

    assert rule.matches("s", ResourceChange(address, "update")) is matched


def test_stack_globs_are_the_include_exclude_globs() -> None:
    rule = IgnoreRule(reason="sandbox", stack="sandbox/")

    results = apply([drifted("dev/sandbox/a", SG), drifted("dev/app", SG)], [rule], TODAY).results

    assert [r.state for r in results] == [State.CLEAN, State.DRIFTED]


def test_an_expired_rule_warns_and_stops_applying() -> None:
    expired = IgnoreRule(reason="until the migration", type="aws_security_group", until=date(2026, 12, 1))
    last_day = IgnoreRule(reason="last day", type="aws_iam_role", until=TODAY, source=".driftctl.yaml:7")

    applied = apply([drifted("a", SG, ROLE)], [expired, last_day], TODAY)

    assert [c.ignored_by for c in applied.results[0].changes] == [None, "last day"]
    assert applied.warnings == (
        "ignore: ignore rule expired on 2026-12-01 and no longer applies: until the migration",
    )


def test_outside_changes_are_tagged_and_count_only_when_asked() -> None:
    outside = ResourceChange("aws_instance.a", "update", "aws_instance", ("tags.Name",), outside=True)
    rule = IgnoreRule(reason="console tags", attribute="tags.Name")
    stack = replace(drifted("a"), outside=(outside,))

    (counted,) = apply([stack], [rule], TODAY, outside_counts_as_drift=True).results
    (not_counted,) = apply([stack], [rule], TODAY).results

    assert counted.state is State.CLEAN and counted.outside[0].ignored_by == "console tags"
    # drifted without any change the rules can see (outputs): left as it was, outside tagged
    assert not_counted.state is State.DRIFTED and not_counted.outside[0].ignored_by == "console tags"


def test_errored_and_clean_stacks_are_only_tagged() -> None:
    clean = replace(plan_result("c", State.CLEAN), outside=(replace(SG, outside=True),))

    (result,) = apply([clean], [IgnoreRule(reason="r", address="*")], TODAY).results

    assert result.state is State.CLEAN and result.outside[0].ignored_by == "r"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"address": "x"}, "every rule needs a reason"),
        ({"reason": "r"}, "a rule needs at least one of"),
        ({"reason": "r", "action": "destroy"}, "action: expected one of create, update"),
        ({"reason": "r", "stack": "a", "until": "next week"}, "until: expected a date"),
        ({"reason": "r", "adress": "x"}, "unknown key 'adress'"),
        ({"reason": "", "stack": "a"}, "reason: expected a non-empty string"),
        ("just a string", "a rule is a mapping"),
    ],
)
def test_bad_rules_are_rejected(rule: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rule(rule, "x")


def test_rules_from_the_config_file_carry_their_line(tmp_path: Path) -> None:
    (tmp_path / ".driftctl.yaml").write_text(
        "parallelism: 2\n"
        "ignore:\n"
        "  - address: module.x.aws_iam_role.*\n"
        "    reason: IAM team\n"
        "  - type: aws_security_group\n"
        "    attribute: tags.owner\n"
        "    reason: tagging bot\n"
        "    until: 2026-12-31\n",
        encoding="utf-8",
    )

    cfg = config.load({"root": str(tmp_path)}, {})

    assert cfg.ignore == (
        IgnoreRule(
            reason="IAM team", address="module.x.aws_iam_role.*", source=f"{tmp_path}/.driftctl.yaml:3"
        ),
        IgnoreRule(
            reason="tagging bot",
            type="aws_security_group",
            attribute="tags.owner",
            until=date(2026, 12, 31),
            source=f"{tmp_path}/.driftctl.yaml:5",
        ),
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "ignore:\n  - reason: r\n    stack: a\n  - stack: b\n",
            ".driftctl.yaml:4: ignore: every rule needs a reason",
        ),
        ("ignore: {stack: a}\n", ".driftctl.yaml:1: ignore: expected a list of rules"),
        (
            "ignore:\n  - {reason: r, stack: a, until: 2026-13-01}\n",
            ".driftctl.yaml:2: ignore: month must be in 1..12",
        ),
    ],
)
def test_bad_rules_in_the_config_file_name_their_line(tmp_path: Path, section: str, message: str) -> None:
    (tmp_path / ".driftctl.yaml").write_text(section, encoding="utf-8")

    with pytest.raises(config.ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        config.load({"root": str(tmp_path)}, {})


def test_rules_are_not_taken_from_the_environment() -> None:
    with pytest.raises(
        config.ConfigError, match=r"DRIFTCTL_IGNORE: ignore rules are read from \.driftctl\.yaml only"
    ):
        config.load({}, {"DRIFTCTL_IGNORE": "x"})


def test_suggested_rules_parse_and_silence_the_run(tmp_path: Path) -> None:
    outside = ResourceChange("aws_instance.a", "update", "aws_instance", ("tags.Name",), outside=True)
    results = [
        drifted("prod/app", SG, BUCKET),
        replace(plan_result("dev/x", State.CLEAN), outside=(outside,)),
    ]

    text = suggest(results, TODAY)
    (tmp_path / ".driftctl.yaml").write_text(text, encoding="utf-8")
    rules = config.load({"root": str(tmp_path)}, {}).ignore
    applied = apply(results, rules, TODAY, outside_counts_as_drift=True)

    assert yaml.safe_load(text)["ignore"][1] == {
        "stack": "prod/app",
        "address": "aws_security_group.web",
        "action": "update",
        "attribute": "ingress",
        "reason": "baseline of 2026-12-02: update planned",
        "until": date(2027, 3, 2),
    }
    assert len(rules) == 4  # one per attribute of the update, the create, the outside change
    assert [r.state for r in applied.results] == [State.CLEAN, State.CLEAN]
    assert all(c.ignored_by for r in applied.results for c in (*r.changes, *r.outside))
    assert suggest(applied.results, TODAY) == "ignore: []\n"


def test_outside_changes_make_a_clean_stack_drifted_only_when_asked_and_not_ignored() -> None:
    outside = ResourceChange("aws_instance.a", "update", "aws_instance", ("tags.Name",), outside=True)
    clean = replace(plan_result("c", State.CLEAN), outside=(outside,))

    (default,) = apply([clean], [], TODAY).results
    (counted,) = apply([clean], [], TODAY, outside_counts_as_drift=True).results
    (ignored,) = apply([clean], [IgnoreRule(reason="r", attribute="tags")], TODAY, True).results

    assert default.state is State.CLEAN
    assert counted.state is State.DRIFTED
    assert ignored.state is State.CLEAN and ignored.outside[0].ignored_by == "r"
