"""Test helper: a real PostgreSQL server (Debian's `postgresql` package) in a temporary directory.

initdb + postgres on a free 127.0.0.1 port, password authentication, stopped and removed on exit. As
root it runs as the `postgres` user (the server refuses to run as root). No pytest import, so a
benchmark can start one the same way the tests do. Every wait is bounded in count and time.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pushgateway_server import free_port

USER = "driftctl"
PASSWORD = "pg-s3cret-4Fq9"
DATABASE = "drift"
_READY_TIMEOUT = 30.0
_POLL_INTERVAL = 0.1
_STOP_TIMEOUT = 10.0


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_unavailable() -> str | None:
    """None when a server can be started here, else the reason a test skips."""
    if bin_dir() is None:
        return "needs Debian's postgresql (initdb, postgres); ci/test installs it when run as root"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the `postgres` user (created by Debian's postgresql package)"
    return None


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    def url(self, password: bool = True, database: str = DATABASE) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@{self.host}:{self.port}/{database}"


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    reason = why_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    binaries = bin_dir()
    assert binaries is not None
    workdir = Path(tempfile.mkdtemp(prefix="driftctl-pg-"))
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    try:
        if owner is not None:
            os.chown(workdir, owner.pw_uid, owner.pw_gid)
        _initdb(binaries, workdir, owner)
        server = _start(binaries, workdir, owner)
        try:
            yield server
        finally:
            _stop(server.process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _initdb(binaries: Path, workdir: Path, owner: pwd.struct_passwd | None) -> None:
    pwfile = workdir / "pwfile"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [
            str(binaries / "initdb"),
            "-D", str(workdir / "data"),
            "-U", USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=workdir,
        user=owner.pw_uid if owner else None,
        group=owner.pw_gid if owner else None,
        extra_groups=[] if owner else None,
    )  # fmt: skip


def _start(binaries: Path, workdir: Path, owner: pwd.struct_passwd | None) -> Postgres:
    log = workdir / "server.log"
    for _ in range(3):  # a free port can be taken between probing and binding it
        port = free_port()
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    str(binaries / "postgres"),
                    "-D", str(workdir / "data"),
                    "-p", str(port),
                    "-k", str(workdir),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", "fsync=off",
                ],
                stdout=output,
                stderr=output,
                cwd=workdir,
                user=owner.pw_uid if owner else None,
                group=owner.pw_gid if owner else None,
                extra_groups=[] if owner else None,
            )  # fmt: skip
        server = Postgres("127.0.0.1", port, process)
        deadline = time.monotonic() + _READY_TIMEOUT
        for _ in range(int(_READY_TIMEOUT / _POLL_INTERVAL)):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            try:
                with psycopg.connect(
                    server.url(database="postgres"), autocommit=True, connect_timeout=2
                ) as c:
                    c.execute(f"CREATE DATABASE {DATABASE}")
                return server
            except psycopg.OperationalError:
                time.sleep(_POLL_INTERVAL)
        _stop(process)
    raise RuntimeError(f"postgres did not start: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnects clients, no waiting for them
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)
