"""The CI files: the Woodpecker pipelines, the Dockerfile and the dependency lock.

Static checks only (no network, no Docker): every `.woodpecker/*.yml` is valid against Woodpecker's
JSON schema (kept next to the repository, in ../shared/woodpecker/schema.json; skipped in a clone that
lacks it), every image is pinned, the drift pipeline only turns red on errors, and the Dockerfile keeps
the properties the image is built for (hash-locked dependencies, checksum-verified binaries, non-root).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from driftctl import cli, config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "woodpecker" / "schema.json"
PIPELINE_DIR = REPO / ".woodpecker"
PIPELINES = sorted([*PIPELINE_DIR.glob("*.yml"), *PIPELINE_DIR.glob("*.yaml")])
DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "ci" / "requirements.lock"


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name}: not a mapping"
    return document


def _pipeline(name: str) -> dict[str, Any]:
    return _load(PIPELINE_DIR / name)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _steps(document: dict[str, Any], section: str = "steps") -> list[dict[str, Any]]:
    """A step list, whether written as a list or as a map keyed by step name."""
    value = document.get(section)
    if isinstance(value, dict):
        if section == "clone" and set(value) <= {"git"}:
            return [value["git"]] if value else []
        return [{"name": name, **(step or {})} for name, step in value.items()]
    return [step for step in _as_list(value) if isinstance(step, dict)]


def _step(document: dict[str, Any], name: str) -> dict[str, Any]:
    for step in _steps(document):
        if step.get("name") == name:
            return step
    raise AssertionError(f"no step named {name!r}")


def _commands(step: dict[str, Any]) -> str:
    return "\n".join(str(c) for c in _as_list(step.get("commands")))


def _driftctl_args(step: dict[str, Any], command: str = "plan") -> list[str]:
    """The arguments of the `driftctl <command>` invocation in a step's commands."""
    text = re.sub(r"\\\n", " ", _commands(step))
    for line in text.splitlines():
        if f"driftctl {command}" in line:
            words = shlex.split(line)
            return words[words.index(command) + 1 :]
    raise AssertionError(f"step {step.get('name')!r} does not run `driftctl {command}`")


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _conditions(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in _as_list(document.get("when")) if isinstance(c, dict)]


