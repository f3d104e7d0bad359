"""The subset of GitHub's REST API and Gitea's (Forgejo's) API v1 that driftctl uses, held in memory.

Issues, comments and (Gitea) labels with ids; listing filtered by label and state, paginated with
`Link: rel="next"` like both forges. GitHub's issues endpoint lists pull requests too; Gitea's takes
`type=issues`, and sets labels on a new issue by id only (a name is a 422, as in Gitea).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fake_api import Answer, FakeApi, Request

TOKEN = "ghp_FakeTokenForTests0123456789abcdef"
_ISSUES = re.compile(r"^/repos/([^/]+)/([^/]+)/issues$")
_ISSUE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)$")
_COMMENTS = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$")
_LABELS = re.compile(r"^/repos/([^/]+)/([^/]+)/labels$")


@dataclass
class FakeIssue:
    number: int
    title: str
    body: str
    labels: list[str]
    state: str = "open"
    pull_request: bool = False
    comments: list[int] = field(default_factory=list)


class FakeForge(FakeApi):
    def __init__(self, flavor: str = "github", repo: str = "acme/infra") -> None:
        super().__init__()
        self.flavor = flavor
        self.repo = repo
        self.prefix = "/api/v1" if flavor == "gitea" else ""
        self.issues: dict[int, FakeIssue] = {}
        self.comments: dict[int, tuple[int, str]] = {}  # id -> (issue number, body)
        self.labels: dict[str, int] = {}  # Gitea: name -> id
        self._next_comment = 9000

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def add_issue(
        self, title: str, body: str, labels: list[str], state: str = "open", pr: bool = False
    ) -> int:
        number = len(self.issues) + 1
        self.issues[number] = FakeIssue(number, title, body, list(labels), state, pr)
        return number

    def add_label(self, name: str, label_id: int) -> None:
        self.labels[name] = label_id

    def open_issues(self) -> list[FakeIssue]:
        return [i for i in self.issues.values() if i.state == "open" and not i.pull_request]

    def comments_on(self, number: int) -> list[str]:
        return [body for issue, body in self.comments.values() if issue == number]

    # ---- routing ----

    def route(self, request: Request) -> Answer:
        expected = f"Bearer {TOKEN}" if self.flavor == "github" else f"token {TOKEN}"
        if request.headers.get("authorization") != expected:
            return Answer(401, {"message": "Bad credentials"})
        if not request.path.startswith(self.prefix):
            return Answer(404, {"message": "Not Found"})
        path = request.path[len(self.prefix) :]
        for pattern, handler in (
            (_ISSUES, self._issues),
            (_ISSUE, self._issue),
            (_COMMENTS, self._comments),
            (_COMMENT, self._comment),
            (_LABELS, self._labels),
        ):
            match = pattern.match(path)
            if match:
                if f"{match.group(1)}/{match.group(2)}" != self.repo:
                    return Answer(404, {"message": "Not Found"})
                return handler(request, match.groups()[2:])
        return Answer(404, {"message": "Not Found"})

    def _issues(self, request: Request, _: tuple[str, ...]) -> Answer:
        if request.method == "GET":
            label = request.query.get("labels")
            state = request.query.get("state", "open")
            items = [
                i
                for i in sorted(self.issues.values(), key=lambda i: -i.number)
                if (label is None or label in i.labels)
                and state in ("all", i.state)
                and not (self.flavor == "gitea" and request.query.get("type") == "issues" and i.pull_request)
            ]
            return self._page(request, [self._json(i) for i in items])
        payload = request.json()
        labels = payload.get("labels", [])
        if self.flavor == "gitea":
            if not all(isinstance(label, int) for label in labels):
                return Answer(422, {"message": "[Labels]: must be label ids"})
            names = {v: k for k, v in self.labels.items()}
            if any(label not in names for label in labels):
                return Answer(422, {"message": "label does not exist"})
            labels = [names[label] for label in labels]
        number = self.add_issue(payload["title"], payload.get("body", ""), labels)
        return Answer(201, self._json(self.issues[number]))

    def _issue(self, request: Request, groups: tuple[str, ...]) -> Answer:
        issue = self.issues.get(int(groups[0]))
        if issue is None or request.method != "PATCH":
            return Answer(404, {"message": "Not Found"})
        payload = request.json()
        if "body" in payload:
            issue.body = payload["body"]
        if "state" in payload:
            if payload["state"] not in ("open", "closed"):
                return Answer(422, {"message": "bad state"})
            issue.state = payload["state"]
        return Answer(200, self._json(issue))

    def _comments(self, request: Request, groups: tuple[str, ...]) -> Answer:
        number = int(groups[0])
        if number not in self.issues:
            return Answer(404, {"message": "Not Found"})
        if request.method == "GET":
            items = [self._comment_json(cid) for cid, (n, _) in sorted(self.comments.items()) if n == number]
            return self._page(request, items)
        self._next_comment += 1
        self.comments[self._next_comment] = (number, request.json()["body"])
        return Answer(201, self._comment_json(self._next_comment))

    def _comment(self, request: Request, groups: tuple[str, ...]) -> Answer:
        comment_id = int(groups[0])
        if comment_id not in self.comments or request.method != "PATCH":
            return Answer(404, {"message": "Not Found"})
        number, _ = self.comments[comment_id]
        self.comments[comment_id] = (number, request.json()["body"])
        return Answer(200, self._comment_json(comment_id))

    def _labels(self, request: Request, _: tuple[str, ...]) -> Answer:
        if self.flavor != "gitea":
            return Answer(404, {"message": "Not Found"})
        if request.method == "GET":
            return self._page(request, [{"id": i, "name": n} for n, i in sorted(self.labels.items())])
        name = request.json()["name"]
        if name in self.labels:
            return Answer(409, {"message": "label exists"})
        self.labels[name] = 100 + len(self.labels) * 7
        return Answer(201, {"id": self.labels[name], "name": name})

    # ---- shapes ----

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        size_param, default, most = ("limit", 30, 50) if self.flavor == "gitea" else ("per_page", 30, 100)
        size = min(int(request.query.get(size_param, default)), most)
        page = int(request.query.get("page", 1))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            query = {**request.query, "page": page + 1}
            headers["Link"] = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        return Answer(200, chunk, headers)

    def _json(self, issue: FakeIssue) -> dict[str, Any]:
        item: dict[str, Any] = {
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "labels": [{"name": n} for n in issue.labels],
            "html_url": f"{self.url}/{self.repo}/issues/{issue.number}",
        }
        if issue.pull_request:
            item["pull_request"] = {"url": "..."}
        return item

    def _comment_json(self, comment_id: int) -> dict[str, Any]:
        number, body = self.comments[comment_id]
        return {
            "id": comment_id,
            "body": body,
            "html_url": f"{self.url}/{self.repo}/issues/{number}#c{comment_id}",
        }
