"""Test helpers: a real Pushgateway on a free loopback port, and a tiny scripted HTTP server.

No pytest import here, so `benchmarks/bench_push.py` can start a gateway the same way the tests do.
Every wait is bounded in both count and time.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PUSHGATEWAY_BINARY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
PROMTOOL_BINARY = shutil.which("promtool")
OPENSSL_BINARY = shutil.which("openssl")
NO_PUSHGATEWAY = "needs Debian's prometheus-pushgateway on PATH (CI installs it)"
NO_PROMTOOL = "needs promtool on PATH (CI installs it)"

_START_ATTEMPTS = 3  # a free port can be taken between probing and binding it
_READY_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and the gateway's --web.config.file serving it."""

    cert: Path
    key: Path
    web_config: Path


@dataclass
class Pushgateway:
    url: str
    process: subprocess.Popen[bytes]
    tls: TlsFiles | None = None

    def groups(self) -> list[dict[str, Any]]:
        """Every group the gateway holds, from its JSON API."""
        with _open(f"{self.url}/api/v1/metrics", self.tls) as response:
            data: list[dict[str, Any]] = json.load(response)["data"]
        return data

    def group(self, labels: Mapping[str, str]) -> dict[str, Any] | None:
        return next((g for g in self.groups() if g["labels"] == dict(labels)), None)


def _open(url: str, tls: TlsFiles | None) -> Any:
    context = ssl.create_default_context(cafile=str(tls.cert)) if tls is not None else None
    return urllib.request.urlopen(url, timeout=5, context=context)


def self_signed_tls(directory: Path) -> TlsFiles:
    """Needs the openssl CLI; an EC key, because RSA key generation is slow."""
    cert, key, web_config = directory / "cert.pem", directory / "key.pem", directory / "web.yml"
    subprocess.run(
        [
            OPENSSL_BINARY or "openssl",
            "req", "-x509", "-nodes", "-days", "1",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    web_config.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n", encoding="utf-8")
    return TlsFiles(cert=cert, key=key, web_config=web_config)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_pushgateway(
    binary: str | None = PUSHGATEWAY_BINARY, tls: TlsFiles | None = None
) -> Iterator[Pushgateway]:
    """A fresh in-memory Pushgateway on 127.0.0.1 (HTTPS with `tls`), stopped on exit."""
    if binary is None:
        raise RuntimeError(NO_PUSHGATEWAY)
    with tempfile.TemporaryFile() as log:
        gateway = _start(binary, log, tls)
        try:
            yield gateway
        finally:
            _stop(gateway.process)


def _start(binary: str, log: Any, tls: TlsFiles | None) -> Pushgateway:
    scheme = "https" if tls is not None else "http"
    extra = [f"--web.config.file={tls.web_config}"] if tls is not None else []
    for _ in range(_START_ATTEMPTS):
        address = f"127.0.0.1:{free_port()}"
        process = subprocess.Popen(
            [
                binary,
                f"--web.listen-address={address}",
                "--persistence.file=",  # memory only: every test starts from an empty gateway
                "--log.level=warn",
                *extra,
            ],
            stdout=log,
            stderr=log,
        )
        url = f"{scheme}://{address}"
        if _wait_ready(url, process, tls):
            return Pushgateway(url, process, tls)
        _stop(process)
    log.seek(0)
    raise RuntimeError(f"pushgateway did not become ready: {log.read()[-2000:].decode(errors='replace')}")


def _wait_ready(url: str, process: subprocess.Popen[bytes], tls: TlsFiles | None) -> bool:
    deadline = time.monotonic() + _READY_TIMEOUT
    for _ in range(int(_READY_TIMEOUT / _POLL_INTERVAL)):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        try:
            with _open(f"{url}/-/ready", tls) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(_POLL_INTERVAL)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


# --- a scripted server that records what driftctl sends ----------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    forward: bool = False  # pass the request on to the real gateway and return its answer
    echo_authorization: bool = False  # append the request's Authorization header to the body
    delay: float = 0.0  # seconds to wait before answering (bounded by the caller's choice)
    then: Callable[[], object] | None = None  # runs after the answer is ready, before it is sent


FORWARD = Reply(status=0, forward=True)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """Answers each method from its script (the last reply repeats) and records every request."""

    script: Mapping[str, Sequence[Reply]]
    forward_to: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def respond(self, recorded: Recorded) -> tuple[int, bytes]:
        with self._lock:
            index = sum(1 for r in self.requests if r.method == recorded.method)
            self.requests.append(recorded)
        replies = self.script.get(recorded.method)
        if not replies:
            return 405, b"method not scripted"
        reply = replies[min(index, len(replies) - 1)]
        time.sleep(reply.delay)
        if reply.forward:
            answer = self._forward(recorded)
        else:
            extra = recorded.headers.get("authorization", "").encode() if reply.echo_authorization else b""
            answer = reply.status, reply.body + extra
        if reply.then is not None:
            reply.then()
        return answer

    def _forward(self, recorded: Recorded) -> tuple[int, bytes]:
        assert self.forward_to is not None, "FORWARD needs forward_to"
        host = self.forward_to.removeprefix("http://")
        connection = http.client.HTTPConnection(host, timeout=10)
        try:
            headers = {"Content-Type": recorded.headers.get("content-type", "text/plain")}
            connection.request(recorded.method, recorded.path, body=recorded.body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            status, body = server.respond(recorded)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

    return Handler


@contextmanager
def recording_server(
    script: Mapping[str, Sequence[Reply]], forward_to: str | None = None
) -> Iterator[RecordingServer]:
    server = RecordingServer(script=script, forward_to=forward_to)
    with loopback_http(_handler(server)) as url:
        server.url = url
        yield server


@contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free 127.0.0.1 port, in a thread, for the block; yields its URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"
