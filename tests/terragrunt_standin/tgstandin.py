"""TEST STAND-IN for Terragrunt -- not Terragrunt. It runs the REAL `terraform` underneath.

driftctl's tests and `examples/demo.sh` need a `terragrunt` binary, and only PyPI/Debian/npm are
reachable from CI, so this module (run through the `terragrunt` script beside it) reproduces the part
of Terragrunt v0.99.4 that driftctl drives. It prints `terragrunt version v0.99.4-standin`, so a run
that used it is easy to recognise. Every fact below was read in Terragrunt's own source at tag v0.99.4
(github.com/gruntwork-io/terragrunt); paths are relative to that tree. Where behaviour differs in
v1.x, the note says so.

Reproduced faithfully
---------------------
* Command line: the shortcuts `init validate plan apply destroy force-unlock import output refresh
  show state test` and `run [--] <tf command> ...`; any other command fails with exit 1 and
  Terragrunt's "unknown command" message (internal/cli/commands/shortcuts.go, internal/cli/app.go
  beforeAction). `--version`/`-version`/`version` print `terragrunt version <v>` (internal/cli/help.go
  AppVersionTemplate).
* Settings, flag or env var, TG_* first, the deprecated TERRAGRUNT_* name still honoured but logged
  as a WARN "The `X` environment variable is deprecated ..." (internal/strict/controls/
  deprecated_env_var.go): tf-forward-stdout (TG_TF_FORWARD_STDOUT, TERRAGRUNT_FORWARD_TF_STDOUT,
  TERRAGRUNT_INCLUDE_MODULE_PREFIX; internal/cli/commands/run/flags.go), tf-path (TG_TF_PATH,
  TERRAGRUNT_TFPATH; internal/cli/flags/shared/tfpath.go), non-interactive (TG_NON_INTERACTIVE,
  TERRAGRUNT_NON_INTERACTIVE, and the negated TF_INPUT), no-color, log-format, log-disable,
  log-level, working-dir (internal/cli/flags/global/flags.go), download-dir, source-update,
  no-auto-init. Booleans parse like Go's strconv.ParseBool. The default binary is `tofu` when
  `tofu -version` runs, else `terraform` (pkg/options/options.go).
* Logging (pkg/log/format/format.go NewPrettyFormatPlaceholders, internal/tf/run_cmd.go logTFOutput,
  pkg/log/writer/writer.go): unless forwarding, each line the tool writes to stdout becomes
  `HH:MM:SS.mmm STDOUT terraform: <line>` on stdout and each stderr line
  `HH:MM:SS.mmm STDERR terraform: <line>` on stderr ("terraform" is the base name of the tf path;
  the level is padded to 6; EMPTY LINES ARE DROPPED). Colours (ANSI, even when not a TTY) unless
  `-no-color`/`--no-color`/TG_NO_COLOR -- which is then also passed to terraform once, at the end
  (internal/cli/commands/commands.go). Terragrunt's own messages (INFO/WARN/ERROR) go to stderr
  (main.go creates the logger on ErrWriter).
* Raw forwarding when TG_TF_FORWARD_STDOUT / `--tf-forward-stdout`, `--log-format bare` or
  `--log-disable` is set -- AND ALWAYS for a command with `-json`, `-version`, `-help`/`-h`, or the
  commands output, state, version, console, graph (shouldForceForwardTFStdout in
  internal/tf/run_cmd.go). So `terragrunt show -json plan.tfplan` prints clean JSON even without
  forwarding, but `terragrunt plan` output is wrapped.
* `terraform { source = "..." }` with a local path (relative to the unit, `${get_terragrunt_dir()}`,
  and the `//` subdirectory separator): the source root is copied, then the unit's own files, into
  `<unit>/.terragrunt-cache/<W>/<H>[/<subdir>]` where W = base64url(sha1(canonical unit dir)) and
  H = base64url(sha1("file://" + canonical source root)), both unpadded (internal/tf/source.go
  NewSource, internal/util/hash.go EncodeBase64Sha1), and terraform runs THERE: a relative
  `-out=plan.tfplan` lands in the cache. Copies skip hidden files and dirs except
  `.terraform.lock.hcl` (internal/util/file.go TerragruntExcludes) and record what they copied in
  `.terragrunt-source-manifest` / `.terragrunt-module-manifest`, whose files are deleted before the
  next copy. The source is re-copied only when `.terragrunt-source-version` (sha256 over
  "path:mtime_us" of the source files) changed, which then also writes `.terragrunt-init-required`
  (internal/runner/run/download_source.go). The cache is never wiped (only `--source-update` does),
  so local state in it persists between runs. Without a source terraform runs in the unit dir
  (v0.99.4; from v1.0.0 Terragrunt always uses the cache, with source ".").
* Auto-init (internal/runner/run/run.go needsInit/providersNeedInit/modulesNeedInit/
  prepareInitOptions): before any command but init/version, `terraform init` (+ `-no-color` when
  colours are off or the command has it) runs when `.terragrunt-init-required` exists, or neither
  <data dir>/plugins nor <data dir>/providers exists, or `.terraform.lock.hcl` is missing, or
  modules are referenced but <data dir>/modules is missing (data dir: TF_DATA_DIR or .terraform).
  It is "headless": its stdout is logged as INFO on stderr for plan/apply and discarded for every
  other command; with forwarding it is printed raw (on stdout, before the plan!). After any init
  the cache's `.terraform.lock.hcl` is copied back next to terragrunt.hcl (ShouldCopyLockFile).
* `inputs` become TF_VAR_<name>: strings as-is, everything else compact JSON like Go's
  json.Marshal (sorted keys, <>& escaped); a TF_VAR_ already in the environment is NOT overridden;
  null inputs go to `.terragrunt-null-vars.auto.tfvars.json` (run.go ToTerraformEnvVars,
  internal/util/jsons.go).
* `include` (labelled or bare -- bare logs the BareInclude WARN), `find_in_parent_folders()` (starts
  in the PARENT of the unit dir; no argument means terragrunt.hcl and logs the RootTerragruntHCL
  WARN; optional fallback), only one level of includes, the parent's `inputs` shallowly merged
  under the child's and its `terraform` source used when the child has none (pkg/config/
  config_helpers.go, pkg/config/errors.go).
* Exit codes: terraform's code passes through; with `-detailed-exitcode` a 2 is not an error and
  nothing is logged; other failures log ERROR `Failed to execute "<cmd>" in <dir>` plus the
  captured stderr and `exit status N` (main.go checkForErrorsAndExit, internal/util/shell.go).
  A config error exits 1 after an ERROR line.
* Stacks, `stack generate` (internal/cli/commands/stack/stack.go RunGenerate, internal/stacks/generate/
  generate.go GenerateStacks, pkg/config/stack.go): every `terragrunt.stack.hcl` below the working dir
  (walking hidden dirs but `.git`, `.terraform`, `.terragrunt-cache`: internal/discovery/helpers.go
  skipDirIfIgnorable) is generated, level by level, re-listing after each level so the stack files a
  nested `stack` block copied in are generated next. Each `unit`/`stack` block (`source`, `path`
  required; `values`, `no_dot_terragrunt_stack`, `no_validation`) is copied from its source -- local
  when it exists as given or beside the stack file, or is `file://` (isLocal) -- into
  `<stack dir>/.terragrunt-stack/<path>` (`<stack dir>/<path>` with no_dot_terragrunt_stack; a path
  outside `.terragrunt-stack` is refused), every file including hidden ones, with a
  `.terragrunt-stack-manifest` per directory whose files the next copy deletes first
  (internal/util/file.go CopyFolderContentsWithFilter). A unit must then hold `terragrunt.hcl`, a
  stack `terragrunt.stack.hcl` ("Validation failed for ..."). `values` are written to
  `terragrunt.values.hcl` beside it (writeValues: a comment line, keys sorted; hclwrite's
  File.WriteTo runs its format pass: 2-space indents, `=` aligned across one-line attributes).
  A stack file sees `local.*` and, when its dir holds a values file, `values.*`; a unit's
  terragrunt.hcl (and its include parents) see `values.*` from the `terragrunt.values.hcl`
  beside it (pkg/config/config.go ReadValues) -- without one, `values` is an unknown variable.
  No stack files: WARN "No stack files found in <dir> Nothing to generate.", exit 0.
* `skip`: an attribute until v0.92.x (config/config.go `Skip *bool hcl:"skip,attr"`; a single-unit
  run logs "Skipping terragrunt module ... due to skip = true." and exits 0: cli/commands/run/run.go),
  removed in v0.93.0, so v0.99.4 rejects it: `Unsupported argument; An argument named "skip" is not
  expected here.`, exit 1. `exclude` blocks only matter to `run --all`, which the stand-in does not
  reproduce: a single-unit `plan` ignores them (`no_run = true` aside, left out here).
* Signals (internal/cli/app.go registerGracefullyShutdown, internal/os/exec/cmd.go ForwardSignal,
  internal/shell/run_cmd.go SignalForwardingDelay): SIGINT/SIGTERM log "<Sig> signal received.
  Gracefully shutting down..." and are forwarded to terraform after 15 s -- at once if the same
  signal arrives again -- because terraform usually got it from the process group already.

Simplified or left out (a test that depends on these needs the real tool)
-------------------------------------------------------------------------
* HCL: python-hcl2 parses the file; this module evaluates literals, templates, `local.*`, and the
  functions get_terragrunt_dir, get_parent_terragrunt_dir, get_original_terragrunt_dir,
  find_in_parent_folders, path_relative_to_include, path_relative_from_include, get_env, basename,
  dirname, abspath, lower, upper, tostring, jsonencode, merge. Operators, conditionals, for
  expressions and other functions are a config error. `dependency`/`dependencies`, `generate`,
  `remote_state` and hooks are parsed and otherwise ignored; `dependency.<x>.outputs.<y>` resolves
  only from `mock_outputs`.
* `stack run`, `stack output`, `stack clean`, `autoinclude`/`enabled`/`expansion` blocks (v1.x),
  CAS, and remote stack/unit sources (the stand-in fetches local sources only: "Failed to fetch").
* Remote sources (git::, tfr://, http), source maps, extra_arguments, retries, run --all, the
  provider cache, TF_LOG parsing, json/key-value log formats, and the one-log-entry-per-Write
  chunking (here: one entry per line).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

STANDIN_VERSION = "v0.99.4-standin"
CONFIG_NAME = "terragrunt.hcl"
CACHE_DIR_NAME = ".terragrunt-cache"
LOCK_FILE = ".terraform.lock.hcl"
SOURCE_MANIFEST = ".terragrunt-source-manifest"
MODULE_MANIFEST = ".terragrunt-module-manifest"
SOURCE_VERSION_FILE = ".terragrunt-source-version"
INIT_REQUIRED_FILE = ".terragrunt-init-required"
NULL_VARS_FILE = ".terragrunt-null-vars.auto.tfvars.json"
STACK_FILE = "terragrunt.stack.hcl"
STACK_DIR = ".terragrunt-stack"
VALUES_FILE = "terragrunt.values.hcl"
STACK_MANIFEST = ".terragrunt-stack-manifest"
STACK_SKIPPED_DIRS = frozenset({".git", ".terraform", ".terragrunt-cache"})
MAX_STACK_LEVELS = 1024
SIGNAL_FORWARDING_DELAY = 15.0
MAX_FOLDERS_TO_CHECK = 100

SHORTCUT_COMMANDS = frozenset(
    {
        "init",
        "validate",
        "plan",
        "apply",
        "destroy",
        "force-unlock",
        "import",
        "output",
        "refresh",
        "show",
        "state",
        "test",
    }
)
FORCE_FORWARD_COMMANDS = frozenset({"output", "state", "version", "console", "graph"})
FORCE_FORWARD_FLAGS = frozenset({"-json", "-version", "-help", "-h"})
NO_INIT_COMMANDS = frozenset({"version", "engine"})
INIT_OUTPUT_COMMANDS = frozenset({"plan", "apply"})
MODULE_RE = re.compile(r"module[ \t]+\".+\"")

LEVELS = ("stderr", "stdout", "error", "warn", "info", "debug", "trace")
LEVEL_COLORS = {
    "stderr": "31",
    "stdout": "37",
    "error": "31",
    "warn": "33",
    "info": "32",
    "debug": "94",
    "trace": "37",
}
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

ROOT_HCL_WARNING = (
    "Using `terragrunt.hcl` as the root of Terragrunt configurations is an anti-pattern, and no longer "
    "recommended. In a future version of Terragrunt, this will result in an error. You are advised to use "
    "a differently named file like `root.hcl` instead. For more information, see "
    "https://terragrunt.gruntwork.io/docs/migrate/migrating-from-root-terragrunt-hcl"
)
BARE_INCLUDE_WARNING = (
    "Using an `include` block without a label is deprecated. Please use the `include` block with a label "
    "instead. For more information, see https://terragrunt.gruntwork.io/docs/migrate/bare-include/"
)


class StandinError(Exception):
    """A failure Terragrunt reports as an ERROR log line before exiting with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------------------------------
