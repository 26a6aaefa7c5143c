"""Whatever under ``agents.d/`` cannot be read stops every command before it plans.

A directory that cannot be listed once made its agents count as "removed from the manifests",
so ``plan`` showed them stopped and ``apply`` and ``watch`` stopped them. Now every such entry
is a located problem (the manifest error, exit 1): a directory without permission, a file or a
link target that cannot be opened, a dangling link, a link to a directory.

Root bypasses permissions, and the tests run as root here: the failures are injected where the
loader meets the operating system (``os.scandir``, ``os.open``) for root, and the real
``chmod 000`` is tried in a process that drops to an unprivileged user
(:func:`test_a_chmod_000_directory_stops_validate_and_plan_without_root`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ValidationError
from reconciler.project import Project as ProjectHandle
from reconciler.watch.controller import Watcher, WatchOptions
from reconciler.watch.metrics import WatchMetrics
from tests.cli.ops_project import OpsProject
from tests.manifests.manifest_helpers import Project

REPO = Path(__file__).resolve().parents[2]
DENIED = "Permission denied"


def deny_listing(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """``os.scandir(directory)`` fails as a ``chmod 000`` directory does for a normal user."""
    real = os.scandir
    target = os.path.realpath(directory)

    def scandir(path: Any = ".") -> Any:
        if os.path.realpath(path) == target:
            raise PermissionError(errno.EACCES, DENIED, str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def deny_open(monkeypatch: pytest.MonkeyPatch, file: Path) -> None:
    """``os.open(file)`` fails as for a ``chmod 000`` file (or link target) of someone else."""
    real = os.open
    target = os.path.realpath(file)

    def open_(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        if os.path.realpath(path) == target:
            raise PermissionError(errno.EACCES, DENIED, str(path))
        return real(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)


def test_a_directory_that_cannot_be_listed_is_a_located_problem(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.agent("a.yaml", "a")
    project.agent("team/b.yaml", "b")
    deny_listing(monkeypatch, project.root / "agents.d" / "team")
    assert project.errors() == [f"agents.d/team: cannot read directory: {DENIED}"]


def test_a_nested_directory_that_cannot_be_listed_is_a_located_problem(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.agent("team/b.yaml", "b")
    project.agent("team/night/c.yaml", "c")
    deny_listing(monkeypatch, project.root / "agents.d" / "team" / "night")
    assert project.errors() == [f"agents.d/team/night: cannot read directory: {DENIED}"]


def test_an_agents_directory_that_cannot_be_listed_is_a_problem_not_an_empty_project(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.agent("a.yaml", "a")
    deny_listing(monkeypatch, project.root / "agents.d")
    assert project.errors() == [f"agents.d: cannot read directory: {DENIED}"]


def test_an_agents_directory_that_cannot_be_looked_at_is_not_reported_missing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.stat
    target = str(project.root / "agents.d")

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == target:
            raise PermissionError(errno.EACCES, DENIED, str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    assert project.errors() == [f"agents.d: cannot read agents directory: {DENIED}"]


def test_a_file_that_cannot_be_opened_is_a_located_problem(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.agent("a.yaml", "a")
    project.agent("team/b.yaml", "b")
    deny_open(monkeypatch, project.root / "agents.d" / "team" / "b.yaml")
    assert project.errors() == [f"agents.d/team/b.yaml: cannot read: {DENIED}"]


def test_a_link_whose_target_cannot_be_opened_is_a_located_problem(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = project.agent("_store/b.yaml", "b")
    os.symlink("_store/b.yaml", project.root / "agents.d" / "b.yaml")
    deny_open(monkeypatch, target)
    problems = project.errors()
    assert f"agents.d/b.yaml: cannot read: {DENIED}" in problems


def test_a_dangling_link_is_a_located_problem(project: Project) -> None:
    project.agent("a.yaml", "a")
    os.symlink("gone.yaml", project.root / "agents.d" / "b.yaml")
    assert project.errors() == ["agents.d/b.yaml: cannot read: No such file or directory"]


def test_a_link_to_a_directory_is_refused_not_skipped(project: Project) -> None:
    project.agent("team/b.yaml", "b")
    os.symlink("team", project.root / "agents.d" / "linked")
    (problem,) = project.errors()
    assert problem.startswith("agents.d/linked: refused: a link to a directory is not followed")


# --- every command stops before it plans --------------------------------------------------


@pytest.fixture
def team_project(tmp_path: Path) -> Iterator[OpsProject]:
    """The example project applied, with support-en's manifest moved into ``agents.d/team/``."""
    project = OpsProject(tmp_path / "project")
    (project.dir / "agents.d" / "team").mkdir()
    shutil.move(
        project.dir / "agents.d" / "support-en.yaml",
        project.dir / "agents.d" / "team" / "support-en.yaml",
    )
    project.ok("apply", "--auto-approve")
    yield project
    project.close()


