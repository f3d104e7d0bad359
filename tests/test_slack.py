"""The Slack message: what it says, how it stays within Slack's limits, and how it is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from factories import plan_result
from fake_api import serving
from fake_slack import WEBHOOK_PATH, FakeSlack

from driftctl.model import ErrorKind, PlanResult, ResourceChange, ResourceCounts, State
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta, Drift, Failure
from driftctl.sinks.http import RetryPolicy, SinkError
from driftctl.sinks.slack import Extras, post, render, should_notify

CONTEXT = RunContext(
    repository="acme/infra",
    repository_url="https://git.example/acme/infra",
    run_url="https://ci.example/repos/1/pipeline/7",
    run_name="pipeline #7",
    commit="0123456789abcdef0123",
)
FAST = RetryPolicy(attempts=3, budget_seconds=5.0, backoff_seconds=0.05, timeout_seconds=2.0)
DAY = 86_400.0


def change(address: str, *attributes: str, action: str = "update") -> ResourceChange:
    return ResourceChange(address, action, address.split(".")[0], attributes)


def drift(stack: str, *changes: ResourceChange, age: float = 0.0) -> Drift:
    result: PlanResult = replace(
        plan_result(stack, State.DRIFTED, ResourceCounts(change=len(changes))), changes=changes
    )
    return Drift(result, first_seen=1_700_000_000.0, age_seconds=age)


def texts(message: dict[str, Any]) -> list[str]:
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [element["text"] for element in block.get("elements", [])]
    return found


def test_the_message_names_new_resolved_still_drifted_and_failing_stacks() -> None:
    tags = change("aws_s3_bucket.logs", "tags.owner")
    news = Delta(
        newly_drifted=(
            drift("live/prod/app", tags),
            drift("live/stage/app", tags),
            drift("live/prod/dns", change("aws_route53_record.www", "ttl", "records")),
        ),
        still_drifted=(drift("live/prod/vpc", tags, age=3 * DAY + 4 * 3600),),
        resolved=("live/prod/db",),
        newly_errored=(Failure("live/prod/net", ErrorKind.AUTH, 1),),
        still_errored=(Failure("live/prod/iam", ErrorKind.LOCK, 4),),
    )
    links = {"live/prod/app": "https://git.example/acme/infra/issues/3", "live/prod/db": "https://i/2"}
    message = render(news, CONTEXT, Extras(issue_links=links, held_back=("live/prod/x",)))
    text = "\n".join(texts(message))
    assert message["text"] == (
        "driftctl: 3 newly drifted, 1 resolved, 1 still drifted, 2 failing in acme/infra"
    )
    assert "<https://git.example/acme/infra|acme/infra>" in text
    assert "<https://ci.example/repos/1/pipeline/7|pipeline #7>" in text
    assert "commit `0123456789ab`" in text
    # the two stacks with the same change are one cause group, listed once with both names
    assert (
        "*Shared causes*\naws_s3_bucket · update · tags: 2 stacks: "
        "`live/prod/app` <https://git.example/acme/infra/issues/3|issue>, `live/stage/app`\n"
    ) in text
    assert (
        "`live/prod/app` (+0 ~1 -0 ±0) <https://git.example/acme/infra/issues/3|issue>\n"
        "• `aws_s3_bucket.logs` update: `tags.owner`" in text
    )
    assert "`live/prod/dns` (+0 ~1 -0 ±0)\n• `aws_route53_record.www` update: `ttl`, `records`" in text
    assert "*Resolved*\n`live/prod/db` plans clean <https://i/2|issue>" in text
    assert "*Still drifted*\n`live/prod/vpc` for 3d 4h" in text
    assert "*Newly failing*\n`live/prod/net`: auth error" in text
    assert "*Still failing*\n`live/prod/iam`: lock error, 4 runs in a row" in text
    assert "*Issues held back by --max-open-issues*\n`live/prod/x`" in text


def test_a_huge_run_stays_within_slacks_limits_and_counts_what_it_left_out() -> None:
    stacks = [
        drift(f"live/s{i:03}", *(change(f"aws_thing.r{j}", f"attr_{i}_{j}" * 5) for j in range(30)))
        for i in range(300)
    ]
    message = render(Delta(newly_drifted=tuple(stacks)), CONTEXT)
    assert len(message["blocks"]) <= 50
    assert all(len(text) <= 3000 for text in texts(message))
    shown = sum(text.count("`live/s") for text in texts(message))
    last = texts(message)[-1]
    assert last.startswith("and ") and last.endswith(" more")
    assert shown + int(last.split()[1]) == 300
    assert "• and 22 more resources" in texts(message)[2]


def test_on_change_speaks_only_when_something_is_new() -> None:
    quiet = Delta(still_drifted=(drift("a"),), still_errored=(Failure("b", ErrorKind.LOCK, 3),))
    assert not should_notify("on-change", quiet)
    assert should_notify("always", quiet)
    for news in (
        Delta(newly_drifted=(drift("a"),)),
        Delta(resolved=("a",)),
        Delta(newly_errored=(Failure("b", ErrorKind.AUTH, 1),)),
    ):
        assert should_notify("on-change", news)
        assert not should_notify("never", news)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with serving(FakeSlack()) as api:
        yield api


def test_post_delivers_the_message(slack: FakeSlack) -> None:
    message = render(Delta(newly_drifted=(drift("app", change("aws_s3_bucket.logs", "acl")),)), CONTEXT)
    post(slack.webhook, message, FAST)
    assert slack.messages == [message]
    assert slack.requests[0].headers["content-type"] == "application/json"


def test_post_waits_out_a_rate_limit(slack: FakeSlack) -> None:
    slept: list[float] = []
    slack.fail_next(1, 429, retry_after="2")
    post(slack.webhook, {"text": "x"}, FAST, sleep=slept.append)
    assert slept == [2.0]
    assert len(slack.messages) == 1


def test_a_refused_message_names_slack_and_never_the_webhook(slack: FakeSlack) -> None:
    with pytest.raises(SinkError) as raised:
        post(slack.url + WEBHOOK_PATH.replace("B0001", "B0002"), {"text": "x"}, FAST)
    message = str(raised.value)
    assert message.startswith("Slack: POST ") and "HTTP 404" in message
    assert "wEbHoOkSeCrEt" not in message and "T0001" not in message


def test_no_value_reaches_slack(slack: FakeSlack) -> None:
    # a ResourceChange holds names only; the error message, which may quote values, is never sent
    failing = Failure("net", ErrorKind.AUTH, 2)
    post(slack.webhook, render(Delta(newly_errored=(failing,)), CONTEXT), FAST)
    body = slack.requests[0].body.decode()
    assert json.loads(body)["blocks"]
    assert "expired" not in body