def _runs_on(document: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [c for c in _conditions(document) if event in _as_list(c.get("event"))]


# ---- the pipelines --------------------------------------------------------------------------------


def test_the_pipelines_exist() -> None:
    names = {p.name for p in PIPELINES}
    assert {"drift-detection.yml", "changed-stacks.yml", "build-image.yml"} <= names


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_pipeline_is_valid_against_woodpeckers_schema(path: Path) -> None:
    if not SCHEMA.is_file():
        pytest.skip(
            f"Woodpecker's JSON schema is not at {SCHEMA} (it ships next to the repository, not in it)"
        )
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(_load(path), schema)


IMAGE = re.compile(
    r"^(?:(?P<registry>[a-z0-9.-]+(?::\d+)?)/)?(?P<path>[a-z0-9._/-]+)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?:@sha256:(?P<digest>[0-9a-f]{64}))?$"
)


def _images(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for section in ("clone", "steps", "services"):
        for step in _steps(document, section):
            yield f"{section}.{step.get('name', '?')}", str(step.get("image", ""))


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_image_is_pinned_by_tag(path: Path) -> None:
    images = list(_images(_load(path)))
    assert images
    for where, image in images:
        match = IMAGE.match(image)
        assert match, f"{path.name} {where}: {image!r} is not registry/name:tag[@sha256:<64 hex>]"
        assert match["tag"] != "latest", f"{path.name} {where}: {image!r} floats on :latest"
        assert not re.fullmatch(r"v?\d+", match["tag"]), f"{path.name} {where}: {image!r}: major-only tag"


def test_driftctl_is_referenced_by_commit_sha_tag() -> None:
    for name in ("drift-detection.yml", "changed-stacks.yml", "drift-sharded.yml"):
        for step in _steps(_pipeline(name)):
            if "driftctl" in _commands(step):
                assert re.search(r"/driftctl:sha-[0-9a-f]{12}(@sha256:[0-9a-f]{64})?$", step["image"]), (
                    f"{name}: {step['image']!r} is not driftctl:sha-<12 hex>"
                )


SUBSTITUTION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_config_time_substitutions_only_name_woodpecker_variables(path: Path) -> None:
    """Woodpecker replaces every `${NAME...}` in the file before a step starts, with "" if NAME is not
    one of its variables: a shell `${var}` must be written `$var` or `$${var}`."""
    names = set(SUBSTITUTION.findall(path.read_text(encoding="utf-8")))
    assert all(n.startswith("CI_") for n in names), f"{path.name}: {sorted(names)}"


def test_drift_detection_runs_on_its_cron_and_by_hand() -> None:
    pipeline = _pipeline("drift-detection.yml")
    crons = _runs_on(pipeline, "cron")
    assert crons and all(c.get("cron") == "drift-detection" for c in crons)
    assert _runs_on(pipeline, "manual")
    assert not _runs_on(pipeline, "push") and not _runs_on(pipeline, "pull_request")


def test_drift_detection_plans_everything_pushes_and_fails_only_on_errors() -> None:
    step = _step(_pipeline("drift-detection.yml"), "drift-detection")
    args = _driftctl_args(step)
    assert "--all" in args
    assert "--push" in args
    assert _option(args, "--fail-on") == "error"
    assert _option(args, "--parallelism") == "4"
    assert _option(args, "--report")
    assert _option(args, "--format") == "markdown"
    environment = step["environment"]
    assert environment["DRIFTCTL_PUSHGATEWAY_URL"].startswith("http")
    for name, value in environment.items():
        if re.search(r"TOKEN|PASSWORD|SECRET|KEY", name):
            assert isinstance(value, dict) and set(value) == {"from_secret"}, f"{name} is not from_secret"


def test_drift_detection_needs_no_history() -> None:
    (clone,) = _steps(_pipeline("drift-detection.yml"), "clone")
    assert clone["settings"]["depth"] == 1


def test_changed_stacks_compares_with_the_right_base_and_never_pushes() -> None:
    pipeline = _pipeline("changed-stacks.yml")
    assert _runs_on(pipeline, "pull_request") and _runs_on(pipeline, "push")
    (clone,) = _steps(pipeline, "clone")
    settings = clone["settings"]
    assert settings["depth"] == 2
    assert settings["partial"] is False, "plugin-git's partial clone forces depth 1"
    (step,) = [s for s in _steps(pipeline) if "driftctl" in _commands(s)]
    args = _driftctl_args(step)
    assert "--changed" in args and _option(args, "--base")
    assert "--push" not in args
    assert _option(args, "--fail-on") == "error"
    assert "--comment-on-pr" in args  # posts only in a pull request's pipeline (driftctl checks)
    assert step["environment"]["DRIFTCTL_ISSUE_TOKEN"] == {"from_secret": "driftctl_issue_token"}
    script = _commands(step)
    for variable in ("CI_COMMIT_TARGET_BRANCH", "CI_PREV_COMMIT_SHA", "CI_PIPELINE_EVENT"):
        assert "$" + variable in script


def test_build_image_runs_on_source_changes_and_weekly() -> None:
    pipeline = _pipeline("build-image.yml")
    assert any(c.get("cron") == "weekly-rebuild" for c in _runs_on(pipeline, "cron"))
    (push,) = _runs_on(pipeline, "push")
    paths = _as_list(push.get("path"))
    assert {"Dockerfile", "ci/requirements.lock", "driftctl/**"} <= set(paths)


def test_build_image_scans_before_it_publishes() -> None:
    pipeline = _pipeline("build-image.yml")
    names = [s.get("name") for s in _steps(pipeline)]
    build = _step(pipeline, "build")
    assert "plugin-docker-buildx" in build["image"]
    assert build["settings"]["tags"] == "sha-${CI_COMMIT_SHA:0:12}"
    assert build["settings"]["dry_run"] is True, "the build must not push before the scan"
    trivy = _step(pipeline, "trivy")
    assert "aquasec/trivy" in trivy["image"]
    words = shlex.split(_commands(trivy))
    assert _option(words, "--exit-code") == "1"
    assert _option(words, "--severity") == "HIGH,CRITICAL"
    assert names.index("build") < names.index("trivy") < names.index("publish")
    assert not any("depends_on" in s for s in _steps(pipeline)), "steps run in order only without depends_on"


def test_sharded_drift_detection_plans_every_shard_at_once_then_publishes_once() -> None:
    pipeline = _pipeline("drift-sharded.yml")
    steps = _steps(pipeline)
    shards = [s for s in steps if s["name"].startswith("shard-")]
    (publish,) = [s for s in steps if s["name"] == "publish"]
    total = len(shards)
    assert total >= 2
    environments = [s["environment"] for s in shards]
    assert [e["DRIFTCTL_SHARD"] for e in environments] == [f"{i}/{total}" for i in range(1, total + 1)]
    assert all(s["depends_on"] == [] for s in shards), "the shards start together"
    assert sorted(publish["depends_on"]) == sorted(s["name"] for s in shards)
    reports = [e["DRIFTCTL_REPORT"] for e in environments]
    assert len(set(reports)) == total and len({e["DRIFTCTL_LOG_DIR"] for e in environments}) == total
    assert all(_commands(s) == _commands(shards[0]) for s in shards)
    for environment in environments:
        loaded = config.load({}, {k: v for k, v in environment.items() if isinstance(v, str)})
        assert loaded.shard is not None and loaded.report is not None
    args = _driftctl_args(shards[0])
    assert "--all" in args and "--push" not in args and _option(args, "--fail-on") == "never"
    assert cli.plan.make_context("plan", args).params["parallelism"] == 4
    published = _driftctl_args(publish, "publish")
    context = cli.publish.make_context("publish", published)
    assert context.params["fail_on"] == "error" and "allow_partial" not in published
    (pattern,) = context.params["reports"]
    assert all(fnmatch.fnmatch(report, str(pattern)) for report in reports)
    assert publish["environment"]["DRIFTCTL_PUSHGATEWAY_URL"].startswith("http")
    assert set(publish["environment"]["DRIFTCTL_PUSHGATEWAY_TOKEN"]) == {"from_secret"}
    assert not any("PUSHGATEWAY" in name for e in environments for name in e), "only publish pushes"


# ---- the Dockerfile -------------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuation lines joined

    def all(self, instruction: str) -> list[str]:
        return [args for ins, args in self.instructions if ins == instruction]

    def text(self, instruction: str) -> str:
        return "\n".join(self.all(instruction))


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, inside continuations too
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        instruction, _, args = current.partition(" ")
        instructions.append((instruction.upper(), args.strip()))
        current = ""
    return instructions


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    for instruction, args in _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name, []))
        elif stages:
            stages[-1].instructions.append((instruction, args))
    return stages


