"""The commands the README, docs/ and the CHANGELOG write in backticks (`reconciler plan --env
all`, `apply --parallelism N`, `state list --format json`) name options their command has: a
renamed or removed option cannot stay documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
_CONTEXT = click.Context(cli)
_COMMANDS = set(cli.list_commands(_CONTEXT))
# `reconciler [VAR=x] [global options] COMMAND [SUBCOMMAND] REST`, or `COMMAND ... REST` alone.
_SPAN = re.compile(
    r"`(?:(?:[A-Z_]+=\S+ )*reconciler (?:(?:-C \S+|--env \S+|--config \S+|-v|--no-color) )*)?"
    r"([a-z][a-z-]*(?: [a-z][a-z-]*)?)((?: [^`]*)?)`"
)
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _options(command: click.Command) -> set[str]:
    return {
        name
        for p in command.params
        if isinstance(p, click.Option)
        for name in (*p.opts, *p.secondary_opts)
    }


_GLOBAL = _options(cli) | {"--help"}


def documented(text: str) -> list[tuple[str, str]]:
    """``(command path, option)`` of every option written after a command in backticks."""
    found = []
    for match in _SPAN.finditer(text):
        words, rest = match.group(1).split(), match.group(2)
        if words[0] not in _COMMANDS:
            continue
        path = [words[0]]
        group = cli.get_command(_CONTEXT, words[0])
        known = isinstance(group, click.Group) and len(words) > 1
        if known and group.get_command(click.Context(group), words[1]) is not None:
            path.append(words[1])
        tail = " ".join([*words[len(path) :], rest])
        found.extend((" ".join(path), flag) for flag in _FLAG.findall(tail))
    return found


def _command(path: str) -> click.Command:
    command = cli.get_command(_CONTEXT, path.split()[0])
    assert command is not None
    if " " in path and isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), path.split()[1])
        assert sub is not None
        return sub
    return command


CASES = sorted(
    {(doc.relative_to(ROOT).as_posix(), path, flag) for doc in DOCS
     for path, flag in documented(doc.read_text(encoding="utf-8"))}
)  # fmt: skip


def test_the_commands_are_read_from_the_docs() -> None:
    assert len(CASES) >= 60
    assert ("README.md", "plan", "--env") in CASES
    assert documented("`reconciler -C x state list --format json`") == [("state list", "--format")]
    assert documented("`plan --bogus`") == [("plan", "--bogus")]  # checked below, and refused
    assert "--bogus" not in _options(_command("plan")) | _GLOBAL


@pytest.mark.parametrize(("doc", "path", "flag"), CASES, ids=lambda v: str(v))
def test_every_documented_option_exists(doc: str, path: str, flag: str) -> None:
    assert flag in _options(_command(path)) | _GLOBAL, f"{doc}: `{path}` has no option {flag}"
