"""The command line: parses options into a Config, calls the library, maps the outcome to an exit code."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from driftctl import __version__, config, ignore, pipeline, render
from driftctl import report as report_format
from driftctl.history import query as history_query
from driftctl.history import store
from driftctl.model import ExitCode, Selection, Stack
from driftctl.names import printable
from driftctl.selection import explain_lines
from driftctl.sinks import notify

if TYPE_CHECKING:
    from rich.console import Console

    from driftctl.history.record import Stores

EXIT_CODES_HELP = """\b
Exit codes:
  0  every stack clean (or --fail-on never / error with only drift)
  1  a stack errored, or an operational failure (tool missing, push failed)
  2  drift found and no stack errored
  3  usage or configuration error
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): running plans are stopped
"""

F = TypeVar("F", bound=Callable[..., Any])


def _decorated(command: F, decorators: Sequence[Callable[[Any], Any]]) -> F:
    """`command` with a group of options, listed in `--help` in the order given."""
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def selection_options(command: F) -> F:
    """Options shared by `stacks` and `plan`: where stacks are and which are chosen."""
    decorators = [
        click.option("--root", type=click.Path(file_okay=False), help="Repository root.  [default: .]"),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file."),
        click.option(
            "--tool",
            type=click.Choice(["auto", "terragrunt", "terraform", "tofu"]),
            help="Stack layout; auto: terragrunt when the root holds terragrunt.hcl or terragrunt.stack.hcl"
            " files, else tofu for *.tofu files or when only tofu is installed, else terraform."
            "  [default: auto]",
        ),
        click.option("--root-config", help="Name of the include parent at the root.  [default: root.hcl]"),
        click.option("--module-pattern", "module_patterns", multiple=True, help="Not a stack (tf/tofu)."),
        click.option("--include", multiple=True, help="Only stacks whose id matches this glob."),
        click.option("--exclude", multiple=True, help="Skip stacks whose id matches this glob."),
        click.option("--shard", help="I/N: only part I of N of the chosen stacks (a CI matrix's worker)."),
    ]
    return _decorated(command, decorators)


def changed_options(command: F) -> F:
    """`--changed` and what it compares against."""
    decorators = [
        click.option("--changed", is_flag=True, help="Only stacks a change since --base can affect."),
        click.option(
            "--base", help="Git ref to compare with.  [default: merge-base with origin/HEAD, or HEAD~1]"
        ),
        click.option(
            "--include-uncommitted", is_flag=True, default=None, help="Count working-tree and staged changes."
        ),
    ]
    return _decorated(command, decorators)


def result_options(command: F) -> F:
    """What a run's result does: the exit code, stdout, the JSON report (`plan` and `publish`)."""
    decorators = [
        click.option("--fail-on", type=click.Choice(["drift", "error", "never"]), help="[default: drift]"),
        click.option("--format", type=click.Choice(["table", "json", "markdown"]), help="[default: table]"),
        click.option("--report", type=click.Path(dir_okay=False), help="Write the JSON report here."),
    ]
    return _decorated(command, decorators)


def pushgateway_options(command: F) -> F:
    """Where and how the metrics are pushed (`plan --push` and `publish`)."""
    decorators = [
        click.option(
            "--pushgateway", "pushgateway_url", help="Pushgateway URL (env DRIFTCTL_PUSHGATEWAY_URL)."
        ),
        click.option("--job", help="Pushgateway job label.  [default: drift-detection]"),
        click.option("--grouping-label", "grouping_labels", multiple=True, help="Extra grouping label k=v."),
        click.option(
            "--allow-reset",
            is_flag=True,
            default=None,
            help="Push even if the read-back failed, or if the run drops most of the stored stacks.",
        ),
        click.option(
            "--dry-run-push", is_flag=True, default=None, help="Print the metrics instead of pushing."
        ),
        click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA bundle for the Pushgateway."),
    ]
    return _decorated(command, decorators)


