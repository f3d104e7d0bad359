"""The library's front door: discover → select → plan → classify → publish, for one config."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

from driftctl import __version__, alerts, combine, discover, ignore, names, report, schedule, shard, stackgen
from driftctl.config import Config
from driftctl.history import pushgateway, query
from driftctl.history.merge import MergedState, merge_run
from driftctl.history.record import Stores, open_history, open_stores, record
from driftctl.history.sql import RunRow, SqlStore
from driftctl.history.store import StoreConfigError, StoreError
from driftctl.model import ExitCode, FailOn, PlanResult, RunReport, Selection, Stack, State, Tool
from driftctl.runner import Observer, RunnerOptions, run_plans
from driftctl.selection import git
from driftctl.selection import select_changed as select_by_change
from driftctl.sinks import ci, notify
from driftctl.sinks.forge import IssueLabels
from driftctl.sinks.http import RetryPolicy
from driftctl.sinks.issues import IssueSettings


class UsageError(Exception):
    """The request cannot be carried out as asked (exit 3)."""


class OperationalError(Exception):
    """Something around the plans failed: a missing tool, a failed push (exit 1)."""


@dataclass(frozen=True)
class Outcome:
    report: RunReport
    exit_code: ExitCode
    published: pushgateway.PublishOutcome | None = None
    # what failed around the plans (report, push, history); the run then exits 1 whatever the plans said
    errors: tuple[str, ...] = ()
    report_path: Path | None = None  # where the JSON report was written
    merged: MergedState | None = None  # the run merged into the authoritative store: what sinks read
    history: str | None = None  # the history store the run was recorded in
    notes: tuple[str, ...] = ()  # warnings that changed nothing
    warnings: tuple[str, ...] = ()  # expired ignore rules
    notified: notify.NotifyOutcome | None = None


def all_stacks(config: Config) -> list[Stack]:
    """Every unit under the root (excluded ones too), before any include/exclude glob."""
    return list(discovered(config).stacks)


def discovered(config: Config) -> discover.Discovery:
    try:
        return discover.discover_all(
            config.root, config.tool, root_config=config.root_config, module_patterns=config.module_patterns
        )
    except discover.DiscoveryError as error:
        raise UsageError(str(error)) from None


def select(config: Config, paths: Sequence[Path] = (), changed: bool = False) -> Selection:
    """The stacks the include/exclude globs keep: all, those at the given paths, or those a change affects.

    Units an `exclude` block or `skip` leaves out are never planned; a glob or root that keeps
    nothing at all is an error (exit 3), while `--changed` may rightly select nothing.
    """
    return _select(config, paths, changed)


def shard_selection(
    config: Config, selection: Selection, durations: Mapping[str, float | None] | None = None
) -> Selection:
    """This worker's part of the selection with `config.shard`, balanced by the expected `durations`."""
    if config.shard is None:
        return selection
    stacks, part = shard.split(selection.stacks, config.shard, durations)
    return replace(selection, stacks=tuple(stacks), shard=part)


def _select(config: Config, paths: Sequence[Path], changed: bool) -> Selection:
    found = discovered(config)
    everything = list(found.stacks)
    excluded = tuple(stack for stack in everything if stack.excluded)
    planned = [stack for stack in everything if not stack.excluded]
    stacks = _globbed(config, planned, excluded)
    if changed:
        chosen = select_changed(config, everything, {stack.id for stack in stacks})
        return replace(chosen, excluded=excluded, warnings=found.warnings)
    mode = "paths" if paths else "all"
    if paths:
        try:
            stacks = discover.stacks_at_paths(stacks, paths)
        except discover.DiscoveryError as error:
            raise UsageError(str(error)) from None
    known = tuple(stack.id for stack in planned)
    return Selection(tuple(stacks), mode, known=known, excluded=excluded, warnings=found.warnings)


def _globbed(config: Config, planned: Sequence[Stack], excluded: Sequence[Stack]) -> list[Stack]:
    """`--include`/`--exclude` applied; keeping nothing is an error naming the globs."""
    for pattern in config.include:
        if not any(discover.matches_any(stack.id, [pattern]) for stack in (*planned, *excluded)):
            raise UsageError(
                f"--include {pattern!r} matches none of the {len(planned)} stacks under {config.root}"
            )
    stacks = discover.filter_stacks(planned, config.include, config.exclude)
    if stacks:
        return stacks
    if planned and config.exclude:
        raise UsageError(f"--include/--exclude leave none of the {len(planned)} stacks under {config.root}")
    reasons = "; ".join(f"{s.id}: {s.excluded}" for s in excluded[:3])
    raise UsageError(f"every unit under {config.root} is excluded from plans ({reasons})")


