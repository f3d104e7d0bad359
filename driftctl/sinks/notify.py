"""The notification sinks of one run, in order: the issues (their links go into the message), Slack,
the pull request's comment. Each failure is kept as one line naming the sink; none stops the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from driftctl.history.merge import MergedState
from driftctl.model import RunReport
from driftctl.report import to_markdown
from driftctl.sinks import slack
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta, delta
from driftctl.sinks.forge import (
    GITHUB_API,
    TRACKERS,
    ForgeSettings,
    IssueLabels,
    SyncOutcome,
    comment_on_pull_request,
    connect,
    sync_issues,
)
from driftctl.sinks.http import DEFAULT_POLICY, RetryPolicy, SinkError
from driftctl.sinks.issues import DRIFT, ERROR, IssueSettings

TOKEN_ENV = "DRIFTCTL_ISSUE_TOKEN"  # noqa: S105 (the variable's name)
_CI_FORGES = {"github": "github", "gitea": "gitea", "forgejo": "gitea"}


class NotifyConfigError(ValueError):
    """The notification options cannot work; the message names the flag or variable."""


@dataclass(frozen=True, repr=False)
class NotifyOptions:
    mode: str = "on-change"
    slack_webhook: str | None = None
    issues: bool = False  # file issues (needs `forge`)
    comment_on_pr: bool = False
    forge: ForgeSettings | None = None
    issue_settings: IssueSettings = field(default_factory=IssueSettings)
    labels: IssueLabels = field(default_factory=IssueLabels)
    policy: RetryPolicy = DEFAULT_POLICY

    def __repr__(self) -> str:
        webhook = "'***'" if self.slack_webhook else "None"
        return f"NotifyOptions(mode={self.mode!r}, slack_webhook={webhook}, forge={self.forge!r})"

    @property
    def active(self) -> bool:
        return bool(self.slack_webhook or self.issues or self.comment_on_pr)


@dataclass(frozen=True)
class NotifyOutcome:
    delta: Delta
    slack_sent: bool = False
    issues: SyncOutcome | None = None
    pr_comment: str | None = None  # the comment's URL
    errors: tuple[str, ...] = ()


def forge_settings(
    tracker: str | None,
    repo: str | None,
    api_url: str | None,
    environ: Mapping[str, str],
    context: RunContext,
    needed_by: str,
) -> ForgeSettings:
    """The forge from the options, else from the CI (its forge type, repository and API URL)."""
    tracker = tracker or _CI_FORGES.get(context.forge_type or "")
    if tracker not in TRACKERS:
        raise NotifyConfigError(f"{needed_by} needs --issue-tracker github|gitea (not detected from the CI)")
    repo = repo or context.repository
    if not repo or repo.count("/") != 1 or "" in repo.split("/"):
        raise NotifyConfigError(f"{needed_by} needs --issue-repo OWNER/NAME, got {repo!r}")
    if api_url is None and tracker == "github":
        api_url = environ.get("GITHUB_API_URL") or GITHUB_API
    if api_url is None and context.forge_url and context.forge_type in ("gitea", "forgejo"):
        api_url = context.forge_url.rstrip("/") + "/api/v1"
    if not api_url or not api_url.startswith(("https://", "http://")):
        raise NotifyConfigError(f"{needed_by} needs --issue-api-url (Gitea/Forgejo: https://HOST/api/v1)")
    token = environ.get(TOKEN_ENV, "")
    if not token:
        raise NotifyConfigError(f"{needed_by} needs the forge's token in {TOKEN_ENV}")
    return ForgeSettings(tracker, repo, api_url, token)


def notify(
    options: NotifyOptions,
    run: RunReport,
    merged: MergedState,
    context: RunContext,
) -> NotifyOutcome:
    """Tells people about the run from the merged state; never raises for a sink that fails (see `errors`)."""
    news = delta(merged, run.results)
    errors: list[str] = []
    synced: SyncOutcome | None = None
    comment: str | None = None
    forge = connect(options.forge, options.policy) if options.forge is not None else None
    try:
        if forge is not None and options.issues:
            try:
                synced = sync_issues(
                    forge, news, run.results, options.issue_settings, context, options.labels, run.removed
                )
            except SinkError as error:
                errors.append(f"issues not updated: {error}")
        if forge is not None and options.comment_on_pr and context.pull_request and run.mode == "changed":
            try:
                comment = comment_on_pull_request(forge, context.pull_request, to_markdown(run))
            except SinkError as error:
                errors.append(f"pull request not commented: {error}")
    finally:
        if forge is not None:
            forge.close()
    sent = False
    if options.slack_webhook and slack.should_notify(options.mode, news):
        extras = slack.Extras(
            issue_links=_links(synced, DRIFT),
            error_links=_links(synced, ERROR),
            held_back=synced.held_back if synced is not None else (),
        )
        try:
            slack.post(options.slack_webhook, slack.render(news, context, extras), options.policy)
            sent = True
        except SinkError as error:
            errors.append(f"Slack message not sent: {error}")
    return NotifyOutcome(news, sent, synced, comment, tuple(errors))


def _links(synced: SyncOutcome | None, kind: str) -> dict[str, str]:
    if synced is None:
        return {}
    return {stack: url for (k, stack), url in synced.links.items() if k == kind}