def notify_options(command: F) -> F:
    """Slack, the forge's issues and the pull request's comment (the token: DRIFTCTL_ISSUE_TOKEN only)."""
    decorators = [
        click.option("--notify", type=click.Choice(["on-change", "always", "never"]), help="[on-change]"),
        click.option(
            "--slack-webhook", "slack_webhook_url", help="Slack webhook (DRIFTCTL_SLACK_WEBHOOK_URL)."
        ),
        click.option(
            "--issue-tracker", type=click.Choice(["github", "gitea"]), help="File one issue per drift."
        ),
        click.option("--issue-repo", help="OWNER/NAME.  [default: the CI's repository]"),
        click.option("--issue-api-url", help="GitHub Enterprise, Gitea, Forgejo (https://HOST/api/v1)."),
        click.option("--issue-label", help="Label of drift issues.  [default: drift]"),
        click.option("--issue-error-label", help="Label of failing-plan issues.  [default: drift-error]"),
        click.option("--issue-errors-after", type=int, help="Failed runs in a row before an issue.  [3]"),
        click.option("--max-open-issues", type=int, help="Issues one run may open.  [no limit]"),
        click.option(
            "--comment-on-pr", is_flag=True, default=None, help="--changed in a PR: comment the report."
        ),
        click.option(
            "--notify-failures-ok", is_flag=True, default=None, help="A failing sink does not fail the run."
        ),
        click.option("--notify-timeout", help="Per Slack/forge request, retries included.  [default: 60s]"),
    ]
    return _decorated(command, decorators)


def history_options(command: F) -> F:
    """Where runs are recorded, and for how long."""
    decorators = [
        click.option(
            "--history",
            "history_url",
            help="sqlite:///file.db, postgresql://user@host:port/db or none (env DRIFTCTL_HISTORY_URL).  "
            "[default: a SQLite file per root under $XDG_STATE_HOME/driftctl]",
        ),
        click.option("--history-retention", help="Keep recorded runs this long.  [default: 400d]"),
    ]
    return _decorated(command, decorators)


def _given(ctx: click.Context) -> dict[str, object]:
    """Options typed on the command line that are Config keys (not paths, --config, --all).

    Only those override the file and the environment; click's own defaults never do.
    """
    flags: dict[str, object] = {}
    for name, value in ctx.params.items():
        typed = ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        if name not in config.OPTION_KEYS or not typed:
            continue
        if name == "grouping_labels":
            value = ",".join(value)  # repeated k=v flags, parsed like the environment's k=v,k2=v2
        flags[name] = list(value) if isinstance(value, tuple) else value
    return flags


def _load(ctx: click.Context) -> config.Config:
    config_file = ctx.params.get("config_file")
    flag_names = {p.name: p.opts[0] for p in ctx.command.params if p.name and p.opts}
    return config.load(_given(ctx), os.environ, Path(config_file) if config_file else None, flag_names)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="driftctl")
def cli() -> None:
    """Find the stacks that no longer match what is deployed, and since when."""


@cli.command()
@selection_options
@changed_options
@click.option("--explain", is_flag=True, help="With --changed: why each stack is selected.")
@click.option(
    "--show-excluded", is_flag=True, help="Also list the units an exclude block or skip leaves out, and why."
)
@click.option(
    "--format", "list_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def stacks(
    ctx: click.Context,
    /,
    paths: tuple[Path, ...],
    changed: bool,
    explain: bool,
    show_excluded: bool,
    **_: object,
) -> None:
    """List the stacks found under the root, one id per line."""
    if explain and not changed:
        raise click.UsageError("--explain goes with --changed")
    if changed and paths:
        raise click.UsageError("give --changed or stack paths, not both")
    cfg = _load(ctx)
    selection = pipeline.select(cfg, paths, changed=changed)
    if cfg.shard is not None:
        # the durations `plan` balances by, so both show the same part
        selection = pipeline.shard_selection(cfg, selection, pipeline.stores_for(cfg).durations())
    _warn_fallback(selection)
    if explain:
        for line in explain_lines(selection):
            click.echo(line)
        return
    shown = [*selection.stacks, *(selection.excluded if show_excluded else ())]
    if ctx.params["list_format"] == "json":
        click.echo(json.dumps([_stack_row(s) for s in shown], indent=2, ensure_ascii=False))
        return
    for stack in shown:
        shown_id = printable(stack.id)
        click.echo(f"{shown_id}\texcluded: {stack.excluded}" if stack.excluded else shown_id)


