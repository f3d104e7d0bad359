"""The Prometheus Pushgateway as a store: read the group back, merge, replace it in one PUT.

With `--push` the gateway is where the previous runs' first-seen times are authoritative, so the order
matters: if the read-back fails, pushing would overwrite every stack's drift age with "now". We refuse
to push then, unless the caller explicitly allows that reset. The push is one PUT of the whole group,
which the gateway applies atomically: Prometheus never scrapes a half-updated run, and stacks that are
gone from the repository disappear with the old group.

The gateway has no conditional PUT, so two runs on one group could each read the group and the later
PUT would erase what the earlier one added. Just before the PUT the group is read again: if its
`push_time_seconds` moved since the read-back, another run pushed, and the merge is done again on
what that run left (a bounded number of times, then we fail loudly). What remains is the window
between that last read and the PUT, a few milliseconds instead of the whole merge.

Credentials (basic auth, bearer token, or user:password@ in the URL) never reach a message, a log line
or a repr: URLs are rebuilt without userinfo and every message is scrubbed of the secret values.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from driftctl.history.merge import MergedState, StateCounts, merge_run
from driftctl.history.store import Interrupted, Update
from driftctl.metrics import (
    ExpositionError,
    MetricsParseError,
    RunInfo,
    build_exposition,
    series_from_group,
)
from driftctl.model import RunReport, StackSeries

DEFAULT_JOB = "drift-detection"
MASK = "***"
# The classic text format: what pushgateway 1.x parses, and what prometheus-client writes by default.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESERVED_LABELS = frozenset({"job", "stack", "action", "version", "mode"})

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Values that survive a URL path unencoded; anything else (`/`, empty, `.`, `..`, `%`, unicode) is
# sent as base64url, which the gateway decodes (`/label@base64/<value>`).
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
_MIN_REQUEST_TIMEOUT = 0.5  # seconds; a request with less time than that left is not worth sending
_SNIPPET_CHARS = 200
# A response body larger than this is refused unread: a 600 MB answer took driftctl to 658 MB RSS.
# A 10,000-stack group is about 9 MB in the JSON API (benchmarks/bench_push.py).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MERGE_ATTEMPTS = 3  # read-back + merge rounds while other runs keep pushing to the same group

log = logging.getLogger(__name__)


class PushgatewayError(Exception):
    """Publishing failed; an operational failure (exit 1). The message is one line, credential-free."""


class PushgatewayConfigError(PushgatewayError):
    """The options cannot work (bad URL, label name, CA bundle, conflicting credentials): a usage error."""


class ReadBackError(PushgatewayError):
    """The previous state could not be read, so nothing was pushed (it would reset every first-seen)."""


class PushError(PushgatewayError):
    """The push failed, after retries where a retry could help."""


class PushInterrupted(Interrupted):
    """Ctrl-C or SIGTERM while the PUT was in flight: the gateway may or may not have applied it."""


@dataclass(frozen=True, repr=False)
class PushOptions:
    """Everything needed to talk to one Pushgateway group. `repr()` masks the credentials."""

    url: str | None = None
    job: str = DEFAULT_JOB
    grouping_labels: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    token: str | None = None  # sent as `Authorization: Bearer <token>`
    ca_bundle: Path | None = None
    timeout_seconds: float = 10.0  # per request
    allow_reset: bool = False  # push even when the read-back failed, resetting every first-seen time
    dry_run: bool = False  # build the exposition but do not push
    attempts: int = 3  # per request, the first one included
    retry_budget_seconds: float = 30.0  # wall-clock bound over all attempts of one request
    backoff_seconds: float = 1.0  # first pause between attempts; doubles after each
    max_response_bytes: int = MAX_RESPONSE_BYTES

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["url"] = redact_url(self.url) if self.url is not None else None
        for secret in ("username", "password", "token"):
            shown[secret] = MASK if shown[secret] is not None else None
        return f"PushOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    __str__ = __repr__


@dataclass(frozen=True)
class ReadBack:
    """The group as the gateway holds it before this run's push."""

    series: dict[str, StackSeries]
    found: bool  # False: no such group yet, i.e. the first run
    push_time: str | None = None  # the group's push_time_seconds as the gateway wrote it


