"""driftctl.report: the JSON report (version 2, docs/report.schema.json), its Markdown, the atomic write."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import factories
import jsonschema  # type: ignore[import-untyped]
import pytest

from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    ResourceChange,
    ResourceCounts,
    RunReport,
    State,
    Tool,
)
from driftctl.report import (
    MARKDOWN_LIMIT,
    ordered,
    result_from_dict,
    rfc3339,
    summary,
    to_dict,
    to_json,
    to_markdown,
    write_atomic,
)

STARTED = datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
FINISHED = datetime(2025, 3, 1, 10, 4, 30, 987654, tzinfo=timezone.utc)
ROOT = Path("/work/infra")


result = partial(factories.plan_result, root=ROOT)
run_report = partial(factories.run_report, started=STARTED, finished=FINISHED, root=ROOT)


def mixed_report() -> RunReport:
    return run_report(
        result("prod/vpc", State.CLEAN, duration=3.25, log=Path("/tmp/logs/prod_vpc-1a2b3c4d.log")),
        result(
            "prod/db",
            State.ERRORED,
            error=PlanError(ErrorKind.LOCK, "Error: Error acquiring the state lock"),
            duration=12.5,
            attempts=3,
            log=Path("/tmp/logs/prod_db-5e6f7a8b.log"),
        ),
        result(
            "dev/app",
            State.DRIFTED,
            ResourceCounts(add=1, change=2, destroy=3, replace=4),
            duration=7.0,
            log=Path("/tmp/logs/dev_app-9c0d1e2f.log"),
        ),
        result("dev/vpc", State.CLEAN, duration=2.0),
        result(
            "a/killed",
            State.ERRORED,
            error=PlanError(ErrorKind.TIMEOUT, "timed out after 1800s; the process group was killed"),
            killed=True,
            duration=1800.0,
        ),
        result("z/drift", State.DRIFTED, ResourceCounts(change=1), duration=0.5),
        removed=("old/stack", "gone"),
        mode="changed",
    )


MIXED_SUMMARY = {
    "total": 6,
    "clean": 2,
    "drifted": 2,
    "errored": 2,
    "outside": 0,
    "checks_failing": 0,
    "ignored": 0,
}


# ---- JSON ----

# The report's keys, each object's in the order to_dict writes them.
# Version 1's keys first, unchanged; version 2 only appends.
REPORT_KEYS = ["version", "started_at", "finished_at", "root", "tool", "mode", "stacks", "removed", "summary"]
REPORT_KEYS += ["causes"]
STACK_KEYS = ["stack", "state", "exit_code", "duration_seconds", "attempts", "resources", "error", "log"]
STACK_KEYS += ["changes", "outside", "checks", "ignored"]
RESOURCE_KEYS = ["add", "change", "destroy", "replace"]
SUMMARY_KEYS = ["total", "clean", "drifted", "errored"]
SUMMARY_KEYS += ["outside", "checks_failing", "ignored"]

REPORT_SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "report.schema.json").read_text(encoding="utf-8")
)


def test_to_dict_matches_the_documented_schema_exactly() -> None:
    document = to_dict(mixed_report())

    jsonschema.validate(document, REPORT_SCHEMA)
    assert list(document) == REPORT_KEYS
    for stack in document["stacks"]:
        assert list(stack) == STACK_KEYS
        assert list(stack["resources"]) == RESOURCE_KEYS
    assert list(document["summary"]) == SUMMARY_KEYS


def test_to_dict_values() -> None:
    document = to_dict(mixed_report())

    assert document["version"] == 2
    assert document["started_at"] == "2025-03-01T10:00:00Z"
    assert document["finished_at"] == "2025-03-01T10:04:30Z"
    assert document["root"] == "/work/infra"
    assert document["tool"] == "terragrunt"
    assert document["mode"] == "changed"
    assert document["removed"] == ["old/stack", "gone"]
    assert document["summary"] == MIXED_SUMMARY
    assert document["stacks"][0] == {
        "stack": "dev/app",
        "state": "drifted",
        "exit_code": 2,
        "duration_seconds": 7.0,
        "attempts": 1,
        "resources": {"add": 1, "change": 2, "destroy": 3, "replace": 4},
        "error": None,
        "log": "/tmp/logs/dev_app-9c0d1e2f.log",
        "changes": [],
        "outside": [],
        "checks": [],
        "ignored": 0,
    }
    by_id = {s["stack"]: s for s in document["stacks"]}
    assert by_id["prod/db"]["error"] == {"kind": "lock", "message": "Error: Error acquiring the state lock"}
    assert by_id["prod/db"]["attempts"] == 3
    assert by_id["a/killed"]["exit_code"] is None
    assert by_id["a/killed"]["error"]["kind"] == "timeout"
    assert by_id["dev/vpc"]["log"] is None
    assert by_id["dev/vpc"]["resources"] == {"add": 0, "change": 0, "destroy": 0, "replace": 0}


def test_stacks_are_ordered_drifted_errored_clean_then_by_id() -> None:
    document = to_dict(mixed_report())

    assert [(s["state"], s["stack"]) for s in document["stacks"]] == [
        ("drifted", "dev/app"),
        ("drifted", "z/drift"),
        ("errored", "a/killed"),
        ("errored", "prod/db"),
        ("clean", "dev/vpc"),
        ("clean", "prod/vpc"),
    ]


def test_ordered_does_not_change_its_input() -> None:
    report = mixed_report()
    before = report.results

    ordered(report.results)

    assert report.results == before
    assert [r.stack.id for r in ordered(report.results)][:2] == ["dev/app", "z/drift"]


def test_empty_report() -> None:
    document = to_dict(run_report())

    jsonschema.validate(document, REPORT_SCHEMA)
    assert document["stacks"] == [] and document["removed"] == []
    assert document["summary"] == dict.fromkeys(SUMMARY_KEYS, 0)
    assert document["causes"] == []


def test_summary_counts() -> None:
    assert summary(mixed_report()) == MIXED_SUMMARY


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 3, 1, 10, 0, 0, tzinfo=timezone.utc), "2025-03-01T10:00:00Z"),
        (datetime(2025, 3, 1, 10, 0, 0, 999999, tzinfo=timezone.utc), "2025-03-01T10:00:00Z"),
        (datetime(2025, 3, 1, 12, 30, 0, tzinfo=timezone(timedelta(hours=2))), "2025-03-01T10:30:00Z"),
        (datetime(2025, 3, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))), "2025-03-01T06:00:00Z"),
        (datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))), "2025-01-01T00:59:59Z"),
    ],
)
def test_rfc3339_is_utc_with_z(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment.replace(microsecond=0)


def test_timestamps_in_other_zones_are_converted() -> None:
    cet = timezone(timedelta(hours=1))
    report = run_report(
        started=datetime(2025, 3, 1, 11, 0, tzinfo=cet),
        finished=datetime(2025, 3, 1, 11, 5, tzinfo=cet),
        tool=Tool.TOFU,
    )

    document = to_dict(report)

    assert (document["started_at"], document["finished_at"]) == (
        "2025-03-01T10:00:00Z",
        "2025-03-01T10:05:00Z",
    )
    assert document["tool"] == "tofu"


def test_to_json_round_trips_and_keeps_unicode() -> None:
    report = run_report(result("région/ü", State.DRIFTED, ResourceCounts(add=1)), result('q"x', State.CLEAN))

    text = to_json(report)

    assert text.endswith("}\n")
    assert json.loads(text) == to_dict(report)
    assert "région/ü" in text  # not \u-escaped
    assert '"q\\"x"' in text


# ---- Markdown ----


def table_rows(markdown: str) -> list[list[str]]:
    """Rows of the first table, split on pipes that are not escaped, as GitHub does."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_markdown_header_and_table() -> None:
    markdown = to_markdown(mixed_report())
    lines = markdown.splitlines()

    assert lines[0] == "### driftctl: 2 drifted, 2 errored, 2 clean of 6 stacks"
    rows = table_rows(markdown)
    assert rows[0] == ["Stack", "State", "Add", "Change", "Destroy", "Replace", "Duration"]
    assert rows[1] == ["---", "---", "--:", "--:", "--:", "--:", "--:"]
    assert [row[0] for row in rows[2:]] == [
        "`dev/app`",
        "`z/drift`",
        "`a/killed`",
        "`prod/db`",
    ]
    assert rows[2] == ["`dev/app`", "🟠 drifted", "1", "2", "3", "4", "7.0s"]
    assert rows[4][1] == "🔴 errored"
    assert rows[5][-1] == "12.5s"
    # clean stacks are folded into a count
    assert "2 clean stacks not listed." in lines
    assert "dev/vpc" not in markdown
    assert markdown.endswith("\n")


