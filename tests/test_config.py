"""driftctl.config: defaults < `.driftctl.yaml` < `DRIFTCTL_*` env < flags, and one-line errors."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path

import pytest

from driftctl.config import CONFIG_FILE, Config, ConfigError, load, parse_duration
from driftctl.model import FailOn, Tool


def write_config(root: Path, text: str, name: str = CONFIG_FILE) -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def load_at(
    root: Path,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Config:
    """Loads with `root` given as a flag (a string, as click passes it) and `text` as its config file."""
    if text is not None:
        write_config(root, text)
    return load({"root": str(root), **(flags or {})}, env or {})


def config_error(root: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_at(root, text)
    message = str(caught.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


# ---- defaults ----


def test_defaults_without_any_source(tmp_path: Path) -> None:
    config = load_at(tmp_path)

    assert config == Config(root=tmp_path, tool=Tool.TERRAFORM)  # auto, on an empty root
    assert config.root_config == "root.hcl"
    assert config.module_patterns == ("modules/",)
    assert config.include == () and config.exclude == ()
    assert config.parallelism == 4
    assert config.timeout == 1800.0
    assert config.retries == 2
    assert config.retry_backoff == 5.0
    assert config.lock is False and config.init is True
    assert config.outputs_count_as_drift is False
    assert config.fail_on is FailOn.DRIFT
    assert config.format == "table"
    assert config.log_dir is None and config.report is None
    assert config.global_files is None
    assert config.grouping_labels == {}
    assert config.job == "drift-detection"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_at(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.parallelism = 9  # type: ignore[misc]


def test_empty_and_comment_only_files_give_defaults(tmp_path: Path) -> None:
    assert load_at(tmp_path, "") == Config(root=tmp_path, tool=Tool.TERRAFORM)
    assert load_at(tmp_path, "# nothing here\n\n") == Config(root=tmp_path, tool=Tool.TERRAFORM)


def test_default_root_is_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, "parallelism: 7\n")
    monkeypatch.chdir(tmp_path)

    config = load({}, {})

    assert config.root == Path()
    assert config.parallelism == 7


# ---- the file ----


def test_file_values_of_every_type(tmp_path: Path) -> None:
    config = load_at(
        tmp_path,
        """
