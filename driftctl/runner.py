"""Bounded parallel plans: one process group per command, a deadline per attempt, retries, log files.

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
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from driftctl import classify, names, redact
from driftctl.model import (
    CheckResult,
    ErrorKind,
    PlanError,
    PlanResult,
    ResourceChange,
    ResourceCounts,
    Stack,
    State,
    Tool,
)

STDERR_TAIL_LINES = 200
ERROR_MESSAGE_LINES = 12
ERROR_LINE_CHARS = 400  # a newline-free flood must not become a megabyte error message
_MAX_LINE_BYTES = 64 * 1024  # a longer logged line is split, so one giant line cannot grow memory
_CUT_WINDOW_BYTES = 4096  # ... after a separator in its last 4 KiB when there is one
_SEPARATORS = (b" ", b"\t", b",", b";", b'"', b"'", b"&", b"=")
_DRAIN_AFTER_EXIT_SECONDS = 2.0  # a grandchild holding the pipe open must not hang the run
_REAP_SECONDS = 5.0  # how long a SIGKILLed group may take to vanish before it is reported


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
    log_plan: bool = False  # the human plan of drifted stacks in their logs too (redacted): values!
    kill_grace: float = 10.0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None when killed by a signal
    timed_out: bool
    stderr_tail: tuple[str, ...]
    signal_name: str | None = None
    step: str = ""  # the subcommand, for messages: "plan -detailed-exitcode", "show -json"


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
        # the machine-readable stream (Terraform >= 0.15.3, OpenTofu): messages without values, and
        # diagnostics with their structure; the human plan body, which holds values, is never printed
        "-json",
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
    return hashlib.sha256(names.to_bytes(text)).hexdigest()[:8]  # an id need not be valid UTF-8


def run_plans(
    stacks: Sequence[Stack],
    options: RunnerOptions,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> list[PlanResult]:
    """Plans every stack, `options.parallelism` at a time; results in the order of `stacks`.

    An interrupt stops the running plans (SIGTERM, then SIGKILL after `kill_grace`); a second
    interrupt while they stop kills them at once.
    """
    stop = Stop(cancel or threading.Event(), threading.Event())
    pool = ThreadPoolExecutor(max_workers=options.parallelism, thread_name_prefix="plan")
    futures: list[Future[PlanResult]] = []
    try:
        futures.extend(pool.submit(_plan_stack, stack, options, observer, stop) for stack in stacks)
        return [future.result() for future in futures]
    except BaseException:
        _stop_plans(futures, stop)  # Ctrl-C or a crash: stop the running plans, skip the queued ones
        raise
    finally:
        pool.shutdown(wait=True)


def run_tool_commands(
    jobs: Sequence[tuple[Sequence[str], Path, Path]],
    options: RunnerOptions,
    cancel: threading.Event | None = None,
) -> list[CommandOutcome]:
    """(command, cwd, log path) jobs outside a plan (`terragrunt stack generate`), `parallelism` at a
    time, each with a plan's environment, process group, deadline (`timeout`) and redacted log;
    interrupts stop them as they stop plans. Outcomes in the order of `jobs`."""
    stop = Stop(cancel or threading.Event(), threading.Event())
    pool = ThreadPoolExecutor(max_workers=options.parallelism, thread_name_prefix="tool")
    futures: list[Future[CommandOutcome]] = []
    try:
        futures.extend(pool.submit(_run_logged, *job, options, stop) for job in jobs)
        return [future.result() for future in futures]
    except BaseException:
        _stop_plans(futures, stop)
        raise
    finally:
        pool.shutdown(wait=True)


def _run_logged(
    command: Sequence[str], cwd: Path, log_path: Path, options: RunnerOptions, stop: Stop
) -> CommandOutcome:
    with open_log(log_path) as log:
        redactor = redact.Redactor(options.environ)
        deadline = time.monotonic() + options.timeout
        return run_command(command, cwd, tool_environment(options), log, redactor, options, stop, deadline)


def _stop_plans(futures: Sequence[Future[Any]], stop: Stop) -> None:
    stop.cancel.set()
    for future in futures:
        future.cancel()
    # waiting on the futures, not joining the threads: an interrupted Thread.join can mark a
    # running thread stopped, and the process would exit with its tool still running
    try:
        wait(futures)
    except KeyboardInterrupt:
        stop.kill.set()  # a second Ctrl-C: no grace period
        wait(futures)


@dataclass(frozen=True)
class Stop:
    """Requests from outside: `cancel` stops gracefully, `kill` SIGKILLs at once."""

    cancel: threading.Event
    kill: threading.Event


def plan_stack(
    stack: Stack,
    options: RunnerOptions,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> PlanResult:
    return _plan_stack(stack, options, observer, Stop(cancel or threading.Event(), threading.Event()))


def _plan_stack(stack: Stack, options: RunnerOptions, observer: Observer | None, stop: Stop) -> PlanResult:
    started = time.monotonic()
    options.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = log_name(stack)
    log_path = options.log_dir / f"{name}.log"
    try:
        log = open_log(log_path)
    except OSError as error:
        problem = PlanError(ErrorKind.UNKNOWN, f"{log_path}: cannot create the log: {error.strerror}")
        return _finished(stack, _Classified(State.ERRORED, error=problem), None, 0, None, started, observer)
    attempt = 0
    # a fresh private directory: nothing can be planted where the tool writes the plan
    with log, tempfile.TemporaryDirectory(dir=options.log_dir, prefix=".plan-") as private:
        job = _StackJob(
            stack, options, Path(private) / "plan.tfplan", log, redact.Redactor(options.environ), stop
        )
        while True:
            attempt += 1
            if observer is not None:
                observer.started(stack, attempt)
            # one deadline per attempt covers every command of it: init, plan and show -json
            deadline = time.monotonic() + options.timeout
            outcome, stream = job.attempt(deadline)
            kind = _error_kind(outcome, stream)
            retry = (
                outcome.exit_code not in (0, 2)
                and classify.is_transient(kind)
                and attempt <= options.retries
                and not stop.cancel.is_set()
            )
            if not retry:
                break
            delay = options.retry_backoff * 2 ** (attempt - 1)
            log.write(f"\n# driftctl: transient {kind.value} error, retrying in {delay:.0f}s\n")
            log.flush()
            if stop.cancel.wait(delay):
                break
        # the saved plan holds every planned value, secrets included: it goes with the directory
        result = job.classified(outcome, stream, kind, deadline)
    if job.sensitive:
        try:
            redact_file(log_path, job.redactor.with_values(job.sensitive))
        except OSError:
            log_path.unlink(missing_ok=True)  # a log with sensitive values in clear must not stay
    return _finished(stack, result, outcome.exit_code, attempt, log_path, started, observer)


def _finished(
    stack: Stack,
    result: _Classified,
    exit_code: int | None,
    attempts: int,
    log_path: Path | None,
    started: float,
    observer: Observer | None,
) -> PlanResult:
    finished = time.monotonic()
    final = PlanResult(
        stack=stack,
        state=result.state,
        exit_code=exit_code,
        resources=result.resources,
        error=result.error,
        duration_seconds=round(finished - started, 3),
        attempts=attempts,
        log_path=log_path,
        started_monotonic=started,
        finished_monotonic=finished,
        changes=result.changes,
        outside=result.outside,
        checks=result.checks,
    )
    if observer is not None:
        observer.finished(final)
    return final


def redact_file(path: Path, redactor: redact.Redactor) -> None:
    """Masks again, in a finished log, what only the saved plan showed to be sensitive."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        source = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), encoding="utf-8")
        with source, os.fdopen(handle, "w", encoding="utf-8", errors="replace") as target:
            for line in source:
                target.write(redactor.line(line.rstrip("\n")) + "\n")
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def open_log(path: Path) -> IO[str]:
    """A new log file, never a link or file planted at its name: it is replaced, not followed."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class _Classified:
    state: State
    resources: ResourceCounts = field(default_factory=ResourceCounts)
    error: PlanError | None = None
    changes: tuple[ResourceChange, ...] = ()
    outside: tuple[ResourceChange, ...] = ()
    checks: tuple[CheckResult, ...] = ()


def _error_kind(outcome: CommandOutcome, stream: classify.StreamResult | None) -> ErrorKind:
    """From the structured diagnostics when the plan printed any, else from stderr's patterns."""
    error = classify.error_from_diagnostics(stream.diagnostics) if stream is not None else None
    if error is not None and not outcome.timed_out:
        return error.kind
    return classify.error_kind(outcome.stderr_tail, outcome.timed_out)


