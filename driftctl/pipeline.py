"""The library's front door: discover → select → plan → classify → publish, for one config."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from driftctl import __version__, alerts, discover, git, names, pushgateway, report, schedule, stackgen, state
from driftctl import changed as changed_stacks
from driftctl.config import Config
from driftctl.model import ExitCode, FailOn, PlanResult, RunReport, Selection, Stack, StackSeries, State
from driftctl.runner import Observer, RunnerOptions, run_plans
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
    selection: Selection
    log_dir: Path
    exit_code: ExitCode
    published: pushgateway.PublishOutcome | None = None
    # what failed around the plans (report, push); the run then exits 1 whatever the plans said
    errors: tuple[str, ...] = ()
    report_path: Path | None = None  # where the JSON report was written
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
        return changed_stacks.select_changed(
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


def push_options(config: Config, environ: Mapping[str, str]) -> pushgateway.PushOptions | None:
    """The Pushgateway settings when this run publishes metrics; credentials come from the environment."""
    if not (config.push or config.dry_run_push):
        return None
    if config.push and not config.pushgateway_url and not config.dry_run_push:
        raise UsageError("--push needs --pushgateway URL (or DRIFTCTL_PUSHGATEWAY_URL)")
    options = pushgateway.PushOptions(
        url=config.pushgateway_url,
        job=config.job,
        grouping_labels=dict(config.grouping_labels),
        username=environ.get("DRIFTCTL_PUSHGATEWAY_USERNAME") or None,
        password=environ.get("DRIFTCTL_PUSHGATEWAY_PASSWORD") or None,
        token=environ.get("DRIFTCTL_PUSHGATEWAY_TOKEN") or None,
        ca_bundle=config.ca_bundle,
        timeout_seconds=config.push_timeout,
        allow_reset=config.allow_reset,
        dry_run=config.dry_run_push,
    )
    try:
        pushgateway.check_options(options)
    except pushgateway.PushgatewayConfigError as error:
        raise UsageError(str(error)) from None
    return options


def previous_series(options: pushgateway.PushOptions | None) -> dict[str, StackSeries]:
    """What the gateway held before this run (durations to start slow stacks first, the notifications'
    last state); best effort."""
    if options is None or options.url is None:
        return {}
    try:
        return pushgateway.read_back(options).series
    except pushgateway.PushgatewayError:
        return {}  # the publish step reads back again after the plans and reports the failure then


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
    options: notify.NotifyOptions,
    run: RunReport,
    selection: Selection,
    previous: Mapping[str, StackSeries],
    published: pushgateway.PublishOutcome | None,
    environ: Mapping[str, str],
) -> notify.NotifyOutcome | None:
    """The notification sinks, reading the merged state: the pushed one, else this run merged locally."""
    if not options.active:
        return None
    merged = (
        published.series
        if published is not None
        else state.merge(previous, run.results, run.finished_at.timestamp(), selection.known, run.removed)
    )
    return notify.notify(options, run, previous, merged, ci.from_environ(environ))


def publish(
    options: pushgateway.PushOptions, run: RunReport, selection: Selection
) -> tuple[pushgateway.PublishOutcome | None, str | None]:
    """Read back, merge, push one batch: the outcome, or why nothing was pushed."""
    try:
        return pushgateway.publish(options, run, selection.known, version=__version__), None
    except pushgateway.PushgatewayError as error:
        return None, str(error)


def preflight(
    config: Config, environ: Mapping[str, str] | None = None
) -> tuple[str, pushgateway.PushOptions | None]:
    """Everything that can be checked before a plan runs: the tool, the report path, the Pushgateway."""
    check_report_path(config)
    environ = os.environ if environ is None else environ
    notify_options(config, environ)
    return tool_binary(config), push_options(config, environ)


def plan(
    config: Config,
    selection: Selection,
    log_dir: Path,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> Outcome:
    """Plans the selection, writes the report, then publishes the metrics.

    Options that cannot work are rejected before any plan runs; the report is written before the
    push, so a failed push never loses the run's results.
    """
    binary, metrics = preflight(config, environ)
    environ = os.environ if environ is None else environ
    notifying = notify_options(config, environ)
    selection = names.printable_selection(selection)  # ids go to logs, JSON and metric labels
    started = datetime.now(timezone.utc)
    previous = previous_series(metrics)
    durations = {stack: series.duration_seconds for stack, series in previous.items()}
    order = schedule.longest_first(selection.stacks, durations)
    results = plan_units(order, runner_options(config, binary, log_dir), observer, cancel)
    run = RunReport(
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        root=config.root.resolve(),
        tool=config.tool,
        mode=selection.mode,
        results=tuple(results),
        removed=selection.removed,
    )
    report_error = write_report(config.report, run)
    published, publish_error = publish(metrics, run, selection) if metrics is not None else (None, None)
    # after the report and the push: a failing Slack or tracker cannot lose either
    notified = tell(notifying, run, selection, previous, published, environ)
    errors = tuple(error for error in (report_error, publish_error) if error)
    if notified is not None and not config.notify_failures_ok:
        errors += notified.errors
    return Outcome(
        report=run,
        selection=selection,
        log_dir=log_dir,
        exit_code=ExitCode.ERROR if errors else exit_code(run, config.fail_on),
        published=published,
        errors=errors,
        report_path=config.report if config.report is not None and report_error is None else None,
        notified=notified,
    )


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


def write_report(path: Path | None, run: RunReport) -> str | None:
    """Writes the JSON report; why it could not be, if so (the push still goes ahead)."""
    if path is None:
        return None
    try:
        report.write_atomic(path, report.to_json(run))
    except OSError as error:
        return f"{path}: cannot write the report: {error.strerror}"
    return None


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
