"""A real Prometheus on a free loopback port, scraping a real Pushgateway, for end-to-end tests.

The gateway comes from `pushgateway_server.running_pushgateway` (shared with the metrics tests); this
module adds Prometheus itself. Debian's `prometheus` and `prometheus-pushgateway` packages provide the
binaries (`ci/test` installs them). Every wait here is bounded in both attempts and seconds, and every
process started is stopped by its own handle, never by name.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from pushgateway_server import PUSHGATEWAY_BINARY, free_port, running_pushgateway

PROMETHEUS = "prometheus"
LOOPBACK = "127.0.0.1"
START_ATTEMPTS = 3  # a free port can be taken between probing it and the server binding it
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

T = TypeVar("T")


def missing_binaries() -> list[str]:
    """The binaries the end-to-end tests need that are not on PATH."""
    missing = [] if shutil.which(PROMETHEUS) else [PROMETHEUS]
    return missing if PUSHGATEWAY_BINARY else [*missing, "prometheus-pushgateway"]


class PollTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def poll(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Call `probe` until it returns something other than None; at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    attempts = max(1, int(timeout / interval) + 1)
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            found = probe()
        except (httpx.HTTPError, ValueError) as error:  # not up yet, or a half-written answer
            found, last_error = None, error
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise PollTimeout(f"gave up after {timeout:.0f}s waiting for {what}; last error: {last_error!r}")


@dataclass
class Server:
    """One running server: its process, base URL and log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until `GET /-/ready` answers 200; fails at once, with the log, if the process exits."""

        def ready() -> bool | None:
            if self.process.poll() is not None:
                raise ServerExited(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            return True if httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200 else None

        poll(f"{self.name} at {self.url} to be ready", ready, timeout=timeout, interval=0.1)


class ServerExited(RuntimeError):
    pass


def _start(name: str, workdir: Path, command: Callable[[int], list[str]]) -> Server:
    """Start `command(port)` on a free port, retrying on a lost port race, and wait until it is ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    last: ServerExited | None = None
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        log_path = workdir / f"{name}.{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command(port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir
            )
        server = Server(name, process, f"http://{LOOPBACK}:{port}", log_path)
        try:
            server.wait_ready()
        except ServerExited as exited:
            last = exited
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise RuntimeError(f"{name} did not start in {START_ATTEMPTS} attempts") from last


def prometheus_config(pushgateway_url: str, rule_files: Sequence[Path]) -> dict[str, Any]:
    """Scrape the gateway every second with honor_labels, as a real deployment of it must."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [pushgateway_url.removeprefix("http://")]}],
            }
        ],
    }


def start_prometheus(workdir: Path, pushgateway_url: str, rule_files: Sequence[Path]) -> Server:
    binary = shutil.which(PROMETHEUS)
    assert binary is not None, f"{PROMETHEUS} is not installed"
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(pushgateway_url, rule_files)), encoding="utf-8")
    storage = workdir / "tsdb"

    def command(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ]

    return _start(PROMETHEUS, workdir, command)


@dataclass
class Monitoring:
    pushgateway_url: str
    prometheus: Server

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result of an instant query (vector results only)."""
        body = _api(self.prometheus.url, "/api/v1/query", {"query": promql})
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Active (pending or firing) alerts, as `GET /api/v1/alerts` lists them."""
        body = _api(self.prometheus.url, "/api/v1/alerts", {})
        alerts: list[dict[str, Any]] = body["data"]["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        body = _api(self.prometheus.url, "/api/v1/rules", {})
        groups: list[dict[str, Any]] = body["data"]["groups"]
        return groups


def _api(base: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    response = httpx.get(f"{base}{path}", params=params, timeout=5.0)
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise AssertionError(f"GET {path} {params} -> {response.status_code}: {body}")
    return body


@contextmanager
def monitoring(workdir: Path, rule_files: Sequence[Path]) -> Iterator[Monitoring]:
    """A fresh Pushgateway and a Prometheus scraping it, both stopped on exit, whatever happens."""
    with running_pushgateway() as pushgateway:
        prometheus = start_prometheus(workdir / "prometheus", pushgateway.url, rule_files)
        try:
            yield Monitoring(pushgateway.url, prometheus)
        finally:
            prometheus.stop()
