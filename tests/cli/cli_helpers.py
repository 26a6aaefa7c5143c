"""Helpers of the CLI tests: the real entry point (``reconciler.cli.main``) run in-process as the
console script does, a copy of the example project, every command of the tree, and a snapshot of
a directory tree to prove a command wrote nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli import cli, main

REPO = Path(__file__).resolve().parents[2]

Snapshot = dict[str, tuple[int, int, str]]


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``reconciler ARGS``."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def copy_example(directory: Path) -> Path:
    """The example project (reconciler.yaml and agents.d/) copied into ``directory``."""
    shutil.copy(REPO / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
    shutil.copytree(REPO / "agents.d", directory / "agents.d")
    return directory


def example_with_environments(directory: Path) -> Path:
    """The repository's example project as shipped (``staging`` and ``prod``) in a new
    ``directory``."""
    directory.mkdir(parents=True)
    shutil.copy(REPO / "reconciler.yaml", directory / "reconciler.yaml")
    shutil.copytree(REPO / "agents.d", directory / "agents.d")
    return directory


def example_without_secrets(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """:func:`copy_example` as a fork's pull request sees it: no engine, App ID or certificate
    in the environment, and the OpenAI key of the example's partial read from an unset
    ``${MY_OPENAI_KEY}``."""
    for name in ("RECONCILER_ENGINE", "MY_OPENAI_KEY", "AGORA_APP_ID", "AGORA_APP_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)
    copy_example(directory)
    base = directory / "agents.d" / "_base" / "openai.yaml"
    text = base.read_text(encoding="utf-8")
    assert "${OPENAI_API_KEY:-sk-sandbox-placeholder}" in text
    base.write_text(
        text.replace("${OPENAI_API_KEY:-sk-sandbox-placeholder}", "${MY_OPENAI_KEY}"),
        encoding="utf-8",
    )
    return directory


def example_project(directory: Path) -> Path:
    """:func:`copy_example` into a new ``directory``, with the example's ``state/README.md``."""
    directory.mkdir(parents=True, exist_ok=True)
    copy_example(directory)
    (directory / "state").mkdir()
    shutil.copy(REPO / "state" / "README.md", directory / "state" / "README.md")
    return directory


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` (directories too, the embedded sandbox's ``.sandbox/`` and lock
    files included) with its size, mtime and (a file's) SHA-256 of its contents."""
    found: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            regular = stat.S_ISREG(st.st_mode)
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if regular else ""
            found[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns, digest)
    return found


def commands() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command of the CLI with its path (``("state", "list")``, ...)."""

    def walk(
        group: click.Group, path: tuple[str, ...], ctx: click.Context
    ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name), click.Context(command, parent=ctx))
            else:
                yield (*path, name), command

    root = click.Context(cli, info_name="reconciler")
    yield from walk(cli, (), root)