@pytest.mark.parametrize(
    "stack_id", ["a|b", "pipes||twice", "back`tick", "``double``", "new\nline", "tab\tx|`"]
)
def test_pipes_and_backticks_in_ids_do_not_break_the_table(stack_id: str) -> None:
    report = run_report(result(stack_id, State.DRIFTED, ResourceCounts(add=1)), result("ok", State.CLEAN))

    rows = table_rows(to_markdown(report))

    assert len(rows) == 3
    assert all(len(row) == 7 for row in rows)
    first = rows[2][0]
    assert first.startswith("`") and first.endswith("`")
    assert "`" not in first[1:-1]  # the code span cannot be closed early
    assert rows[2][1:] == ["🟠 drifted", "1", "0", "0", "0", "1.0s"]


def test_error_details() -> None:
    message = "Error: Unsupported argument\n\n  on main.tf line 3:\n   3:   bogus = 1"
    report = run_report(
        result("prod/<db>&x", State.ERRORED, error=PlanError(ErrorKind.CONFIG, message)),
        result("prod/app", State.ERRORED, error=PlanError(ErrorKind.AUTH, "api error ExpiredToken")),
        result("prod/ok", State.CLEAN),
    )

    markdown = to_markdown(report)

    assert "<details><summary><code>prod/app</code>: auth error</summary>" in markdown
    assert "<details><summary><code>prod/&lt;db&gt;&amp;x</code>: config error</summary>" in markdown
    assert f"```\n{message}\n```\n</details>" in markdown
    # same order as the table: `<` sorts before `a`
    assert markdown.index("prod/&lt;db") < markdown.index("prod/app</code>")
    assert [row[0] for row in table_rows(markdown)[2:]] == ["`prod/<db>&x`", "`prod/app`"]
    assert markdown.count("<details>") == markdown.count("</details>") == 2


