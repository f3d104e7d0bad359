"""driftctl.history.pushgateway against a real Pushgateway, and scripted servers where failures are needed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import factories
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pushgateway_server import (
    FORWARD,
    NO_PUSHGATEWAY,
    OPENSSL_BINARY,
    PUSHGATEWAY_BINARY,
    Pushgateway,
    Reply,
    basic_authorization,
    closed_port_url,
    recording_server,
    running_pushgateway,
    self_signed_tls,
)

from driftctl.history.pushgateway import (
    PublishOutcome,
    PushError,
    PushgatewayConfigError,
    PushgatewayError,
    PushOptions,
    ReadBackError,
    group_path,
    publish,
    push,
    read_back,
)
from driftctl.model import PlanResult, ResourceCounts, RunReport, StackSeries, State

T1, T2, T3, T4 = 1_800_000_000.0, 1_800_086_400.0, 1_800_172_800.0, 1_800_259_200.0
HOSTILE = [
    "",
    'quo"te',
    "back\\slash",
    "new\nline",
    "ünï/cødé ☃",
    "with space",
    "a\\nb",
    "tab\tx",
    "nul\x00x",
]
PASSWORD = "s3cret-pa55word"
TOKEN = "tok-7f3a9c2e51"

EMPTY_ANSWER = Reply(200, b'{"status":"success","data":[]}')  # what a gateway without groups says

needs_gateway = pytest.mark.skipif(PUSHGATEWAY_BINARY is None, reason=NO_PUSHGATEWAY)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Pushgateway]:
    if PUSHGATEWAY_BINARY is None:
        pytest.skip(NO_PUSHGATEWAY)
    with running_pushgateway() as running:
        yield running


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    """A group of its own for every test, so tests sharing one gateway cannot see each other."""
    return "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]


plan = partial(factories.plan_result, duration=2.5)


def report(
    results: list[PlanResult], finished: float, mode: str = "all", removed: tuple[str, ...] = ()
) -> RunReport:
    return factories.report_at(results, finished, took=60, mode=mode, removed=removed)


def options(url: str | None, job: str, **overrides: Any) -> PushOptions:
    fast = {"backoff_seconds": 0.01, "retry_budget_seconds": 10.0, "timeout_seconds": 5.0}
    return PushOptions(url=url, job=job, **{**fast, **overrides})


def run(
    url: str,
    job: str,
    now: float,
    results: list[PlanResult],
    known: set[str] | None = None,
    mode: str = "all",
    removed: tuple[str, ...] = (),
    **overrides: Any,
) -> PublishOutcome:
    run = factories.report_at(results, now, took=60, mode=mode, removed=removed, known=known)
    return publish(options(url, job, **overrides), run, version="9.9.9")


def stored(gateway: Pushgateway, job: str, labels: Mapping[str, str] | None = None) -> dict[str, StackSeries]:
    return read_back(options(gateway.url, job, grouping_labels=labels or {})).series


def raw_stacks(gateway: Pushgateway, job: str, metric: str) -> dict[str, str]:
    """stack → value of one metric as the gateway's own API shows it."""
    group = gateway.group({"job": job}) or {}
    return {m["labels"].get("stack", ""): m["value"] for m in group.get(metric, {}).get("metrics", [])}


# --- the run-by-run story, against the real gateway -----------------------------------------------


def test_the_first_run_stamps_first_seen(gateway: Pushgateway, job: str) -> None:
    outcome = run(gateway.url, job, T1, [plan("a", State.DRIFTED), plan("b", State.CLEAN)])
    assert outcome.pushed and not outcome.previous_found and outcome.push_attempts == 1
    assert stored(gateway, job)["a"].first_seen == T1
    assert raw_stacks(gateway, job, "drift_stack_first_seen") == {"a": "1.8e+09"}
    assert raw_stacks(gateway, job, "drift_stack_state") == {"a": "1", "b": "0"}


def test_a_second_run_preserves_first_seen(gateway: Pushgateway, job: str) -> None:
    run(gateway.url, job, T1, [plan("a", State.DRIFTED)])
    outcome = run(gateway.url, job, T2, [plan("a", State.DRIFTED)])
    assert outcome.previous_found
    assert stored(gateway, job)["a"].first_seen == T1
    assert float(raw_stacks(gateway, job, "drift_stack_age_hours")["a"]) == 24.0


