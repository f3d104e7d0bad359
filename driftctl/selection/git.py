"""The git edge of changed-unit selection: which base to compare with, and which paths changed since.

Every call is `git -C <top> ...` without a shell; paths come back NUL-separated (`-z`) so that spaces,
newlines and non-UTF-8 bytes survive, and are decoded with `os.fsdecode` like any other file name.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DEEPEN = 50  # commits fetched once when a shallow clone lacks the base
_FETCH_TIMEOUT = 300.0
_TIMEOUT = 120.0
# a full or abbreviated object name: possibly a commit beyond a shallow clone's boundary
_OBJECT_NAME = re.compile(r"^[0-9a-fA-F]{4,64}$")
# `HEAD~2`, `main^`, `v1^{commit}`: the part before the first revision operator names a ref
_REVISION_SUFFIX = re.compile(r"[~^@].*$")


class GitError(Exception):
    """A problem with git or the repository that the user must fix; the message is one line."""


class NotAGitRepoError(GitError):
    pass


class UnknownRefError(GitError):
    pass


@dataclass(frozen=True)
class Change:
    """One entry of `git diff --name-status`; paths relative to the repository's top level, `/`-separated."""

    status: str  # A C D M R T U X B, or "?" for an untracked file
    path: str
    old_path: str | None = None  # the source of a rename or a copy


@dataclass(frozen=True)
class ChangeSet:
    top: Path  # the repository's top level
    base: str | None  # the commit compared with; None when it could not be found
    base_description: str  # how the base was chosen, for messages
    changes: tuple[Change, ...] = ()
    # set when no base could be found (a shallow clone without it): the caller must plan everything
    fallback_reason: str | None = None


# ---- pure parsing ----


def parse_name_status(data: bytes) -> tuple[Change, ...]:
    """`git diff --name-status -z` output: `STATUS\\0path\\0`, or `Rnn\\0old\\0new\\0` for renames/copies."""
    fields = data.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    changes: list[Change] = []
    index = 0
    while index < len(fields):
        status = fields[index].decode("ascii", "replace")[:1]
        if status in ("R", "C"):
            if index + 2 >= len(fields):
                raise GitError(f"unexpected `git diff` output near {status!r} entry")
            old, new = os.fsdecode(fields[index + 1]), os.fsdecode(fields[index + 2])
            changes.append(Change(status, new, old))
            index += 3
        else:
            if index + 1 >= len(fields):
                raise GitError(f"unexpected `git diff` output near {status!r} entry")
            changes.append(Change(status, os.fsdecode(fields[index + 1])))
            index += 2
    return tuple(changes)


def parse_path_list(data: bytes) -> tuple[str, ...]:
    """NUL-terminated paths (`git ls-files -z`)."""
    return tuple(os.fsdecode(item) for item in data.split(b"\0") if item)


def ref_name(base: str) -> str:
    """The ref a revision starts from: `origin/main~3` -> `origin/main`."""
    return _REVISION_SUFFIX.sub("", base)


# ---- running git ----


@dataclass(frozen=True)
class _Result:
    code: int
    out: bytes
    err: str


def _run(cwd: Path, args: Sequence[str], timeout: float = _TIMEOUT, stdin: bytes = b"") -> _Result:
    env = {
        **os.environ,
        "LC_ALL": "C",  # messages we may show or match are git's English ones
        "GIT_TERMINAL_PROMPT": "0",  # a fetch must fail, not wait for a password nobody will type
        "GIT_OPTIONAL_LOCKS": "0",  # a read-only look must not take index.lock from a concurrent git
    }
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed (needed to find changed stacks)") from error
    except subprocess.TimeoutExpired as error:
        raise GitError(f"`git {' '.join(args)}` did not finish within {timeout:.0f}s in {cwd}") from error
    return _Result(done.returncode, done.stdout, _first_line(done.stderr))


def _first_line(stderr: bytes) -> str:
    text = os.fsdecode(stderr).strip()
    return text.splitlines()[0] if text else ""