# Settings: flags and environment variables
# --------------------------------------------------------------------------------------------------

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(value: str, name: str) -> bool:
    """Go's strconv.ParseBool, which Terragrunt's bool flags and env vars use."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise StandinError(f'invalid boolean value "{value}" for {name}')


@dataclass(frozen=True)
class SettingSpec:
    """One Terragrunt setting: its flag name, TG_ env var, deprecated env vars, and whether bool."""

    flag: str
    env: str
    deprecated_env: tuple[str, ...] = ()
    is_bool: bool = True
    negated_env: tuple[str, ...] = ()  # deprecated env vars holding the opposite boolean


SETTINGS = (
    SettingSpec(
        "tf-forward-stdout",
        "TG_TF_FORWARD_STDOUT",
        ("TERRAGRUNT_FORWARD_TF_STDOUT", "TERRAGRUNT_INCLUDE_MODULE_PREFIX"),
    ),
    SettingSpec("tf-path", "TG_TF_PATH", ("TERRAGRUNT_TFPATH",), is_bool=False),
    SettingSpec(
        "non-interactive", "TG_NON_INTERACTIVE", ("TERRAGRUNT_NON_INTERACTIVE",), negated_env=("TF_INPUT",)
    ),
    SettingSpec("no-color", "TG_NO_COLOR", ("TERRAGRUNT_NO_COLOR",)),
    SettingSpec("log-format", "TG_LOG_FORMAT", ("TERRAGRUNT_LOG_FORMAT",), is_bool=False),
    SettingSpec("log-disable", "TG_LOG_DISABLE", ("TERRAGRUNT_LOG_DISABLE",)),
    SettingSpec("log-level", "TG_LOG_LEVEL", ("TERRAGRUNT_LOG_LEVEL",), is_bool=False),
    SettingSpec("working-dir", "TG_WORKING_DIR", ("TERRAGRUNT_WORKING_DIR",), is_bool=False),
    SettingSpec("download-dir", "TG_DOWNLOAD_DIR", ("TERRAGRUNT_DOWNLOAD",), is_bool=False),
    SettingSpec("source-update", "TG_SOURCE_UPDATE", ("TERRAGRUNT_SOURCE_UPDATE",)),
    SettingSpec("no-auto-init", "TG_NO_AUTO_INIT", ("TERRAGRUNT_NO_AUTO_INIT",)),
)
SETTINGS_BY_FLAG = {spec.flag: spec for spec in SETTINGS}


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and parse_bool(value, "--" + name)

    def text(self, name: str) -> str | None:
        return self.values.get(name)


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    settings = Settings()
    for spec in SETTINGS:
        if spec.env in environ:
            settings.values[spec.flag] = environ[spec.env]
        for old in spec.deprecated_env:
            if old in environ:
                settings.values.setdefault(spec.flag, environ[old])
                settings.warnings.append(_deprecated_env_warning(old, spec.env, environ[old]))
        for old in spec.negated_env:
            if old in environ:
                negated = "false" if parse_bool(environ[old], old) else "true"
                settings.values.setdefault(spec.flag, negated)
                settings.warnings.append(_deprecated_env_warning(old, spec.env, negated))
    return settings


def _deprecated_env_warning(old: str, new: str, value: str) -> str:
    return (
        f"The `{old}` environment variable is deprecated and will be removed in a future version of "
        f"Terragrunt. Use `{new}={value}` instead."
    )


@dataclass
class Invocation:
    """What the command line asked for."""

    kind: str  # "tf", "version" or "help"
    tf_args: list[str] = field(default_factory=list)


def _match_flag(arg: str) -> tuple[SettingSpec, str | None] | None:
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    name, eq, value = arg.lstrip("-").partition("=")
    spec = SETTINGS_BY_FLAG.get(name)
    if spec is None:
        return None
    return spec, (value if eq else None)


def parse_command_line(argv: Sequence[str], settings: Settings) -> Invocation:
    """Terragrunt flags anywhere before `--` set settings; everything else goes to terraform."""
    args = list(argv)
    tf_args: list[str] = []
    command: str | None = None
    passthrough = False
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if passthrough:
            tf_args.append(arg)
            continue
        if arg == "--" and command == "run":
            passthrough = True
            continue
        matched = _match_flag(arg)
        if matched is not None:
            spec, value = matched
            if value is None:
                if spec.is_bool:
                    value = "true"
                elif index < len(args):
                    value = args[index]
                    index += 1
                else:
                    raise StandinError(f"flag needs an argument: {arg}")
            settings.values[spec.flag] = value
            continue
        if command is None:
            if arg in ("--version", "-version", "-v", "version"):
                return Invocation("version")
            if arg in ("--help", "-help", "-h", "help"):
                return Invocation("help")
            if arg.startswith("-"):
                raise StandinError(f"flag provided but not defined: {arg}")
            if arg == "stack":
                command = arg
                continue
            if arg != "run" and arg not in SHORTCUT_COMMANDS:
                raise StandinError(
                    f'unknown command: "{arg}". Terragrunt no longer forwards unknown commands by default. '
                    f"Use 'terragrunt run -- {arg} ...' or a supported shortcut. Learn more: "
                    "https://terragrunt.gruntwork.io/docs/migrate/cli-redesign/#use-the-new-run-command"
                )
            command = arg
            if arg != "run":
                tf_args.append(arg)
            continue
        tf_args.append(arg)
    if command is None:
        return Invocation("help")
    if command == "stack":
        return Invocation("stack", tf_args)
    if not tf_args:
        raise StandinError(
            "`terragrunt run` needs an OpenTofu/Terraform command, e.g. `terragrunt run -- plan`"
        )
    return Invocation("tf", tf_args)


# --------------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------------


class Logger:
    """Terragrunt's `pretty` (or `bare`) log format; everything except STDOUT entries goes to stderr."""

    def __init__(self, *, colors: bool, disabled: bool, level: str, log_format: str, tf_name: str) -> None:
        self.colors = colors
        self.disabled = disabled
        self.max_level = LEVELS.index(level)
        self.log_format = log_format
        self.tf_name = tf_name
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def format(self, level: str, message: str, *, tf: bool) -> str:
        if not self.colors:
            message = ANSI_RE.sub("", message)
        if self.log_format == "bare":
            interval = int(time.monotonic() - self.started)
            return f"{level.upper()[:4]:<4}[{interval:04d}] {message}"
        now = datetime.datetime.now()
        stamp = now.strftime("%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
        name = f"{level.upper():<6}"
        prefix = f"{self.tf_name}: " if tf else ""
        if self.colors:
            stamp = f"\x1b[90m{stamp}\x1b[0m"
            name = f"\x1b[{LEVEL_COLORS[level]}m{name}\x1b[0m"
            prefix = f"\x1b[36m{prefix}\x1b[0m" if prefix else ""
            if "\x1b[" in message:
                message += "\x1b[0m"
        return f"{stamp} {name} {prefix}{message}"

    def log(self, level: str, message: str, *, tf: bool = False) -> None:
        if self.disabled or LEVELS.index(level) > self.max_level:
            return
        stream = sys.stdout if level == "stdout" else sys.stderr
        line = self.format(level, message, tf=tf) + "\n"
        with self.lock, contextlib.suppress(BrokenPipeError, ValueError):
            stream.write(line)
            stream.flush()

    def info(self, message: str) -> None:
        self.log("info", message)

    def warn(self, message: str) -> None:
        self.log("warn", message)

    def error(self, message: str) -> None:
        self.log("error", message)


# --------------------------------------------------------------------------------------------------
# HCL evaluation
# --------------------------------------------------------------------------------------------------

_BLOCK_MARK = "__is_block__"
_META_KEYS = frozenset({_BLOCK_MARK, "__comments__", "__inline_comments__", "__start_line__", "__end_line__"})


def load_hcl(path: Path) -> dict[str, Any]:
    try:
        import hcl2
    except ImportError as error:  # pragma: no cover - depends on the interpreter on PATH
        raise StandinError(
            f"the terragrunt stand-in needs python-hcl2 (`import hcl2`) in {sys.executable}: {error}"
        ) from error
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise StandinError(f"Error reading file at path {path}: {error}") from error
    try:
        options_type = getattr(hcl2, "SerializationOptions", None)
        if options_type is None:
            from hcl2 import utils as hcl2_utils

            options_type = getattr(hcl2_utils, "SerializationOptions", None)
        if options_type is not None:
            options = options_type(with_comments=False, preserve_heredocs=False)
            parsed = hcl2.loads(text, serialization_options=options)
        else:  # python-hcl2 7.x
            parsed = hcl2.loads(text)
    except Exception as error:
        raise StandinError(f"{path}: error parsing HCL: {_one_line(str(error))}") from error
    if not isinstance(parsed, dict):
        raise StandinError(f"{path}: unexpected HCL document")
    return parsed


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return key[1:-1]
    return key


def _attrs(block: Mapping[str, Any]) -> dict[str, Any]:
    return {_unquote_key(k): v for k, v in block.items() if k not in _META_KEYS}


def iter_blocks(document: Mapping[str, Any], block_type: str) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(label, attributes) of each block of `block_type`; label None for a bare block."""
    raw = document.get(block_type, [])
    entries = raw if isinstance(raw, list) else [raw]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        keys = [k for k in entry if k not in _META_KEYS]
        if _BLOCK_MARK in entry:
            yield None, _attrs(entry)
        elif (
            len(keys) == 1
            and isinstance(entry[keys[0]], dict)
            and (
                _BLOCK_MARK in entry[keys[0]]
                or (block_type in ("include", "dependency") and "path" not in entry)
            )
        ):
            yield _unquote_key(keys[0]), _attrs(entry[keys[0]])
        else:
            yield None, _attrs(entry)


@dataclass
class EvalContext:
    """What the functions in a terragrunt.hcl see."""

    config_path: Path  # the unit's terragrunt.hcl (also while its included parent is evaluated)
    logger: Logger
    environ: Mapping[str, str]
    include_path: Path | None = None
    locals: dict[str, Any] = field(default_factory=dict)
    dependency_mocks: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] | None = None  # terragrunt.values.hcl beside the unit, when there is one

    @property
    def unit_dir(self) -> Path:
        return self.config_path.parent


class _Tokens:
    _TOKEN_RE = re.compile(
        r"""\s*(?:
            (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
          | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
          | (?P<str>")
          | (?P<punct>[()\[\]{},.:=])
        )""",
        re.VERBOSE,
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        saved = self.pos
        token = self.next()
        self.pos = saved
        return token

    def next(self) -> tuple[str, str] | None:
        match = self._TOKEN_RE.match(self.text, self.pos)
        if match is None:
            rest = self.text[self.pos :].strip()
            if not rest:
                return None
            raise StandinError(f"unsupported expression (terragrunt stand-in): {self.text!r}")
        if match.lastgroup is None:
            return None
        self.pos = match.end()
        kind = match.lastgroup
        if kind == "str":
            end = _string_end(self.text, self.pos)
            body = self.text[self.pos : end]
            self.pos = end + 1
            return "str", body
        return kind, match.group(kind)

    def expect(self, value: str) -> None:
        token = self.next()
        if token is None or token[1] != value:
            raise StandinError(f"unsupported expression (terragrunt stand-in): {self.text!r}")


def _string_end(text: str, start: int) -> int:
    """Index of the closing quote of a string whose body starts at `start`, skipping `${...}`."""
    index = start
    depth = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if text.startswith("${", index) and not text.startswith("$${", index - 1 if index else index):
            depth += 1
            index += 2
            continue
        if char == "}" and depth:
            depth -= 1
        elif char == '"' and depth:
            index = _string_end(text, index + 1) + 1
            continue
        elif char == '"':
            return index
        index += 1
    raise StandinError(f"unterminated string in {text!r}")


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt in simple:
                out.append(simple[nxt])
                index += 2
                continue
            width = {"u": 4, "U": 8}.get(nxt)
            digits = text[index + 2 : index + 2 + width] if width else ""
            if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(int(digits, 16)))
                index += 2 + width
                continue
        out.append(char)
        index += 1
    return "".join(out)


class Evaluator:
    def __init__(self, context: EvalContext) -> None:
        self.context = context

    # values as python-hcl2 returns them ---------------------------------------------------------
    def value(self, raw: Any) -> Any:
        if isinstance(raw, dict):
            return {_unquote_key(k): self.value(v) for k, v in raw.items() if k not in _META_KEYS}
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, str):
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                return self.template(raw[1:-1])
            if raw.startswith("${") and raw.endswith("}") and _closing_brace(raw, 2) == len(raw) - 1:
                return self.expression(raw[2:-1])
            # python-hcl2 7.x returns string literals unquoted (and already unescaped)
            return self.template(raw.replace("\\", "\\\\")) if "${" in raw else raw
        return raw

    def template(self, body: str) -> Any:
        """A quoted string: escapes, `$${` and `%%{` literals, `${expr}` interpolations."""
        parts: list[Any] = []
        literal: list[str] = []
        index = 0
        while index < len(body):
            if body.startswith("$${", index) or body.startswith("%%{", index):
                literal.append(body[index + 1 : index + 3])
                index += 3
                continue
            if body.startswith("%{", index):
                raise StandinError(
                    f"template directives are not supported by the terragrunt stand-in: {body!r}"
                )
            if body.startswith("${", index):
                end = _closing_brace(body, index + 2)
                parts.append(_unescape("".join(literal)))
                literal = []
                parts.append(self.expression(body[index + 2 : end].strip("~ ")))
                index = end + 1
                continue
            literal.append(body[index])
            index += 1
        parts.append(_unescape("".join(literal)))
        non_empty = [part for part in parts if part != ""]
        if len(non_empty) == 1 and not isinstance(non_empty[0], str):
            return non_empty[0]
        return "".join(_to_string(part) for part in parts)

    # expressions --------------------------------------------------------------------------------
    def expression(self, text: str) -> Any:
        tokens = _Tokens(text)
        result = self._expr(tokens)
        if tokens.peek() is not None:
            raise StandinError(f"unsupported expression (terragrunt stand-in): {text!r}")
        return result

    def _expr(self, tokens: _Tokens) -> Any:
        token = tokens.next()
        if token is None:
            raise StandinError(f"empty expression in {tokens.text!r}")
        kind, text = token
        if kind == "num":
            result: Any = float(text) if any(c in text for c in ".eE") else int(text)
        elif kind == "str":
            result = self.template(text)
        elif kind == "punct" and text == "(":
            result = self._expr(tokens)
            tokens.expect(")")
        elif kind == "punct" and text == "[":
            result = self._list(tokens)
        elif kind == "punct" and text == "{":
            result = self._object(tokens)
        elif kind == "ident" and text in ("true", "false", "null"):
            result = {"true": True, "false": False, "null": None}[text]
        elif kind == "ident":
            nxt = tokens.peek()
            if nxt is not None and nxt[1] == "(":
                tokens.next()
                args = self._args(tokens)
                result = self.call(text, args)
            else:
                result = self._reference(text, tokens)
        else:
            raise StandinError(f"unsupported expression (terragrunt stand-in): {tokens.text!r}")
        return self._postfix(result, tokens)

    def _postfix(self, value: Any, tokens: _Tokens) -> Any:
        while True:
            nxt = tokens.peek()
            if nxt is None or nxt[1] not in (".", "["):
                return value
            tokens.next()
            if nxt[1] == ".":
                name = tokens.next()
                if name is None or not isinstance(value, dict) or name[1] not in value:
                    raise StandinError(f"Unsupported attribute in {tokens.text!r}")
                value = value[name[1]]
            else:
                key = self._expr(tokens)
                tokens.expect("]")
                try:
                    value = value[key]
                except (KeyError, IndexError, TypeError) as error:
                    raise StandinError(f"Invalid index in {tokens.text!r}") from error

    def _args(self, tokens: _Tokens) -> list[Any]:
        args: list[Any] = []
        nxt = tokens.peek()
        if nxt is not None and nxt[1] == ")":
            tokens.next()
            return args
        while True:
            args.append(self._expr(tokens))
            token = tokens.next()
            if token is None or token[1] not in (",", ")"):
                raise StandinError(f"unsupported expression (terragrunt stand-in): {tokens.text!r}")
            if token[1] == ")":
                return args

    def _list(self, tokens: _Tokens) -> list[Any]:
        items: list[Any] = []
        while True:
            nxt = tokens.peek()
            if nxt is not None and nxt[1] == "]":
                tokens.next()
                return items
            items.append(self._expr(tokens))
            nxt = tokens.peek()
            if nxt is not None and nxt[1] == ",":
                tokens.next()

    def _object(self, tokens: _Tokens) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        while True:
            token = tokens.next()
            if token is None:
                raise StandinError(f"unterminated object in {tokens.text!r}")
            if token[1] == "}":
                return obj
            if token[1] == ",":
                continue
            key = self.template(token[1]) if token[0] == "str" else token[1]
            separator = tokens.next()
            if separator is None or separator[1] not in ("=", ":"):
                raise StandinError(f"unsupported object in {tokens.text!r}")
            obj[str(key)] = self._expr(tokens)

    def _reference(self, root: str, tokens: _Tokens) -> Any:
        if root == "local":
            tokens.expect(".")
            name = tokens.next()
            if name is None or name[1] not in self.context.locals:
                raise StandinError(
                    f"Unsupported attribute: This object does not have an attribute named "
                    f"{name[1] if name else ''!r} (local) in {self.context.config_path}"
                )
            return self.context.locals[name[1]]
        if root == "dependency":
            return self.context.dependency_mocks
        if root == "values" and self.context.values is not None:
            return self.context.values
        raise StandinError(
            f"Unknown variable; There is no variable named {root!r} (terragrunt stand-in) "
            f"in {self.context.config_path}"
        )

    # functions ----------------------------------------------------------------------------------
    def call(self, name: str, args: list[Any]) -> Any:
        context = self.context
        functions: dict[str, Callable[[list[Any]], Any]] = {
            "get_terragrunt_dir": lambda a: str(context.unit_dir),
            "get_original_terragrunt_dir": lambda a: str(context.unit_dir),
            "get_parent_terragrunt_dir": lambda a: str((context.include_path or context.config_path).parent),
            "find_in_parent_folders": self._find_in_parent_folders,
            "path_relative_to_include": lambda a: _relative(context.unit_dir, context.include_path),
            "path_relative_from_include": lambda a: _relative_from(context.unit_dir, context.include_path),
            "get_env": self._get_env,
            "basename": lambda a: os.path.basename(str(a[0])),
            "dirname": lambda a: os.path.dirname(str(a[0])),
            "abspath": lambda a: os.path.abspath(str(a[0])),
            "lower": lambda a: str(a[0]).lower(),
            "upper": lambda a: str(a[0]).upper(),
            "tostring": lambda a: _to_string(a[0]),
            "jsonencode": lambda a: go_json(a[0]),
            "merge": _merge,
        }
        function = functions.get(name)
        if function is None:
            raise StandinError(
                f"Call to unknown function; There is no function named {name!r} (terragrunt stand-in) "
                f"in {context.config_path}"
            )
        try:
            return function(args)
        except IndexError as error:
            raise StandinError(
                f"Not enough function arguments for {name}() in {context.config_path}"
            ) from error

    def _find_in_parent_folders(self, args: list[Any]) -> str:
        if len(args) > 2:
            raise StandinError(
                f"Expected 0, 1, or 2 params for function find_in_parent_folders, but got {len(args)}"
            )
        wanted = str(args[0]) if args else ""
        if wanted in ("", CONFIG_NAME):
            self.context.logger.warn(ROOT_HCL_WARNING)
        file_name = wanted or CONFIG_NAME
        previous = self.context.unit_dir
        for _ in range(MAX_FOLDERS_TO_CHECK):
            current = previous.parent
            if current == previous:
                if len(args) == 2:
                    return str(args[1])
                raise StandinError(
                    f"ParentFileNotFoundError: Could not find a {file_name} in any of the parent folders of "
                    f"{self.context.config_path}. Cause: Traversed all the way to the root."
                )
            candidate = current / file_name
            if candidate.exists():
                return str(candidate)
            previous = current
        raise StandinError(
            f"ParentFileNotFoundError: Could not find a {file_name} in any of the parent folders of "
            f"{self.context.config_path}. Cause: Exceeded maximum folders to check ({MAX_FOLDERS_TO_CHECK})."
        )

    def _get_env(self, args: list[Any]) -> str:
        name = str(args[0])
        if name in self.context.environ:
            return self.context.environ[name]
        if len(args) > 1:
            return str(args[1])
        raise StandinError(f"EnvVarNotFoundError: Required environment variable {name} - not found")


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            index = _string_end(text, index + 1) + 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise StandinError(f"unterminated interpolation in {text!r}")


def _relative(unit_dir: Path, include_path: Path | None) -> str:
    if include_path is None:
        return "."
    return os.path.relpath(unit_dir, include_path.parent)


def _relative_from(unit_dir: Path, include_path: Path | None) -> str:
    if include_path is None:
        return "."
    return os.path.relpath(include_path.parent, unit_dir)


def _merge(args: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for arg in args:
        if arg is None:
            continue
        if not isinstance(arg, dict):
            raise StandinError("merge() takes objects only (terragrunt stand-in)")
        merged.update(arg)
    return merged


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return go_json(value)
    raise StandinError(
        f"Invalid template interpolation value: cannot include {type(value).__name__} in a string"
    )


def go_json(value: Any) -> str:
    """Go's json.Marshal: compact, object keys sorted, and <, >, & escaped as \\u003c etc."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --------------------------------------------------------------------------------------------------
# terragrunt.hcl
# --------------------------------------------------------------------------------------------------


@dataclass
class UnitConfig:
    source: str | None
    inputs: dict[str, Any]


def _evaluate_locals(document: Mapping[str, Any], context: EvalContext) -> None:
    pending: dict[str, Any] = {}
    for _, attrs in iter_blocks(document, "locals"):
        pending.update(attrs)
    evaluator = Evaluator(context)
    while pending:
        progressed = False
        last_error: StandinError | None = None
        for name, raw in list(pending.items()):
            try:
                context.locals[name] = evaluator.value(raw)
            except StandinError as error:
                last_error = error
                continue
            del pending[name]
            progressed = True
        if not progressed:
            assert last_error is not None
            raise last_error


def _dependency_mocks(document: Mapping[str, Any], evaluator: Evaluator) -> dict[str, Any]:
    mocks: dict[str, Any] = {}
    for label, attrs in iter_blocks(document, "dependency"):
        if label is None:
            raise StandinError("dependency blocks need a label")
        outputs = evaluator.value(attrs.get("mock_outputs", {}))
        mocks[label] = {"outputs": outputs if isinstance(outputs, dict) else {}}
    return mocks


def _terraform_source(document: Mapping[str, Any], evaluator: Evaluator) -> str | None:
    source: str | None = None
    for _, attrs in iter_blocks(document, "terraform"):
        if "source" in attrs:
            value = evaluator.value(attrs["source"])
            source = None if value is None else str(value)
    return source


def _inputs(document: Mapping[str, Any], evaluator: Evaluator, path: Path) -> dict[str, Any]:
    if "inputs" not in document:
        return {}
    inputs = evaluator.value(document["inputs"])
    if not isinstance(inputs, dict):
        raise StandinError(f"{path}: inputs must be an object")
    return inputs


def read_values(directory: Path, logger: Logger, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """terragrunt.values.hcl in `directory`, evaluated; None when there is none (ReadValues)."""
    path = directory / VALUES_FILE
    if not path.is_file():
        return None
    document = load_hcl(path)
    evaluator = Evaluator(EvalContext(config_path=path, logger=logger, environ=environ))
    return {name: evaluator.value(raw) for name, raw in _attrs(document).items()}


def read_unit_config(config_path: Path, logger: Logger, environ: Mapping[str, str]) -> UnitConfig:
    document = load_hcl(config_path)
    if "skip" in document:  # removed in v0.93.0: the decoder rejects the attribute
        raise StandinError(
            f'{config_path}: Unsupported argument; An argument named "skip" is not expected here.'
        )
    values = read_values(config_path.parent, logger, environ)
    context = EvalContext(config_path=config_path, logger=logger, environ=environ, values=values)
    _evaluate_locals(document, context)
    evaluator = Evaluator(context)
    context.dependency_mocks = _dependency_mocks(document, evaluator)
    # `dependencies { paths = [...] }` is parsed (above, by python-hcl2) and otherwise ignored.

    includes = list(iter_blocks(document, "include"))
    parent_inputs: dict[str, Any] = {}
    parent_source: str | None = None
    include_path: Path | None = None
    for label, attrs in includes:
        if label is None:
            logger.warn(BARE_INCLUDE_WARNING)
        if "path" not in attrs:
            raise StandinError(f"{config_path}: include block needs a path")
        include_path = Path(str(evaluator.value(attrs["path"])))
        if not include_path.is_absolute():
            include_path = config_path.parent / include_path
        include_path = Path(os.path.normpath(include_path))
        parent_document = load_hcl(include_path)
        for _, parent_include in iter_blocks(parent_document, "include"):
            raise StandinError(
                f"{config_path} includes {include_path}, which itself includes {parent_include.get('path')}. "
                "Only one level of includes is allowed."
            )
        parent_context = EvalContext(
            config_path=config_path, logger=logger, environ=environ, include_path=include_path, values=values
        )
        _evaluate_locals(parent_document, parent_context)
        parent_evaluator = Evaluator(parent_context)
        parent_context.dependency_mocks = _dependency_mocks(parent_document, parent_evaluator)
        parent_inputs.update(_inputs(parent_document, parent_evaluator, include_path))
        parent_source = _terraform_source(parent_document, parent_evaluator) or parent_source

    if len(includes) == 1:  # the child's own get_parent_terragrunt_dir() / path_relative_*_include()
        context.include_path = include_path
    inputs = {**parent_inputs, **_inputs(document, evaluator, config_path)}
    source = _terraform_source(document, evaluator) or parent_source
    return UnitConfig(source=source, inputs=inputs)


# --------------------------------------------------------------------------------------------------
# Source download into .terragrunt-cache
# --------------------------------------------------------------------------------------------------


def encode_base64_sha1(text: str) -> str:
    """Terragrunt's util.EncodeBase64Sha1: unpadded URL-safe base64 of the SHA-1."""
    digest = hashlib.sha1(text.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class CacheLayout:
    source_root: Path
    download_dir: Path  # .terragrunt-cache/<W>/<H>
    working_dir: Path  # download_dir/<subdir after //>


def cache_layout(source: str, unit_dir: Path, download_root: Path) -> CacheLayout:
    prefix = "${get_terragrunt_dir()}"
    if source.startswith(prefix):
        source = str(unit_dir) + source[len(prefix) :]
    if source.startswith("file://"):
        source = source[len("file://") :]
    if "::" in source or re.match(r"^[a-z][a-z0-9+.-]*://", source) or "?" in source:
        raise StandinError(f"the terragrunt stand-in only supports local sources, not {source!r}")
    root_text, _, subdir = source.partition("//")
    root = Path(os.path.normpath(unit_dir / root_text))
    download_dir = download_root / encode_base64_sha1(str(unit_dir)) / encode_base64_sha1(f"file://{root}")
    working_dir = Path(os.path.normpath(download_dir / subdir)) if subdir else download_dir
    return CacheLayout(source_root=root, download_dir=download_dir, working_dir=working_dir)


def _excluded(relative: Path) -> bool:
    """TerragruntExcludes: any hidden path component, except the lock file."""
    if relative.name == LOCK_FILE:
        return False
    return any(part.startswith(".") and part not in (".", "..") for part in relative.parts)


def copy_folder_contents(source: Path, destination: Path, manifest_name: str) -> None:
    """Copy non-hidden files, first deleting what the previous copy (listed in the manifest) put there."""
    destination.mkdir(parents=True, exist_ok=True, mode=0o700)
    manifest = destination / manifest_name
    with contextlib.suppress(FileNotFoundError, ValueError):
        for old in json.loads(manifest.read_text(encoding="utf-8")):
            target = destination / old
            if target.is_file() or target.is_symlink():
                target.unlink()
    copied: list[str] = []
    for directory, dirnames, filenames in os.walk(source):
        here = Path(directory)
        relative_dir = here.relative_to(source)
        dirnames[:] = sorted(d for d in dirnames if not _excluded(relative_dir / d))
        for name in sorted(filenames):
            relative = relative_dir / name
            if _excluded(relative):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(here / name, target)
            copied.append(str(relative))
    manifest.write_text(json.dumps(copied), encoding="utf-8")


def source_version(source_root: Path) -> str:
    digest = hashlib.sha256()
    for directory, dirnames, filenames in os.walk(source_root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory) / name
            if CACHE_DIR_NAME in str(path) or name == LOCK_FILE:
                continue
            with contextlib.suppress(OSError):
                digest.update(f"{path}:{path.stat().st_mtime_ns // 1000}".encode())
    return digest.hexdigest()


def _contains_tf_files(directory: Path) -> bool:
    return directory.is_dir() and any(
        p.suffix in (".tf", ".tofu") or p.name.endswith(".tf.json") for p in directory.iterdir()
    )


def download_source(layout: CacheLayout, unit_dir: Path, logger: Logger, *, source_update: bool) -> None:
    if not layout.source_root.is_dir():
        raise StandinError(
            f"downloading source url file://{layout.source_root}\n"
            f"source path error: stat {layout.source_root}: no such file or directory"
        )
    version_file = layout.download_dir / SOURCE_VERSION_FILE
    current = source_version(layout.source_root)
    if source_update and layout.download_dir.exists():
        shutil.rmtree(layout.download_dir)
    previous = version_file.read_text(encoding="utf-8") if version_file.is_file() else ""
    up_to_date = (
        previous == current and layout.working_dir.is_dir() and _contains_tf_files(layout.working_dir)
    )
    if not up_to_date:
        logger.info(
            f"Downloading Terraform configurations from {_for_log(layout.source_root, unit_dir)} into "
            f"{_for_log(layout.download_dir, unit_dir)}"
        )
        copy_folder_contents(layout.source_root, layout.download_dir, SOURCE_MANIFEST)
        version_file.write_text(current, encoding="utf-8")
        if not layout.working_dir.is_dir():
            raise StandinError(
                f"Working dir {layout.working_dir} from source {layout.source_root} does not exist"
            )
        if previous and previous != current:
            (layout.working_dir / INIT_REQUIRED_FILE).touch()
    copy_folder_contents(unit_dir, layout.working_dir, MODULE_MANIFEST)


def _for_log(path: Path, base: Path) -> str:
    relative = os.path.relpath(path, base)
    return relative if relative.startswith("..") else "./" + relative


# --------------------------------------------------------------------------------------------------
# Running the tool
# --------------------------------------------------------------------------------------------------


class SignalForwarder:
    """Forward SIGINT/SIGTERM to the child after a delay, or at once when the signal comes again."""

    def __init__(self, logger: Logger, delay: float = SIGNAL_FORWARDING_DELAY) -> None:
        self.logger = logger
        self.delay = delay
        self.process: subprocess.Popen[bytes] | None = None
        self.received: dict[int, int] = {}
        self.timers: list[threading.Timer] = []
        self.lock = threading.Lock()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        count = self.received.get(signum, 0) + 1
        self.received[signum] = count
        if count == 1:
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.write("\r")
                sys.stdout.flush()
            names = {int(signal.SIGINT): "Interrupt", int(signal.SIGTERM): "Terminated"}
            name = names.get(signum, str(signum))
            self.logger.info(f"{name} signal received. Gracefully shutting down...")
            timer = threading.Timer(self.delay, self._send, args=(signum,))
            timer.daemon = True
            self.timers.append(timer)
            timer.start()
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        with self.lock:
            process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def attach(self, process: subprocess.Popen[bytes] | None) -> None:
        with self.lock:
            self.process = process

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()


@dataclass(frozen=True)
class OutputMode:
    """How one terraform process's output reaches the terminal."""

    forward: bool  # raw bytes instead of log lines
    headless: bool = False  # auto-init: stdout logged as INFO on stderr
    discard_stdout: bool = False


def _pump(
    stream: IO[bytes],
    raw_target: IO[bytes] | None,
    log_line: Callable[[str], None] | None,
    capture: list[bytes] | None,
) -> None:
    if log_line is None:
        fd = stream.fileno()
        while chunk := os.read(fd, 65536):
            if capture is not None:
                capture.append(chunk)
            if raw_target is not None:
                try:
                    raw_target.write(chunk)
                    raw_target.flush()
                except (BrokenPipeError, ValueError):
                    raw_target = None  # the reader went away: keep draining so the tool is not blocked
        return
    for raw_line in stream:
        if capture is not None:
            capture.append(raw_line)
        line = raw_line.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
        if line:  # Terragrunt's log writer drops empty messages
            log_line(line)


def run_tool(
    tf_path: str,
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    mode: OutputMode,
    logger: Logger,
    forwarder: SignalForwarder,
) -> tuple[int, str]:
    """Run the tool; returns (returncode, captured stderr); a negative returncode is a signal."""
    if forwarder.received:
        raise StandinError("context canceled")
    try:
        process = subprocess.Popen(
            [tf_path, *args], cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as error:
        raise StandinError(f'exec: "{tf_path}": {error.strerror or error}') from error
    forwarder.attach(process)
    stderr_capture: list[bytes] = []
    assert process.stdout is not None and process.stderr is not None
    if mode.forward:
        out_target: IO[bytes] | None = None if mode.discard_stdout else sys.stdout.buffer
        out_logger: Callable[[str], None] | None = None
        err_logger: Callable[[str], None] | None = None
    else:
        out_target = None
        if mode.discard_stdout:
            out_logger = None
        elif mode.headless:
            out_logger = lambda line: logger.log("info", line, tf=True)  # noqa: E731
        else:
            out_logger = lambda line: logger.log("stdout", line, tf=True)  # noqa: E731
        err_level = "error" if mode.headless else "stderr"
        err_logger = lambda line: logger.log(err_level, line, tf=True)  # noqa: E731
    threads = [
        threading.Thread(target=_pump, args=(process.stdout, out_target, out_logger, None), daemon=True),
        threading.Thread(
            target=_pump,
            args=(process.stderr, sys.stderr.buffer if mode.forward else None, err_logger, stderr_capture),
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    while True:
        try:
            code = process.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    for thread in threads:
        thread.join()
    forwarder.attach(None)
    return code, b"".join(stderr_capture).decode("utf-8", "replace")


def default_tf_path(environ: Mapping[str, str]) -> str:
    tofu = shutil.which("tofu", path=environ.get("PATH"))
    if tofu is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run([tofu, "-version"], capture_output=True, timeout=30, check=False)
            if probe.returncode == 0:
                return "tofu"
    return "terraform"


def needs_init(working_dir: Path, environ: Mapping[str, str]) -> bool:
    data_dir = working_dir / environ.get("TF_DATA_DIR", ".terraform")
    if (working_dir / INIT_REQUIRED_FILE).exists():
        return True
    plugins = (data_dir / "plugins").exists() or (data_dir / "providers").exists()
    if not plugins or not (working_dir / LOCK_FILE).exists():
        return True
    if (data_dir / "modules").exists():
        return False
    for path in working_dir.rglob("*"):
        if (
            path.suffix in (".tf", ".tofu")
            and CACHE_DIR_NAME not in path.parts
            and ".terraform" not in path.parts
        ):
            with contextlib.suppress(OSError):
                if MODULE_RE.search(path.read_text(encoding="utf-8", errors="replace")):
                    return True
    return False


def tf_environment(environ: Mapping[str, str], inputs: Mapping[str, Any]) -> dict[str, str]:
    env = dict(environ)
    for name, value in inputs.items():
        if value is None:
            continue
        key = f"TF_VAR_{name}"
        if key not in env:  # Terragrunt never overrides a TF_VAR_ the user already set
            env[key] = value if isinstance(value, str) else go_json(value)
    return env


def _copy_lock_file(working_dir: Path, unit_dir: Path) -> None:
    lock = working_dir / LOCK_FILE
    if working_dir != unit_dir and lock.is_file():
        shutil.copy(lock, unit_dir / LOCK_FILE)


def execute(
    invocation: Invocation, settings: Settings, logger: Logger, environ: Mapping[str, str], tf_path: str
) -> int:
    args = list(invocation.tf_args)
    command = args[0]
    working = settings.text("working-dir")
    unit_dir = Path(os.path.abspath(working)) if working else Path(os.getcwd())
    config_path = unit_dir / CONFIG_NAME
    if not config_path.is_file():
        raise StandinError(
            f"Error reading file at path {config_path}: open {config_path}: no such file or directory"
        )
    config = read_unit_config(config_path, logger, environ)

    if os.sep not in tf_path and shutil.which(tf_path, path=environ.get("PATH")) is None:
        raise StandinError(f'exec: "{tf_path}": executable file not found in $PATH')

    working_dir = unit_dir
    if config.source:
        download_root = Path(settings.text("download-dir") or unit_dir / CACHE_DIR_NAME)
        if not download_root.is_absolute():
            download_root = unit_dir / download_root
        layout = cache_layout(config.source, unit_dir, download_root)
        download_source(layout, unit_dir, logger, source_update=settings.flag("source-update"))
        working_dir = layout.working_dir

    env = tf_environment(environ, config.inputs)
    null_inputs = {name: None for name, value in config.inputs.items() if value is None}
    null_file = working_dir / NULL_VARS_FILE
    if null_inputs:
        null_file.write_text(json.dumps(null_inputs, indent=2), encoding="utf-8")

    no_color = not logger.colors
    if no_color and "-no-color" not in args:
        args.append("-no-color")
    forward = (
        settings.flag("tf-forward-stdout")
        or settings.flag("log-disable")
        or settings.text("log-format") == "bare"
    )
    forwarder = SignalForwarder(logger)
    forwarder.install()
    try:
        if command != "init" and command not in NO_INIT_COMMANDS and needs_init(working_dir, env):
            if settings.flag("no-auto-init"):
                logger.warn(
                    "Detected that init is needed, but Auto-Init is disabled. Continuing with further "
                    "actions, but subsequent terraform commands may fail."
                )
            else:
                init_args = ["init"]
                if no_color or "-no-color" in args:
                    init_args.append("-no-color")
                mode = OutputMode(
                    forward=forward, headless=True, discard_stdout=command not in INIT_OUTPUT_COMMANDS
                )
                code, stderr = run_tool(tf_path, init_args, working_dir, env, mode, logger, forwarder)
                _copy_lock_file(working_dir, unit_dir)
                if code != 0:
                    return _log_failure(logger, tf_path, init_args, working_dir, stderr, code)
                with contextlib.suppress(FileNotFoundError):
                    (working_dir / INIT_REQUIRED_FILE).unlink()

        force_forward = command in FORCE_FORWARD_COMMANDS or any(a in FORCE_FORWARD_FLAGS for a in args)
        mode = OutputMode(forward=forward or force_forward)
        code, stderr = run_tool(tf_path, args, working_dir, env, mode, logger, forwarder)
        if command == "init" or args[:3] == ["providers", "lock"]:
            _copy_lock_file(working_dir, unit_dir)
    finally:
        forwarder.cancel()
        if null_inputs:
            with contextlib.suppress(FileNotFoundError):
                null_file.unlink()
    if code == 0 or (code == 2 and "-detailed-exitcode" in args):
        return code
    return _log_failure(logger, tf_path, args, working_dir, stderr, code)


def _log_failure(logger: Logger, tf_path: str, args: Sequence[str], cwd: Path, stderr: str, code: int) -> int:
    """Log Terragrunt's ProcessExecutionError and return the exit code it exits with."""
    command = " ".join([tf_path, *args]).strip()
    if code < 0:
        names = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminated", signal.SIGKILL: "killed"}
        status = f"signal: {names.get(signal.Signals(-code), signal.Signals(-code).name)}"
    else:
        status = f"exit status {code}"
    logger.error(f'Failed to execute "{command}" in {cwd}\n{stderr}\n{status}')
    return code if code >= 0 else 255  # Go: ExitStatus() is -1 for a signalled child; os.Exit(-1) is 255


# --------------------------------------------------------------------------------------------------
# Stacks: `terragrunt stack generate`
# --------------------------------------------------------------------------------------------------


def stack_command(args: Sequence[str], settings: Settings, logger: Logger, environ: Mapping[str, str]) -> int:
    """`stack generate`; the other stack subcommands (run, output, clean) are not reproduced."""
    if list(args) != ["generate"]:
        raise StandinError(
            f"the terragrunt stand-in supports `stack generate` only, not `stack {' '.join(args)}`"
        )
    working = settings.text("working-dir")
    generate_stacks(Path(os.path.abspath(working)) if working else Path(os.getcwd()), logger, environ)
    return 0


def list_stack_files(working_dir: Path) -> list[Path]:
    """Every terragrunt.stack.hcl below the working dir, hidden dirs (.terragrunt-stack) included."""
    found = []
    for directory, dirnames, filenames in os.walk(working_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in STACK_SKIPPED_DIRS)
        if STACK_FILE in filenames:
            found.append(Path(directory) / STACK_FILE)
    return found


def generate_stacks(working_dir: Path, logger: Logger, environ: Mapping[str, str]) -> None:
    """Level by level: the stack files found, then those the generation wrote, until none is new."""
    generated: set[Path] = set()
    for _ in range(MAX_STACK_LEVELS):
        pending = [path for path in list_stack_files(working_dir) if path not in generated]
        if not pending:
            if not generated:
                logger.warn(f"No stack files found in {working_dir} Nothing to generate.")
            return
        for stack_file in sorted(pending, key=lambda p: len(p.parts)):
            generated.add(stack_file)
            if stack_file.is_file():  # generation above may have replaced it
                generate_stack_file(stack_file, logger, environ)
    raise StandinError(f"Cycle detected: maximum level ({MAX_STACK_LEVELS}) exceeded")


def generate_stack_file(stack_file: Path, logger: Logger, environ: Mapping[str, str]) -> None:
    stack_dir = stack_file.parent
    document = load_hcl(stack_file)
    values = read_values(stack_dir, logger, environ)
    context = EvalContext(config_path=stack_file, logger=logger, environ=environ, values=values)
    if len(list(iter_blocks(document, "locals"))) > 1:
        raise StandinError(
            f"up to one locals block is allowed per stack file, but found several in {stack_file}"
        )
    _evaluate_locals(document, context)
    evaluator = Evaluator(context)
    names: set[str] = set()
    for kind in ("unit", "stack"):
        for label, attrs in iter_blocks(document, kind):
            if label is None:
                raise StandinError(f"Failed to read stack file {stack_file}: a {kind} block needs a name")
            if label in names:
                raise StandinError(f"Failed to read stack file {stack_file}: duplicate name {label!r}")
            names.add(label)
            missing = [name for name in ("source", "path") if name not in attrs]
            if missing:
                raise StandinError(
                    f"Failed to read stack file {stack_file}: {kind} {label!r}: "
                    f'The argument "{missing[0]}" is required, but no definition was found.'
                )
            logger.info(f"Generating {kind} {label} from {stack_file}")
            _generate_component(kind, label, attrs, evaluator, stack_dir)


def _generate_component(
    kind: str, name: str, attrs: Mapping[str, Any], evaluator: Evaluator, stack_dir: Path
) -> None:
    """generateComponent (pkg/config/stack.go): copy the source, check it, write the values."""
    source = str(evaluator.value(attrs["source"]))
    path = str(evaluator.value(attrs["path"]))
    no_stack = evaluator.value(attrs.get("no_dot_terragrunt_stack", False)) is True
    no_validation = evaluator.value(attrs.get("no_validation", False)) is True
    values = evaluator.value(attrs["values"]) if "values" in attrs else None
    if os.path.isabs(path):
        raise StandinError(f"path {path} must be relative")
    target_dir = stack_dir / STACK_DIR
    dest = Path(os.path.abspath(target_dir / path))
    if not str(dest).startswith(str(Path(os.path.abspath(target_dir)))):
        raise StandinError(
            f"{name} destination path '{dest}' is outside of the stack directory '{target_dir}'"
        )
    if no_stack:
        dest = stack_dir / path
    local = _stack_local_source(source, stack_dir)
    if local is None:
        raise StandinError(
            f"Failed to fetch {kind} {name}\n  Source:      {source}\n  Destination: {dest}\n\n"
            "the terragrunt stand-in fetches local sources only (no go-getter, no network)"
        )
    copy_stack_component(local, dest)
    expected = CONFIG_NAME if kind == "unit" else STACK_FILE
    if not (no_stack or no_validation) and not (dest / expected).is_file():
        raise StandinError(
            f"Validation failed for {kind} {name} at path {target_dir}: expected {kind} to generate with "
            f"{expected} file at root of generated directory."
        )
    if values is not None:
        if not isinstance(values, dict):
            raise StandinError(f"writeValues: expected object or map, got {type(values).__name__}")
        (dest / VALUES_FILE).write_text(hcl_values_file(values), encoding="utf-8")


def _stack_local_source(source: str, stack_dir: Path) -> Path | None:
    """isLocal: the path exists as given or beside the stack file, or carries file://."""
    candidate = source.removeprefix("file://")
    for path in (Path(candidate), stack_dir / candidate):
        if path.exists():
            return Path(os.path.abspath(path if path.is_absolute() else stack_dir / candidate))
    return Path(os.path.abspath(stack_dir / candidate)) if source.startswith("file://") else None


def copy_stack_component(source: Path, destination: Path) -> None:
    """CopyFolderContentsWithFilter with an accept-all filter: every file, hidden ones too (Go's
    filepath.Glob(source + "/*") matches dot files), a manifest per directory whose files the next
    copy deletes first (internal/util/file.go)."""
    if not source.is_dir():
        raise StandinError(f"Failed to copy {source} to {destination}: not a directory")
    destination.mkdir(parents=True, exist_ok=True, mode=0o700)
    manifest = destination / STACK_MANIFEST
    with contextlib.suppress(FileNotFoundError, ValueError):
        for old in json.loads(manifest.read_text(encoding="utf-8")):
            target = destination / old
            if target.is_file() or target.is_symlink():
                target.unlink()
    copied: list[str] = []
    for entry in sorted(source.iterdir()):
        if entry.is_dir():
            copy_stack_component(entry, destination / entry.name)
        elif entry.name != STACK_MANIFEST:
            shutil.copy(entry, destination / entry.name)
            copied.append(entry.name)
    manifest.write_text(json.dumps(copied), encoding="utf-8")


def hcl_values_file(values: Mapping[str, Any]) -> str:
    """writeValues: a comment, then one attribute per value, keys sorted, formatted as hclwrite's
    File.Bytes() formats them (consecutive one-line attributes aligned on `=`)."""
    lines = ["# Auto-generated by the terragrunt.stack.hcl file by Terragrunt. Do not edit manually"]
    lines.extend(_hcl_attributes(values, ""))
    return "\n".join(lines) + "\n"


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _hcl_attributes(values: Mapping[str, Any], indent: str) -> list[str]:
    rendered = [(_hcl_key(key), _hcl_value(values[key], indent)) for key in sorted(values)]
    lines: list[str] = []
    group: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(key) for key, _ in group), default=0)
        lines.extend(f"{indent}{key.ljust(width)} = {text}" for key, text in group)
        group.clear()

    for key, text in rendered:
        if "\n" in text:
            flush()
            lines.append(f"{indent}{key} = {text}")
        else:
            group.append((key, text))
    flush()
    return lines


def _hcl_key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else _hcl_string(key)


def _hcl_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _hcl_value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return go_json(int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_value(item, indent) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = _hcl_attributes(value, indent + "  ")
        return "{\n" + "\n".join(inner) + f"\n{indent}}}"
    raise StandinError(f"writeValues: cannot write a {type(value).__name__}")


USAGE = f"""NAME:
   terragrunt - TEST STAND-IN ({STANDIN_VERSION}) for Terragrunt; runs the real terraform.

USAGE:
   terragrunt <command> [flags] [tf args]
   terragrunt run [flags] -- <tf command> [tf args]

COMMANDS (shortcuts): {" ".join(sorted(SHORTCUT_COMMANDS))}
   stack generate

See tests/terragrunt_standin/tgstandin.py for what this stand-in reproduces.
"""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    bootstrap = Logger(colors=True, disabled=False, level="info", log_format="pretty", tf_name="terraform")
    try:
        settings = settings_from_env(environ)
        invocation = parse_command_line(list(sys.argv[1:] if argv is None else argv), settings)
        log_format = settings.text("log-format") or "pretty"
        if log_format not in ("pretty", "bare"):
            raise StandinError(
                f"the terragrunt stand-in supports --log-format pretty|bare, not {log_format!r}"
            )
        level = (settings.text("log-level") or "info").lower()
        if level not in LEVELS:
            raise StandinError(f"invalid log level {level!r}; available values: {', '.join(LEVELS)}")
        tf_path = settings.text("tf-path") or (
            default_tf_path(environ) if invocation.kind == "tf" else "terraform"
        )
        logger = Logger(
            colors=not settings.flag("no-color"),
            disabled=settings.flag("log-disable"),
            level=level,
            log_format=log_format,
            tf_name=os.path.basename(tf_path),
        )
        bootstrap = logger
        settings.flag("non-interactive")  # validated like the real flag; there is nothing to prompt for
        for warning in dict.fromkeys(settings.warnings):
            logger.warn(warning)
        if invocation.kind == "version":
            sys.stdout.write(f"terragrunt version {STANDIN_VERSION}\n")
            return 0
        if invocation.kind == "help":
            sys.stdout.write(USAGE)
            return 0
        if invocation.kind == "stack":
            return stack_command(invocation.tf_args, settings, logger, environ)
        return execute(invocation, settings, logger, environ, tf_path)
    except StandinError as error:
        bootstrap.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        return 130
