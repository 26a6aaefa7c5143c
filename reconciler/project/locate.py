"""Which directory is a project: refuse to work (or write anything) anywhere else.

A project directory holds ``reconciler.yaml`` or an ``agents.d/`` directory (or its settings
file is named with ``--config``). Every command that works on a project checks this first, so
that in a directory that is not one nothing is read further and nothing is written (no
``state/`` directory, no lock file), and the error says what is missing and how to point at the
right directory, naming the nearest enclosing project when there is one (``-C ..`` from inside
its ``agents.d/``), or else how to create one.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.errors import SettingsError

SETTINGS_FILE = "reconciler.yaml"
AGENTS_DIR = "agents.d"
_MAX_PARENTS = 32


def is_project(directory: Path) -> bool:
    """Whether ``directory`` holds ``reconciler.yaml`` or ``agents.d/``."""
    return (directory / SETTINGS_FILE).is_file() or (directory / AGENTS_DIR).is_dir()


def require_project(directory: Path, config: Path | None) -> None:
    """Raise :class:`SettingsError` unless ``directory`` is a project (see the module docstring).

    With ``config`` given, the settings file names the project; whether it exists is checked
    where it is read.
    """
    if not directory.is_dir():
        raise SettingsError(f"project directory {directory} not found (see -C DIR)")
    if config is not None or is_project(directory):
        return
    message = (
        f"{directory} is not a reconciler project: it has no {SETTINGS_FILE} "
        f"and no {AGENTS_DIR}/ directory"
    )
    enclosing = _enclosing_project(directory)
    if enclosing is not None:
        hint = f"the project is {enclosing}: run there, or pass -C {_relative(enclosing)}"
    else:
        hint = "run in the project directory, pass -C DIR, or create one with `reconciler init`"
    raise SettingsError(f"{message}; {hint}")


def _enclosing_project(directory: Path) -> Path | None:
    try:
        start = directory.resolve()
    except OSError:
        return None
    for parent in list(start.parents)[:_MAX_PARENTS]:
        if is_project(parent):
            return parent
    return None


def _relative(target: Path) -> str:
    try:
        return os.path.relpath(target)
    except ValueError:  # another drive (Windows)
        return str(target)
