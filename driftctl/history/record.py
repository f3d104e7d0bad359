"""The right-hand side of a run: merge it into the authoritative store, then record it in the others.

`driftctl plan` calls it after its plans, and `driftctl publish` after merging shard reports: one
read-back, one merge, one PUT, one history record, and one `MergedState` for every sink to read.

Which store is authoritative for first-seen times: with `--push` (or `--dry-run-push`), the
Pushgateway, as before (CI machines start fresh; the gateway is what alerts read), and the history
store records what the gateway's merge decided; without it, the history store. A history store that
disagrees with the gateway on a first-seen time is reported as a note, and the gateway's value kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from driftctl.config import Config
from driftctl.history import pushgateway, target
from driftctl.history.merge import MergedState, ResetRefused, check_drops, drift_first_seen, merge_run
from driftctl.history.sql import SqlStore
from driftctl.history.store import Interrupted, StoreConfigError, StoreError, Update
from driftctl.model import RunReport, StackSeries


@dataclass(frozen=True)
class Stores:
    """The stores a run uses, checked before its plans (`open_stores`)."""

    gateway: pushgateway.PushgatewayStore | None = None  # --push or --dry-run-push
    history: SqlStore | None = None
    # what the history store held at the start: each stack's last plan duration, for scheduling
    held: Mapping[str, StackSeries] | None = None

    def durations(self) -> dict[str, float | None]:
        return {stack: series.duration_seconds for stack, series in (self.held or {}).items()}


@dataclass(frozen=True)
class Recorded:
    """What the right-hand side did. `merged` is None only when no store could merge the run."""

    merged: MergedState | None
    published: pushgateway.PublishOutcome | None = None
    history: str | None = None  # the history store's name when the run was recorded in it
    errors: tuple[str, ...] = ()  # one line each; any of them makes the run exit 1
    notes: tuple[str, ...] = ()  # warnings that change nothing (a disagreement between stores)


def push_options(config: Config, environ: Mapping[str, str]) -> pushgateway.PushOptions | None:
    """The Pushgateway settings when this run publishes metrics; credentials come from the environment.

    Raises `StoreConfigError` for settings that cannot work.
    """
    if not (config.push or config.dry_run_push):
        return None
    if config.push and not config.pushgateway_url and not config.dry_run_push:
        raise StoreConfigError("--push needs --pushgateway URL (or DRIFTCTL_PUSHGATEWAY_URL)")
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
        raise StoreConfigError(str(error)) from None
    return options


def open_history(config: Config, environ: Mapping[str, str], version: str) -> SqlStore | None:
    """The configured history store, not yet connected; None with `--history none`."""
    return target.open_store(config.history_url, config.root, config.history_retention, version, environ)


def open_stores(config: Config, environ: Mapping[str, str], version: str) -> Stores:
    """Check every store before a plan runs: `StoreConfigError` (exit 3) or `StoreError` (exit 1)."""
    options = push_options(config, environ)
    gateway = pushgateway.PushgatewayStore(options, version) if options is not None else None
    history = open_history(config, environ, version)
    held = history.load() if history is not None else None
    return Stores(gateway=gateway, history=history, held=held)


def record(config: Config, run: RunReport, stores: Stores, now: float | None = None) -> Recorded:
    """Merge `run` into the authoritative store and record it in the others; never raises StoreError.

    `now` (default: when the run finished) is the time new drift is stamped with.
    """
    at = run.finished_at.timestamp() if now is None else now

    def authoritative(previous: Mapping[str, StackSeries]) -> MergedState:
        merged = merge_run(previous, run, at)
        check_drops(merged, config.allow_reset)
        return merged

    errors: list[str] = []
    notes: list[str] = []
    merged: MergedState | None = None
    published = None
    if stores.gateway is not None:
        try:
            published = stores.gateway.publish(run, authoritative, now=at)
            merged = published.merged
        except (pushgateway.PushgatewayError, ResetRefused) as error:
            errors.append(str(error))
    recorded_in = None
    if stores.history is not None:
        # With a gateway merge, the history records it; without one (no --push, or the push failed),
        # the history's own state is the previous one, so the run's results are kept either way.
        update = _follow(merged, stores.history.name, notes) if merged is not None else authoritative
        try:
            history_merged = stores.history.commit(run, update)
        except (StoreError, ResetRefused) as error:
            errors.append(f"the run was not recorded in the history: {error}")
        except KeyboardInterrupt:
            if published is None or not published.pushed:
                raise
            raise Interrupted(
                "interrupted while recording the run in the history (not recorded); "
                "the metrics had been pushed"
            ) from None
        else:
            recorded_in = stores.history.name
            merged = merged if merged is not None else history_merged
    if stores.gateway is None and stores.history is None:
        merged = merge_run({}, run, at)  # no memory: every sink sees this run alone
    return Recorded(merged, published, recorded_in, tuple(errors), tuple(notes))


def _follow(decided: MergedState, name: str, notes: list[str]) -> Update:
    """An update that stores what the gateway's merge decided, noting where the history disagreed."""

    def update(held: Mapping[str, StackSeries]) -> MergedState:
        differing = [
            stack
            for stack, series in decided.previous.items()
            if stack in held and drift_first_seen(held[stack]) != drift_first_seen(series)
        ]
        if differing:
            shown = "; ".join(_disagreement(s, held[s], decided.previous[s]) for s in differing[:3])
            notes.append(
                f"the history store {name} and the Pushgateway disagree on the first-seen time of "
                f"{len(differing)} stacks ({shown}); the Pushgateway's is kept (authoritative with --push)"
            )
        return MergedState(previous=dict(held), series=decided.series, now=decided.now)

    return update


def _disagreement(stack: str, held: StackSeries, gateway: StackSeries) -> str:
    return (
        f"{stack!r}: history {_time(drift_first_seen(held))}, Pushgateway {_time(drift_first_seen(gateway))}"
    )


def _time(value: float | None) -> str:
    if value is None:
        return "none"
    return datetime.fromtimestamp(value, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