@dataclass(frozen=True)
class PushReceipt:
    attempts: int
    status_code: int


@dataclass(frozen=True)
class PublishOutcome:
    merged: MergedState  # the merged view that was (or would have been) pushed
    exposition: bytes
    pushed: bool
    previous_found: bool
    # the read-back failure that `allow_reset` pushed over; None when the read-back worked
    reset_reason: str | None = None
    push_attempts: int = 0
    merges: int = 1  # more than 1 when another run pushed to the group meanwhile

    @property
    def series(self) -> Mapping[str, StackSeries]:
        return self.merged.series

    @property
    def counts(self) -> StateCounts:
        return self.merged.counts


class PushgatewayStore:
    """The `Store` interface over one Pushgateway group."""

    def __init__(self, options: PushOptions, version: str) -> None:
        self.options = options
        self.version = version

    @property
    def name(self) -> str:
        return redact_url(self.options.url or "(no Pushgateway URL)")

    def load(self) -> dict[str, StackSeries]:
        return read_back(self.options).series

    def commit(self, run: RunReport, update: Update) -> MergedState:
        return self.publish(run, update).merged

    def publish(self, run: RunReport, update: Update, now: float | None = None) -> PublishOutcome:
        """`commit`, with what a caller may show of it: the exposition (a dry run prints it), attempts."""
        return publish(self.options, run, update, version=self.version, now=now)


# --- the front door -------------------------------------------------------------------------------


def publish(
    options: PushOptions,
    report: RunReport,
    update: Update | None = None,
    *,
    version: str,
    now: float | None = None,
) -> PublishOutcome:
    """Read the group back, merge this run into it, and replace it in one PUT (or not, on dry run).

    `update` turns what the group holds into the merged state to push; by default the plain merge of
    `report` (whose `known` and `removed` decide which stacks are forgotten). `now` defaults to when the
    run finished. Raises `ReadBackError`, `PushError`, `PushgatewayConfigError` or what `update` raises.
    """
    at = report.finished_at.timestamp() if now is None else now
    if update is None:
        update = lambda previous: merge_run(previous, report, at)  # noqa: E731
    if options.url is None and not options.dry_run:
        raise PushgatewayConfigError("no Pushgateway URL is configured")
    with _client(options) as client:
        for merges in range(1, MERGE_ATTEMPTS + 1):
            previous, reset_reason = _previous(client, options)
            merged = update(previous.series)
            body = _exposition(merged.series, _run_info(report, at, version))
            if options.dry_run:
                return _outcome(merged, body, previous, reset_reason, None, merges)
            if reset_reason is not None or _unchanged(client, options, previous):
                receipt = _push(client, options, body)
                return _outcome(merged, body, previous, reset_reason, receipt, merges)
            log.warning("another run pushed to the Pushgateway group meanwhile; merging again")
    raise PushError(
        f"another run pushed to the Pushgateway group during each of {MERGE_ATTEMPTS} read-back and "
        "merge rounds; not pushing, so that neither run's first-seen times are overwritten"
    )


def _outcome(
    merged: MergedState,
    body: bytes,
    previous: ReadBack,
    reset_reason: str | None,
    receipt: PushReceipt | None,
    merges: int,
) -> PublishOutcome:
    return PublishOutcome(
        merged=merged,
        exposition=body,
        pushed=receipt is not None,
        previous_found=previous.found,
        reset_reason=reset_reason,
        push_attempts=receipt.attempts if receipt is not None else 0,
        merges=merges,
    )


def _unchanged(client: httpx.Client, options: PushOptions, previous: ReadBack) -> bool:
    """True when the group was not pushed to since `previous` was read (the check before the PUT)."""
    try:
        again = _read_back(client, options)
    except ReadBackError as error:
        raise ReadBackError(f"{error} (reading the group again before the push)") from None
    return (again.found, again.push_time) == (previous.found, previous.push_time)


def _previous(client: httpx.Client, options: PushOptions) -> tuple[ReadBack, str | None]:
    if options.url is None:  # a dry run without a gateway: show what a first run would push
        return ReadBack({}, found=False), None
    try:
        return _read_back(client, options), None
    except ReadBackError as error:
        if not options.allow_reset:
            raise
        log.warning("%s; pushing anyway because a reset is allowed", error)
        return ReadBack({}, found=False), str(error)


