"""Slack's incoming webhook, the part driftctl uses: POST a Block Kit message, checked like Slack does."""

from __future__ import annotations

from typing import Any

from fake_api import Answer, FakeApi, Request

WEBHOOK_PATH = "/services/T0001/B0001/wEbHoOkSeCrEt0123456789"


class FakeSlack(FakeApi):
    """Answers `ok`, or 400 `invalid_blocks` for a message over Slack's limits, as Slack does."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook(self) -> str:
        return self.url + WEBHOOK_PATH

    def route(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != WEBHOOK_PATH:
            return Answer(404, b"no_service")
        message = request.json()
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return Answer(400, b"no_text")
        blocks = message.get("blocks", [])
        if len(blocks) > 50 or any(len(text) > 3000 for text in _texts(blocks)):
            return Answer(400, b"invalid_blocks")
        self.messages.append(message)
        return Answer(200, b"ok")


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    texts = [str(b["text"]["text"]) for b in blocks if "text" in b]
    texts += [str(e["text"]) for b in blocks for e in b.get("elements", []) if "text" in e]
    return texts
