"""Masks secrets in tool output before it reaches a log file, a report or a notification.

Plan output can hold credentials (provider errors echo request URLs, non-sensitive variables are
printed in clear), so every line driftctl keeps passes through a `Redactor` first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "***"
_SECRET_ENV_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIAL|WEBHOOK|(?:^|_)AUTH(?:_|$)",
    re.IGNORECASE,
)
_MIN_SECRET_LENGTH = 6  # shorter env values ("1", "true") would mask ordinary words
_PATTERNS = (
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"),  # GitHub fine-grained tokens
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),  # GitLab tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
    re.compile(r"(?<=hooks\.slack\.com/services/)[A-Za-z0-9/]+"),  # Slack incoming webhooks
    re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
    re.compile(
        r"((?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\"']?\s*[:=]\s*)"
        r"(\"[^\"]{4,}\"|'[^']{4,}'|[^\s\"',}]{4,})",
        re.IGNORECASE,
    ),
)
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


class Redactor:
    """Line-by-line masking; keeps state only to swallow multi-line private key blocks."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        values = {
            value
            for name, value in environ.items()
            if _SECRET_ENV_NAME.search(name) and len(value) >= _MIN_SECRET_LENGTH
        }
        # longest first, so a secret that contains another is masked whole
        self._values = sorted(values, key=len, reverse=True)
        self._in_pem = False

    def line(self, text: str) -> str:
        if self._in_pem:
            self._in_pem = not _PEM_END.search(text)
            return MASK
        if _PEM_BEGIN.search(text):
            self._in_pem = not _PEM_END.search(text)
            return MASK
        for value in self._values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(_mask_match, text)
        return text

    def text(self, text: str) -> str:
        return "\n".join(self.line(line) for line in text.split("\n"))


def _mask_match(match: re.Match[str]) -> str:
    if match.re.groups < 2:
        return MASK
    # key = value patterns keep the key and the quotes, so a reader still knows what was there
    value = match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"
