"""A catalog folder as a git revision holds it, read into a temporary folder for `skillgate diff`.

`git archive` writes the revision's files under the catalog folder into a tar file, which is
extracted with the standard library's `data` filter (no absolute paths, no links leading out,
no devices); nothing in the repository, its index or its working tree is touched. The working
tree itself is read in place. Each failure is a `UsageError` that says what to do.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from skillgate.base.errors import UsageError

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class Repository:
    top: Path  # the working tree's top folder
    prefix: str  # the catalog folder relative to `top`, POSIX, without a trailing slash ("" at the top)


@dataclass(frozen=True)
class Side:
    """One side of a diff: its name, the catalog folder on disk, and the folder as shown to people."""

    label: str  # the revision as typed, or "working tree"
    folder: Path
    shown: Path  # e.g. `main~1:skills`, so a path reads `main~1:skills/x/SKILL.md`


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "--literal-pathspecs", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise UsageError("git is not installed or not on PATH; install git to compare revisions") from None


def repository(directory: Path) -> Repository:
    """The git repository that holds the catalog folder `directory`."""
    if shutil.which("git") is None:
        raise UsageError("git is not installed or not on PATH; install git to compare revisions")
    if not directory.is_dir():
        raise UsageError(f"catalog folder {str(directory)!r} does not exist; pass --dir FOLDER")
    found = _git(directory, "rev-parse", "--show-toplevel", "--show-prefix")
    lines = found.stdout.splitlines()
    if found.returncode != 0 or not lines:
        raise UsageError(
            f"{str(directory)!r} is not inside a git repository's working tree "
            f"({_first_line(found.stderr)}); run skillgate diff in a clone, or pass --dir with a "
            "catalog folder inside one"
        )
    prefix = lines[1] if len(lines) > 1 else ""
    return Repository(Path(lines[0]), prefix.rstrip("/"))


def resolve(repo: Repository, revision: str) -> str:
    """The commit `revision` names (a branch, a tag, a sha, `main~1`...)."""
    found = _git(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise UsageError(
            f"unknown revision {revision!r} in {repo.top}: `git log --oneline` lists commits and "
            "`git branch -a` branches; a repository with no commit yet has no HEAD (commit first); "
            "a shallow clone (actions/checkout's default) lacks older commits: fetch them "
            "(fetch-depth: 0)"
        )
    return found.stdout.strip()


def working_tree(directory: Path) -> Side:
    """The uncommitted state: the catalog folder itself, read in place."""
    return Side(WORKING_TREE, directory, directory)


def export(repo: Repository, revision: str, into: Path) -> Side:
    """The catalog folder as `revision` holds it, written under the empty folder `into`.

    A revision without the catalog folder gives an empty one: every skill is new (or gone).
    """
    commit = resolve(repo, revision)
    shown = Path(f"{revision}:{repo.prefix or '.'}")
    folder = into / repo.prefix if repo.prefix else into
    if repo.prefix and _git(repo.top, "cat-file", "-t", f"{commit}:{repo.prefix}").stdout.strip() != "tree":
        folder.mkdir(parents=True, exist_ok=True)
        return Side(revision, folder, shown)
    archive = into.with_suffix(".tar")
    paths = ["--", repo.prefix] if repo.prefix else []
    made = _git(repo.top, "archive", "--format=tar", f"--output={archive}", commit, *paths)
    if made.returncode != 0:
        raise UsageError(f"git archive {revision} failed: {_first_line(made.stderr)}")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter=_inside)
    finally:
        archive.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return Side(revision, folder, shown)


def _inside(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """The `data` filter, skipping (rather than failing on) a member it refuses, such as a link
    that leads out of the exported folder: the server would not serve that either."""
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"
