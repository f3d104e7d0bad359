"""driftctl.render: the final table, error headlines, and the plain per-stack lines for CI logs."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import factories
import pytest
from rich.console import Console

from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    RunReport,
    Stack,
    State,
    Tool,
)
from driftctl.render import (
    STATE_STYLE,
    LiveView,
    PlainView,
    causes_table,
    counts_text,
    detail_table,
    headline,
    report_view,
    result_line,
    results_table,
)

STARTED = datetime(2025, 3, 1, 10, 0, 0, tzinfo=timezone.utc)


result = partial(factories.plan_result, tool=Tool.TERRAFORM)


def run_report(*results: PlanResult, seconds: float = 270.9) -> RunReport:
    finished = STARTED + timedelta(seconds=seconds)
    return factories.run_report(*results, started=STARTED, finished=finished, tool=Tool.TERRAFORM)


def recording_console(width: int = 200) -> Console:
    return Console(record=True, width=width, file=io.StringIO(), color_system=None)


def table_text(report: RunReport, width: int = 200) -> str:
    console = recording_console(width)
    console.print(results_table(report))
    return console.export_text()


def row_of(text: str, stack_id: str) -> str:
    [row] = [line for line in text.splitlines() if f" {stack_id} " in line]
    return row


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split("[│┃]", row)[1:-1]]


LOCK_MESSAGE = (
    "Error: Error acquiring the state lock\n\nError message: ConditionalCheckFailedException: "
    "The conditional request failed"
)


def mixed_report() -> RunReport:
    return run_report(
        result("prod/ok", State.CLEAN, duration=3.25),
        result(
            "prod/db", State.ERRORED, error=PlanError(ErrorKind.LOCK, LOCK_MESSAGE), duration=12.0, attempts=3
        ),
        result("dev/app", State.DRIFTED, ResourceCounts(add=1, change=2, destroy=3, replace=4), duration=7.0),
        result("a/drift", State.DRIFTED, ResourceCounts(change=5), duration=0.04),
    )


# ---- results_table ----


def test_table_title_counts_and_duration() -> None:
    text = table_text(mixed_report())

    assert text.splitlines()[0].strip() == "2 drifted · 1 errored · 1 clean  (4 stacks, 270.9s)"


def test_table_header() -> None:
    text = table_text(mixed_report())
    [header] = [line for line in text.splitlines() if " stack " in line]

    assert cells(header) == ["stack", "state", "add", "change", "destroy", "replace", "time", "error"]


def test_table_rows_are_ordered_drifted_errored_clean_then_id() -> None:
    text = table_text(mixed_report())
    positions = [text.index(f" {stack} ") for stack in ("a/drift", "dev/app", "prod/db", "prod/ok")]

    assert positions == sorted(positions)


def test_table_row_contents() -> None:
    text = table_text(mixed_report())

    assert cells(row_of(text, "dev/app")) == ["dev/app", "drifted", "1", "2", "3", "4", "7.0s", ""]
    assert cells(row_of(text, "a/drift")) == ["a/drift", "drifted", "0", "5", "0", "0", "0.0s", ""]
    # counts only mean something for a drifted stack: blank for the others
    assert cells(row_of(text, "prod/ok")) == ["prod/ok", "clean", "", "", "", "", "3.2s", ""]
    assert cells(row_of(text, "prod/db")) == [
        "prod/db",
        "errored",
        "",
        "",
        "",
        "",
        "12.0s",
        "lock: Error: Error acquiring the state lock",
    ]


def test_table_one_row_per_stack() -> None:
    results = [result(f"stack{i:02d}", State.CLEAN) for i in range(25)]

    text = table_text(run_report(*results))

    rows = [cells(line) for line in text.splitlines() if line.startswith("│ stack")]
    assert [row[0] for row in rows] == [f"stack{i:02d}" for i in range(25)]
    assert all(row[1] == "clean" for row in rows)
    assert "0 drifted · 0 errored · 25 clean  (25 stacks" in text


def test_table_shows_markup_in_ids_literally() -> None:
    text = table_text(run_report(result("[bold red]x[/]", State.DRIFTED, ResourceCounts(add=1))))

    assert "[bold red]x[/]" in text


def test_table_error_column_uses_the_headline_and_folds() -> None:
    message = "Warning: ignored\nError: " + "a very long explanation " * 6 + "END"
    report = run_report(result("x", State.ERRORED, error=PlanError(ErrorKind.UNKNOWN, message)))

    text = table_text(report)

    assert "unknown: Error: a very long" in text
    assert "Warning" not in text
    assert "END" in text  # folded onto further lines, never cut
    assert all(len(line) <= 200 for line in text.splitlines())


def test_empty_table() -> None:
    text = table_text(run_report(seconds=0.0))

    assert "0 drifted · 0 errored · 0 clean  (0 stacks, 0.0s)" in text


def test_table_styles() -> None:
    table = results_table(mixed_report())
    state_cells = list(table.columns[1].cells)

    assert [str(c) for c in state_cells] == ["drifted", "drifted", "errored", "clean"]
    assert [getattr(c, "style", None) for c in state_cells] == [
        STATE_STYLE[State.DRIFTED],
        STATE_STYLE[State.DRIFTED],
        STATE_STYLE[State.ERRORED],
        STATE_STYLE[State.CLEAN],
    ]


# ---- headline ----

BOXED = """╷
│ Error: Unsupported argument
│
│   on main.tf line 3, in resource "null_resource" "thing":
│    3:   bogus = 1
│
│ An argument named "bogus" is not expected here.
╵"""

PLAIN_TWO_ERRORS = """
Error: Reference to undeclared input variable

  on main.tf line 1, in resource "null_resource" "x":
   1: resource "null_resource" "x" { triggers = { a = var.nope } }