def test_code_fences_in_error_messages_cannot_close_the_block() -> None:
    message = "before\n```\ninjected **markdown**\n```\nafter"
    report = run_report(result("x", State.ERRORED, error=PlanError(ErrorKind.UNKNOWN, message)))

    markdown = to_markdown(report)
    block = markdown.split("<details>", 1)[1]

    assert block.count("```") == 2  # only driftctl's own fence
    assert "injected **markdown**" in block


def test_no_details_when_nothing_errored() -> None:
    markdown = to_markdown(run_report(result("a", State.CLEAN), result("b", State.DRIFTED)))

    assert "<details>" not in markdown
    assert "```" not in markdown


def test_removed_stacks_are_listed() -> None:
    markdown = to_markdown(run_report(result("a", State.CLEAN), removed=("old/one", "old|two")))

    assert markdown.splitlines()[-1] == "Removed since the base: `old/one`, `old\\|two`"


def test_no_removed_line_without_removed_stacks() -> None:
    assert "Removed" not in to_markdown(run_report(result("a", State.CLEAN)))


def test_empty_markdown_report() -> None:
    markdown = to_markdown(run_report())

    assert markdown == "### driftctl: 0 drifted, 0 errored, 0 clean of 0 stacks\n"


# ---- resources, outside changes, checks, causes (version 2) ----

SG = ResourceChange("aws_security_group.web", "update", "aws_security_group", ("ingress[0].cidr_blocks",))


def detailed_report() -> RunReport:
    tagged = ResourceChange(
        "aws_instance.a", "update", "aws_instance", ("ami",), ignored_attributes=("tags.Name",)
    )
    return run_report(
        replace(
            result("prod/app", State.DRIFTED, ResourceCounts(change=2, replace=1)),
            changes=(
                replace(SG, outside=True),
                tagged,
                ResourceChange('null_resource.x["a|b"]', "replace", "null_resource", ("triggers.v",)),
                ResourceChange("aws_iam_role.ci", "delete", "aws_iam_role", ignored_by="IAM team"),
            ),
            checks=(CheckResult("check.health", "fail"),),
        ),
        replace(result("prod/web", State.DRIFTED, ResourceCounts(change=1)), changes=(SG,)),
        replace(
            result("dev/quiet", State.CLEAN),
            outside=(
                ResourceChange("aws_s3_bucket.b", "update", "aws_s3_bucket", ("tags.owner",), outside=True),
            ),
        ),
    )


def test_detail_in_the_json_report_follows_the_schema() -> None:
    document = to_dict(detailed_report())

    jsonschema.validate(document, REPORT_SCHEMA)
    app = document["stacks"][0]
    assert app["changes"][0] == {
        "address": "aws_security_group.web",
        "action": "update",
        "type": "aws_security_group",
        "attributes": ["ingress[0].cidr_blocks"],
        "outside": True,
        "ignored_by": None,
        "ignored_attributes": [],
    }
    assert app["changes"][3]["ignored_by"] == "IAM team"
    assert app["checks"] == [{"address": "check.health", "status": "fail"}]
    assert app["ignored"] == 2
    assert document["stacks"][2]["outside"][0]["address"] == "aws_s3_bucket.b"
    assert document["summary"] == {
        "total": 3,
        "clean": 1,
        "drifted": 2,
        "errored": 0,
        "outside": 1,
        "checks_failing": 1,
        "ignored": 2,
    }
    assert document["causes"][0] == {
        "resource_type": "aws_security_group",
        "action": "update",
        "attributes": ["ingress"],
        "stacks": ["prod/app", "prod/web"],
        "resources": 2,
    }


