"""The values that cross module boundaries. Imports nothing from driftctl."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class Tool(str, enum.Enum):
    TERRAGRUNT = "terragrunt"
    TERRAFORM = "terraform"
    TOFU = "tofu"


class State(str, enum.Enum):
    CLEAN = "clean"
    DRIFTED = "drifted"
    ERRORED = "errored"

    @property
    def gauge_value(self) -> int:
        """The value of `drift_stack_state`: 0 clean, 1 drifted, 2 errored."""
        return _GAUGE_VALUES[self]


_GAUGE_VALUES = {State.CLEAN: 0, State.DRIFTED: 1, State.ERRORED: 2}


class ErrorKind(str, enum.Enum):
    LOCK = "lock"
    AUTH = "auth"
    NETWORK = "network"
    TIMEOUT = "timeout"
    CONFIG = "config"
    UNKNOWN = "unknown"


class FailOn(str, enum.Enum):
    DRIFT = "drift"
    ERROR = "error"
    NEVER = "never"


class ExitCode(enum.IntEnum):
    """driftctl's documented exit codes (0 and 2 match `terraform plan -detailed-exitcode`)."""

    CLEAN = 0
    ERROR = 1
    DRIFT = 2
    USAGE = 3


@dataclass(frozen=True)
class Stack:
    """A directory that is planned on its own: `id` is its path relative to the root, `/`-separated.

    A unit of a Terragrunt Stack is planned where Terragrunt generates it: `path` is
    `<dir of its terragrunt.stack.hcl>/.terragrunt-stack/<path>` (nested stacks nest), which exists
    only after `terragrunt stack generate`. The other fields say where a unit's config comes from:

    - `config`: the file Terragrunt reads: `terragrunt.hcl` or `terragrunt.hcl.json` in `path`; for a
      Stacks unit the `terragrunt.hcl` of its local source (copied at generation), None when remote.
    - `stack_files`: the `terragrunt.stack.hcl` files that generate the unit, outermost first (the
      repository's file, then the files of nested local `stack` sources); empty outside Stacks.
    - `source`: the `unit` block's `source` as written in `stack_files[-1]`; `source_dir` the local
      directory it resolves to, None when the source is remote (git, registry, http...).
    - `excluded`: why Terragrunt would not plan the unit (an `exclude` block, `skip = true`), None
      when it does; `notes`: what discovery could not decide (an `exclude` whose `if` is unknown).
    """

    id: str
    path: Path
    tool: Tool
    config: Path | None = None
    stack_files: tuple[Path, ...] = ()
    source: str | None = None
    source_dir: Path | None = None
    excluded: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def stack_file(self) -> Path | None:
        """The `terragrunt.stack.hcl` whose `unit` block declares this unit, if any."""
        return self.stack_files[-1] if self.stack_files else None


@dataclass(frozen=True)
class ResourceCounts:
    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.destroy + self.replace


@dataclass(frozen=True)
class ResourceChange:
    """One resource a plan would change: names only, never a planned or prior value.

    `action` is create, update, delete, replace or forget. `attributes` are the paths of the
    attributes that differ (`tags.owner`, `ingress[0].cidr_blocks`). `outside` marks a resource that
    changed outside Terraform (the plan's `resource_drift`). `ignored_by` is the reason of the noise
    rule that matched it, if any: ignored changes are kept and reported, never dropped. Attributes a
    rule ignores while others still differ move to `ignored_attributes`.
    """

    address: str
    action: str
    resource_type: str = ""
    attributes: tuple[str, ...] = ()
    outside: bool = False
    ignored_by: str | None = None
    ignored_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """A `check` block (Terraform >= 1.5) whose assertions did not pass: its address and status."""

    address: str
    status: str  # "fail", "error" or "unknown"


@dataclass(frozen=True)
class PlanError:
    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class PlanResult:
    stack: Stack
    state: State
    exit_code: int | None
    resources: ResourceCounts
    error: PlanError | None
    duration_seconds: float
    attempts: int
    log_path: Path | None
    # monotonic-clock bounds of the whole stack's work, for schedules and the parallelism proof
    started_monotonic: float = 0.0
    finished_monotonic: float = 0.0
    # what the plan would change, resource by resource (names only)
    changes: tuple[ResourceChange, ...] = ()
    # changed outside Terraform but not acted on by the plan: reported apart, not drift by default
    outside: tuple[ResourceChange, ...] = ()
    checks: tuple[CheckResult, ...] = ()


@dataclass(frozen=True)
class Selection:
    """What a run plans, what it forgets, and why (for `--explain`)."""

    stacks: tuple[Stack, ...]
    mode: str  # "all", "changed" or "paths"
    removed: tuple[str, ...] = ()
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fallback_reason: str | None = None
    # every stack id in the repository, planned or not: metrics of stacks outside it are dropped
    known: tuple[str, ...] | None = None
    # units Terragrunt would not plan (`Stack.excluded` says why): never planned, not in `known`
    excluded: tuple[Stack, ...] = ()
    warnings: tuple[str, ...] = ()  # what discovery could not decide (unknown include paths, ...)


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `total` of a run split across CI workers."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


@dataclass(frozen=True)
class RunReport:
    started_at: datetime
    finished_at: datetime
    root: Path
    tool: Tool
    mode: str
    results: tuple[PlanResult, ...]
    removed: tuple[str, ...] = ()
    # every stack id in the repository (planned or not), None when unknown: publish drops the others
    known: tuple[str, ...] | None = None
    shard: Shard | None = None
    commit: str | None = None  # HEAD of the root's git repository, when it is one

    def count(self, state: State) -> int:
        return sum(1 for r in self.results if r.state is state)


@dataclass(frozen=True)
class StackSeries:
    """What a store (the Pushgateway, the history database) holds for one stack between runs."""

    stack: str
    state: State
    first_seen: float | None
    consecutive_errors: int = 0
    duration_seconds: float | None = None
    resources: ResourceCounts = ResourceCounts()
    outside: int = 0  # resources changed outside Terraform that the last plan did not act on
    checks_failing: int = 0  # `check` blocks that did not pass in the last plan
    error_kind: ErrorKind | None = None  # the last error's kind while errored