def test_a_clean_run_resets_first_seen(gateway: Pushgateway, job: str) -> None:
    run(gateway.url, job, T1, [plan("a", State.DRIFTED)])
    run(gateway.url, job, T2, [plan("a", State.CLEAN)])
    assert raw_stacks(gateway, job, "drift_stack_first_seen") == {}
    assert raw_stacks(gateway, job, "drift_stack_age_hours") == {}
    run(gateway.url, job, T3, [plan("a", State.DRIFTED)])
    assert stored(gateway, job)["a"].first_seen == T3


def test_errors_carry_first_seen_and_count_consecutive_errors(gateway: Pushgateway, job: str) -> None:
    run(gateway.url, job, T1, [plan("a", State.DRIFTED, ResourceCounts(change=3))])
    run(gateway.url, job, T2, [plan("a", State.ERRORED)])
    run(gateway.url, job, T3, [plan("a", State.ERRORED)])
    errored = stored(gateway, job)["a"]
    assert (errored.state, errored.first_seen, errored.consecutive_errors) == (State.ERRORED, T1, 2)
    assert errored.resources == ResourceCounts(change=3)
    run(gateway.url, job, T4, [plan("a", State.DRIFTED)])
    again = stored(gateway, job)["a"]
    assert (again.state, again.first_seen, again.consecutive_errors) == (State.DRIFTED, T1, 0)


def test_a_changed_only_run_carries_the_stacks_it_did_not_plan(gateway: Pushgateway, job: str) -> None:
    stacks = {"a", "b", "c"}
    run(gateway.url, job, T1, [plan("a", State.DRIFTED), plan("b", State.ERRORED), plan("c", State.CLEAN)])
    outcome = run(gateway.url, job, T2, [plan("c", State.DRIFTED)], known=stacks, mode="changed")
    after = stored(gateway, job)
    assert (after["a"].first_seen, after["b"].consecutive_errors, after["c"].first_seen) == (T1, 1, T2)
    assert (outcome.counts.drifted, outcome.counts.errored, outcome.counts.clean) == (2, 1, 0)
    assert raw_stacks(gateway, job, "drift_stack_count") == {"": "2"}
    assert float(raw_stacks(gateway, job, "drift_stack_age_hours")["a"]) == 24.0
    info = (gateway.group({"job": job}) or {})["drift_detection_info"]["metrics"][0]["labels"]
    assert (info["mode"], info["version"]) == ("changed", "9.9.9")


def test_removed_and_unknown_stacks_vanish_from_the_group(gateway: Pushgateway, job: str) -> None:
    run(gateway.url, job, T1, [plan(s, State.DRIFTED) for s in ("a", "b", "c")])
    run(gateway.url, job, T2, [plan("a", State.DRIFTED)], known={"a", "b"}, mode="changed", removed=("b",))
    assert list(stored(gateway, job)) == ["a"]
    assert set(raw_stacks(gateway, job, "drift_stack_resource_changes")) == {"a"}


def test_hostile_stack_names_and_grouping_labels_round_trip(gateway: Pushgateway, job: str) -> None:
    labels = {"env": "prod/eu", "team": "ünï ☃", "empty": ""}
    run(gateway.url, job, T1, [plan(s, State.DRIFTED) for s in HOSTILE], grouping_labels=labels)
    run(gateway.url, job, T2, [plan(s, State.DRIFTED) for s in HOSTILE], grouping_labels=labels)
    after = stored(gateway, job, labels)
    assert sorted(after) == sorted(HOSTILE)
    assert {s.first_seen for s in after.values()} == {T1}
    # the same job without those grouping labels is another group, still empty
    assert stored(gateway, job) == {}


@settings(
    max_examples=20,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(names=st.sets(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20), max_size=5))
def test_any_unicode_stack_name_round_trips(gateway: Pushgateway, job: str, names: set[str]) -> None:
    outcome = run(gateway.url, job, T1, [plan(s, State.DRIFTED) for s in names], known=names)
    assert stored(gateway, job) == outcome.series


