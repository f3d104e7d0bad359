"""Bounded parallel plans: one process group per command, timeouts, retries, streamed log files.

Each stack's output streams line by line through the redactor into its own log file, so memory
stays flat whatever the plan's size; only a short tail of stderr is kept to classify errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from driftctl import classify, plugin_cache
from driftctl.model import ErrorKind, PlanError, PlanResult, ResourceCounts, Stack, State, Tool
from driftctl.redact import Redactor

STDERR_TAIL_LINES = 200
ERROR_MESSAGE_LINES = 12
_MAX_LINE_BYTES = 64 * 1024  # a longer line is split, so one giant line cannot grow memory
_DRAIN_AFTER_EXIT_SECONDS = 2.0  # a grandchild holding the pipe open must not hang the run


class Observer(Protocol):
    """Progress events; the live terminal view implements it."""

    def started(self, stack: Stack, attempt: int) -> None: ...

    def finished(self, result: PlanResult) -> None: ...


@dataclass(frozen=True)
class RunnerOptions:
    binary: str
    tool: Tool
    log_dir: Path
    parallelism: int = 4
    timeout: float = 1800.0
    retries: int = 2
    retry_backoff: float = 5.0
    lock: bool = False
    init: bool = True
    outputs_count_as_drift: bool = False
    kill_grace: float = 10.0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None when killed by a signal
    timed_out: bool
    stderr_tail: tuple[str, ...]
    signal_name: str | None = None


def tool_environment(options: RunnerOptions) -> dict[str, str]:
    """Non-interactive, machine-friendly settings for every command; the same for the real tools."""
    env = dict(options.environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    if options.tool is Tool.TERRAGRUNT:
        env.update(
            {
                "TG_NON_INTERACTIVE": "true",
                "TERRAGRUNT_NON_INTERACTIVE": "true",
                # terragrunt >= 0.67 otherwise wraps every plan line in its own log format; logs
                # stay terraform's own text (`-json` output is forwarded raw either way)
                "TG_TF_FORWARD_STDOUT": "true",
                "TERRAGRUNT_FORWARD_TF_STDOUT": "true",
            }
        )
    return env


def plan_command(options: RunnerOptions, plan_file: Path) -> list[str]:
    return [
        options.binary,
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        f"-lock={'true' if options.lock else 'false'}",
        # absolute: terragrunt runs the tool inside .terragrunt-cache, where a relative path would land
        f"-out={plan_file}",
    ]


def log_name(stack: Stack) -> str:
    """A file name for the stack's log: readable, unique, safe whatever the stack's path holds."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", stack.id).strip("._") or "root"
    return f"{readable[:80]}-{_short_hash(stack.id)}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_plans(
    stacks: Sequence[Stack],
    options: RunnerOptions,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> list[PlanResult]:
    """Plans every stack, `options.parallelism` at a time; results in the order of `stacks`."""
    cancel = cancel or threading.Event()
    pool = ThreadPoolExecutor(max_workers=options.parallelism, thread_name_prefix="plan")
    try:
        futures = [pool.submit(plan_stack, stack, options, observer, cancel) for stack in stacks]
        return [future.result() for future in futures]
    except BaseException:
        # Ctrl-C or a crash: stop the running plans and skip the queued ones
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def plan_stack(
    stack: Stack,
    options: RunnerOptions,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> PlanResult:
    cancel = cancel or threading.Event()
    started = time.monotonic()
    options.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = log_name(stack)
    log_path = options.log_dir / f"{name}.log"
    plan_file = options.log_dir / f"{name}.tfplan"
    attempt = 0
    with log_path.open("w", encoding="utf-8") as log:
        job = _StackJob(stack, options, plan_file, log, Redactor(options.environ), cancel)
        while True:
            attempt += 1
            if observer is not None:
                observer.started(stack, attempt)
            outcome = job.attempt()
            kind = classify.error_kind(outcome.stderr_tail, outcome.timed_out)
            retry = (
                outcome.exit_code not in (0, 2)
                and classify.is_transient(kind)
                and attempt <= options.retries
                and not cancel.is_set()
            )
            if not retry:
                break
            delay = options.retry_backoff * 2 ** (attempt - 1)
            log.write(f"\n# driftctl: transient {kind.value} error, retrying in {delay:.0f}s\n")
            log.flush()
            if cancel.wait(delay):
                break
        result = job.classified(outcome, kind)
    plan_file.unlink(missing_ok=True)  # it holds every planned value, secrets included
    finished = time.monotonic()
    final = PlanResult(
        stack=stack,
        state=result.state,
        exit_code=outcome.exit_code,
        resources=result.resources,
        error=result.error,
        duration_seconds=round(finished - started, 3),
        attempts=attempt,
        log_path=log_path,
        started_monotonic=started,
        finished_monotonic=finished,
    )
    if observer is not None:
        observer.finished(final)
    return final


@dataclass(frozen=True)
class _Classified:
    state: State
    resources: ResourceCounts = field(default_factory=ResourceCounts)
    error: PlanError | None = None


@dataclass(frozen=True)
class _StackJob:
    """What every command of one stack's plan shares: where it runs, where its output goes."""

    stack: Stack
    options: RunnerOptions
    plan_file: Path
    log: IO[str]
    redactor: Redactor
    cancel: threading.Event

    def run(self, command: Sequence[str], stdout: IO[str] | None = None) -> CommandOutcome:
        env = tool_environment(self.options)
        return run_command(
            command, self.stack.path, env, self.log, self.redactor, self.options, self.cancel, stdout
        )

    def attempt(self) -> CommandOutcome:
        options = self.options
        fresh = not (self.stack.path / ".terraform").is_dir()
        if options.init and options.tool is not Tool.TERRAGRUNT and fresh:
            # terragrunt auto-inits; plain terraform/tofu needs an explicit init in a fresh checkout
            with plugin_cache.init_lock(self.stack.path, options.environ, self.cancel):
                outcome = self.run([options.binary, "init", "-input=false", "-no-color"])
            if outcome.exit_code != 0:
                return outcome
        return self.run(plan_command(options, self.plan_file))

    def classified(self, outcome: CommandOutcome, kind: ErrorKind) -> _Classified:
        if outcome.exit_code is None or outcome.timed_out:
            return _Classified(State.ERRORED, error=PlanError(kind, _error_message(outcome, self.options)))
        state = classify.state_for_exit(outcome.exit_code)
        if state is State.ERRORED:
            return _Classified(state, error=PlanError(kind, _error_message(outcome, self.options)))
        if state is State.CLEAN:
            return _Classified(state)
        summary = self.read_plan()
        resources = summary.resources if summary else ResourceCounts()
        return _Classified(classify.final_state(summary, self.options.outputs_count_as_drift), resources)

    def read_plan(self) -> classify.PlanSummary | None:
        """Counts from `show -json`; None (still drifted, counts unknown) when the plan cannot be read."""
        command = [self.options.binary, "show", "-json", "-no-color", str(self.plan_file)]
        with tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.options.log_dir) as stdout:
            if self.run(command, stdout=stdout).exit_code != 0:
                self.log.write("# driftctl: `show -json` failed; resource counts unknown\n")
                return None
            stdout.seek(0)
            try:
                return classify.summarize(classify.parse_plan_json(stdout.read()))
            except classify.PlanFormatError as error:
                self.log.write(f"# driftctl: {error}; resource counts unknown\n")
                return None