COMMANDS: list[tuple[str, ...]] = [
    ("validate",),
    ("plan",),
    ("plan", "--no-refresh"),
    ("apply", "--auto-approve"),
    ("destroy", "--auto-approve"),
    ("drift",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_an_unreadable_directory_stops_every_command_and_stops_no_agent(
    team_project: OpsProject, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    before = team_project.state()
    support = team_project.agent_id("support-en")
    deny_listing(monkeypatch, team_project.dir / "agents.d" / "team")
    result = team_project.run(*command)
    assert result.code == 1, str(result)
    assert f"agents.d/team: cannot read directory: {DENIED}" in result.stderr
    assert "Traceback" not in result.output
    assert "removed" not in result.output
    assert team_project.state() == before
    assert team_project.status(support) == "RUNNING"


def test_an_unreadable_directory_never_lets_watch_stop_its_agents(
    team_project: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = team_project.agent_id("support-en")
    handle = ProjectHandle.open(team_project.dir, None, {})
    options = WatchOptions(directory=team_project.dir, config=None, interval=30.0)
    watcher = Watcher(handle, options, metrics=WatchMetrics(), jitter=lambda: 0.0)
    deny_listing(monkeypatch, team_project.dir / "agents.d" / "team")
    with pytest.raises(ValidationError) as caught:
        asyncio.run(watcher.reconcile())
    assert [str(p) for p in caught.value.problems] == [
        f"agents.d/team: cannot read directory: {DENIED}"
    ]
    assert "support-en" in handle.store.load().agents
    assert team_project.status(support) == "RUNNING"


# --- the real thing, without root's override ------------------------------------------------


def _as_nobody(job: Callable[[], list[str]]) -> list[str]:
    """``job()`` in a forked child that dropped root for the user ``nobody`` (65534).

    A fork, not a new interpreter: the interpreter here lives under ``/root``, which ``nobody``
    may not read; the child inherits every module the parent imported, so it reads nothing of it.
    """
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            payload = json.dumps(job()).encode()
        except BaseException as exc:  # reported to the parent
            payload = json.dumps([f"child failed: {exc!r}"]).encode()
            code = 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    os.waitpid(pid, 0)
    result: list[str] = json.loads(data)
    return result


@pytest.mark.skipif(sys.platform != "linux", reason="chmod and setuid as on Linux")
@pytest.mark.skipif(os.geteuid() != 0, reason="the test drops root to become a user chmod binds")
def test_a_chmod_000_directory_stops_validate_and_plan_without_root(tmp_path: Path) -> None:
    from tests.reliability.inproc import run_cli

    base = Path(tempfile.mkdtemp(prefix="reconciler-unreadable-"))
    project = base / "project"
    try:
        os.chmod(base, 0o755)
        project.mkdir()
        shutil.copy(REPO / "tests" / "single_environment.yaml", project / "reconciler.yaml")
        shutil.copytree(REPO / "agents.d", project / "agents.d")
        team = project / "agents.d" / "team"
        team.mkdir()
        shutil.move(project / "agents.d" / "support-en.yaml", team / "support-en.yaml")
        commands = [("validate",), ("plan", "--no-refresh"), ("plan",)]
        for command in commands:  # as root first: every module the commands need is imported
            assert run_cli("-C", str(project), *command).code == 0
        shutil.rmtree(project / ".sandbox", ignore_errors=True)
        for path in [project, *project.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
        os.chmod(team, 0o000)

        def as_user() -> list[str]:
            try:
                os.listdir(team)
            except PermissionError:
                pass
            else:
                return ["unprivileged user can still list a chmod 000 directory"]
            return [str(run_cli("-C", str(project), *command)) for command in commands]

        outputs = _as_nobody(as_user)
        assert len(outputs) == len(commands), outputs
        for output in outputs:
            assert output.startswith("exit 1\n"), output
            assert f"agents.d/team: cannot read directory: {DENIED}" in output, output
            assert "Traceback" not in output and "valid\n" not in output, output
    finally:
        if (project / "agents.d" / "team").exists():
            os.chmod(project / "agents.d" / "team", 0o755)
        shutil.rmtree(base)
