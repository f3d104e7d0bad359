"""One Slack message per run (Block Kit through an incoming webhook): what changed, and what still is.

Within Slack's limits (50 blocks per message, 3,000 characters per text): what does not fit ends in
"and N more". The webhook URL is a secret (its path is the credential): it never appears in a message.
Only names reach Slack: stacks, resource addresses and types, actions, attribute names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from driftctl import causes
from driftctl.sinks.ci import RunContext
from driftctl.sinks.delta import Delta, Drift, age_text
from driftctl.sinks.http import DEFAULT_POLICY, Client, RetryPolicy, SinkError

NOTIFY_MODES = ("on-change", "always", "never")
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER = 150
_RESOURCES_PER_STACK = 8
_STACKS_PER_GROUP = 15

Block = dict[str, Any]


def should_notify(mode: str, delta: Delta) -> bool:
    if mode == "never":
        return False
    return mode == "always" or delta.changed


@dataclass(frozen=True)
class Extras:
    """What other sinks learned that the message links to or mentions."""

    issue_links: Mapping[str, str] | None = None  # stack -> its issue's URL
    error_links: Mapping[str, str] | None = None  # stack -> its persistent-failure issue's URL
    held_back: Sequence[str] = ()  # stacks whose issue --max-open-issues kept from opening


def render(delta: Delta, context: RunContext, extras: Extras = Extras()) -> dict[str, Any]:
    """The webhook's JSON payload: a fallback `text` and the blocks."""
    headline = _headline(delta)
    where = f" in {context.repository}" if context.repository else ""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline, MAX_HEADER)}}
    ]
    meta = _context_line(context)
    if meta:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(meta, MAX_TEXT)}]})
    links = extras.issue_links or {}
    error_links = extras.error_links or {}
    sections: list[tuple[str, list[str]]] = [
        ("Shared causes", _shared(delta.newly_drifted, links)),
        ("New drift", [_drift_item(drift, links) for drift in delta.newly_drifted]),
        (
            "Resolved",
            [f"`{_name(s)}` plans clean{_issue(links, s)}" for s in delta.resolved]
            + [f"`{_name(s)}` was removed from the repository{_issue(links, s)}" for s in delta.removed],
        ),
        (
            "Newly failing",
            [_failure(f.stack, f.kind.value, f.runs, error_links) for f in delta.newly_errored],
        ),
        (
            "Still drifted",
            [
                f"`{_name(d.stack)}` for {age_text(d.age_seconds)}{_issue(links, d.stack)}"
                for d in sorted(delta.still_drifted, key=lambda d: -d.age_seconds)
            ],
        ),
        (
            "Still failing",
            [_failure(f.stack, f.kind.value, f.runs, error_links) for f in delta.still_errored],
        ),
        ("Planning again", [f"`{_name(s)}`" for s in delta.recovered]),
    ]
    if extras.held_back:
        sections.append(
            ("Issues held back by --max-open-issues", [f"`{_name(s)}`" for s in extras.held_back])
        )
    blocks += _pack(sections, MAX_BLOCKS - len(blocks))
    return {"text": _cut(headline + where, MAX_TEXT), "blocks": blocks}


def _headline(delta: Delta) -> str:
    parts = [
        (len(delta.newly_drifted), "newly drifted"),
        (len(delta.resolved) + len(delta.removed), "resolved"),
        (len(delta.still_drifted), "still drifted"),
        (len(delta.errored), "failing"),
    ]
    shown = [f"{count} {what}" for count, what in parts if count]
    return "driftctl: " + (", ".join(shown) if shown else "no drift")


def _context_line(context: RunContext) -> str:
    parts = []
    if context.repository:
        parts.append(_link(context.repository_url, context.repository))
    if context.run_url:
        parts.append(_link(context.run_url, context.run_name or "CI run"))
    if context.commit:
        parts.append(f"commit `{_escape(context.commit[:12])}`")
    return " · ".join(parts)


