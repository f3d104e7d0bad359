"""Masks secrets in tool output before it reaches a log file, a report or a notification.

Plan output can hold credentials (provider errors echo request URLs, non-sensitive variables are
printed in clear), so every line driftctl keeps passes through a `Redactor` first. A secret is
masked in every form a tool prints it: as is, JSON- or HCL-escaped, URL-encoded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_SECRET_ENV_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIAL|WEBHOOK|(?:^|_)AUTH(?:_|$)",
    re.IGNORECASE,
)
_MIN_SECRET_LENGTH = 6
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
    """Line-by-line masking; keeps state only to swallow multi-line private key blocks.

    Masks the values of secret-named variables in `environ` and any further `values` (the values a
    plan marks sensitive, say), each in every form of `secret_forms`.
    """

    def __init__(self, environ: Mapping[str, str], values: Iterable[str] = ()) -> None:
        secrets = {value for name, value in environ.items() if _SECRET_ENV_NAME.search(name)} | set(values)
        # shorter values ("1", "true") would mask ordinary words
        self._secrets = frozenset(value for value in secrets if len(value) >= _MIN_SECRET_LENGTH)
        forms = {form for value in self._secrets for form in secret_forms(value)}
        # longest first, so a secret that contains another is masked whole
        self._values = sorted((f for f in forms if len(f) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
        self._in_pem = False

    def with_values(self, values: Iterable[str]) -> Redactor:
        """A fresh redactor that also masks `values`."""
        return Redactor({}, self._secrets | set(values))

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


def secret_forms(value: str) -> set[str]:
    """`value` as tools print it: as is, JSON-escaped (Go's too), HCL-escaped, URL-encoded.

    A multi-line value adds each of its lines, since output is masked line by line.
    """
    once = _json_escaped(value)
    forms = {value, *value.splitlines(), once, _go_json(once), json.dumps(value)[1:-1]}
    twice = _json_escaped(once)  # a JSON document inside a JSON string (`jsonencode`, policies)
    forms |= {twice, _go_json(twice)}
    # Terraform prints strings HCL-escaped: JSON's escapes, and template sequences doubled
    forms.add(once.replace("${", "$${").replace("%{", "%%{"))
    encoded = {quote(value, safe=""), quote(value, safe="/:@"), quote_plus(value)}
    forms |= encoded | {_PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in encoded}
    return forms


_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def sensitive_values(document: Mapping[str, Any]) -> set[str]:
    """Every value a `show -json` plan document marks sensitive, as strings.

    Resource and output values come with a twin that marks them (`after` / `after_sensitive`,
    `before` / `before_sensitive`, `values` / `sensitive_values`), outputs with `sensitive`, and
    root module variables are declared `sensitive` in the configuration.
    """
    found = set(_marked(document))
    declared = ((document.get("configuration") or {}).get("root_module") or {}).get("variables") or {}
    for name, variable in (document.get("variables") or {}).items():
        if isinstance(declared.get(name), dict) and declared[name].get("sensitive"):
            found |= set(_leaves((variable or {}).get("value")))
    return found


_MARKED_PAIRS = (("before", "before_sensitive"), ("after", "after_sensitive"), ("values", "sensitive_values"))


def _marked(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _marked(item)
        return
    if not isinstance(node, dict):
        return
    for value_key, mark_key in _MARKED_PAIRS:
        if value_key in node and mark_key in node:
            yield from _masked(node[value_key], node[mark_key])
    if node.get("sensitive") is True and "value" in node:
        yield from _leaves(node["value"])
    for child in node.values():
        yield from _marked(child)


def _masked(value: Any, mark: Any) -> Iterator[str]:
    if mark is True:
        yield from _leaves(value)
    elif isinstance(mark, dict) and isinstance(value, dict):
        for key, inner in mark.items():
            yield from _masked(value.get(key), inner)
    elif isinstance(mark, list) and isinstance(value, list):
        for item, inner in zip(value, mark, strict=False):
            yield from _masked(item, inner)


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value
    elif value is not None and not isinstance(value, bool):
        yield json.dumps(value)


def _json_escaped(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _go_json(escaped: str) -> str:
    """Go's encoding/json (Terraform's) also escapes <, > and & for HTML, and U+2028/U+2029."""
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        escaped = escaped.replace(char, code)
    return escaped.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _mask_match(match: re.Match[str]) -> str:
    if match.re.groups < 2:
        return MASK
    # key = value patterns keep the key and the quotes, so a reader still knows what was there
    value = match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"