def select_changed(config: Config, everything: Sequence[Stack], allowed: set[str]) -> Selection:
    """`--changed`: dependency chains may run through stacks the globs leave out, so all are passed."""
    try:
        return select_by_change(
            config.root.resolve(),
            everything,
            config.base,
            config.include_uncommitted,
            config.global_files,
            only=allowed,
            tool=config.tool,
            module_patterns=config.module_patterns,
        )
    except git.GitError as error:
        raise UsageError(str(error)) from None


def tool_binary(config: Config) -> str:
    name = config.tool_binary or config.tool.value
    found = shutil.which(name)
    if found is not None:
        return found
    if os.sep in name:  # a path is used as it is, never searched for
        path = Path(name)
        problem = "not executable" if path.is_file() else "not a file" if path.exists() else "no such file"
        raise OperationalError(f"{name}: {problem} (point --tool-binary / DRIFTCTL_TOOL_BINARY at the tool)")
    raise OperationalError(
        f"{name}: not found on PATH (install it, or point --tool-binary / DRIFTCTL_TOOL_BINARY at it)"
    )


def runner_options(config: Config, binary: str, log_dir: Path) -> RunnerOptions:
    return RunnerOptions(
        binary=binary,
        tool=config.tool,
        log_dir=log_dir,
        parallelism=config.parallelism,
        timeout=config.timeout,
        retries=config.retries,
        retry_backoff=config.retry_backoff,
        lock=config.lock,
        init=config.init,
        outputs_count_as_drift=config.outputs_count_as_drift,
        log_plan=config.log_plan,
    )


def exit_code(run: RunReport, fail_on: FailOn) -> ExitCode:
    if fail_on is FailOn.NEVER:
        return ExitCode.CLEAN
    if run.count(State.ERRORED):
        return ExitCode.ERROR
    if fail_on is FailOn.DRIFT and run.count(State.DRIFTED):
        return ExitCode.DRIFT
    return ExitCode.CLEAN


def make_log_dir(config: Config) -> Path:
    try:
        if config.log_dir is not None:
            config.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return config.log_dir.resolve()
        return Path(tempfile.mkdtemp(prefix="driftctl-logs-"))
    except OSError as error:
        raise UsageError(
            f"{config.log_dir or tempfile.gettempdir()}: cannot create the log directory: {error.strerror}"
        ) from None


def check_report_path(config: Config) -> None:
    """A report that cannot be written is found out before an hour of plans, not after."""
    if config.report is None:
        return
    directory = config.report.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{config.report}: cannot create its directory: {error.strerror}") from None
    if config.report.is_dir() or not os.access(directory, os.W_OK):
        raise UsageError(f"{config.report}: not a writable file path")


def notify_options(config: Config, environ: Mapping[str, str]) -> notify.NotifyOptions:
    """Slack, issues and the pull request's comment as configured; what cannot work is a usage error."""
    context = ci.from_environ(environ)
    issues = config.issue_tracker is not None
    forge = None
    try:
        if issues or config.comment_on_pr:
            needed_by = "--issue-tracker" if issues else "--comment-on-pr"
            forge = notify.forge_settings(
                config.issue_tracker, config.issue_repo, config.issue_api_url, environ, context, needed_by
            )
    except notify.NotifyConfigError as error:
        raise UsageError(str(error)) from None
    webhook = config.slack_webhook_url
    if webhook is not None and not webhook.startswith(("https://", "http://")):
        raise UsageError("--slack-webhook / DRIFTCTL_SLACK_WEBHOOK_URL: not an http(s) URL")
    return notify.NotifyOptions(
        mode=config.notify,
        slack_webhook=webhook if config.notify != "never" else None,
        issues=issues,
        comment_on_pr=config.comment_on_pr,
        forge=forge,
        issue_settings=IssueSettings(config.issue_errors_after, config.max_open_issues),
        labels=IssueLabels(config.issue_label, config.issue_error_label),
        policy=RetryPolicy(
            budget_seconds=config.notify_timeout, timeout_seconds=min(config.notify_timeout, 10)
        ),
    )