def test_the_push_is_a_single_put_of_the_whole_group(gateway: Pushgateway, job: str) -> None:
    script = {"GET": [FORWARD], "PUT": [FORWARD]}
    with recording_server(script, forward_to=gateway.url) as server:
        run(server.url, job, T1, [plan(f"s{i}", State.DRIFTED) for i in range(50)])
    # the read-back, the check that nobody pushed meanwhile, and one PUT
    assert server.methods() == ["GET", "GET", "PUT"]
    assert server.requests[2].path == f"/metrics/job/{job}"
    assert server.requests[2].headers["content-type"].startswith("text/plain; version=0.0.4")


# --- failures: the previous state is never overwritten by accident ---------------------------------


def seeded(gateway: Pushgateway, job: str) -> None:
    run(gateway.url, job, T1, [plan("a", State.DRIFTED)])


def test_a_failing_read_back_pushes_nothing(gateway: Pushgateway, job: str) -> None:
    seeded(gateway, job)
    with (
        recording_server({"GET": [Reply(500, b"boom")], "PUT": [FORWARD]}, gateway.url) as server,
        pytest.raises(ReadBackError) as raised,
    ):
        run(server.url, job, T2, [plan("a", State.DRIFTED)], attempts=3)
    message = str(raised.value)
    assert "\n" not in message
    assert "HTTP 500: boom (after 3 attempts)" in message and "not pushing" in message
    assert server.methods() == ["GET", "GET", "GET"]
    assert stored(gateway, job)["a"].first_seen == T1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>proxy says hi</html>", "not JSON"),
        (b'{"status": "error", "error": "nope"}', "not a successful metrics answer"),
        (b'{"status": "success", "data": [1]}', "groups are not objects"),
    ],
)
def test_an_unparseable_read_back_pushes_nothing(
    gateway: Pushgateway, job: str, body: bytes, expected: str
) -> None:
    seeded(gateway, job)
    with (
        recording_server({"GET": [Reply(200, body)], "PUT": [FORWARD]}, gateway.url) as server,
        pytest.raises(ReadBackError, match=expected),
    ):
        run(server.url, job, T2, [plan("a", State.CLEAN)])
    assert server.methods() == ["GET"]  # a 200 is not retried
    assert stored(gateway, job)["a"].first_seen == T1


def test_a_corrupt_group_pushes_nothing(gateway: Pushgateway, job: str) -> None:
    corrupt = (
        b'{"status":"success","data":[{"labels":{"job":"%s"},'
        b'"drift_stack_state":{"metrics":[{"labels":{"stack":"a"},"value":"7"}]}}]}' % job.encode()
    )
    with (
        recording_server({"GET": [Reply(200, corrupt)], "PUT": [FORWARD]}, gateway.url) as server,
        pytest.raises(ReadBackError, match="not 0, 1 or 2"),
    ):
        run(server.url, job, T2, [plan("a", State.CLEAN)])
    assert server.methods() == ["GET"]


def test_an_unreachable_gateway_is_a_read_back_error() -> None:
    with pytest.raises(ReadBackError, match=r"ConnectError.*after 2 attempts"):
        run(closed_port_url(), "j", T1, [plan("a", State.DRIFTED)], attempts=2)


def test_allow_reset_pushes_anyway_and_says_so(gateway: Pushgateway, job: str) -> None:
    seeded(gateway, job)
    with recording_server({"GET": [Reply(503)], "PUT": [FORWARD]}, gateway.url) as server:
        outcome = run(server.url, job, T2, [plan("a", State.DRIFTED)], allow_reset=True, attempts=1)
    assert outcome.pushed and outcome.reset_reason is not None and "HTTP 503" in outcome.reset_reason
    assert server.methods() == ["GET", "PUT"]
    assert stored(gateway, job)["a"].first_seen == T2  # the documented cost of a reset


# --- retries --------------------------------------------------------------------------------------