def _git(top: Path, *args: str) -> bytes:
    result = _run(top, args)
    if result.code != 0:
        raise GitError(f"`git {' '.join(args)}` failed in {top}: {result.err or f'exit {result.code}'}")
    return result.out


def _text(out: bytes) -> str:
    return os.fsdecode(out).strip()


def toplevel(directory: Path) -> Path:
    """The work tree holding `directory`; NotAGitRepoError naming it otherwise."""
    if not directory.is_dir():
        raise NotAGitRepoError(f"{directory} is not a directory")
    result = _run(directory, ["rev-parse", "--show-toplevel"])
    if result.code != 0 or not result.out.strip():
        detail = f" ({result.err})" if result.err else ""
        raise NotAGitRepoError(f"{directory} is not inside a git work tree{detail}")
    return Path(os.fsdecode(result.out.rstrip(b"\n")))


def rev_parse(top: Path, revision: str) -> str | None:
    """The commit a revision names, or None when this clone does not have it."""
    if revision.startswith("-"):  # never let a ref be taken for an option
        return None
    result = _run(top, ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"])
    return (_text(result.out) or None) if result.code == 0 else None


def is_shallow(top: Path) -> bool:
    return _text(_git(top, "rev-parse", "--is-shallow-repository")) == "true"


def default_branch(top: Path) -> str | None:
    """`origin/main` when `refs/remotes/origin/HEAD` exists (a clone sets it), else None."""
    result = _run(top, ["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"])
    name = _text(result.out).removeprefix("refs/remotes/") if result.code == 0 else ""
    # the symbolic ref outlives `git remote remove` and a branch deleted on the remote: check its target
    return name if name and rev_parse(top, name) is not None else None


def merge_base(top: Path, one: str, other: str) -> str | None:
    result = _run(top, ["merge-base", one, other])
    return (_text(result.out) or None) if result.code == 0 else None


def remote(top: Path) -> str | None:
    """`origin` when it exists, else the first remote, else None."""
    names = _text(_git(top, "remote")).splitlines()
    return "origin" if "origin" in names else (names[0] if names else None)


def deepen(top: Path, commits: int) -> str | None:
    """Fetches `commits` more commits of history; None on success, else why not (one line)."""
    name = remote(top)
    if name is None:
        return "the clone has no remote to fetch more history from"
    result = _run(top, ["fetch", "--quiet", "--no-tags", f"--deepen={commits}", "--", name], _FETCH_TIMEOUT)
    if result.code != 0:
        return f"`git fetch --deepen={commits} {name}` failed: {result.err or f'exit {result.code}'}"
    return None


def empty_tree(top: Path) -> str:
    """The id of the empty tree in this repository's hash, to diff a root commit against."""
    return _text(_run(top, ["hash-object", "-t", "tree", "--stdin"]).out)


# ---- choosing the base ----


@dataclass(frozen=True)
class _Base:
    commit: str | None
    description: str
    fallback_reason: str | None = None


class _Deepener:
    """Fetches more history at most once per run, and only in a shallow clone."""

    def __init__(self, top: Path, commits: int) -> None:
        self.top, self.commits = top, commits
        self.tried: str | None = None  # the outcome of the one attempt, for messages

    def attempt(self) -> bool:
        if self.tried is not None or not is_shallow(self.top):
            return False
        failure = deepen(self.top, self.commits)
        self.tried = failure or f"fetched {self.commits} more commits"
        return failure is None


def resolve_base(top: Path, base: str | None, deepen_by: int = DEFAULT_DEEPEN) -> _Base:
    """The commit to compare with; UnknownRefError for an explicit ref that does not exist at all."""
    if rev_parse(top, "HEAD") is None:
        raise GitError(f"{top} has no commits yet")
    deepener = _Deepener(top, deepen_by)
    if base is not None:
        return _explicit_base(top, base, deepener)
    upstream = default_branch(top)
    if upstream is not None:
        found = merge_base(top, upstream, "HEAD")
        if found is None and deepener.attempt():
            found = merge_base(top, upstream, "HEAD")
        if found is None:
            problem = f"no common ancestor of {upstream} and HEAD"
            return _fallback(top, problem, deepener, f"merge-base of {upstream}")
        if found != rev_parse(top, "HEAD"):
            return _Base(found, f"merge-base of {upstream} and HEAD ({found[:12]})")
        # HEAD is already on the default branch: what changed is its last commit
    return _previous_commit(top, deepener)


def _explicit_base(top: Path, base: str, deepener: _Deepener) -> _Base:
    commit = rev_parse(top, base)
    if commit is None and _may_be_beyond_shallow_boundary(top, base) and deepener.attempt():
        commit = rev_parse(top, base)
    if commit is not None:
        return _Base(commit, f"{base} ({commit[:12]})")
    if _may_be_beyond_shallow_boundary(top, base):
        return _fallback(top, f"base {base!r} is not in this shallow clone", deepener, base)
    raise UnknownRefError(f"base ref {base!r} does not exist in {top}")


def _may_be_beyond_shallow_boundary(top: Path, base: str) -> bool:
    # a ref that exists (`main~5`) or an object name may just lie past the history this clone holds
    name = ref_name(base)
    return is_shallow(top) and (rev_parse(top, name) is not None or bool(_OBJECT_NAME.match(name)))


def _previous_commit(top: Path, deepener: _Deepener) -> _Base:
    commit = rev_parse(top, "HEAD~1")
    if commit is None and deepener.attempt():
        commit = rev_parse(top, "HEAD~1")
    if commit is not None:
        return _Base(commit, f"HEAD~1 ({commit[:12]})")
    if is_shallow(top):
        return _fallback(top, "HEAD~1 is not in this shallow clone", deepener, "HEAD~1")
    # the first commit of the repository: everything in it is new
    return _Base(empty_tree(top), "the empty tree (HEAD is the repository's first commit)")


def _fallback(top: Path, problem: str, deepener: _Deepener, wanted: str) -> _Base:
    """No base: every stack is planned, and the reason says what was tried and what would help."""
    attempt = f" ({deepener.tried})" if deepener.tried else ""
    hint = " - fetch more history (or clone fully) to select by change" if is_shallow(top) else ""
    return _Base(None, wanted, f"cannot find changed stacks: {problem}{attempt}; planning all stacks{hint}")


# ---- collecting the changes ----


def work_files(top: Path) -> tuple[str, ...]:
    """Every file of the work tree git does not ignore (tracked or not), relative to the top."""
    return parse_path_list(
        _git(top, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name")
    )


def diff(top: Path, base: str, include_uncommitted: bool) -> tuple[Change, ...]:
    """What changed from `base` to HEAD, or to the work tree (staged, unstaged, untracked) when asked."""
    # -M/-C: a rename or copy is reported with both paths; the caller treats both as changed
    args = ["diff", "--name-status", "-z", "-M", "-C", "--no-color", "--no-ext-diff", base]
    changes = parse_name_status(_git(top, *args, *([] if include_uncommitted else ["HEAD"]), "--"))
    if not include_uncommitted:
        return changes
    untracked = parse_path_list(_git(top, "ls-files", "--others", "--exclude-standard", "-z", "--full-name"))
    return changes + tuple(Change("?", path) for path in untracked)


def collect_changes(
    directory: Path, base: str | None, include_uncommitted: bool, deepen_by: int = DEFAULT_DEEPEN
) -> ChangeSet:
    """The changes a `--changed` run selects by; GitError (one line) for a non-git dir or a bad ref."""
    top = toplevel(directory)
    chosen = resolve_base(top, base, deepen_by)
    if chosen.commit is None:
        return ChangeSet(top, None, chosen.description, (), chosen.fallback_reason)
    description = chosen.description + (" and uncommitted changes" if include_uncommitted else "")
    return ChangeSet(top, chosen.commit, description, diff(top, chosen.commit, include_uncommitted))