def tell(
    options: notify.NotifyOptions | None,
    run: RunReport,
    merged: MergedState | None,
    environ: Mapping[str, str],
) -> notify.NotifyOutcome | None:
    """The notification sinks, reading the merged state; when the authoritative store failed, this run
    alone (every drift looks new to Slack then; the issues keep their own memory)."""
    if options is None or not options.active:
        return None
    merged = merged if merged is not None else merge_run({}, run)
    return notify.notify(options, run, merged, ci.from_environ(environ))


def preflight(config: Config, environ: Mapping[str, str] | None = None) -> tuple[str, Stores]:
    """Everything that can be checked before a plan runs: the tool, the report path, the stores."""
    check_report_path(config)
    binary = tool_binary(config)
    return binary, stores_for(config, environ)


def stores_for(config: Config, environ: Mapping[str, str] | None = None) -> Stores:
    """The run's stores and notification settings, checked: bad settings are usage errors, unreachable
    stores operational."""
    environ = os.environ if environ is None else environ
    notify_options(config, environ)
    try:
        return open_stores(config, environ, __version__)
    except StoreConfigError as error:
        raise UsageError(str(error)) from None
    except StoreError as error:
        raise OperationalError(str(error)) from None


def plan(
    config: Config,
    selection: Selection,
    log_dir: Path,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
    checked: tuple[str, Stores] | None = None,
) -> Outcome:
    """Plans the selection, writes the report, then publishes the metrics.

    Options and stores that cannot work are rejected before any plan runs (`checked` is what
    `preflight` returned, when the caller ran it already); the report is written before the push and
    the history, so a failed store never loses the run's results.
    """
    binary, stores = checked if checked is not None else preflight(config, environ)
    environ = os.environ if environ is None else environ
    if selection.shard is not None:
        # `publish` records and tells the whole run once; a shard recording its durations would change
        # the partition of every shard that reads the history after it (a shared PostgreSQL history)
        stores = replace(stores, history=None)
    notifying = None if selection.shard is not None else notify_options(config, environ)
    selection = names.printable_selection(selection)  # ids go to logs, JSON and metric labels
    started = datetime.now(timezone.utc)
    order = schedule.longest_first(selection.stacks, stores.durations())
    rules = _Rules(config, datetime.now(timezone.utc).date())
    watching = _RuledObserver(observer, rules) if observer is not None else None
    results = rules.apply(plan_units(order, runner_options(config, binary, log_dir), watching, cancel))
    run = RunReport(
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        root=config.root.resolve(),
        tool=config.tool,
        mode=selection.mode,
        results=results.results,
        removed=selection.removed,
        known=selection.known,
        shard=selection.shard,
        commit=git.head(config.root),
    )
    return _conclude(config, run, stores, notifying, environ, results.warnings)