def test_a_written_report_reads_back_into_the_same_results() -> None:
    report = detailed_report()

    document = json.loads(to_json(report))
    back = [result_from_dict(entry, ROOT, report.tool) for entry in document["stacks"]]

    assert back == ordered(report.results)


def test_markdown_lists_resources_outside_changes_checks_and_causes() -> None:
    markdown = to_markdown(detailed_report())

    assert "**Drift by cause** (resource type · action · attributes):" in markdown
    assert "- aws_security_group · update · ingress: 2 stacks" in markdown
    assert (
        "<details><summary><code>prod/app</code>: 3 resources, 1 failing checks, 2 ignored</summary>"
        in markdown
    )
    assert (
        "- update `aws_security_group.web`: `ingress[0].cidr_blocks` (changed outside Terraform)" in markdown
    )
    assert "- update `aws_instance.a`: `ami` (ignored: `tags.Name`)" in markdown
    assert '- replace `null_resource.x["a\\|b"]`: `triggers.v`' in markdown
    assert "- ~~delete `aws_iam_role.ci`~~ ignored: IAM team" in markdown
    assert "- check `check.health`: fail" in markdown
    # a clean stack is only counted, its outside changes are in the JSON report
    assert "1 clean stack not listed." in markdown
    assert "aws_s3_bucket.b" not in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 2


def test_markdown_is_cut_to_fit_a_pull_request_comment_and_says_what_was_left_out() -> None:
    changes = tuple(
        ResourceChange(f"aws_security_group.sg_{i}", "update", "aws_security_group", ("ingress",))
        for i in range(40)
    )
    report = run_report(
        *(
            replace(result(f"prod/stack-{i:04}", State.DRIFTED, ResourceCounts(change=40)), changes=changes)
            for i in range(400)
        )
    )

    markdown = to_markdown(report)
    whole = to_markdown(report, limit=10**9)

    assert len(whole) > MARKDOWN_LIMIT
    assert len(markdown) <= MARKDOWN_LIMIT
    last = markdown.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(
        r"_Cut to fit 65,536 characters: [\d,]+ resource lists? left out\. "
        r"The JSON report \(`--report`\) has everything\._",
        last,
    ), last
    kept = markdown.count("<details>")
    assert kept == markdown.count("</details>")  # never cut inside a block
    left_out = int(re.search(r"([\d,]+) resource list", last).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert kept + left_out == 400
    assert len(table_rows(markdown)) == 402  # every row fits before the lists


# ---- atomic write ----


def test_write_atomic_creates_the_file_and_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "report.json"

    write_atomic(target, '{"a": "é"}\n')

    assert target.read_text(encoding="utf-8") == '{"a": "é"}\n'
    assert os.listdir(target.parent) == ["report.json"]


def test_write_atomic_replaces_an_existing_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old content that is longer than the new one\n", encoding="utf-8")
    (tmp_path / "neighbour.txt").write_text("keep", encoding="utf-8")

    write_atomic(target, "new\n")
    write_atomic(target, "newer\n")

    assert target.read_text(encoding="utf-8") == "newer\n"
    assert sorted(os.listdir(tmp_path)) == ["neighbour.txt", "report.json"]


def test_write_atomic_failure_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n", encoding="utf-8")

    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half written \ud800 surrogate")

    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_write_atomic_onto_a_directory_fails_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.mkdir()

    with pytest.raises(OSError):
        write_atomic(target, "x")

    assert os.listdir(tmp_path) == ["report.json"]
    assert target.is_dir()


def test_write_atomic_of_a_real_report(tmp_path: Path) -> None:
    target = tmp_path / "drift.json"

    write_atomic(target, to_json(mixed_report()))

    jsonschema.validate(json.loads(target.read_text(encoding="utf-8")), REPORT_SCHEMA)


def test_write_atomic_respects_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    old = os.umask(0o022)
    try:
        write_atomic(target, "{}\n")
    finally:
        os.umask(old)

    assert stat.S_IMODE(target.stat().st_mode) == 0o644
