"""Which commands are read-only: declared on the command, honoured where the project is opened.

A read-only command (``plan``, ``status``, ``drift``, ``pull`` without ``--record``, ``state
list``, ...) writes nothing: no state, no lock file, no file or directory of the project, not
even the embedded sandbox's database (it works on an in-memory copy, see
:func:`reconciler.project.connect.sandbox_transport`). Its only output is its stdout, stderr
and the file its ``--out`` names.

A command says so with :func:`read_only` (once, where it is defined);
:func:`reconciler.cli.context.project_from_context` asks :func:`runs_read_only` and opens the
project read-only, and the project carries that to every engine and Platform client it opens.
The tests hold every command either read-only or a writer, and run every read-only one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

_Command = TypeVar("_Command", bound=click.Command)

_MARK = "reconciler_read_only"
"""The attribute :func:`read_only` sets: the option that makes the command a writer, or ``""``."""


def read_only(*, unless: str = "") -> Callable[[_Command], _Command]:
    """Declare a command read-only (decorate the click command, above ``@click.command``).

    ``unless``: the parameter (a flag) that makes this run of the command a writer (``pull
    --record`` records in state).
    """

    def mark(command: _Command) -> _Command:
        setattr(command, _MARK, unless)
        return command

    return mark


def declared_read_only(command: click.Command) -> bool:
    """Whether ``command`` is declared read-only (at least without its ``unless`` flag)."""
    return isinstance(getattr(command, _MARK, None), str)


def runs_read_only(ctx: click.Context) -> bool:
    """Whether the command running in ``ctx`` (or the nearest command above it) runs read-only
    this time."""
    current: click.Context | None = ctx
    while current is not None:
        unless = getattr(current.command, _MARK, None)
        if isinstance(unless, str):
            return not (unless and current.params.get(unless))
        current = current.parent
    return False
