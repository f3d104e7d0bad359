"""HTTP for the sinks: JSON requests retried on 429/5xx and broken connections, bounded in time.

A `Retry-After` header (seconds or an HTTP date) sets the pause when the server gives one; a pause that
would overrun the time budget ends the retries instead. Every message is scrubbed of the secrets the
client was given (a token, a webhook URL), so none can reach a log line or the run's summary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

MASK = "***"
_MIN_TIMEOUT = 0.5
_SNIPPET = 200

log = logging.getLogger(__name__)


class SinkError(Exception):
    """A request failed for good; the message is one line and free of secrets."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    budget_seconds: float = 60.0  # wall clock over all attempts of one request
    backoff_seconds: float = 1.0  # first pause without Retry-After; doubles after each
    timeout_seconds: float = 10.0  # per attempt


DEFAULT_POLICY = RetryPolicy()


class Client:
    """One service's base URL, headers and secrets; `request` returns a 2xx/3xx response or raises."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        self._policy = policy
        self._sleep = sleep
        self._client = httpx.Client(headers=dict(headers), follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self._base}{path}"

    def request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str | int] | None = None
    ) -> httpx.Response:
        url = self.url(path)
        deadline = time.monotonic() + self._policy.budget_seconds
        pause = self._policy.backoff_seconds
        for attempt in range(1, self._policy.attempts + 1):
            timeout = max(min(self._policy.timeout_seconds, deadline - time.monotonic()), _MIN_TIMEOUT)
            response: httpx.Response | None = None
            try:
                response = self._client.request(method, url, json=json, params=params, timeout=timeout)
            except httpx.HTTPError as error:
                why = f"{type(error).__name__}: {error}"
            if response is not None:
                if response.status_code < 400:
                    return response
                why = f"HTTP {response.status_code}{_snippet(response)}"
                if not _retryable(response.status_code):
                    break
            wait = _retry_after(response) if response is not None else None
            wait = pause if wait is None else wait
            if attempt == self._policy.attempts or time.monotonic() + wait > deadline:
                break
            log.warning(
                "%s: %s %s: %s; retrying in %.1fs", self.name, method, self.scrub(url), self.scrub(why), wait
            )
            self._sleep(wait)
            pause *= 2
        tries = f" (after {attempt} attempts)" if attempt > 1 else ""
        raise SinkError(self.scrub(f"{self.name}: {method} {_path_of(url)}: {why}{tries}"))


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _path_of(url: str) -> str:
    # the path names the endpoint; the host is in the client's name, a query could hold anything
    parsed = httpx.URL(url)
    return parsed.path


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.content[: _SNIPPET * 4].decode("utf-8", errors="replace").split())
    text = text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"
    return f": {text}" if text else ""