def _stack_row(stack: Stack) -> dict[str, object]:
    """A unit in `stacks --format json`: where it is planned, where its config comes from, if excluded."""
    return {
        "stack": printable(stack.id),
        "path": printable(str(stack.path)),
        "tool": stack.tool.value,
        "config": printable(str(stack.config)) if stack.config else None,
        "stack_files": [printable(str(path)) for path in stack.stack_files],
        "source": stack.source,
        "excluded": stack.excluded,
        "notes": list(stack.notes),
    }


@cli.command(epilog=EXIT_CODES_HELP)
@selection_options
@changed_options
@click.option("--all", "plan_all", is_flag=True, help="Plan every stack.")
@click.option("--tool-binary", help="The terragrunt/terraform/tofu executable.  [default: --tool on PATH]")
@click.option("--parallelism", "-p", type=int, help="Plans at once.  [default: 4]")
@click.option("--timeout", help="Per stack and attempt, e.g. 30m.  [default: 30m]")
@click.option("--retries", type=int, help="Retries of transient failures.  [default: 2]")
@click.option("--lock/--no-lock", default=None, help="Take the state lock.  [default: no-lock]")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Per-stack logs.  [default: a temp dir]")
@click.option("--outputs-count-as-drift", is_flag=True, default=None, help="Output-only changes are drift.")
@click.option(
    "--outside-counts-as-drift",
    is_flag=True,
    default=None,
    help="Changes made outside Terraform that the plan does not act on are drift.",
)
@click.option(
    "--log-plan",
    is_flag=True,
    default=None,
    help="Also write the human plan of drifted stacks to their logs, secrets masked. RISK: it holds every "
    "planned value (names, IPs, non-sensitive secrets the masking does not know); off by default.",
)
@click.option("--detail", is_flag=True, default=None, help="Each drifted stack's resources under the table.")
@click.option(
    "--suggest-ignore", is_flag=True, help="Print ignore: rules for what this run saw (a baseline)."
)
@result_options
@click.option("--push", is_flag=True, default=None, help="Push metrics to the Pushgateway.")
@pushgateway_options
@history_options
@notify_options
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def plan(
    ctx: click.Context,
    /,
    paths: tuple[Path, ...],
    plan_all: bool,
    changed: bool,
    suggest_ignore: bool,
    **_: object,
) -> None:
    """Plan stacks in parallel and report which have drifted.

    Give --all, --changed, or the paths of stacks (a folder selects every stack beneath it).
    """
    given = [name for name, used in (("--all", plan_all), ("--changed", changed), ("paths", paths)) if used]
    if len(given) > 1:
        raise click.UsageError(f"give only one of --all, --changed or stack paths, not {' and '.join(given)}")
    if not given:
        raise click.UsageError("give one of --all, --changed or the paths of the stacks to plan")
    cfg = _load(ctx)
    selection = pipeline.select(cfg, paths, changed=changed)  # finding nothing stops here, before any I/O
    checked = pipeline.preflight(cfg)  # a missing tool or a bad store fails before anything runs
    # the history's durations, read once: the shards' balance and the start order
    selection = pipeline.shard_selection(cfg, selection, checked[1].durations())
    _warn_fallback(selection)
    outcome = run_plan(cfg, selection, checked, suggest_ignore)
    ctx.exit(int(outcome.exit_code))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--root", type=click.Path(file_okay=False), help="Where .driftctl.yaml is.  [default: .]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--allow-partial", is_flag=True, help="Publish even if some shards' reports are missing.")