def test_a_push_is_retried_on_5xx_until_it_succeeds(gateway: Pushgateway, job: str) -> None:
    script = {"GET": [FORWARD], "PUT": [Reply(503), Reply(500), FORWARD]}
    with recording_server(script, gateway.url) as server:
        outcome = run(server.url, job, T1, [plan("a", State.DRIFTED)], attempts=3)
    assert outcome.pushed and outcome.push_attempts == 3
    assert server.methods() == ["GET", "GET", "PUT", "PUT", "PUT"]
    assert len({r.body for r in server.requests[2:]}) == 1  # the same body every time
    assert stored(gateway, job)["a"].first_seen == T1


def test_429_is_retried(gateway: Pushgateway, job: str) -> None:
    with recording_server({"GET": [FORWARD], "PUT": [Reply(429), FORWARD]}, gateway.url) as server:
        assert run(server.url, job, T1, [plan("a", State.DRIFTED)]).push_attempts == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_other_4xx_are_not_retried(status: int) -> None:
    with (
        recording_server(
            {"GET": [EMPTY_ANSWER], "PUT": [Reply(status, b"pushed metrics are invalid\nx")]}
        ) as server,
        pytest.raises(PushError, match=f"HTTP {status}: pushed metrics are invalid x$"),
    ):
        run(server.url, "j", T1, [plan("a", State.DRIFTED)], attempts=5)
    assert server.methods() == ["GET", "GET", "PUT"]


def test_retries_stop_at_the_attempt_limit() -> None:
    with (
        recording_server({"GET": [EMPTY_ANSWER], "PUT": [Reply(502)]}) as server,
        pytest.raises(PushError, match=r"HTTP 502 \(after 4 attempts"),
    ):
        run(server.url, "j", T1, [plan("a", State.DRIFTED)], attempts=4)
    assert server.methods().count("PUT") == 4


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    with recording_server({"GET": [EMPTY_ANSWER], "PUT": [Reply(503)]}) as server, pytest.raises(PushError):
        run(
            server.url,
            "j",
            T1,
            [plan("a", State.DRIFTED)],
            attempts=50,
            backoff_seconds=0.3,
            retry_budget_seconds=1.0,
        )
    # pauses of 0.3 s then 0.6 s leave no room for a third pause within 1 s
    assert 1 < server.methods().count("PUT") <= 3


# --- credentials ----------------------------------------------------------------------------------


def assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, TOKEN, basic_authorization("ops", PASSWORD).split()[1]):
        assert secret not in text


def test_basic_auth_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    script = {"GET": [EMPTY_ANSWER], "PUT": [Reply(500, b"denied for ", echo_authorization=True)]}
    with (
        recording_server(script) as server,
        caplog.at_level(logging.DEBUG),
        pytest.raises(PushError) as raised,
    ):
        run(server.url, "j", T1, [plan("a", State.DRIFTED)], username="ops", password=PASSWORD)
    assert {r.headers["authorization"] for r in server.requests} == {basic_authorization("ops", PASSWORD)}
    assert "denied for Basic ***" in str(raised.value)
    assert_no_secret(str(raised.value) + repr(raised.value) + caplog.text)


def test_a_bearer_token_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    with (
        recording_server({"GET": [Reply(401, b"bad token ", echo_authorization=True)]}) as server,
        caplog.at_level(logging.DEBUG),
        pytest.raises(ReadBackError) as raised,
    ):
        run(server.url, "j", T1, [plan("a", State.DRIFTED)], token=TOKEN)
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "HTTP 401: bad token Bearer ***" in str(raised.value)
    assert_no_secret(str(raised.value) + caplog.text)


def test_credentials_in_the_url_are_used_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    with recording_server({"GET": [Reply(503, b"down")]}) as server:
        url = server.url.replace("http://", f"http://ops:{PASSWORD}@")
        opts = options(url, "j", attempts=2)
        with caplog.at_level(logging.DEBUG), pytest.raises(ReadBackError) as raised:
            publish(opts, report([plan("a", State.DRIFTED)], T1), None, version="x")
    assert server.requests[0].headers["authorization"] == basic_authorization("ops", PASSWORD)
    assert "http://127.0.0.1" in str(raised.value)
    assert_no_secret(str(raised.value) + caplog.text + repr(opts) + str(opts))