def _shared(drifts: Sequence[Drift], links: Mapping[str, str]) -> list[str]:
    """Causes several newly drifted stacks share (`causes.group`): probably one change behind them."""
    items = []
    for cause in causes.group([d.result for d in drifts]):
        if len(cause.stacks) < 2:
            continue
        names = ", ".join(f"`{_name(s)}`{_issue(links, s)}" for s in cause.stacks[:_STACKS_PER_GROUP])
        more = (
            f" and {len(cause.stacks) - _STACKS_PER_GROUP} more"
            if len(cause.stacks) > _STACKS_PER_GROUP
            else ""
        )
        items.append(f"{_escape(cause.line())}: {names}{more}")
    return items


def _drift_item(drift: Drift, links: Mapping[str, str]) -> str:
    lines = [f"`{_name(drift.stack)}` {_counts(drift)}{_issue(links, drift.stack)}"]
    changes = drift.changes
    for change in changes[:_RESOURCES_PER_STACK]:
        attributes = ", ".join(f"`{_escape(a)}`" for a in change.attributes)
        ignored = f" _(ignored: {_escape(change.ignored_by)})_" if change.ignored_by else ""
        lines.append(
            f"• `{_name(change.address)}` {change.action}{': ' + attributes if attributes else ''}{ignored}"
        )
    if len(changes) > _RESOURCES_PER_STACK:
        lines.append(f"• and {len(changes) - _RESOURCES_PER_STACK} more resources")
    return "\n".join(lines)


def _counts(drift: Drift) -> str:
    r = drift.resources
    return f"(+{r.add} ~{r.change} -{r.destroy} ±{r.replace})"


def _failure(stack: str, kind: str, runs: int, links: Mapping[str, str]) -> str:
    in_a_row = f", {runs} runs in a row" if runs > 1 else ""
    return f"`{_name(stack)}`: {kind} error{in_a_row}{_issue(links, stack)}"


def _issue(links: Mapping[str, str], stack: str) -> str:
    url = links.get(stack)
    return f" {_link(url, 'issue')}" if url else ""


def _pack(sections: Iterable[tuple[str, list[str]]], budget: int) -> list[Block]:
    """Sections of items as blocks of at most MAX_TEXT characters; what overflows `budget` is counted."""
    sections = [(title, items) for title, items in sections if items]
    blocks: list[Block] = []
    remaining = sum(len(items) for _, items in sections)

    def flush(text: str, count: int) -> bool:
        nonlocal remaining
        # the last block may take the final slot; any other keeps one free for "and N more"
        if len(blocks) + (1 if count == remaining else 2) > budget:
            return False
        blocks.append(_section(text))
        remaining -= count
        return True

    for title, items in sections:
        text, count = f"*{title}*", 0
        for item in items:
            item = _cut(item, MAX_TEXT - len(title) - 16)
            if len(text) + 1 + len(item) > MAX_TEXT:
                if not flush(text, count):
                    break
                text, count = f"*{title}* (continued)", 0
            text += "\n" + item
            count += 1
        else:
            if flush(text, count):
                continue
        break
    if remaining:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {remaining} more"}]})
    return blocks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str | None, label: str) -> str:
    label = _escape(label).replace("|", "¦")
    return f"<{url}|{label}>" if url else label


def _name(text: str) -> str:
    return _escape(text).replace("`", "'")


def _escape(text: str) -> str:
    # the three characters Slack's mrkdwn asks to escape
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- sending ---------------------------------------------------------------------------------------


def post(
    webhook_url: str,
    payload: Mapping[str, Any],
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Posts the message; raises `SinkError`, with the webhook masked, when Slack does not take it."""
    secrets = [webhook_url, httpx.URL(webhook_url).path]
    extra = {"sleep": sleep} if sleep is not None else {}
    with Client(
        "Slack", webhook_url, {"Content-Type": "application/json"}, secrets, policy, **extra
    ) as client:
        response = client.request("POST", webhook_url, json=payload)
    if response.text.strip() not in ("", "ok"):
        raise SinkError(client.scrub(f"Slack: unexpected answer: {response.text.strip()[:200]}"))
