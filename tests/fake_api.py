"""A loopback JSON API server for the sinks' tests: routes to a stateful fake, records every request.

`fail_next` makes the next requests answer with an error status (and a `Retry-After`), before the
fake sees them: how a rate limit or an outage looks from driftctl's side.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from pushgateway_server import loopback_http


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class FakeApi:
    """Subclasses implement `route`; `url` is set once the server listens."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Request] = []
        self._failures: list[Answer] = []
        self._lock = threading.Lock()

    def route(self, request: Request) -> Answer:
        raise NotImplementedError

    def fail_next(self, count: int, status: int, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._failures += [Answer(status, {"message": "scripted failure"}, headers)] * count

    def answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                return self._failures.pop(0)
            return self.route(request)

    def calls(self, method: str | None = None) -> list[Request]:
        return [r for r in self.requests if method is None or r.method == method]


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            answer = api.answer(request)
            body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


Api = TypeVar("Api", bound=FakeApi)


@contextmanager
def serving(api: Api) -> Iterator[Api]:
    with loopback_http(_handler(api)) as url:
        api.url = url
        yield api