def test_an_unreachable_url_with_credentials_is_never_shown() -> None:
    url = closed_port_url().replace("http://", f"http://ops:{PASSWORD}@")
    with pytest.raises(ReadBackError) as raised:
        run(url, "j", T1, [plan("a", State.DRIFTED)], attempts=1)
    assert_no_secret(str(raised.value))


def test_options_repr_masks_every_credential() -> None:
    opts = PushOptions(url=f"https://ops:{PASSWORD}@gw:9091", username="ops", password=PASSWORD, token=TOKEN)
    assert_no_secret(repr(opts) + str(opts))
    assert "https://***@gw:9091" in repr(opts)


# --- TLS with a custom CA bundle -------------------------------------------------------------------


@needs_gateway
@pytest.mark.skipif(OPENSSL_BINARY is None, reason="needs the openssl CLI to make a test certificate")
def test_a_custom_ca_bundle_is_trusted(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    with (
        running_pushgateway(tls=tls) as secure,
        pytest.raises(ReadBackError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        run(secure.url, "j", T1, [plan("a", State.DRIFTED)], attempts=1)
        outcome = run(secure.url, "j", T1, [plan("a", State.DRIFTED)], ca_bundle=tls.cert)
        assert outcome.pushed
        assert read_back(options(secure.url, "j", ca_bundle=tls.cert)).series["a"].first_seen == T1


# --- dry run, options, paths ----------------------------------------------------------------------


def test_a_dry_run_reads_back_but_does_not_push(gateway: Pushgateway, job: str) -> None:
    seeded(gateway, job)
    with recording_server({"GET": [FORWARD], "PUT": [FORWARD]}, gateway.url) as server:
        outcome = run(server.url, job, T2, [plan("a", State.CLEAN)], dry_run=True)
    assert not outcome.pushed and server.methods() == ["GET"]
    assert b'drift_stack_state{stack="a"} 0.0' in outcome.exposition
    assert stored(gateway, job)["a"].first_seen == T1


def test_a_dry_run_without_a_gateway_shows_a_first_run() -> None:
    outcome = publish(PushOptions(dry_run=True), report([plan("a", State.DRIFTED)], T1), None, version="x")
    assert not outcome.pushed and outcome.series["a"].first_seen == T1
    assert b"drift_stack_first_seen" in outcome.exposition


def test_a_stack_id_that_cannot_be_a_label_is_a_publish_error() -> None:
    with (
        recording_server({"GET": [EMPTY_ANSWER], "PUT": [Reply(200)]}) as server,
        pytest.raises(PushgatewayError, match="not valid UTF-8"),
    ):
        run(server.url, "j", T1, [plan("dir-\udcff", State.DRIFTED)])
    assert server.methods() == ["GET"]


def test_push_and_read_back_are_usable_on_their_own(gateway: Pushgateway, job: str) -> None:
    opts = options(gateway.url, job)
    outcome = publish(PushOptions(dry_run=True), report([plan("a", State.DRIFTED)], T1), None, version="x")
    assert push(opts, outcome.exposition).attempts == 1
    assert read_back(opts).found and read_back(opts).series == outcome.series


@pytest.mark.parametrize(
    ("job", "labels", "path"),
    [
        ("drift-detection", {}, "/metrics/job/drift-detection"),
        ("drift-detection", {"env": "prod"}, "/metrics/job/drift-detection/env/prod"),
        ("a/b", {}, "/metrics/job@base64/YS9i"),
        ("j", {"env": ""}, "/metrics/job/j/env@base64/="),
        ("j", {"env": ".."}, "/metrics/job/j/env@base64/Li4="),
        ("j", {"team": "ünï ☃"}, "/metrics/job/j/team@base64/w7xuw68g4piD"),
        ("j", {"a": "x?y#z%"}, "/metrics/job/j/a@base64/eD95I3ol"),
    ],
)
def test_group_paths_encode_what_a_url_path_cannot_carry(job: str, labels: dict[str, str], path: str) -> None:
    assert group_path(job, labels) == path


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        (PushOptions(), "no Pushgateway URL"),
        (PushOptions(url="ftp://gw"), "not an http"),
        (PushOptions(url="http://gw?x=1"), "query or fragment"),
        (PushOptions(url="http://gw", job=""), "job name must not be empty"),
        (PushOptions(url="http://gw", grouping_labels={"stack": "x"}), "reserved"),
        (PushOptions(url="http://gw", grouping_labels={"__x": "x"}), "not a valid"),
        (PushOptions(url="http://gw", grouping_labels={"a-b": "x"}), "not a valid"),
        (PushOptions(url="http://gw", username="u", token=TOKEN), "not both"),
        (PushOptions(url="http://u:p@gw", token=TOKEN), "both in the URL"),
        (PushOptions(url="http://gw", ca_bundle=Path("/nonexistent/ca.pem")), "cannot use CA bundle"),
        (PushOptions(url="http://gw", attempts=0), "must be positive"),
    ],
)
def test_unusable_options_are_config_errors(opts: PushOptions, expected: str) -> None:
    with pytest.raises(PushgatewayConfigError, match=expected) as raised:
        publish(opts, report([plan("a", State.DRIFTED)], T1), None, version="x")
    assert_no_secret(str(raised.value))


# --- two runs on one group, and bounded sizes (issue 13, items 7 and 8) ---------------------------


def test_a_run_that_pushed_meanwhile_is_merged_again_not_overwritten(gateway: Pushgateway, job: str) -> None:
    # B pushes between A's read-back and A's PUT: A must see it and merge again, keeping B's stack.
    def other() -> None:
        run(gateway.url, job, T1 + 5, [plan("b", State.DRIFTED)])

    script = {"GET": [Reply(0, forward=True, then=other), FORWARD], "PUT": [FORWARD]}
    with recording_server(script, gateway.url) as server:
        outcome = run(server.url, job, T1 + 10, [plan("a", State.DRIFTED)])
    assert outcome.pushed and outcome.merges == 2
    assert server.methods() == ["GET", "GET", "GET", "GET", "PUT"]
    held = stored(gateway, job)
    assert (held["a"].first_seen, held["b"].first_seen) == (T1 + 10, T1 + 5)


def test_a_group_that_keeps_changing_is_not_pushed_over(gateway: Pushgateway, job: str) -> None:
    pushes = iter(range(100))

    def other() -> None:
        run(gateway.url, job, T1 + next(pushes), [plan("b", State.DRIFTED)])

    script = {"GET": [Reply(0, forward=True, then=other)], "PUT": [FORWARD]}
    with (
        recording_server(script, gateway.url) as server,
        pytest.raises(PushError, match="during each of 3 read-back and merge rounds; not pushing"),
    ):
        run(server.url, job, T2, [plan("a", State.DRIFTED)])
    assert "PUT" not in server.methods() and server.methods().count("GET") == 6
    assert set(stored(gateway, job)) == {"b"}


def test_a_read_back_body_over_the_limit_is_refused_unread(gateway: Pushgateway, job: str) -> None:
    seeded(gateway, job)
    with pytest.raises(ReadBackError, match=r"over the limit of 300 bytes.*not pushing"):
        run(gateway.url, job, T2, [plan("a", State.DRIFTED)], max_response_bytes=300)
    assert stored(gateway, job)["a"].first_seen == T1  # the group is untouched
    assert run(gateway.url, job, T2, [plan("a", State.DRIFTED)]).series["a"].first_seen == T1


def test_a_streamed_body_over_the_limit_is_not_retried() -> None:
    huge = Reply(200, b"x" * 5000)
    with recording_server({"GET": [huge]}) as server, pytest.raises(ReadBackError, match="over the limit"):
        run(server.url, "j", T1, [plan("a", State.DRIFTED)], max_response_bytes=1000, attempts=3)
    assert server.methods() == ["GET"]


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999", "http://u:pw@[::1/"])
def test_a_url_python_cannot_split_is_a_config_error(url: str) -> None:
    with pytest.raises(PushgatewayConfigError, match="Pushgateway URL") as caught:
        run(url, "j", T1, [plan("a", State.DRIFTED)])
    assert "pw" not in str(caught.value)