class _PlanUnreadable(Exception):
    """The saved plan of a drifted stack could not be read: the stack is errored, never drifted blind."""

    def __init__(self, error: PlanError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class _StackJob:
    """What every command of one stack's plan shares: where it runs, where its output goes."""

    stack: Stack
    options: RunnerOptions
    plan_file: Path
    log: IO[str]
    redactor: redact.Redactor
    stop: Stop
    sensitive: set[str] = field(default_factory=set)  # values the saved plan marks sensitive

    def run(
        self,
        command: Sequence[str],
        deadline: float,
        stdout: IO[bytes] | None = None,
        stdout_lines: Callable[[str], str | None] | None = None,
    ) -> CommandOutcome:
        env = tool_environment(self.options)
        return run_command(
            command,
            self.stack.path,
            env,
            self.log,
            self.redactor,
            self.options,
            self.stop,
            deadline,
            stdout,
            stdout_lines,
        )

    def attempt(self, deadline: float) -> tuple[CommandOutcome, classify.StreamResult | None]:
        """init when needed, then the one `plan -json`; what its stream said (None if it did not run)."""
        options = self.options
        fresh = not (self.stack.path / ".terraform").is_dir()
        if options.init and options.tool is not Tool.TERRAGRUNT and fresh:
            # terragrunt auto-inits; plain terraform/tofu needs an explicit init in a fresh checkout
            outcome = self.run([options.binary, "init", "-input=false", "-no-color"], deadline)
            if outcome.exit_code != 0:
                return outcome, None
        stream = classify.PlanStream()
        outcome = self.run(plan_command(options, self.plan_file), deadline, stdout_lines=stream.feed)
        result = stream.result()
        if result.other_lines:
            self.log.write(
                f"# driftctl: {result.other_lines} lines of the plan's stdout were not JSON messages "
                "and were left out of this log (they may hold planned values)\n"
            )
        return outcome, result

    def classified(
        self, outcome: CommandOutcome, stream: classify.StreamResult | None, kind: ErrorKind, deadline: float
    ) -> _Classified:
        if outcome.exit_code is None or outcome.timed_out:
            return _Classified(State.ERRORED, error=PlanError(kind, _error_message(outcome, self.options)))
        state = classify.state_for_exit(outcome.exit_code)
        if state is State.ERRORED:
            return _Classified(state, error=PlanError(kind, self.failure_message(outcome, stream)))
        checks = stream.checks if stream is not None else ()
        if state is State.CLEAN:
            # a clean plan is one invocation: what changed outside Terraform comes from the stream
            return _Classified(state, outside=stream.drift if stream is not None else (), checks=checks)
        try:
            summary, detail = self.read_plan(deadline)
        except _PlanUnreadable as unreadable:
            self.log.write(f"# driftctl: {unreadable.error.message}\n")
            return _Classified(State.ERRORED, error=unreadable.error)
        if self.options.log_plan:
            self.log_human_plan(deadline)
        return _Classified(
            classify.final_state(summary, self.options.outputs_count_as_drift),
            summary.resources,
            changes=detail.changes,
            outside=detail.outside,
            checks=detail.checks or checks,
        )

    def failure_message(self, outcome: CommandOutcome, stream: classify.StreamResult | None) -> str:
        """The error diagnostics (summary, place, detail), else the end of stderr; redacted, bounded."""
        error = classify.error_from_diagnostics(stream.diagnostics) if stream is not None else None
        if error is None:
            return _error_message(outcome, self.options)
        lines = [_clip(self.redactor.line(line)) for line in error.message.splitlines()]
        return "\n".join(lines[:ERROR_MESSAGE_LINES])

    def log_human_plan(self, deadline: float) -> None:
        """`--log-plan`: the saved plan as text, through the redactor, into the log."""
        self.log.write("# driftctl: --log-plan: the human plan follows; it holds planned values\n")
        outcome = self.run([self.options.binary, "show", "-no-color", str(self.plan_file)], deadline)
        if outcome.exit_code != 0:
            self.log.write("# driftctl: the human plan could not be shown\n")

    def read_plan(self, deadline: float) -> tuple[classify.PlanSummary, classify.PlanDetail]:
        """Counts and resources from `show -json` of the saved plan, within the attempt's deadline.

        The JSON is one line of any size: it is captured as raw bytes, never split or decoded on
        the way. A plan that cannot be read raises `_PlanUnreadable`.
        """
        command = [self.options.binary, "show", "-json", "-no-color", str(self.plan_file)]
        with tempfile.TemporaryFile(dir=self.plan_file.parent) as stdout:
            outcome = self.run(command, deadline, stdout=stdout)
            if outcome.exit_code != 0 or outcome.timed_out:
                kind = ErrorKind.TIMEOUT if outcome.timed_out else ErrorKind.UNKNOWN
                reason = _error_message(outcome, self.options)
                raise _PlanUnreadable(PlanError(kind, f"cannot read the saved plan: {reason}"))
            stdout.seek(0)
            try:
                document = classify.parse_plan_json(stdout.read().decode("utf-8", "replace"))
            except classify.PlanFormatError as error:
                message = f"cannot read the saved plan: {error}"
                raise _PlanUnreadable(PlanError(ErrorKind.UNKNOWN, message)) from None
        self.sensitive.update(redact.sensitive_values(document))
        return classify.summarize(document), classify.detail(document)


def _error_message(outcome: CommandOutcome, options: RunnerOptions) -> str:
    """At most ERROR_MESSAGE_LINES lines of at most ERROR_LINE_CHARS characters each."""
    if outcome.timed_out:
        return f"timed out after {options.timeout:g}s (in `{outcome.step}`); the process group was killed"
    lines = [line.strip() for line in outcome.stderr_tail if line.strip()]
    tail = "\n".join(lines[-ERROR_MESSAGE_LINES:])
    if outcome.exit_code is None:
        return f"killed by {outcome.signal_name or 'a signal'}" + (f"\n{tail}" if tail else "")
    return tail or f"exited with code {outcome.exit_code} and printed nothing on stderr"


def _clip(line: str) -> str:
    if len(line) <= ERROR_LINE_CHARS:
        return line
    return f"{line[:ERROR_LINE_CHARS]}… (cut at {ERROR_LINE_CHARS} characters; the log has the whole line)"


def run_command(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log: IO[str],
    redactor: redact.Redactor,
    options: RunnerOptions,
    stop: Stop,
    deadline: float,
    stdout: IO[bytes] | None = None,
    stdout_lines: Callable[[str], str | None] | None = None,
) -> CommandOutcome:
    """Runs one command in its own process group until `deadline`; stderr goes to the log.

    Stdout goes to the log line by line, or when `stdout` is given, into it as raw bytes: what is
    parsed is never split or re-encoded. `stdout_lines` reads each line and says what the log keeps
    of it (None: nothing).
    """
    step = " ".join(command[1:3])
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
        return CommandOutcome(exit_code=127, timed_out=False, stderr_tail=(message,), step=step)
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def on_stdout(line: str, continued: bool) -> None:
        kept = line if stdout_lines is None else stdout_lines(line)
        if kept is not None:
            log.write(redactor.line(kept) + "\n")

    def on_stderr(line: str, continued: bool) -> None:
        clean = redactor.line(line)
        if not continued:  # the log keeps the whole line; the tail only the start a message shows
            tail.append(_clip(clean))
        log.write(clean + "\n")

    out_lines, err_lines = _Lines(on_stdout), _Lines(on_stderr)
    sinks = {"out": stdout.write if stdout is not None else out_lines.feed, "err": err_lines.feed}
    timed_out = _pump(process, sinks, deadline, options, stop, log)
    out_lines.close()
    err_lines.close()
    log.flush()
    code = process.returncode
    if code is not None and code < 0:
        return CommandOutcome(None, timed_out, tuple(tail), signal.Signals(-code).name, step)
    return CommandOutcome(code, timed_out, tuple(tail), step=step)


def _pump(
    process: subprocess.Popen[bytes],
    sinks: Mapping[str, Callable[[bytes], object]],
    deadline: float,
    options: RunnerOptions,
    stop: Stop,
    log: IO[str],
) -> bool:
    """Streams both pipes until the command and every process of its group are gone.

    At the deadline or on cancel the group gets SIGTERM, and SIGKILL after the grace period
    whether or not the leader has exited, since a grandchild may ignore SIGTERM; `stop.kill`
    SIGKILLs at once. What the tool leaves running when it exits is stopped the same way. The
    leader is reaped last, so its pid (the group's id) cannot be reused while the group is
    signalled. Returns whether the deadline was hit.
    """
    assert process.stdout is not None and process.stderr is not None
    group = process.pid
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, sinks["out"])
    selector.register(process.stderr, selectors.EVENT_READ, sinks["err"])
    timed_out = False
    term_at: float | None = None
    killed_at: float | None = None
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and _has_exited(process):
                exited_at = now
            pipes_open = bool(selector.get_map())
            leftovers = False
            if exited_at is not None and (not pipes_open or now - exited_at > _DRAIN_AFTER_EXIT_SECONDS):
                leftovers = bool(_live_members(group))
                if not leftovers:
                    break
            if term_at is None and (leftovers or now >= deadline or stop.cancel.is_set()):
                timed_out = exited_at is None and now >= deadline
                _signal_group(group, signal.SIGTERM)
                term_at = now
            grace_over = term_at is not None and (stop.kill.is_set() or now >= term_at + options.kill_grace)
            if grace_over and killed_at is None:
                _signal_group(group, signal.SIGKILL)
                killed_at = now
            if killed_at is not None and now >= killed_at + _REAP_SECONDS:
                survivors = " ".join(map(str, _live_members(group)))
                log.write(f"# driftctl: processes {survivors} of group {group} survived SIGKILL\n")
                break
            if pipes_open:
                for key, _ in selector.select(timeout=0.1):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        key.data(chunk)
                    else:
                        selector.unregister(key.fileobj)
            else:
                stop.kill.wait(0.05)
    finally:
        selector.close()
        process.stdout.close()
        process.stderr.close()
        _signal_group(group, signal.SIGKILL)  # nothing of the tool outlives the command
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_REAP_SECONDS)
    return timed_out


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the leader has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _live_members(group: int) -> list[int]:
    """The processes of the group that are not zombies (the unreaped leader is one), from /proc."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass
    try:
        pids = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    except OSError:
        return []  # no /proc: the final SIGKILL to the group is all that can be done
    members = []
    for pid in pids:
        try:
            stat = (pid / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(pid.name))
    return members


class _Lines:
    """Bytes → lines for the log; a line longer than _MAX_LINE_BYTES is passed on in pieces.

    The handler is told whether a piece continues the line before it.
    """

    def __init__(self, handler: Callable[[str, bool], None]) -> None:
        self._handler = handler
        self._buffer = bytearray()
        self._continued = False

    def feed(self, chunk: bytes) -> None:
        buffer = self._buffer
        buffer.extend(chunk)
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            self._emit(newline + 1)
            self._continued = False
        while len(buffer) > _MAX_LINE_BYTES:
            self._emit(_cut_point(buffer))
            self._continued = True

    def close(self) -> None:
        if self._buffer:
            self._emit(len(self._buffer))

    def _emit(self, end: int) -> None:
        self._handler(self._buffer[:end].decode("utf-8", "replace").rstrip("\n"), self._continued)
        del self._buffer[:end]


def _cut_point(buffer: bytearray) -> int:
    """Where an over-long line is cut: after the last separator near the limit, so a token is not
    split into two pieces each too short to be masked; else at the limit, outside a UTF-8 character.
    """
    start = _MAX_LINE_BYTES - _CUT_WINDOW_BYTES
    separator = max(buffer.rfind(byte, start, _MAX_LINE_BYTES) for byte in _SEPARATORS)
    if separator >= 0:
        return separator + 1
    cut = _MAX_LINE_BYTES
    while cut > _MAX_LINE_BYTES - 4 and buffer[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
