"""The forge's REST API: GitHub and Gitea/Forgejo behind one small interface, and the sync of issues.

Issues are listed with the repository's issues endpoint, filtered by label and followed page by page
(`Link: rel="next"`), never with the search API, whose index lags behind and would let a run open a
second issue for a stack. The token is sent in a header only and scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from driftctl.model import PlanResult
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta
from driftctl.sinks.http import DEFAULT_POLICY, Client, RetryPolicy, SinkError
from driftctl.sinks.issues import DRIFT, Issue, IssueAction, IssueSettings, plan_issues

TRACKERS = ("github", "gitea")
GITHUB_API = "https://api.github.com"
MAX_PAGES = 500  # 50,000 issues on GitHub: far beyond any repository's drift issues, still a bound
PR_MARKER = "<!-- driftctl:pull-request-report -->"
_LABEL_COLOR = "d93f0b"


@dataclass(frozen=True)
class Comment:
    id: int
    body: str


class Forge:
    """What driftctl needs of an issue tracker; subclasses say how GitHub and Gitea differ."""

    name = "forge"
    page_size = 100
    page_param = "per_page"

    def __init__(self, client: Client, repo: str) -> None:
        self._client = client
        self._repo = "/repos/" + "/".join(quote(part, safe="") for part in repo.split("/", 1))

    def close(self) -> None:
        self._client.close()

    def issues(self, label: str) -> list[Issue]:
        """Every issue with `label`, open or closed (never pull requests)."""
        params = {"state": "all", "labels": label, **self._issue_filter()}
        return [
            self._issue(item) for item in self._pages(f"{self._repo}/issues", params) if self._is_issue(item)
        ]

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> Issue:
        payload = {"title": title, "body": body, "labels": self._labels(labels)}
        return self._issue(self._json("POST", f"{self._repo}/issues", payload))

    def edit_issue(self, number: int, *, body: str | None = None, state: str | None = None) -> None:
        payload = {key: value for key, value in (("body", body), ("state", state)) if value is not None}
        self._json("PATCH", f"{self._repo}/issues/{number}", payload)

    def comment(self, number: int, body: str) -> str:
        created = self._json("POST", f"{self._repo}/issues/{number}/comments", {"body": body})
        return str(created.get("html_url", ""))

    def comments(self, number: int) -> list[Comment]:
        items = self._pages(f"{self._repo}/issues/{number}/comments", {})
        return [Comment(int(item["id"]), str(item.get("body") or "")) for item in items]

    def edit_comment(self, comment_id: int, body: str) -> str:
        edited = self._json("PATCH", f"{self._repo}/issues/comments/{comment_id}", {"body": body})
        return str(edited.get("html_url", ""))

    # ---- what differs between forges ----

    def _issue_filter(self) -> dict[str, str]:
        return {}

    def _is_issue(self, item: Mapping[str, Any]) -> bool:
        return True

    def _labels(self, names: Sequence[str]) -> list[Any]:
        return list(names)

    # ---- plumbing ----

    def _issue(self, item: Mapping[str, Any]) -> Issue:
        try:
            return Issue(
                number=int(item["number"]),
                open=item["state"] == "open",
                body=str(item.get("body") or ""),
                url=str(item.get("html_url") or ""),
            )
        except (KeyError, TypeError, ValueError):
            raise SinkError(
                f"{self._client.name}: an issue without a number or state in the answer"
            ) from None

    def _json(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        response = self._client.request(method, path, json=payload)
        value = _decode(response, self._client.name)
        if not isinstance(value, dict):
            raise SinkError(
                f"{self._client.name}: {method} {httpx.URL(response.url).path}: expected an object"
            )
        return value

    def _pages(self, path: str, params: Mapping[str, str]) -> Iterator[Mapping[str, Any]]:
        url: str | None = path
        query: Mapping[str, str | int] | None = {**params, self.page_param: self.page_size}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._client.request("GET", url, params=query)
            page = _decode(response, self._client.name)
            if not isinstance(page, list):
                raise SinkError(f"{self._client.name}: GET {httpx.URL(response.url).path}: expected a list")
            yield from (item for item in page if isinstance(item, dict))
            # the next page's URL carries the query already
            url, query = response.links.get("next", {}).get("url"), None
        raise SinkError(f"{self._client.name}: more than {MAX_PAGES} pages of issues; not going on")


class GitHub(Forge):
    name = "github"

    def _is_issue(self, item: Mapping[str, Any]) -> bool:
        return "pull_request" not in item  # the issues endpoint lists pull requests too


class Gitea(Forge):
    """Gitea and Forgejo (API v1): labels are set by id, pages are `limit`-sized (50 by default)."""

    name = "gitea"
    page_size = 50
    page_param = "limit"

    def _issue_filter(self) -> dict[str, str]:
        return {"type": "issues"}

    def __init__(self, client: Client, repo: str) -> None:
        super().__init__(client, repo)
        self._label_ids: dict[str, object] | None = None  # listed once per run, on first use

    def _labels(self, names: Sequence[str]) -> list[Any]:
        if self._label_ids is None:
            self._label_ids = {
                str(item.get("name")): item.get("id") for item in self._pages(f"{self._repo}/labels", {})
            }
        known = self._label_ids
        ids = []
        for name in names:
            if name not in known:
                color = f"#{_LABEL_COLOR}"
                known[name] = self._json("POST", f"{self._repo}/labels", {"name": name, "color": color}).get(
                    "id"
                )
            label_id = known[name]
            if not isinstance(label_id, int):
                raise SinkError(f"{self._client.name}: label {name!r} has no numeric id")
            ids.append(label_id)
        return ids


def _decode(response: httpx.Response, name: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SinkError(f"{name}: {httpx.URL(response.url).path}: the answer is not JSON") from None


# ---- connecting ------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ForgeSettings:
    tracker: str  # "github" or "gitea"
    repo: str  # owner/name
    api_url: str
    token: str

    def __repr__(self) -> str:
        shown = f"tracker={self.tracker!r}, repo={self.repo!r}, api_url={self.api_url!r}"
        return f"ForgeSettings({shown}, token='***')"


def connect(settings: ForgeSettings, policy: RetryPolicy = DEFAULT_POLICY) -> Forge:
    if settings.tracker == "github":
        headers = {
            "Authorization": f"Bearer {settings.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return GitHub(Client("GitHub", settings.api_url, headers, [settings.token], policy), settings.repo)
    headers = {"Authorization": f"token {settings.token}", "Accept": "application/json"}
    return Gitea(Client("Gitea", settings.api_url, headers, [settings.token], policy), settings.repo)


# ---- the sync --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueLabels:
    drift: str = "drift"
    error: str = "drift-error"

    def of(self, kind: str) -> str:
        return self.drift if kind == DRIFT else self.error


@dataclass(frozen=True)
class SyncOutcome:
    links: Mapping[tuple[str, str], str]  # (kind, stack) -> the issue's web URL
    held_back: tuple[str, ...]
    actions: tuple[IssueAction, ...]

    def link(self, stack: str, kind: str = DRIFT) -> str | None:
        return self.links.get((kind, stack))


def sync_issues(
    forge: Forge,
    delta: Delta,
    results: Sequence[PlanResult],
    settings: IssueSettings,
    context: RunContext,
    labels: IssueLabels = IssueLabels(),
    removed: Collection[str] = (),
) -> SyncOutcome:
    """Lists the labelled issues, then opens, edits, comments, closes and reopens as `plan_issues` says."""
    existing = forge.issues(labels.drift)
    if labels.error != labels.drift:
        existing += forge.issues(labels.error)
    plan = plan_issues(existing, delta, results, settings, context, removed)
    links = dict(plan.links)
    for action in plan.actions:
        if action.number is None:
            assert action.body is not None
            created = forge.create_issue(action.title, action.body, [labels.of(action.kind)])
            links[(action.kind, action.stack)] = created.url
            continue
        if action.state == "closed":
            # the comment first, so the notification of the closing says why
            if action.comment:
                forge.comment(action.number, action.comment)
            forge.edit_issue(action.number, state="closed")
            continue
        forge.edit_issue(action.number, body=action.body, state=action.state)
        if action.comment:
            forge.comment(action.number, action.comment)
    return SyncOutcome(links, plan.held_back, plan.actions)


def comment_on_pull_request(forge: Forge, number: int, markdown: str) -> str:
    """Posts the report on the pull request, or edits driftctl's earlier comment there in place."""
    body = f"{PR_MARKER}\n{markdown}"
    for comment in forge.comments(number):
        if PR_MARKER in comment.body:
            return forge.edit_comment(comment.id, body)
    return forge.comment(number, body)