def _global_args() -> dict[str, str]:
    result: dict[str, str] = {}
    for instruction, args in _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction == "FROM":
            break
        if instruction == "ARG":
            name, _, default = args.partition("=")
            result[name] = default
    return result


def test_dockerfile_is_multi_stage_on_one_python_base() -> None:
    stages = _stages()
    assert len(stages) >= 2
    assert {s.base for s in stages} == {"${PYTHON_IMAGE}"}, "both stages must use the same ARG-named base"
    base = _global_args()["PYTHON_IMAGE"]
    assert re.fullmatch(r"(docker\.io/library/)?python:3\.12-slim-bookworm(@sha256:[0-9a-f]{64})?", base)


def test_runtime_runs_as_a_non_root_user_without_a_login_shell() -> None:
    runtime = _stages()[-1]
    users = runtime.all("USER")
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert users[-1].split(":")[0] == "10001"
    assert re.search(r"useradd\b[^&;]*--uid 10001\b[^&;]*--shell /usr/sbin/nologin", runtime.text("RUN"))
    assert runtime.all("ENTRYPOINT") == ['["driftctl"]']
    assert runtime.all("CMD") == ['["--help"]']


def test_runtime_installs_no_python_packages_and_only_git_and_ca_certificates() -> None:
    runtime = _stages()[-1]
    run = runtime.text("RUN")
    assert not re.search(r"\bpip3?\b[^&;|]*\binstall\b", run)
    assert not re.search(r"\b(uv|pipx|easy_install)\b", run)
    installed = re.findall(r"apt-get install ([^&;|]*)", run)
    assert len(installed) == 1
    assert "--no-install-recommends" in installed[0]
    packages = {w for w in installed[0].split() if not w.startswith("-")}
    assert packages == {"git", "ca-certificates"}
    assert "rm -rf /var/lib/apt/lists/*" in run
    env = runtime.text("ENV")
    for setting in (
        "TF_PLUGIN_CACHE_DIR=/home/driftctl/.terraform.d/plugin-cache",
        "TF_IN_AUTOMATION=1",
        "PYTHONDONTWRITEBYTECODE=1",
    ):
        assert setting in env
    assert "/home/driftctl/.terraform.d/plugin-cache" in run  # created (and chowned) by the same RUN
    labels = runtime.text("LABEL")
    for label in ("source", "revision", "version"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_builder_installs_the_lock_with_hashes_and_no_resolution() -> None:
    builder = _stages()[0]
    run = builder.text("RUN")
    (locked,) = [line for line in builder.all("RUN") if "requirements.lock" in line]
    assert "--require-hashes" in locked and "--no-deps" in locked
    assert re.search(r"pip install --no-deps\b[^&;]*--no-index[^&;]* \.", run), "driftctl itself, offline"
    assert "COPY ci/requirements.lock" in "\n".join(f"{i} {a}" for i, a in builder.instructions)


def test_every_downloaded_binary_is_checked_against_a_sha256_arg() -> None:
    builder = _stages()[0]
    downloads = [line for line in builder.all("RUN") if re.search(r"\b(curl|wget)\s+-", line)]
    assert len(downloads) >= 2, "Terraform and Terragrunt"
    for line in downloads:
        check = re.search(r"verify-sha256 (\w+) \S+ \"\$\{(\w+):-\}\"", line)
        assert check, f"a download without a checksum verification: {line[:120]}..."
        assert check[1] == check[2]
        assert re.fullmatch(r"[A-Z]+_SHA256", check[1])
    declared = {args.partition("=")[0]: args for args in builder.all("ARG")}
    for arg in ("TERRAFORM_SHA256", "TERRAGRUNT_SHA256"):
        assert declared.get(arg) == arg, f"{arg} must be an ARG without a default"
    assert declared["TERRAFORM_VERSION"] == "TERRAFORM_VERSION=1.5.7"
    assert declared["TERRAGRUNT_VERSION"] == "TERRAGRUNT_VERSION=0.99.4"
    helper = next(line for line in builder.all("RUN") if "/usr/local/bin/verify-sha256" in line)
    assert "sha256sum --check --strict" in helper
    assert "[0-9a-f]{64}" in helper and "is required" in helper


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for stage in _stages():
        for args in stage.all("COPY"):
            if args.startswith("--from"):
                continue
            copied.update(p.rstrip("/") for p in args.split()[:-1])
    assert copied == allowed


# ---- the lock -------------------------------------------------------------------------------------


def _locked() -> dict[str, list[str]]:
    """name -> its hashes, from ci/requirements.lock."""
    entries: dict[str, list[str]] = {}
    text = re.sub(r"\\\n", " ", LOCK.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(
            r"([A-Za-z0-9._-]+)==([^\s;]+)(?:\s*;[^-]*)?((?:\s+--hash=sha256:[0-9a-f]{64})+)", line
        )
        assert match, f"not pinned with hashes: {line[:80]}"
        entries[match[1].lower().replace("_", "-")] = match[3].split()
    return entries


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    locked = _locked()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in [*project["project"]["dependencies"], *project["build-system"]["requires"]]:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert name and name[0].lower().replace("_", "-") in locked, f"{requirement} is not locked"
    assert all(hashes for hashes in locked.values())


@pytest.mark.parametrize(
    ("pipeline", "step_has"), [("drift-detection.yml", "--all"), ("changed-stacks.yml", "--changed")]
)
def test_pipeline_commands_parse_with_this_driftctl(pipeline: str, step_has: str) -> None:
    """The flags the pipelines pass exist and take the values given: click parses them, nothing runs."""
    (step,) = [s for s in _steps(_pipeline(pipeline)) if step_has in _commands(s)]
    args = [arg.replace("$base", "origin/main") for arg in _driftctl_args(step)]
    context = cli.plan.make_context("plan", args)
    assert context.params["parallelism"] == 4
    assert context.params["fail_on"] == "error"