def _exposition(merged: Mapping[str, StackSeries], run: RunInfo) -> bytes:
    try:
        return build_exposition(merged, run)
    except ExpositionError as error:
        raise PushgatewayError(f"cannot build the metrics to push: {error}") from None


def _run_info(report: RunReport, now: float, version: str) -> RunInfo:
    duration = (report.finished_at - report.started_at).total_seconds()
    return RunInfo(finished_at=now, duration_seconds=max(duration, 0.0), version=version, mode=report.mode)


# --- the two requests -----------------------------------------------------------------------------


def read_back(options: PushOptions) -> ReadBack:
    """The series the gateway holds for this job and grouping labels ({} and found=False if none)."""
    with _client(options) as client:
        return _read_back(client, options)


def push(options: PushOptions, body: bytes) -> PushReceipt:
    """Replace the whole group with `body` in one PUT, retrying what a retry can fix."""
    with _client(options) as client:
        return _push(client, options, body)


def _read_back(client: httpx.Client, options: PushOptions) -> ReadBack:
    endpoint = _endpoint(options)
    url = f"{endpoint.base}/api/v1/metrics"
    exchange = _send(client, options, endpoint, "GET", url)
    if exchange.response is None or exchange.response.status_code != httpx.codes.OK:
        raise ReadBackError(_refusal(endpoint, f"GET {url} {_failure(exchange, endpoint)}"))
    try:
        return _select_group(exchange.body, _group_labels(options))
    except MetricsParseError as error:
        raise ReadBackError(_refusal(endpoint, f"GET {url} returned {error}")) from None


def _push(client: httpx.Client, options: PushOptions, body: bytes) -> PushReceipt:
    endpoint = _endpoint(options)
    url = endpoint.base + group_path(options.job, options.grouping_labels)
    try:
        exchange = _send(client, options, endpoint, "PUT", url, body)
    except KeyboardInterrupt:
        raise PushInterrupted(
            endpoint.scrub(f"interrupted during PUT {url}: the push may have landed; check the group")
        ) from None
    response = exchange.response
    if response is None or not response.is_success:
        raise PushError(endpoint.scrub(f"Pushgateway push failed: PUT {url} {_failure(exchange, endpoint)}"))
    return PushReceipt(attempts=exchange.attempts, status_code=response.status_code)


def _refusal(endpoint: _Endpoint, what: str) -> str:
    return endpoint.scrub(
        f"Pushgateway read-back failed: {what}; not pushing, because that would reset every stack's "
        "drift first-seen time (--allow-reset pushes anyway)"
    )


# --- parsing the read-back ------------------------------------------------------------------------


def _select_group(content: bytes, labels: Mapping[str, str]) -> ReadBack:
    """The group whose labels are exactly job + grouping labels, from `GET /api/v1/metrics`."""
    for group in _groups(content):
        if group.get("labels") == labels:
            return ReadBack(series_from_group(group), found=True, push_time=_push_time(group))
    return ReadBack({}, found=False)


def _push_time(group: Mapping[str, Any]) -> str | None:
    family = group.get("push_time_seconds")
    metrics = family.get("metrics") if isinstance(family, Mapping) else None
    if not isinstance(metrics, list) or not metrics or not isinstance(metrics[0], Mapping):
        return None
    return str(metrics[0].get("value"))


def _groups(content: bytes) -> list[Mapping[str, Any]]:
    try:
        payload = json.loads(content)
    except ValueError:  # also UnicodeDecodeError
        raise MetricsParseError(f"a body that is not JSON: {_snippet(content)!r}") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or payload.get("status") != "success" or not isinstance(data, list):
        raise MetricsParseError(f"JSON that is not a successful metrics answer: {_snippet(content)!r}")
    if not all(isinstance(group, dict) for group in data):
        raise MetricsParseError("a metrics answer whose groups are not objects")
    return data


def _group_labels(options: PushOptions) -> dict[str, str]:
    return {"job": options.job, **options.grouping_labels}


# --- the group's URL ------------------------------------------------------------------------------


