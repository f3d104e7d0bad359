"""The sinks' HTTP client: retries of 429/5xx and dead connections, Retry-After, a time bound, scrubbing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from fake_api import Answer, FakeApi, Request, serving
from pushgateway_server import closed_port_url

from driftctl.sinks.http import Client, RetryPolicy, SinkError

SECRET = "sekrit-token-value-42"
POLICY = RetryPolicy(attempts=4, budget_seconds=30.0, backoff_seconds=0.5, timeout_seconds=2.0)


class Echo(FakeApi):
    def route(self, request: Request) -> Answer:
        return Answer(200, {"ok": True})


@pytest.fixture
def api() -> Iterator[Echo]:
    with serving(Echo()) as server:
        yield server


def client(url: str, slept: list[float], policy: RetryPolicy = POLICY) -> Client:
    return Client("Tracker", url, {"Authorization": f"Bearer {SECRET}"}, [SECRET], policy, sleep=slept.append)


def test_retry_after_in_seconds_sets_the_pause(api: Echo) -> None:
    slept: list[float] = []
    api.fail_next(1, 429, retry_after="7")
    api.fail_next(1, 503)
    with client(api.url, slept) as http:
        assert http.request("GET", "/x").json() == {"ok": True}
    assert slept == [7.0, 1.0]  # Retry-After, then the doubled backoff after the first pause
    assert len(api.requests) == 3


def test_retry_after_as_an_http_date(api: Echo) -> None:
    slept: list[float] = []
    api.fail_next(1, 429, retry_after=formatdate(timeval=time.time() + 5, usegmt=True))
    with client(api.url, slept) as http:
        http.request("GET", "/x")
    assert len(slept) == 1 and 3.0 <= slept[0] <= 5.0


def test_a_pause_beyond_the_budget_ends_the_retries_at_once(api: Echo) -> None:
    slept: list[float] = []
    api.fail_next(1, 429, retry_after="3600")
    with client(api.url, slept) as http, pytest.raises(SinkError, match=r"^Tracker: GET /x: HTTP 429"):
        http.request("GET", "/x")
    assert slept == [] and len(api.requests) == 1


def test_client_errors_are_not_retried(api: Echo) -> None:
    slept: list[float] = []
    api.fail_next(1, 422)
    with client(api.url, slept) as http, pytest.raises(SinkError, match=r"HTTP 422: .*scripted failure"):
        http.request("POST", "/x", json={"a": 1})
    assert slept == [] and len(api.requests) == 1


def test_a_dead_server_fails_after_bounded_attempts_without_the_secret() -> None:
    slept: list[float] = []
    url = closed_port_url()
    with client(url, slept) as http, pytest.raises(SinkError) as raised:
        http.request("GET", f"/repos/o/r/issues?token={SECRET}")
    message = str(raised.value)
    assert "ConnectError" in message and "after 4 attempts" in message
    assert SECRET not in message and "127.0.0.1" not in message
    assert slept == [0.5, 1.0, 2.0]
