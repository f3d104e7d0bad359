"""The git edge against real repositories in temporary directories (no network: file:// remotes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftctl.selection import git
from driftctl.selection.git import Change


def isolate_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, a fixed identity: repositories behave the same everywhere."""
    for name, value in {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


class GitRepo:
    """A scratch repository: write files, commit, run git."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path) -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("-c", "init.defaultBranch=main", "init", "-q")
        return repo

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True)
        return done.stdout.decode("utf-8", "surrogateescape").strip()

    def write(self, relative: str, text: str = "# placeholder\n") -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def delete(self, relative: str) -> None:
        (self.path / relative).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def clone(self, target: Path, *args: str) -> GitRepo:
        subprocess.run(
            ["git", "clone", "-q", *args, f"file://{self.path}", str(target)], check=True, capture_output=True
        )
        return GitRepo(target)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    created = GitRepo.create(tmp_path / "repo")
    created.write("README", "hello\n")
    created.commit("first")
    return created


# ---- pure parsing ----


def test_parse_name_status_handles_renames_copies_and_odd_names() -> None:
    raw = b"M\0a b.tf\0R100\0old\nname\0new/\xc3\xa9.tf\0C075\0src\0dst\0D\0gone\0T\0link\0"
    assert git.parse_name_status(raw) == (
        Change("M", "a b.tf"),
        Change("R", "new/é.tf", "old\nname"),
        Change("C", "dst", "src"),
        Change("D", "gone"),
        Change("T", "link"),
    )


def test_parse_name_status_keeps_undecodable_bytes_as_surrogates() -> None:
    (change,) = git.parse_name_status(b"A\0bad\xff.tf\0")
    assert os.fsencode(change.path) == b"bad\xff.tf"


def test_parse_name_status_rejects_truncated_output() -> None:
    with pytest.raises(git.GitError):
        git.parse_name_status(b"R100\0only-one\0")


_names = st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), min_size=1)


@given(st.lists(st.tuples(st.sampled_from("AMDTRC"), _names, _names), max_size=8))
def test_parse_name_status_round_trips(entries: list[tuple[str, str, str]]) -> None:
    raw = b""
    expected = []
    for status, path, old in entries:
        if status in "RC":
            raw += f"{status}090\0".encode() + os.fsencode(old) + b"\0" + os.fsencode(path) + b"\0"
            expected.append(Change(status, path, old))
        else:
            raw += f"{status}\0".encode() + os.fsencode(path) + b"\0"
            expected.append(Change(status, path))
    assert git.parse_name_status(raw) == tuple(expected)


def test_ref_name_strips_revision_operators() -> None:
    assert git.ref_name("origin/main~3") == "origin/main"
    assert git.ref_name("v1^{commit}") == "v1"
    assert git.ref_name("HEAD@{1}") == "HEAD"
    assert git.ref_name("main") == "main"


# ---- the repository ----


def test_a_directory_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(git.NotAGitRepoError, match="plain is not inside a git work tree") as raised:
        git.collect_changes(plain, None, False)
    assert "\n" not in str(raised.value)


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(git.NotAGitRepoError, match="nowhere is not a directory"):
        git.toplevel(tmp_path / "nowhere")


def test_an_unknown_base_is_an_error_naming_it(repo: GitRepo) -> None:
    with pytest.raises(git.UnknownRefError, match="base ref 'no-such-branch' does not exist"):
        git.collect_changes(repo.path, "no-such-branch", False)


def test_an_option_like_base_is_not_passed_to_git_as_an_option(repo: GitRepo) -> None:
    with pytest.raises(git.UnknownRefError, match="'--output=x'"):
        git.collect_changes(repo.path, "--output=x", False)
    assert not (repo.path / "x").exists()


def test_a_repository_without_commits_is_an_error(tmp_path: Path) -> None:
    empty = GitRepo.create(tmp_path / "empty")
    with pytest.raises(git.GitError, match="has no commits yet"):
        git.collect_changes(empty.path, None, False)


def test_toplevel_from_a_subdirectory(repo: GitRepo) -> None:
    repo.write("sub/dir/file")
    assert git.toplevel(repo.path / "sub" / "dir") == repo.path.resolve()


# ---- the base ----


def test_default_base_without_origin_is_the_previous_commit(repo: GitRepo) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.write("a.tf")
    repo.commit()
    changes = git.collect_changes(repo.path, None, False)
    assert changes.base == first
    assert changes.base_description.startswith("HEAD~1")
    assert changes.changes == (Change("A", "a.tf"),)


def test_the_first_commit_compares_with_the_empty_tree(tmp_path: Path) -> None:
    fresh = GitRepo.create(tmp_path / "fresh")
    fresh.write("only.tf")
    fresh.commit()
    changes = git.collect_changes(fresh.path, None, False)
    assert changes.changes == (Change("A", "only.tf"),)
    assert "empty tree" in changes.base_description


def test_default_base_is_the_merge_base_with_the_default_branch(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "clone")
    clone.git("checkout", "-q", "-b", "feature")
    clone.write("feature.tf")
    clone.commit()
    clone.write("feature2.tf")
    clone.commit()
    # main moves on after the branch point: its changes are not the branch's
    repo.write("on-main.tf")
    repo.commit()
    clone.git("fetch", "-q", "origin")
    changes = git.collect_changes(clone.path, None, False)
    assert {c.path for c in changes.changes} == {"feature.tf", "feature2.tf"}
    assert changes.base_description.startswith("merge-base of origin/main and HEAD")


def test_on_the_default_branch_the_last_commit_is_the_change(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "clone")
    clone.write("new.tf")
    clone.commit()
    clone.git("push", "-q", "origin", "HEAD:refs/heads/other")  # origin/HEAD still names main
    clone.git("update-ref", "refs/remotes/origin/main", "HEAD")
    changes = git.collect_changes(clone.path, None, False)
    assert changes.changes == (Change("A", "new.tf"),)
    assert changes.base_description.startswith("HEAD~1")


def test_an_explicit_base_is_compared_with_directly(repo: GitRepo) -> None:
    repo.git("tag", "start")
    repo.write("one.tf")
    repo.commit()
    repo.write("two.tf")
    repo.commit()
    changes = git.collect_changes(repo.path, "start", False)
    assert {c.path for c in changes.changes} == {"one.tf", "two.tf"}
    assert git.collect_changes(repo.path, "HEAD~1", False).changes == (Change("A", "two.tf"),)


# ---- the diff ----


def test_renames_and_copies_name_both_paths(repo: GitRepo) -> None:
    body = "".join(f"line {n} of a file long enough for rename detection\n" for n in range(40))
    repo.write("a/main.tf", body)
    repo.write("keep/src.tf", body.replace("line", "row"))
    repo.commit()
    (repo.path / "b").mkdir()
    repo.git("mv", "a/main.tf", "b/main.tf")
    repo.write("keep/src.tf", body.replace("line", "row") + "# edited\n")
    repo.write("copy/src.tf", body.replace("line", "row"))
    repo.commit()
    changes = git.collect_changes(repo.path, None, False).changes
    assert Change("R", "b/main.tf", "a/main.tf") in changes
    assert Change("C", "copy/src.tf", "keep/src.tf") in changes


def test_a_mode_change_is_a_change(repo: GitRepo) -> None:
    script = repo.write("run.sh", "echo hi\n")
    repo.commit()
    script.chmod(0o755)
    repo.commit()
    assert git.collect_changes(repo.path, None, False).changes == (Change("M", "run.sh"),)


def test_paths_with_spaces_unicode_and_newlines(repo: GitRepo) -> None:
    names = ["with space/a.tf", "ünï/çødé.tf", "new\nline/x.tf"]
    for name in names:
        repo.write(name)
    repo.commit()
    assert {c.path for c in git.collect_changes(repo.path, None, False).changes} == set(names)


def test_uncommitted_staged_and_untracked_changes_only_when_asked(repo: GitRepo) -> None:
    repo.write("tracked.tf")
    repo.write(".gitignore", "ignored.tf\n")
    repo.commit()
    repo.write("tracked.tf", "# edited in the work tree\n")
    repo.write("staged.tf")
    repo.git("add", "staged.tf")
    repo.write("untracked dir/new.tf")
    repo.write("ignored.tf")
    committed = git.collect_changes(repo.path, None, False)
    assert {c.path for c in committed.changes} == {"tracked.tf", ".gitignore"}
    everything = git.collect_changes(repo.path, None, True)
    assert {c.path for c in everything.changes} == {
        "tracked.tf",
        ".gitignore",
        "staged.tf",
        "untracked dir/new.tf",
    }
    assert Change("?", "untracked dir/new.tf") in everything.changes
    assert "uncommitted" in everything.base_description


def test_untracked_paths_are_relative_to_the_top_from_a_subdirectory(repo: GitRepo) -> None:
    repo.write("sub/x.tf")
    repo.commit()
    repo.write("sub/new.tf")
    changes = git.collect_changes(repo.path / "sub", "HEAD", True)
    assert changes.changes == (Change("?", "sub/new.tf"),)


# ---- shallow clones ----


def _history(repo: GitRepo, commits: int) -> None:
    for number in range(commits):
        repo.write(f"history/{number}.tf")
        repo.commit(f"commit {number}")


def test_a_shallow_clone_is_deepened_once_when_it_has_a_remote(repo: GitRepo, tmp_path: Path) -> None:
    _history(repo, 8)
    shallow = repo.clone(tmp_path / "shallow", "--depth", "1")
    assert shallow.git("rev-parse", "--is-shallow-repository") == "true"
    changes = git.collect_changes(shallow.path, None, False, deepen_by=2)
    assert changes.fallback_reason is None
    assert changes.changes == (Change("A", "history/7.tf"),)
    assert shallow.git("rev-list", "--count", "HEAD") == "3"  # deepened by 2, not to the full history


def test_a_shallow_clone_without_a_remote_plans_everything_with_a_warning(
    repo: GitRepo, tmp_path: Path
) -> None:
    _history(repo, 3)
    shallow = repo.clone(tmp_path / "shallow", "--depth", "1")
    shallow.git("remote", "remove", "origin")
    changes = git.collect_changes(shallow.path, None, False)
    assert changes.base is None and changes.changes == ()
    assert changes.fallback_reason is not None
    assert "HEAD~1 is not in this shallow clone" in changes.fallback_reason
    assert "no remote" in changes.fallback_reason
    assert "planning all stacks" in changes.fallback_reason


def test_an_explicit_base_beyond_the_shallow_boundary(repo: GitRepo, tmp_path: Path) -> None:
    old = repo.git("rev-parse", "HEAD")
    _history(repo, 3)
    shallow = repo.clone(tmp_path / "shallow", "--depth", "1")
    shallow.git("remote", "remove", "origin")
    changes = git.collect_changes(shallow.path, old, False)
    assert changes.fallback_reason is not None and "not in this shallow clone" in changes.fallback_reason
    # a name that is no ref at all is still a usage error, shallow or not
    with pytest.raises(git.UnknownRefError, match="'typo'"):
        git.collect_changes(shallow.path, "typo", False)


def test_an_explicit_base_is_fetched_by_deepening(repo: GitRepo, tmp_path: Path) -> None:
    old = repo.git("rev-parse", "HEAD")
    _history(repo, 2)
    shallow = repo.clone(tmp_path / "shallow", "--depth", "1")
    changes = git.collect_changes(shallow.path, old, False, deepen_by=10)
    assert changes.fallback_reason is None
    assert {c.path for c in changes.changes} == {"history/0.tf", "history/1.tf"}