def group_path(job: str, grouping_labels: Mapping[str, str]) -> str:
    """`/metrics/job/<job>/<name>/<value>...`, base64url-encoding values a URL path cannot carry."""
    _check_group(job, grouping_labels)
    segments = [_segment("job", job)] + [_segment(name, value) for name, value in grouping_labels.items()]
    return "/metrics/" + "/".join(segments)


def _segment(name: str, value: str) -> str:
    if _PLAIN_VALUE.match(value):
        return f"{name}/{value}"
    # The gateway documents `=` as the encoding of an empty value (a bare `//` would not survive).
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
    return f"{name}@base64/{encoded}"


def _check_group(job: str, grouping_labels: Mapping[str, str]) -> None:
    if not job:
        raise PushgatewayConfigError("the Pushgateway job name must not be empty")
    for name in grouping_labels:
        if not LABEL_NAME.match(name) or name.startswith("__"):
            raise PushgatewayConfigError(f"{name!r} is not a valid Prometheus label name")
        if name in RESERVED_LABELS:
            raise PushgatewayConfigError(f"grouping label {name!r} is reserved by driftctl's metrics")


# --- connection, credentials, retries -------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    base: str  # scheme://host[:port][/prefix], without credentials or trailing slash
    auth: tuple[str, str] | None
    headers: dict[str, str]
    secrets: tuple[str, ...]

    def scrub(self, text: str) -> str:
        """`text` without credentials, on one line (it ends up as a single line of CLI output)."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return " ".join(_URL_USERINFO.sub(MASK + "@", text).split())


def _endpoint(options: PushOptions) -> _Endpoint:
    if options.url is None:
        raise PushgatewayConfigError("no Pushgateway URL is configured")
    try:
        parts = urlsplit(options.url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in 0-65535)
    except ValueError as error:  # `http://[::1` (unclosed IPv6 bracket), `http://h:99999`
        raise PushgatewayConfigError(f"Pushgateway URL {redact_url(options.url)!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushgatewayConfigError(f"Pushgateway URL {redact_url(options.url)!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise PushgatewayConfigError(f"Pushgateway URL {redact_url(options.url)!r} has a query or fragment")
    url_user = unquote(parts.username) if parts.username else None
    url_password = unquote(parts.password) if parts.password else None
    if url_user is not None and (options.username is not None or options.token is not None):
        raise PushgatewayConfigError("Pushgateway credentials are given both in the URL and as options")
    if options.token is not None and options.username is not None:
        raise PushgatewayConfigError("give the Pushgateway either a username/password or a token, not both")
    username = options.username if options.username is not None else url_user
    password = options.password if options.password is not None else url_password
    hostport = parts.netloc.rpartition("@")[2]
    base = urlunsplit((parts.scheme, hostport, parts.path.rstrip("/"), "", ""))
    headers = {"Authorization": f"Bearer {options.token}"} if options.token is not None else {}
    auth = (username, password or "") if username is not None else None
    secrets = [options.password, options.token, url_password, parts.password, _basic_credentials(auth)]
    return _Endpoint(
        base=base,
        auth=auth,
        headers=headers,
        # longest first, so a secret that contains another is masked whole
        secrets=tuple(sorted({s for s in secrets if s}, key=len, reverse=True)),
    )


def _basic_credentials(auth: tuple[str, str] | None) -> str | None:
    # What a server that echoes the Authorization header would show of a basic-auth password.
    if auth is None or not auth[1]:
        return None
    return base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")


def redact_url(url: str) -> str:
    """`url` with any `user:password@` replaced by `***@`."""
    return _URL_USERINFO.sub(MASK + "@", url)


def check_options(options: PushOptions) -> None:
    """Raise `PushgatewayConfigError` now for options that cannot work, before any run or request."""
    _check_group(options.job, options.grouping_labels)
    if options.url is not None:
        _endpoint(options)
    _verify(options.ca_bundle)
    if options.attempts < 1 or options.timeout_seconds <= 0 or options.retry_budget_seconds <= 0:
        raise PushgatewayConfigError("attempts, timeout and retry budget must be positive")


def _client(options: PushOptions) -> httpx.Client:
    check_options(options)
    endpoint = _endpoint(options) if options.url is not None else None
    return httpx.Client(
        auth=endpoint.auth if endpoint is not None else None,
        headers=endpoint.headers if endpoint is not None else None,
        verify=_verify(options.ca_bundle),
        timeout=options.timeout_seconds,
        # a redirect would resend the credentials elsewhere and turn the PUT into a GET: report it
        follow_redirects=False,
    )


def _verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    if ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as error:
        raise PushgatewayConfigError(f"cannot use CA bundle {str(ca_bundle)!r}: {error}") from None


@dataclass(frozen=True)
class _Exchange:
    """The last response (None if none came) or transport failure of a request, after retries."""

    response: httpx.Response | None
    error: str | None
    attempts: int
    body: bytes = b""  # the response's body, at most `max_response_bytes` of it
    final: bool = False  # a failure that another attempt would only repeat


def _send(
    client: httpx.Client,
    options: PushOptions,
    endpoint: _Endpoint,
    method: str,
    url: str,
    body: bytes | None = None,
) -> _Exchange:
    """One request, retried with exponential backoff while it may help and the time budget lasts."""
    deadline = time.monotonic() + options.retry_budget_seconds
    pause = options.backoff_seconds
    headers = {"Content-Type": CONTENT_TYPE} if body is not None else None
    attempt = 0
    while True:
        attempt += 1
        timeout = _request_timeout(options, deadline)
        exchange = _attempt(client, method, url, body, headers, timeout, attempt, options.max_response_bytes)
        if not _worth_retrying(exchange) or attempt >= options.attempts:
            return exchange
        if time.monotonic() + pause + _MIN_REQUEST_TIMEOUT > deadline:
            return exchange
        why = endpoint.scrub(_why(exchange))
        log.warning("%s %s: attempt %d failed (%s); retrying in %.1fs", method, url, attempt, why, pause)
        time.sleep(pause)
        pause *= 2


def _attempt(
    client: httpx.Client,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str] | None,
    timeout: float,
    attempt: int,
    max_bytes: int,
) -> _Exchange:
    try:
        with client.stream(method, url, content=body, headers=headers, timeout=timeout) as response:
            return _Exchange(response, None, attempt, _read_at_most(response, max_bytes))
    except httpx.HTTPError as error:  # connection refused, TLS, timeouts, broken connections
        return _Exchange(None, f"{type(error).__name__}: {error}", attempt)
    except _TooLarge as error:
        return _Exchange(None, str(error), attempt, final=True)


class _TooLarge(Exception):
    pass


def _read_at_most(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, read in chunks and refused as soon as it passes `max_bytes` (never held whole)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _TooLarge(f"response body of {int(declared)} bytes is over the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge(f"response body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _request_timeout(options: PushOptions, deadline: float) -> float:
    # The last attempt gets only what is left of the budget, so the whole request stays bounded.
    return max(min(options.timeout_seconds, deadline - time.monotonic()), _MIN_REQUEST_TIMEOUT)


def _worth_retrying(exchange: _Exchange) -> bool:
    if exchange.final:
        return False
    if exchange.response is None:
        return True
    status = exchange.response.status_code
    # Other 4xx mean the request itself is wrong (bad metrics, auth): sending it again cannot help.
    return status >= 500 or status == httpx.codes.TOO_MANY_REQUESTS


def _why(exchange: _Exchange) -> str:
    if exchange.response is None:
        return exchange.error or "no response"
    return f"HTTP {exchange.response.status_code}"


def _failure(exchange: _Exchange, endpoint: _Endpoint) -> str:
    tries = f" (after {exchange.attempts} attempts)" if exchange.attempts > 1 else ""
    if exchange.response is None:
        return f"failed: {exchange.error}{tries}"
    detail = _snippet(exchange.body)
    said = f": {detail}" if detail else ""
    return endpoint.scrub(f"returned HTTP {exchange.response.status_code}{said}{tries}")


def _snippet(content: bytes) -> str:
    """The start of a body on one line, for error messages (the gateway explains a 400 in its body)."""
    text = " ".join(content[: _SNIPPET_CHARS * 4].decode("utf-8", errors="replace").split())
    return text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "…"
