"""The run's options as one frozen value: defaults < `.driftctl.yaml` < `DRIFTCTL_*` env < flags.

Every key has one parser that accepts both YAML-native values and strings (from the environment),
so a bad value is rejected the same way wherever it came from, naming its source and key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftctl import discover, ignore, shard
from driftctl.model import FailOn, Shard, Tool
from driftctl.sinks.forge import TRACKERS
from driftctl.sinks.slack import NOTIFY_MODES

CONFIG_FILE = ".driftctl.yaml"
ENV_PREFIX = "DRIFTCTL_"
FORMATS = ("table", "json", "markdown")
AUTO = "auto"


class ConfigError(Exception):
    """A bad option; the message names where it came from, the key and the reason."""


@dataclass(frozen=True)
class Config:
    root: Path = Path()
    tool: Tool = Tool.TERRAGRUNT  # load() resolves `auto` (its default) from the root's layout
    tool_binary: str | None = None
    root_config: str = "root.hcl"
    module_patterns: tuple[str, ...] = ("modules/",)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    parallelism: int = 4
    timeout: float = 1800.0
    retries: int = 2
    retry_backoff: float = 5.0
    lock: bool = False
    init: bool = True
    log_dir: Path | None = None
    outputs_count_as_drift: bool = False
    outside_counts_as_drift: bool = False
    log_plan: bool = False
    detail: bool = False
    ignore: tuple[ignore.IgnoreRule, ...] = ()
    fail_on: FailOn = FailOn.DRIFT
    format: str = "table"
    report: Path | None = None
    shard: Shard | None = None  # `I/N`: this worker plans part I of N of the selection
    # changed-stack selection
    base: str | None = None
    include_uncommitted: bool = False
    global_files: tuple[str, ...] | None = None
    # metrics
    push: bool = False
    pushgateway_url: str | None = None
    job: str = "drift-detection"
    grouping_labels: Mapping[str, str] = field(default_factory=dict)
    allow_reset: bool = False
    dry_run_push: bool = False
    ca_bundle: Path | None = None
    push_timeout: float = 10.0
    # history store: None is the per-root SQLite file, "none" turns it off (see history/target.py)
    history_url: str | None = None
    history_retention: float = 400 * 86400.0
    # alert rule thresholds
    alert_stale_hours: float = 26.0
    alert_unaddressed_hours: float = 72.0
    alert_many_stacks: int = 10
    alert_erroring_runs: int = 3
    alert_runbook_url: str | None = None
    # notifications: Slack, the forge's issues, the pull request's comment
    notify: str = "on-change"
    slack_webhook_url: str | None = field(default=None, repr=False)  # a secret: flag or environment
    issue_tracker: str | None = None
    issue_repo: str | None = None
    issue_api_url: str | None = None
    issue_label: str = "drift"
    issue_error_label: str = "drift-error"
    issue_errors_after: int = 3
    max_open_issues: int | None = None
    comment_on_pr: bool = False
    notify_failures_ok: bool = False
    notify_timeout: float = 60.0  # per request to Slack or the forge, retries included


# ---- value parsers: each returns the typed value or raises ValueError with the reason ----

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_duration(value: object) -> float:
    """Seconds from `90`, `90s`, `30m`, `1.5h`, `400d`."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 90s, 30m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if not 0 < seconds < math.inf:
        raise ValueError(f"must be greater than zero, got {value!r}")
    return seconds


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int_at_least(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def _positive_float(value: object) -> float:
    try:
        number = float(str(value)) if not isinstance(value, bool) else float("nan")
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not 0 < number < math.inf:
        raise ValueError(f"must be a number greater than zero, got {value!r}")
    return number


def _text(value: object) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or str(value) == "":
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _path(value: object) -> Path:
    return Path(_text(value)).expanduser()


def _optional_path(value: object) -> Path | None:
    return None if value is None else _path(value)


def _strings(value: object) -> tuple[str, ...]:
    """A list from YAML, or a comma-separated string from the environment."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(_text(item).strip() for item in items if str(item).strip())


def _optional_strings(value: object) -> tuple[str, ...] | None:
    return None if value is None else _strings(value)


def _labels(value: object) -> dict[str, str]:
    """A mapping from YAML, or `k=v,k2=v2` from the environment or flags."""
    from driftctl.history.pushgateway import (
        LABEL_NAME,
        RESERVED_LABELS,
    )  # the HTTP client, only when labels are set

    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"expected name=value pairs separated by commas, got {value!r}")
        value = {name.strip(): text.strip() for name, text in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of label names to values, got {value!r}")
    labels: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
        if name in RESERVED_LABELS:
            raise ValueError(f"{name!r} is reserved by driftctl's metrics")
        labels[name] = _text(text)
    return labels


def _ignore_rules(value: object) -> tuple[ignore.IgnoreRule, ...]:
    """Rules come from `.driftctl.yaml` only (`_from_file` reads them node by node, for line numbers)."""
    if isinstance(value, str):
        raise ValueError("ignore rules are read from .driftctl.yaml only")
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of rules, got {value!r}")
    return tuple(ignore.parse_rule(item, "ignore") for item in value)


def _choice(enum_type: type[FailOn]) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        try:
            return enum_type(str(value).strip().lower())
        except ValueError:
            names = ", ".join(member.value for member in enum_type)
            raise ValueError(f"expected one of {names}, got {value!r}") from None

    return parse


def _one_of(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda value: None if value is None else parse(value)


def _tool(value: object) -> Tool | None:
    """A tool, or None for `auto`."""
    if str(value).strip().lower() == AUTO:
        return None
    try:
        return Tool(str(value).strip().lower())
    except ValueError:
        names = ", ".join([AUTO, *(member.value for member in Tool)])
        raise ValueError(f"expected one of {names}, got {value!r}") from None


def resolve_tool(root: Path) -> Tool:
    """`--tool auto`: Terragrunt when the root holds its files, else OpenTofu for `*.tofu` files or
    when only `tofu` is installed, else Terraform."""
    tofu_only = shutil.which("tofu") is not None and shutil.which("terraform") is None
    return discover.detect_tool(root, tofu_only=tofu_only)


def _format(value: object) -> str:
    text = str(value).strip().lower()
    if text not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {value!r}")
    return text


_PARSERS: dict[str, Callable[[object], Any]] = {
    "root": _path,
    "tool": _tool,
    "tool_binary": _optional_text,
    "root_config": _text,
    "module_patterns": _strings,
    "include": _strings,
    "exclude": _strings,
    "parallelism": _int_at_least(1),
    "timeout": parse_duration,
    "retries": _int_at_least(0),
    "retry_backoff": parse_duration,
    "lock": _bool,
    "init": _bool,
    "log_dir": _optional_path,
    "outputs_count_as_drift": _bool,
    "outside_counts_as_drift": _bool,
    "log_plan": _bool,
    "detail": _bool,
    "ignore": _ignore_rules,
    "fail_on": _choice(FailOn),
    "format": _format,
    "report": _optional_path,
    "shard": lambda value: None if value is None else shard.parse(value),
    "base": _optional_text,
    "include_uncommitted": _bool,
    "global_files": _optional_strings,
    "push": _bool,
    "pushgateway_url": _optional_text,
    "job": _text,
    "grouping_labels": _labels,
    "allow_reset": _bool,
    "dry_run_push": _bool,
    "ca_bundle": _optional_path,
    "push_timeout": parse_duration,
    "history_url": _optional_text,
    "history_retention": parse_duration,
    "alert_stale_hours": _positive_float,
    "alert_unaddressed_hours": _positive_float,
    "alert_many_stacks": _int_at_least(1),
    "alert_erroring_runs": _int_at_least(1),
    "alert_runbook_url": _optional_text,
    "notify": _one_of(*NOTIFY_MODES),
    "slack_webhook_url": _optional_text,
    "issue_tracker": _optional(_one_of(*TRACKERS)),
    "issue_repo": _optional_text,
    "issue_api_url": _optional_text,
    "issue_label": _text,
    "issue_error_label": _text,
    "issue_errors_after": _int_at_least(1),
    "max_open_issues": _optional(_int_at_least(0)),
    "comment_on_pr": _bool,
    "notify_failures_ok": _bool,
    "notify_timeout": parse_duration,
}
assert set(_PARSERS) == {f.name for f in dataclasses.fields(Config)}, "every option needs a parser"
OPTION_KEYS = frozenset(_PARSERS)

# credentials are read from the environment only, so they never sit in a config file or a process list
SECRET_ENV = (
    "DRIFTCTL_PUSHGATEWAY_USERNAME",
    "DRIFTCTL_PUSHGATEWAY_PASSWORD",
    "DRIFTCTL_PUSHGATEWAY_TOKEN",
    "DRIFTCTL_ISSUE_TOKEN",
)
# options that are credentials: never read from a file that is committed to the repository
SECRET_KEYS = frozenset({"slack_webhook_url"})


def load(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    config_file: Path | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> Config:
    """Merge the sources; `flags` holds only the options given on the command line.

    `flag_names` maps a key to the flag the user typed, for error messages (default `--key-name`).
    """
    names = dict(flag_names or {})
    values: dict[str, Any] = {}
    env_values = _from_env(environ)
    root = _parse(names.get("root", "--root"), "root", flags["root"]) if "root" in flags else None
    root = root if root is not None else env_values.get("root", Path())
    file = config_file if config_file is not None else root / CONFIG_FILE
    if config_file is not None or file.is_file():
        values.update(_from_file(file))
    values.update(env_values)
    values.update(
        {key: _parse(names.get(key, f"--{key.replace('_', '-')}"), key, v) for key, v in flags.items()}
    )
    values.setdefault("root", root)
    if values.get("tool") is None:
        values["tool"] = resolve_tool(values["root"])
    return Config(**values)


def _parse(source: str, key: str, value: object) -> Any:
    try:
        return _PARSERS[key](value)
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in SECRET_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in _PARSERS:
            continue  # other tools' DRIFTCTL_* variables are not ours to reject
        values[key] = _parse(name, key, value)
    return values


def _from_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{path}:{_error_line(error, text)}: invalid YAML: {_error_reason(error)}"
        ) from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    values: dict[str, Any] = {}
    # keys are read from the nodes, as written: YAML 1.1 would turn `on:` or `yes:` into booleans
    for key_node, value_node in node.value:
        key = str(key_node.value)
        where = f"{path}:{key_node.start_mark.line + 1}"
        name = key.replace("-", "_")
        if name not in _PARSERS or name == "root":
            raise ConfigError(f"{where}: {key}: unknown option")
        if name in SECRET_KEYS:
            raise ConfigError(f"{where}: {key}: a secret; give it as {ENV_PREFIX}{name.upper()} instead")
        if name == "ignore":
            values[name] = _ignore_section(path, where, value_node)
            continue
        values[name] = _parse(f"{where}: {key}", name, _construct(where, value_node))
    return values


def _construct(where: str, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: invalid YAML: {_error_reason(error)}") from None


def _ignore_section(path: Path, where: str, node: yaml.Node) -> tuple[ignore.IgnoreRule, ...]:
    """Each rule parsed with the line it starts on, so an error and an expiry warning point at it."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{where}: ignore: expected a list of rules")
    rules = []
    for item in node.value:
        at = f"{path}:{item.start_mark.line + 1}"
        try:
            rules.append(ignore.parse_rule(_construct(at, item), at))
        except ValueError as error:
            raise ConfigError(f"{at}: ignore: {error}") from None
    return tuple(rules)


def _error_line(error: yaml.YAMLError, text: str) -> int:
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(error, "position", None)  # a ReaderError (control character) has only this
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else 1


def _error_reason(error: yaml.YAMLError) -> str:
    reason = getattr(error, "problem", None) or getattr(error, "reason", None) or type(error).__name__
    return " ".join(str(reason).split())
