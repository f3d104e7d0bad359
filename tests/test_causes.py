"""driftctl.causes: drift grouped across stacks by resource type, action and attribute names."""

from __future__ import annotations

from dataclasses import replace

from factories import plan_result

from driftctl.causes import Cause, group, top_level
from driftctl.model import PlanResult, ResourceChange, State


def drifted(stack: str, *changes: ResourceChange) -> PlanResult:
    return replace(plan_result(stack, State.DRIFTED), changes=changes)


def sg(address: str, *attributes: str) -> ResourceChange:
    return ResourceChange(address, "update", "aws_security_group", attributes)


def test_one_cause_across_many_stacks_leads() -> None:
    results = [
        drifted("prod/a", sg("aws_security_group.web", "ingress[0].cidr_blocks")),
        drifted(
            "prod/b",
            sg("aws_security_group.web", "ingress[2].description"),
            sg("aws_security_group.db", "ingress"),
        ),
        drifted("dev/c", sg("aws_security_group.web", "ingress[0].cidr_blocks")),
        drifted("dev/c", ResourceChange("aws_iam_role.ci", "replace", "aws_iam_role", ("name",))),
        drifted("dev/d", ResourceChange("null_resource.x", "create", "null_resource")),
        drifted("dev/d", ResourceChange("null_resource.y", "create", "null_resource")),
    ]

    causes = group(results)

    assert causes[0] == Cause("aws_security_group", "update", ("ingress",), ("dev/c", "prod/a", "prod/b"), 4)
    assert causes[0].line() == "aws_security_group · update · ingress: 3 stacks"
    # one stack each: the one with more resources first
    assert [c.line() for c in causes[1:]] == [
        "null_resource · create: 1 stack",
        "aws_iam_role · replace · name: 1 stack",
    ]
    assert causes[1].resources == 2


def test_ignored_changes_and_stacks_that_are_not_drifted_have_no_cause() -> None:
    results = [
        drifted("a", replace(sg("aws_security_group.web", "tags"), ignored_by="tagging bot")),
        replace(plan_result("b", State.ERRORED), changes=(sg("aws_security_group.web", "tags"),)),
        replace(plan_result("c", State.CLEAN), changes=(sg("aws_security_group.web", "tags"),)),
    ]

    assert group(results) == []


def test_attribute_sets_differ_by_their_top_level_names() -> None:
    results = [
        drifted("a", sg("s.x", "tags.owner", "ingress")),
        drifted("b", sg("s.y", "ingress", "tags.team")),
    ]

    (cause,) = group(results)

    assert cause.attributes == ("ingress", "tags")


def test_top_level_names() -> None:
    assert top_level(['tags["k8s.io/name"]', "ingress[0].cidr_blocks", "name", "tags.owner"]) == (
        "ingress",
        "name",
        "tags",
    )