def publish_reports(
    config: Config,
    paths: Sequence[Path],
    allow_partial: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Outcome:
    """`driftctl publish`: the shards' reports merged into one run, then recorded as `plan --push` does."""
    check_report_path(config)
    try:
        parts = [combine.ShardReport(str(path), report.read(path)) for path in paths]
        run = combine.combine(parts, allow_partial)
    except (report.ReportFormatError, combine.CombineError) as error:
        raise UsageError(str(error)) from None
    # the history is kept per repository root: the one the shards planned, wherever publish runs
    stores = stores_for(replace(config, push=True, root=run.root), environ)
    environ = os.environ if environ is None else environ
    return _conclude(config, run, stores, notify_options(config, environ), environ)


def _conclude(
    config: Config,
    run: RunReport,
    stores: Stores,
    notifying: notify.NotifyOptions | None,
    environ: Mapping[str, str],
    warnings: tuple[str, ...] = (),
) -> Outcome:
    """The report is written first, so a failed store never loses the run's results; then one record,
    then the notifications, which read what the record merged."""
    report_error = write_report(config.report, run)
    recorded = record(config, run, stores)
    errors = (report_error, *recorded.errors) if report_error else recorded.errors
    # after the report, the push and the history: a failing Slack or tracker cannot lose any of them
    notified = tell(notifying, run, recorded.merged, environ)
    if notified is not None and not config.notify_failures_ok:
        errors = (*errors, *notified.errors)
    return Outcome(
        report=run,
        exit_code=ExitCode.ERROR if errors else exit_code(run, config.fail_on),
        published=recorded.published,
        errors=errors,
        report_path=config.report if config.report is not None and report_error is None else None,
        merged=recorded.merged,
        history=recorded.history,
        notes=recorded.notes,
        warnings=warnings,
        notified=notified,
    )


@dataclass(frozen=True)
class _Rules:
    """The noise rules of a run, applied to each result as it finishes and to all of them at the end."""

    config: Config
    today: date

    def apply(self, results: Sequence[PlanResult]) -> ignore.Applied:
        return ignore.apply(results, self.config.ignore, self.today, self.config.outside_counts_as_drift)


@dataclass(frozen=True)
class _RuledObserver:
    """Progress shows each stack as the report will: a stack whose every change is ignored is clean."""

    observer: Observer
    rules: _Rules

    def started(self, stack: Stack, attempt: int) -> None:
        self.observer.started(stack, attempt)

    def finished(self, result: PlanResult) -> None:
        self.observer.finished(self.rules.apply([result]).results[0])


def plan_units(
    stacks: Sequence[Stack],
    options: RunnerOptions,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
) -> list[PlanResult]:
    """Generates the Terragrunt Stacks the units need, then plans them; results in `stacks` order."""
    failures = stackgen.generate(stacks, options, cancel)
    failed = {result.stack.id: result for result in stackgen.failed_results(stacks, failures)}
    for result in failed.values():
        if observer is not None:
            observer.finished(result)
    planned = run_plans([s for s in stacks if s.id not in failed], options, observer, cancel)
    by_id = {result.stack.id: result for result in planned} | failed
    return [by_id[stack.id] for stack in stacks]


def history_store(config: Config, environ: Mapping[str, str] | None = None) -> SqlStore:
    """The history store `driftctl history` reads: the one `driftctl plan` with this config records in."""
    try:
        store = open_history(config, os.environ if environ is None else environ, __version__)
    except StoreConfigError as error:
        raise UsageError(str(error)) from None
    if store is None:
        raise UsageError("--history none: there is no history store to read")
    return store


def stack_history(store: SqlStore, patterns: Sequence[str], since: float) -> list[query.StackHistory]:
    """Per stack: its state, first-seen time, and drift episodes open or resolved since `since`."""
    try:
        rows = query.summarize(store.load(), store.episodes(since), store.last_error_kinds(), patterns)
    except StoreError as error:
        raise OperationalError(str(error)) from None
    _found_something(store, rows, patterns)
    return rows


def run_history(store: SqlStore, since: float) -> list[RunRow]:
    try:
        runs = store.runs(since)
    except StoreError as error:
        raise OperationalError(str(error)) from None
    _found_something(store, runs, ())
    return runs


def _found_something(store: SqlStore, rows: Sequence[object], patterns: Sequence[str]) -> None:
    """An empty answer is never shown as success: say whether nothing was recorded or nothing matched."""
    if rows:
        return
    if patterns:
        raise UsageError(f"no stack recorded for {store.root} matches {', '.join(map(repr, patterns))}")
    raise OperationalError(f"no run of {store.root} is recorded in {store.name} (in that window)")


def write_report(path: Path | None, run: RunReport) -> str | None:
    """Writes the JSON report; why it could not be, if so (the push still goes ahead)."""
    if path is None:
        return None
    try:
        report.write_atomic(path, report.to_json(run))
    except OSError as error:
        return f"{path}: cannot write the report: {error.strerror}"
    return None


def last_result(config: Config, stack: str) -> tuple[PlanResult, str]:
    """One stack of the last report (`config.report`) and when that run finished, for `driftctl show`."""
    path = config.report
    if path is None:
        raise UsageError("no report to read: give --report FILE (or report: in .driftctl.yaml)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = {entry["stack"]: entry for entry in document["stacks"]}
        root, tool = Path(document["root"]), Tool(document["tool"])
    except OSError as error:
        raise UsageError(f"{path}: cannot read the report: {error.strerror}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: not a driftctl report ({type(error).__name__}: {error})") from None
    if stack not in entries:
        raise UsageError(
            f"{stack}: not in {path} (it holds {len(entries)} stacks; `driftctl stacks` lists ids)"
        )
    try:
        return report.result_from_dict(entries[stack], root, tool), str(document.get("finished_at", "?"))
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: stack {stack} is malformed ({type(error).__name__}: {error})") from None


def alert_rules(config: Config) -> str:
    """The Prometheus rule file for this config's thresholds and Pushgateway job."""
    try:
        return alerts.render_rules(
            alerts.AlertThresholds(
                stale_hours=config.alert_stale_hours,
                unaddressed_hours=config.alert_unaddressed_hours,
                many_stacks=config.alert_many_stacks,
                erroring_runs=config.alert_erroring_runs,
                runbook_base_url=config.alert_runbook_url or alerts.DEFAULT_RUNBOOK_BASE_URL,
                job=config.job,
            )
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