def _error_message(outcome: CommandOutcome, options: RunnerOptions) -> str:
    if outcome.timed_out:
        return f"timed out after {options.timeout:.0f}s; the process group was killed"
    lines = [line.strip() for line in outcome.stderr_tail if line.strip()]
    tail = "\n".join(lines[-ERROR_MESSAGE_LINES:])
    if outcome.exit_code is None:
        return f"killed by {outcome.signal_name}" + (f"\n{tail}" if tail else "")
    return tail or f"exited with code {outcome.exit_code} and printed nothing on stderr"


def run_command(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log: IO[str],
    redactor: Redactor,
    options: RunnerOptions,
    cancel: threading.Event,
    stdout: IO[str] | None = None,
) -> CommandOutcome:
    """Runs one command in its own process group; stdout to `stdout` (raw) or the log, stderr to the log."""
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a timeout kills the tool's children too
        )
    except OSError as error:
        message = f"cannot run {command[0]}: {error.strerror}"
        log.write(f"# driftctl: {message}\n")
        return CommandOutcome(exit_code=127, timed_out=False, stderr_tail=(message,))
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def on_stdout(line: str) -> None:
        if stdout is not None:
            stdout.write(line)
        else:
            log.write(redactor.line(line.rstrip("\n")) + "\n")

    def on_stderr(line: str) -> None:
        clean = redactor.line(line.rstrip("\n"))
        tail.append(clean)
        log.write(clean + "\n")

    timed_out = _pump(process, {"out": on_stdout, "err": on_stderr}, options, cancel)
    log.flush()
    code = process.returncode
    if code is not None and code < 0:
        return CommandOutcome(None, timed_out, tuple(tail), signal.Signals(-code).name)
    return CommandOutcome(code, timed_out, tuple(tail))


def _pump(
    process: subprocess.Popen[bytes],
    handlers: Mapping[str, Callable[[str], None]],
    options: RunnerOptions,
    cancel: threading.Event,
) -> bool:
    """Streams both pipes until the process ends; kills its group on timeout or cancel."""
    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + options.timeout
    selector = selectors.DefaultSelector()
    buffers: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
    selector.register(process.stdout, selectors.EVENT_READ, "out")
    selector.register(process.stderr, selectors.EVENT_READ, "err")
    timed_out = False
    kill_at: float | None = None
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if kill_at is None and (now >= deadline or cancel.is_set()):
                timed_out = now >= deadline
                _signal_group(process, signal.SIGTERM)
                kill_at = now + options.kill_grace
            elif kill_at is not None and now >= kill_at and process.poll() is None:
                _signal_group(process, signal.SIGKILL)
                kill_at = float("inf")
            if exited_at is None and process.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _DRAIN_AFTER_EXIT_SECONDS:
                break
            for key, _ in selector.select(timeout=0.2):
                stream = key.fileobj
                name = key.data
                chunk = os.read(stream.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(stream)
                    continue
                _feed(buffers[name], chunk, handlers[name])
    finally:
        selector.close()
        for name, rest in buffers.items():
            if rest:
                handlers[name](rest.decode("utf-8", "replace"))
        process.stdout.close()
        process.stderr.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=options.kill_grace)
    if process.poll() is None:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    return timed_out


def _feed(buffer: bytearray, chunk: bytes, handler: Callable[[str], None]) -> None:
    buffer.extend(chunk)
    while True:
        newline = buffer.find(b"\n")
        if newline < 0:
            if len(buffer) > _MAX_LINE_BYTES:
                handler(buffer.decode("utf-8", "replace") + "\n")
                buffer.clear()
            return
        handler(buffer[: newline + 1].decode("utf-8", "replace"))
        del buffer[: newline + 1]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