@click.option("--detail", is_flag=True, default=None, help="Each drifted stack's resources under the table.")
@result_options
@pushgateway_options
@history_options
@notify_options
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def publish(ctx: click.Context, /, reports: tuple[Path, ...], allow_partial: bool, **_: object) -> None:
    """Merge the reports of a run's shards (`plan --shard I/N --report FILE`) and publish them as one run.

    Checks that they come from the same repository, commit and mode and that shards 1..N are each
    there once, then reads the Pushgateway group back, replaces it in one PUT and records the run in
    the history.
    """
    cfg = _load(ctx)
    outcome = pipeline.publish_reports(cfg, reports, allow_partial)
    _print_result(outcome, cfg.format, cfg.detail)
    _print_publish(outcome)
    _print_notified(_Stderr(), outcome.notified, cfg.notify_failures_ok)
    ctx.exit(int(outcome.exit_code))


@cli.command()
@click.option("--root", type=click.Path(file_okay=False), help="Repository root.  [default: .]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file.")
@click.option(
    "--history",
    "history_url",
    help="sqlite:///file.db or postgresql://user@host:port/db (env DRIFTCTL_HISTORY_URL).  "
    "[default: the root's SQLite file under $XDG_STATE_HOME/driftctl]",
)
@click.option("--since", default="90d", show_default=True, help="Episodes resolved since, or runs since.")
@click.option("--runs", "list_runs", is_flag=True, help="List the runs instead of the stacks.")
@click.option(
    "--format", "list_format", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.argument("stacks", nargs=-1)
@click.pass_context
def history(
    ctx: click.Context, /, stacks: tuple[str, ...], since: str, list_runs: bool, list_format: str, **_: object
) -> None:
    """What the history store remembers: per stack its state, first-seen time and drift episodes.

    STACK is a stack id, a folder of stacks or a glob. Episodes count when still open or resolved
    within --since; the time to resolve is from first seen to the first clean plan after.
    """
    try:
        window = config.parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    if list_runs and stacks:
        raise click.UsageError("--runs lists every run; give no STACK with it")
    from rich.console import Console  # tables are rich's to draw

    store = pipeline.history_store(_load(ctx))
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = 160
    start = time.time() - window
    title = f"{store.root}  (since {since}, from {store.name})"
    if list_runs:
        runs = pipeline.run_history(store, start)
        if list_format == "json":
            out.file.write(history_query.runs_json(runs))
        else:
            out.print(history_query.runs_table(runs, title))
        return
    rows = pipeline.stack_history(store, stacks, start)
    if list_format == "json":
        out.file.write(history_query.stacks_json(rows))
    else:
        out.print(history_query.stacks_table(rows, title))


@cli.command(epilog="Exit codes: 0 shown, 3 no report, or the stack is not in it.")
@click.option("--root", type=click.Path(file_okay=False), help="Where .driftctl.yaml is.  [default: .]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--report", type=click.Path(dir_okay=False), help="The JSON report of the last run.")
@click.argument("stack")
@click.pass_context
def show(ctx: click.Context, /, stack: str, **_: object) -> None:
    """One stack's resources, outside changes and failing checks, from the last report."""
    from rich.console import Console  # tables are rich's to draw

    result, finished = pipeline.last_result(_load(ctx), stack)
    Console(highlight=False).print(render.detail_table(result))
    _Stderr().say(f"from the run that finished at {finished}")


@cli.group()
def alerts() -> None:
    """Prometheus alert rules for driftctl's metrics."""


@alerts.command("render")
@click.option("--root", type=click.Path(file_okay=False), help="Where .driftctl.yaml is.  [default: .]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--stale-hours", "alert_stale_hours", type=float, help="Heartbeat age that alerts.  [26]")
@click.option(
    "--unaddressed-hours", "alert_unaddressed_hours", type=float, help="Drift age that alerts.  [72]"
)
@click.option("--many-stacks", "alert_many_stacks", type=int, help="Drifted stacks that alert.  [10]")
@click.option("--erroring-runs", "alert_erroring_runs", type=int, help="Consecutive errored runs.  [3]")
@click.option("--runbook-url", "alert_runbook_url", help="Base URL of docs/runbook.md.")
@click.option("--job", help="The Pushgateway job the rules watch.  [default: drift-detection]")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="[default: stdout]")
@click.pass_context
def alerts_render(ctx: click.Context, /, output: Path | None, **_: object) -> None:
    """Write the alert rules with thresholds from flags or .driftctl.yaml."""
    text = pipeline.alert_rules(_load(ctx))
    if output is None:
        click.echo(text, nl=False)
    else:
        report_format.write_atomic(output, text)