An input variable with the name "nope" has not been declared.

Error: Unsupported argument

  on main.tf line 2:
"""


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (BOXED, "Error: Unsupported argument"),
        (PLAIN_TWO_ERRORS, "Error: Reference to undeclared input variable"),
        (
            "╷\n│ Warning: Deprecated attribute\n╵\n╷\n│ Error: Invalid count argument\n╵",
            "Error: Invalid count argument",
        ),
        ("  Error: indented by terragrunt  ", "Error: indented by terragrunt"),
        (
            "timed out after 1800s; the process group was killed",
            "timed out after 1800s; the process group was killed",
        ),
        ("killed by SIGKILL\nsome output\nlast words", "last words"),
        ("line one\n\n   \n", "line one"),
        ("", ""),
        ("╷\n│\n╵", ""),
        ("exit status 1", "exit status 1"),
    ],
)
def test_headline(message: str, expected: str) -> None:
    assert headline(message) == expected


def test_headline_of_terragrunt_forwarded_stderr() -> None:
    """What the runner keeps from terragrunt (with TG_TF_FORWARD_STDOUT): the tail, stripped."""
    tail = [
        'An argument named "bogus" is not expected here.',
        '05:00:43.194 ERROR  Failed to execute "terraform plan -detailed-exitcode" in /repo/app',
        "Error: Unsupported argument",
        'on main.tf line 2, in resource "null_resource" "x":',
        "2:   bogus = 1",
        'An argument named "bogus" is not expected here.',
        "exit status 1",
    ]

    assert headline("\n".join(tail)) == "Error: Unsupported argument"


# ---- counts_text and result_line ----


def test_counts_text_only_for_drifted() -> None:
    counts = ResourceCounts(add=1, change=2, destroy=3, replace=4)

    assert counts_text(result("x", State.DRIFTED, counts)) == "+1 ~2 -3 ±4"
    assert counts_text(result("x", State.DRIFTED)) == "+0 ~0 -0 ±0"
    assert counts_text(result("x", State.CLEAN, counts)) == ""
    assert counts_text(result("x", State.ERRORED, counts)) == ""


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        (
            result("prod/vpc", State.DRIFTED, ResourceCounts(add=1, replace=2), duration=12.345),
            "drifted  prod/vpc  +1 ~0 -0 ±2  12.3s",
        ),
        (result("prod/ok", State.CLEAN, duration=0.2), "clean    prod/ok  0.2s"),
        (
            result("prod/db", State.ERRORED, error=PlanError(ErrorKind.LOCK, "x"), duration=40.0, attempts=3),
            "errored  prod/db  40.0s  3 attempts  lock error",
        ),
        (
            result("a b/ü", State.DRIFTED, ResourceCounts(change=1), attempts=2),
            "drifted  a b/ü  +0 ~1 -0 ±0  1.0s  2 attempts",
        ),
        (result("[red]x[/]", State.CLEAN), "clean    [red]x[/]  1.0s"),
    ],
)
def test_result_line_text(plan: PlanResult, text: str) -> None:
    assert result_line(plan).plain == text


def test_result_line_styles_the_state() -> None:
    line = result_line(result("x", State.ERRORED, error=PlanError(ErrorKind.AUTH, "denied")))

    assert line.spans[0].style == STATE_STYLE[State.ERRORED]
    assert line.plain[line.spans[0].start : line.spans[0].end] == "errored "
    assert line.spans[-1].style == "dim"


# ---- PlainView ----


def plain_console(width: int = 200) -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=width, highlight=False), stream


def test_plain_view_prints_one_line_per_finished_stack() -> None:
    console, stream = plain_console()
    results = [
        result("prod/vpc", State.DRIFTED, ResourceCounts(add=1)),
        result("prod/ok", State.CLEAN),
        result("prod/db", State.ERRORED, error=PlanError(ErrorKind.NETWORK, "reset")),
    ]

    with PlainView(console) as view:
        for plan in results:
            view.started(plan.stack, 1)
            view.finished(plan)

    assert stream.getvalue().splitlines() == [
        "drifted  prod/vpc  +1 ~0 -0 ±0  1.0s",
        "clean    prod/ok  1.0s",
        "errored  prod/db  1.0s  network error",
    ]


def test_plain_view_announces_retries_only() -> None:
    console, stream = plain_console()
    stack = Stack(id="prod/db", path=Path("/repo/prod/db"), tool=Tool.TERRAFORM)
    view = PlainView(console)

    view.started(stack, 1)
    view.started(stack, 2)
    view.started(stack, 3)

    assert stream.getvalue().splitlines() == ["retry    prod/db  attempt 2", "retry    prod/db  attempt 3"]


def test_plain_view_has_no_control_characters() -> None:
    console, stream = plain_console()
    view = PlainView(console)

    view.finished(result("x", State.DRIFTED, ResourceCounts(add=1)))
    view.finished(result("y", State.ERRORED, error=PlanError(ErrorKind.LOCK, "x"), attempts=2))

    assert not any(ch < " " and ch != "\n" for ch in stream.getvalue())


def test_plain_view_lines_are_whole_under_concurrency() -> None:
    console, stream = plain_console()
    view = PlainView(console)
    results = [result(f"stack/{i:03d}", State.DRIFTED, ResourceCounts(add=i)) for i in range(200)]

    threads = [threading.Thread(target=view.finished, args=(plan,)) for plan in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(result_line(plan).plain for plan in results)


def test_plain_view_never_wraps_a_result() -> None:
    console, stream = plain_console(width=80)
    plan = result(
        "environments/production/eu-west-1/networking/transit-gateway-attachments",
        State.DRIFTED,
        ResourceCounts(add=1, change=2, destroy=3, replace=4),
        duration=12.3,
        attempts=2,
    )

    PlainView(console).finished(plan)

    assert stream.getvalue().splitlines() == [result_line(plan).plain]


# ---- LiveView ----


def test_live_view_keeps_problems_on_screen() -> None:
    console, stream = plain_console()
    drifted = result("prod/vpc", State.DRIFTED, ResourceCounts(add=1))
    clean = result("prod/ok", State.CLEAN)
    errored = result("prod/db", State.ERRORED, error=PlanError(ErrorKind.AUTH, "denied"))

    with LiveView(console, total=3) as view:
        for plan in (drifted, clean, errored):
            view.started(plan.stack, 1)
            view.finished(plan)

    output = stream.getvalue()
    assert result_line(drifted).plain in output
    assert result_line(errored).plain in output
    assert result_line(clean).plain not in output


# ---- --detail, driftctl show, drift by cause ----


def detailed() -> PlanResult:
    return replace(
        result("prod/app", State.DRIFTED, ResourceCounts(add=1, replace=1)),
        changes=(
            ResourceChange("null_resource.gone", "create", "null_resource"),
            ResourceChange(
                "null_resource.thing", "replace", "null_resource", ("triggers.owner",), outside=True
            ),
            ResourceChange("aws_iam_role.ci", "update", "aws_iam_role", ("tags",), ignored_by="IAM [team]"),
        ),
        outside=(
            ResourceChange("aws_s3_bucket.b", "update", "aws_s3_bucket", ("tags.owner",), outside=True),
        ),
        checks=(CheckResult("check.health", "fail"),),
    )


def rendered(renderable: object, width: int = 200) -> str:
    console = recording_console(width)
    console.print(renderable)
    return console.export_text()


def test_detail_table_names_resources_actions_attributes_and_notes() -> None:
    text = rendered(detail_table(detailed()))

    assert text.splitlines()[0].strip() == "prod/app  drifted  +1 ~0 -0 ±1  1 ignored"
    assert cells(row_of(text, "null_resource.thing")) == [
        "null_resource.thing",
        "replace",
        "triggers.owner",
        "changed outside Terraform",
    ]
    assert cells(row_of(text, "null_resource.gone")) == ["null_resource.gone", "create", "", ""]
    assert cells(row_of(text, "aws_iam_role.ci"))[3] == "ignored: IAM [team]"  # markup shown literally
    assert cells(row_of(text, "aws_s3_bucket.b"))[3] == "changed outside Terraform, not acted on"
    assert cells(row_of(text, "check.health")) == ["check.health", "check", "", "fail"]


def test_report_view_adds_causes_and_with_detail_each_stack() -> None:
    report = run_report(detailed(), result("prod/ok", State.CLEAN))

    plain = rendered(report_view(report))
    detail = rendered(report_view(report, detail=True))

    assert "drift by cause" in plain and "null_resource.thing" not in plain
    causes = [
        cells(line) for line in plain.split("drift by cause", 1)[1].splitlines() if " null_resource " in line
    ]
    assert causes == [
        ["null_resource", "create", "", "1", "1"],
        ["null_resource", "replace", "triggers", "1", "1"],
    ]
    assert "null_resource.thing" in detail
    assert "prod/ok  clean" not in detail  # a clean stack without outside changes or checks has no table


def test_no_causes_table_without_resource_detail() -> None:
    assert causes_table(mixed_report()) is None
    assert "drift by cause" not in rendered(report_view(mixed_report(), detail=True))