tool: terraform
tool_binary: /opt/bin/terraform
root_config: terragrunt.hcl
module_patterns: [modules/, "examples/*"]
include:
  - prod/*
  - shared
exclude: "a, b"
parallelism: 8
timeout: 30m
retries: 0
retry_backoff: 1.5
lock: yes
init: false
log_dir: ~/driftlogs
outputs_count_as_drift: true
fail_on: ERROR
format: Markdown
report: out/report.json
base: origin/main
include_uncommitted: on
global_files: [versions.tf]
grouping_labels: {team: infra, shard: 3}
push_timeout: 250ms
alert_stale_hours: 1.5
alert_many_stacks: 2
alert_runbook_url: https://example.com/runbook
""",
    )

    assert config.tool is Tool.TERRAFORM
    assert config.tool_binary == "/opt/bin/terraform"
    assert config.root_config == "terragrunt.hcl"
    assert config.module_patterns == ("modules/", "examples/*")
    assert config.include == ("prod/*", "shared")
    assert config.exclude == ("a", "b")
    assert config.parallelism == 8
    assert config.timeout == 1800.0
    assert config.retries == 0
    assert config.retry_backoff == 1.5
    assert config.lock is True and config.init is False
    assert config.log_dir == Path("~/driftlogs").expanduser()
    assert config.outputs_count_as_drift is True
    assert config.fail_on is FailOn.ERROR
    assert config.format == "markdown"
    assert config.report == Path("out/report.json")
    assert config.base == "origin/main"
    assert config.include_uncommitted is True
    assert config.global_files == ("versions.tf",)
    assert config.grouping_labels == {"team": "infra", "shard": "3"}
    assert config.push_timeout == 0.25
    assert config.alert_stale_hours == 1.5
    assert config.alert_many_stacks == 2
    assert config.alert_runbook_url == "https://example.com/runbook"
    assert config.root == tmp_path


def test_kebab_case_keys_are_accepted(tmp_path: Path) -> None:
    config = load_at(tmp_path, "fail-on: never\noutputs-count-as-drift: true\nretry-backoff: 2s\n")

    assert config.fail_on is FailOn.NEVER
    assert config.outputs_count_as_drift is True
    assert config.retry_backoff == 2.0


def test_kebab_case_key_error_names_the_key_as_written(tmp_path: Path) -> None:
    message = config_error(tmp_path, "job: x\nfail-on: sometimes\n")

    assert message == (
        f"{tmp_path / CONFIG_FILE}:2: fail-on: expected one of drift, error, never, got 'sometimes'"
    )


def test_null_clears_an_optional_value(tmp_path: Path) -> None:
    config = load_at(tmp_path, "tool_binary: null\nlog_dir: ~\nglobal_files: null\n")

    assert config.tool_binary is None and config.log_dir is None and config.global_files is None


def test_list_values_are_tuples_with_blanks_dropped(tmp_path: Path) -> None:
    config = load_at(tmp_path, 'include: [" a ", "", b]\nexclude: []\n')

    assert config.include == ("a", "b")
    assert config.exclude == ()
    assert isinstance(config.include, tuple)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("parallelism: 0", "parallelism: must be at least 1, got 0"),
        ("parallelism: -3", "parallelism: must be at least 1, got -3"),
        ("parallelism: abc", "parallelism: expected a whole number, got 'abc'"),
        ("parallelism: 1.5", "parallelism: expected a whole number, got 1.5"),
        ("parallelism: true", "parallelism: expected a whole number, got True"),
        ("retries: -1", "retries: must be at least 0, got -1"),
        ("alert_many_stacks: 0", "alert_many_stacks: must be at least 1, got 0"),
        ("alert_erroring_runs: x", "alert_erroring_runs: expected a whole number, got 'x'"),
        ("timeout: 0", "timeout: must be greater than zero, got 0"),
        ("timeout: 0s", "timeout: must be greater than zero, got '0s'"),
        ("timeout: 5w", "timeout: expected a duration such as 90s, 30m or 1h, got '5w'"),
        ("timeout: -5s", "timeout: expected a duration such as 90s, 30m or 1h, got '-5s'"),
        ("timeout: true", "timeout: expected a duration such as 30m, got True"),
        ("retry_backoff: []", "retry_backoff: expected a duration such as 90s, 30m or 1h, got []"),
        ("push_timeout: soon", "push_timeout: expected a duration such as 90s, 30m or 1h, got 'soon'"),
        ("lock: maybe", "lock: expected true or false, got 'maybe'"),
        ("init: 2", "init: expected true or false, got 2"),
        ("push: ''", "push: expected true or false, got ''"),
        ("tool: pulumi", "tool: expected one of auto, terragrunt, terraform, tofu, got 'pulumi'"),
        ("fail_on: sometimes", "fail_on: expected one of drift, error, never, got 'sometimes'"),
        ("format: xml", "format: expected one of table, json, markdown, got 'xml'"),
        ("include: {a: 1}", "include: expected a list of strings, got {'a': 1}"),
        ("include: 5", "include: expected a list of strings, got 5"),
        ("exclude: [[a]]", "exclude: expected a non-empty string, got ['a']"),
        ("module_patterns: [{a: b}]", "module_patterns: expected a non-empty string, got {'a': 'b'}"),
        ("job: ''", "job: expected a non-empty string, got ''"),
        ("job: [a]", "job: expected a non-empty string, got ['a']"),
        ("job: null", "job: expected a non-empty string, got None"),
        ("root_config: ''", "root_config: expected a non-empty string, got ''"),
        ("log_dir: ''", "log_dir: expected a non-empty string, got ''"),
        ("tool_binary: {a: b}", "tool_binary: expected a non-empty string, got {'a': 'b'}"),
        ("alert_stale_hours: 0", "alert_stale_hours: must be a number greater than zero, got 0"),
        ("alert_stale_hours: -1.5", "alert_stale_hours: must be a number greater than zero, got -1.5"),
        ("alert_stale_hours: abc", "alert_stale_hours: expected a number, got 'abc'"),
        (
            "alert_unaddressed_hours: true",
            "alert_unaddressed_hours: must be a number greater than zero, got True",
        ),
        (
            "alert_unaddressed_hours: .nan",
            "alert_unaddressed_hours: must be a number greater than zero, got nan",
        ),
        ("grouping_labels: [a]", "grouping_labels: expected a mapping of label names to values, got ['a']"),
        (
            "grouping_labels: team",
            "grouping_labels: expected name=value pairs separated by commas, got 'team'",
        ),
        ("grouping_labels: {job: x}", "grouping_labels: 'job' is reserved by driftctl's metrics"),
        ("grouping_labels: {1bad: x}", "grouping_labels: '1bad' is not a valid Prometheus label name"),
        ("grouping_labels: {__meta: x}", "grouping_labels: '__meta' is not a valid Prometheus label name"),
        ("grouping_labels: {a-b: x}", "grouping_labels: 'a-b' is not a valid Prometheus label name"),
        ("grouping_labels: {1: x}", "grouping_labels: 1 is not a valid Prometheus label name"),
        ("grouping_labels: {team: ''}", "grouping_labels: expected a non-empty string, got ''"),
        ("grouping_labels: {team: [x]}", "grouping_labels: expected a non-empty string, got ['x']"),
    ],
)
def test_bad_file_value_names_file_line_and_key(tmp_path: Path, line: str, reason: str) -> None:
    message = config_error(tmp_path, f"# driftctl settings\njob: nightly\n{line}\nbase: main\n")

    assert message == f"{tmp_path / CONFIG_FILE}:3: {reason}"


def test_documented_error_shape(tmp_path: Path) -> None:
    message = config_error(tmp_path, "tool: terragrunt\n\nparallelism: 0\n")

    assert message.endswith(".driftctl.yaml:3: parallelism: must be at least 1, got 0")


def test_line_of_a_key_with_a_multi_line_value(tmp_path: Path) -> None:
    text = "include:\n  - a\n  - b\nexclude:\n  - c\nparallelism:\n  0\n"

    assert config_error(tmp_path, text).endswith(":6: parallelism: must be at least 1, got 0")


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("paralelism: 4\n", 1, "paralelism"),
        ("job: x\n\nverbose: true\n", 3, "verbose"),
        ("job: x\nroot: /elsewhere\n", 2, "root"),  # the root locates the file; it cannot be in it
        ("job: x\nJob: y\n", 2, "Job"),
        ("job: x\nfail--on: drift\n", 2, "fail--on"),
        ("job: x\npushgateway_password: hunter22\n", 2, "pushgateway_password"),
    ],
)
def test_unknown_key_names_key_and_line(tmp_path: Path, text: str, line: int, key: str) -> None:
    message = config_error(tmp_path, text)

    assert message == f"{tmp_path / CONFIG_FILE}:{line}: {key}: unknown option"


def test_unknown_boolean_like_key_names_its_text_and_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, "job: x\nbase: main\non: push\n")

    assert message == f"{tmp_path / CONFIG_FILE}:3: on: unknown option"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("parallelism: 2\ntimeout: [1, 2\njob: x\n", 3),
        ("parallelism: 2\n  bad: indent\n", 2),
        ("job: x\n\tbase: y\n", 2),
        ("job: x\n---\njob: y\n", 2),
        ('job: "unterminated\n', 2),
        ("job: !!python/object:os.system x\n", 1),
    ],
)
def test_invalid_yaml_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    message = config_error(tmp_path, text)

    assert message.startswith(f"{tmp_path / CONFIG_FILE}:{line}: invalid YAML: ")


def test_control_character_error_is_one_line_with_the_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, "job: x\nbase: a\x07b\n")

    assert message.startswith(f"{tmp_path / CONFIG_FILE}:2: invalid YAML: ")


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_bytes(b"job: m\xfcller\n")

    with pytest.raises(ConfigError, match=r"\.driftctl\.yaml"):
        load_at(tmp_path)


def test_nan_duration_is_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, "timeout: .nan\n")

    assert ":1: timeout: " in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    message = config_error(tmp_path, text)

    assert message == f"{tmp_path / CONFIG_FILE}: expected a mapping of option names to values"


def test_duplicate_key_last_wins(tmp_path: Path) -> None:
    assert load_at(tmp_path, "job: a\njob: b\n").job == "b"


# ---- explicit --config ----


def test_explicit_config_file_replaces_the_root_one(tmp_path: Path) -> None:
    write_config(tmp_path, "parallelism: 2\njob: from-root\n")
    other = write_config(tmp_path, "parallelism: 3\n", name="other.yaml")

    config = load({"root": str(tmp_path)}, {}, other)

    assert config.parallelism == 3
    assert config.job == "drift-detection"


def test_explicit_config_file_missing_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"

    with pytest.raises(ConfigError) as caught:
        load({"root": str(tmp_path)}, {}, missing)

    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"


def test_explicit_config_file_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{tmp_path}: cannot read: "):
        load({"root": str(tmp_path)}, {}, tmp_path)


def test_explicit_config_errors_name_that_file(tmp_path: Path) -> None:
    other = write_config(tmp_path, "job: x\nretries: -2\n", name="ci.yaml")

    with pytest.raises(ConfigError) as caught:
        load({}, {}, other)

    assert str(caught.value) == f"{other}:2: retries: must be at least 0, got -2"


def test_missing_implicit_file_is_fine(tmp_path: Path) -> None:
    assert load_at(tmp_path / "nowhere") == Config(root=tmp_path / "nowhere", tool=Tool.TERRAFORM)


# ---- environment ----


def test_env_values_are_parsed_from_strings(tmp_path: Path) -> None:
    config = load_at(
        tmp_path,
        env={
            "DRIFTCTL_PARALLELISM": " 6 ",
            "DRIFTCTL_TIMEOUT": "90",
            "DRIFTCTL_LOCK": "on",
            "DRIFTCTL_INIT": "0",
            "DRIFTCTL_INCLUDE": "prod/*, shared ,,dev",
            "DRIFTCTL_EXCLUDE": "",
            "DRIFTCTL_GROUPING_LABELS": "team=infra, region=eu-west-1,,",
            "DRIFTCTL_TOOL": "TOFU",
            "DRIFTCTL_FAIL_ON": "never",
            "DRIFTCTL_LOG_DIR": "/var/log/drift",
            "DRIFTCTL_ALERT_STALE_HOURS": "0.5",
        },
    )

    assert config.parallelism == 6
    assert config.timeout == 90.0
    assert config.lock is True and config.init is False
    assert config.include == ("prod/*", "shared", "dev")
    assert config.exclude == ()
    assert config.grouping_labels == {"team": "infra", "region": "eu-west-1"}
    assert config.tool is Tool.TOFU
    assert config.fail_on is FailOn.NEVER
    assert config.log_dir == Path("/var/log/drift")
    assert config.alert_stale_hours == 0.5


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, env={"DRIFTCTL_PARALLELISM": "abc"})

    assert str(caught.value) == "DRIFTCTL_PARALLELISM: expected a whole number, got 'abc'"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("DRIFTCTL_TIMEOUT", "forever", "expected a duration such as 90s, 30m or 1h, got 'forever'"),
        ("DRIFTCTL_TIMEOUT", "nan", "expected a duration such as 90s, 30m or 1h, got 'nan'"),
        ("DRIFTCTL_LOCK", "maybe", "expected true or false, got 'maybe'"),
        ("DRIFTCTL_GROUPING_LABELS", "team", "expected name=value pairs separated by commas, got 'team'"),
        ("DRIFTCTL_GROUPING_LABELS", "=x", "'' is not a valid Prometheus label name"),
        ("DRIFTCTL_GROUPING_LABELS", "stack=x", "'stack' is reserved by driftctl's metrics"),
        ("DRIFTCTL_FORMAT", "yaml", "expected one of table, json, markdown, got 'yaml'"),
        ("DRIFTCTL_RETRIES", "-1", "must be at least 0, got -1"),
        ("DRIFTCTL_JOB", "", "expected a non-empty string, got ''"),
    ],
)
def test_bad_env_values(tmp_path: Path, name: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, env={name: value})

    assert str(caught.value) == f"{name}: {reason}"


def test_unrelated_and_secret_env_variables_are_ignored(tmp_path: Path) -> None:
    config = load_at(
        tmp_path,
        env={
            "DRIFTCTL_SOMETHING_ELSE": "!!",
            "DRIFTCTL_PUSHGATEWAY_PASSWORD": "hunter22",
            "DRIFTCTL_PUSHGATEWAY_USERNAME": "me",
            "DRIFTCTL_PUSHGATEWAY_TOKEN": "t0ken",
            "PARALLELISM": "0",
            "XDRIFTCTL_PARALLELISM": "0",
        },
    )

    assert config == Config(root=tmp_path, tool=Tool.TERRAFORM)


def test_env_root_locates_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, "parallelism: 9\n")

    config = load({}, {"DRIFTCTL_ROOT": str(tmp_path)})

    assert config.root == tmp_path
    assert config.parallelism == 9


def test_flag_root_beats_env_root_for_the_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_config(tmp_path / "a", "parallelism: 1\n")
    write_config(tmp_path / "b", "parallelism: 2\n")

    config = load({"root": str(tmp_path / "b")}, {"DRIFTCTL_ROOT": str(tmp_path / "a")})

    assert config.root == tmp_path / "b"
    assert config.parallelism == 2


# ---- precedence ----


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    text = "parallelism: 2\ntimeout: 10m\njob: file\nlock: true\n"
    env = {"DRIFTCTL_PARALLELISM": "3", "DRIFTCTL_TIMEOUT": "20m"}

    only_file = load_at(tmp_path, text)
    file_env = load_at(tmp_path, text, env=env)
    everything = load_at(tmp_path, text, env=env, flags={"parallelism": 5})

    assert (only_file.parallelism, only_file.timeout, only_file.job) == (2, 600.0, "file")
    assert (file_env.parallelism, file_env.timeout, file_env.job) == (3, 1200.0, "file")
    assert (everything.parallelism, everything.timeout, everything.job) == (5, 1200.0, "file")
    assert only_file.lock is file_env.lock is everything.lock is True
    assert load_at(tmp_path, "").parallelism == 4


def test_env_beats_file_for_lists_and_labels_without_merging(tmp_path: Path) -> None:
    config = load_at(
        tmp_path,
        "include: [a, b]\ngrouping_labels: {team: infra, region: eu}\n",
        env={"DRIFTCTL_INCLUDE": "c", "DRIFTCTL_GROUPING_LABELS": "team=platform"},
    )

    assert config.include == ("c",)
    assert config.grouping_labels == {"team": "platform"}


def test_flags_are_parsed_and_named_as_flags(tmp_path: Path) -> None:
    config = load_at(
        tmp_path,
        flags={"fail_on": "error", "include": ["x/*"], "timeout": "2m", "log_dir": "logs", "lock": True},
    )

    assert config.fail_on is FailOn.ERROR
    assert config.include == ("x/*",)
    assert config.timeout == 120.0
    assert config.log_dir == Path("logs")
    assert config.lock is True

    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, flags={"fail_on": "bogus"})
    assert str(caught.value) == "--fail-on: expected one of drift, error, never, got 'bogus'"

    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, flags={"parallelism": 0})
    assert str(caught.value) == "--parallelism: must be at least 1, got 0"


def test_a_bad_file_fails_even_when_flags_override_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=":1: parallelism: "):
        load_at(tmp_path, "parallelism: 0\n", flags={"parallelism": 3})


# ---- value parsers ----


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (" 2m ", 120.0),
        ("2 m", 120.0),
        ("0.5s", 0.5),
        ("400d", 400 * 86400.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", [0, -1, 0.0, "0", "0s", "-1s", "1w", "", "abc", "1.5.2h", "m", "1h30m", "1e3", True, False, None]
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"got "):
        parse_duration(value)


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "yes", "On", " on "])
def test_true_booleans(tmp_path: Path, text: str) -> None:
    assert load_at(tmp_path, env={"DRIFTCTL_PUSH": text}).push is True


@pytest.mark.parametrize("text", ["0", "false", "False", "no", "OFF"])
def test_false_booleans(tmp_path: Path, text: str) -> None:
    assert load_at(tmp_path, env={"DRIFTCTL_INIT": text}).init is False


@pytest.mark.parametrize("text", ["y", "n", "2", "", "truthy", "enabled"])
def test_bad_booleans(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"^DRIFTCTL_PUSH: expected true or false"):
        load_at(tmp_path, env={"DRIFTCTL_PUSH": text})


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("k=v", {"k": "v"}),
        ("k=v,k2=v2", {"k": "v", "k2": "v2"}),
        (" k = v , _k2=v2 ", {"k": "v", "_k2": "v2"}),
        ("url=a=b", {"url": "a=b"}),
        ("", {}),
    ],
)
def test_grouping_labels_from_text(tmp_path: Path, text: str, labels: dict[str, str]) -> None:
    assert load_at(tmp_path, flags={"grouping_labels": text}).grouping_labels == labels


@pytest.mark.parametrize("name", ["job", "stack", "action", "version", "mode"])
def test_reserved_label_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, flags={"grouping_labels": f"team=x,{name}=y"})

    assert str(caught.value) == f"--grouping-labels: {name!r} is reserved by driftctl's metrics"


@pytest.mark.parametrize("name", ["1a", "a-b", "a.b", "__name__", "é", "a b"])
def test_invalid_label_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_at(tmp_path, flags={"grouping_labels": f"{name}=y"})

    assert str(caught.value) == f"--grouping-labels: {name!r} is not a valid Prometheus label name"


def test_durations_in_the_file(tmp_path: Path) -> None:
    config = load_at(tmp_path, "timeout: 90\nretry_backoff: 90s\npush_timeout: 1.5h\n")

    assert (config.timeout, config.retry_backoff, config.push_timeout) == (90.0, 90.0, 5400.0)
    assert all(isinstance(v, float) for v in (config.timeout, config.retry_backoff))
    assert not math.isnan(config.timeout)


# ---- --tool auto (the default): the root's layout decides ----


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["live/app/terragrunt.hcl"], Tool.TERRAGRUNT),
        (["live/terragrunt.stack.hcl", "modules/x/main.tf"], Tool.TERRAGRUNT),
        (["app/main.tf"], Tool.TERRAFORM),
        (["app/main.tofu"], Tool.TOFU),
    ],
)
def test_tool_auto_follows_the_layout(tmp_path: Path, files: list[str], expected: Tool) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")

    assert load_at(tmp_path).tool is expected
    assert load_at(tmp_path, env={"DRIFTCTL_TOOL": "auto"}).tool is expected
    assert load_at(tmp_path, flags={"tool": "AUTO"}).tool is expected


def test_an_explicit_tool_wins_over_the_layout(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "terragrunt.hcl").write_text("", encoding="utf-8")

    assert load_at(tmp_path, "tool: terraform\n").tool is Tool.TERRAFORM


def test_tool_auto_picks_tofu_when_only_tofu_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tofu = bin_dir / "tofu"
    tofu.write_text("#!/bin/sh\n", encoding="utf-8")
    tofu.chmod(0o755)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.tf").write_text("", encoding="utf-8")
    monkeypatch.setenv("PATH", str(bin_dir))

    assert load_at(tmp_path).tool is Tool.TOFU