class _Stderr:
    """Messages and progress on stderr: styled with rich on a terminal, plain lines elsewhere.

    rich is imported only for a terminal, so a CI run whose output goes to logs never loads it.
    """

    def __init__(self) -> None:
        self.file = sys.stderr
        self.console: Console | None = None
        if sys.stderr.isatty():
            from rich.console import Console

            # messages are one line whatever the terminal's width: soft wrap, never folded by rich
            self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, text: str, style: str = "dim", rest: str = "") -> None:
        """`text` in `style`, then `rest` unstyled; words from outside are never read as markup."""
        if self.console is None:
            click.echo(text + rest, err=True)
            return
        from rich.text import Text

        self.console.print(Text.assemble((text, style), rest))

    def view(self, total: int) -> render.LiveView | render.PlainView:
        if self.console is None:
            return render.PlainView(self)
        from rich.console import Console

        return render.LiveView(Console(stderr=True, highlight=False), total)


def _warn_fallback(selection: Selection) -> None:
    err = _Stderr()
    for warning in selection.warnings:
        err.say("driftctl: warning: ", "yellow", warning)
    for unit in selection.stacks:
        for note in unit.notes:
            err.say(f"driftctl: {unit.id}: ", "yellow", note)
    if selection.excluded:
        count = len(selection.excluded)
        err.say(
            f"{count} unit{'' if count == 1 else 's'} excluded by an exclude block or skip, not planned "
            "(`driftctl stacks --show-excluded` lists them and why)"
        )
    if selection.fallback_reason:
        err.say("driftctl: planning every stack: ", "yellow", selection.fallback_reason)
    for stack in selection.removed:
        err.say(f"removed since the base (not planned, its metrics are dropped): {printable(stack)}")
    if selection.mode == "changed" and not selection.stacks and not selection.removed:
        err.say("no stack is affected by the changes since the base")


def run_plan(
    cfg: config.Config,
    selection: Selection,
    checked: tuple[str, Stores] | None = None,
    suggest_ignore: bool = False,
) -> pipeline.Outcome:
    """Runs the plans with the right view for where the output goes, then prints the result."""
    err = _Stderr()
    if checked is None:
        checked = pipeline.preflight(cfg)  # a missing tool or a bad store fails before anything runs
    log_dir = pipeline.make_log_dir(cfg)
    part = f" (shard {selection.shard})" if selection.shard else ""
    err.say(f"planning {len(selection.stacks)} stacks{part} with {cfg.tool.value}; logs in {log_dir}")
    with err.view(len(selection.stacks)) as view:
        outcome = pipeline.plan(cfg, selection, log_dir, observer=view, checked=checked)
    for warning in outcome.warnings:
        err.say("driftctl: ", "yellow", warning)
    if suggest_ignore:
        sys.stdout.write(ignore.suggest(outcome.report.results, outcome.report.finished_at.date()))
    else:
        _print_result(outcome, cfg.format, cfg.detail)
    if outcome.report_path is not None:
        err.say(f"report written to {outcome.report_path}")
    _print_publish(outcome, err)
    _print_notified(err, outcome.notified, cfg.notify_failures_ok)
    return outcome


def _print_notified(err: _Stderr, notified: notify.NotifyOutcome | None, failures_ok: bool) -> None:
    if notified is None:
        return
    if failures_ok:  # otherwise they are among the run's errors, printed above
        for error in notified.errors:
            err.say("driftctl (--notify-failures-ok): ", "yellow", error)
    done = []
    if notified.slack_sent:
        done.append("Slack message sent")
    if notified.issues is not None:
        verbs = [a.state or ("opened" if a.number is None else "updated") for a in notified.issues.actions]
        counts = ", ".join(f"{verbs.count(v)} {_VERB.get(v, v)}" for v in sorted(set(verbs))) or "unchanged"
        held = len(notified.issues.held_back)
        done.append(f"issues {counts}" + (f", {held} held back by --max-open-issues" if held else ""))
    if notified.pr_comment:
        done.append(f"report commented on the pull request: {notified.pr_comment}")
    if done:
        err.say("; ".join(done))


_VERB = {"open": "reopened", "closed": "closed"}


def _print_publish(outcome: pipeline.Outcome, err: _Stderr | None = None) -> None:
    err = err or _Stderr()
    published = outcome.published
    if outcome.history is not None:
        err.say(f"run recorded in {outcome.history}")
    for note in outcome.notes:
        err.say("driftctl: ", "yellow", note)
    for error in outcome.errors:  # last, where a CI log's tail shows them
        err.say("driftctl: ", "bold red", error)
    if published is not None and not published.pushed:
        sys.stdout.write(published.exposition.decode("utf-8"))
    elif published is not None:
        counts = published.counts
        err.say(
            f"pushed {len(published.series)} stacks in one batch "
            f"({counts.drifted} drifted, {counts.errored} errored, {counts.clean} clean)"
        )
        if published.reset_reason:
            err.say("first-seen times were reset: ", "yellow", published.reset_reason)


def _print_result(outcome: pipeline.Outcome, fmt: str, detail: bool) -> None:
    if fmt == "json":
        sys.stdout.write(report_format.to_json(outcome.report))
    elif fmt == "markdown":
        sys.stdout.write(report_format.to_markdown(outcome.report))
    else:
        from rich.console import Console  # the table is rich's to draw, on a terminal or not

        out = Console(highlight=False)
        if not out.is_terminal:
            out.width = 160  # CI logs are wide; 80 columns would fold every error
        out.print(render.report_view(outcome.report, detail))


_terminated = threading.Event()


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job) unwinds like Ctrl-C, so running plans are stopped, not orphaned."""
    _terminated.set()
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click's own usage errors exit 2, which means drift here, so they become 3."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = list(argv) if argv is not None else None
        code = cli.main(args=args, prog_name="driftctl", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as error:
        # click turns a KeyboardInterrupt into Abort; both mean the run was stopped from outside
        cause = error.__cause__ if isinstance(error, click.exceptions.Abort) else error
        if isinstance(cause, store.Interrupted):
            # a store was being written: "nothing was pushed" could be false
            click.echo(f"driftctl: {cause}", err=True)
        else:
            click.echo("driftctl: interrupted; running plans were stopped, nothing was pushed", err=True)
        sys.exit(143 if _terminated.is_set() else 130)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitCode.USAGE)
    except (config.ConfigError, pipeline.UsageError) as error:
        click.echo(f"driftctl: {error}", err=True)
        sys.exit(ExitCode.USAGE)
    except pipeline.OperationalError as error:
        click.echo(f"driftctl: {error}", err=True)
        sys.exit(ExitCode.ERROR)
    sys.exit(code if isinstance(code, int) else 0)
