"""The project a command works on: the global ``-C``/``--config``/``--env`` options and the
environment."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from reconciler.cli.readonly import runs_read_only
from reconciler.errors import EnvironmentChoiceError, ReconcilerError, printable
from reconciler.manifests.environments import ALL
from reconciler.manifests.settings import ENV_ENVIRONMENT, declared_environments, load_settings
from reconciler.project import Project
from reconciler.safefile import write_target_problem


def chosen_environment(ctx: click.Context) -> str | None:
    """``--env NAME``, else ``RECONCILER_ENV``, else ``None`` (empty counts as unset)."""
    obj = ctx.find_root().obj or {}
    chosen = obj.get("env") or os.environ.get(ENV_ENVIRONMENT, "").strip()
    return str(chosen) if chosen else None


def project_dir(ctx: click.Context) -> tuple[Path, Path | None]:
    """The project directory and the ``--config`` file named by the global options (a relative
    ``--config`` is relative to ``-C DIR``, as every path given on the command line)."""
    obj = ctx.find_root().obj or {}
    directory = obj.get("directory")
    config = obj.get("config")
    return (
        Path(directory) if directory is not None else Path.cwd(),
        given_path(ctx, Path(config)) if config is not None else None,
    )


def given_path(ctx: click.Context, path: Path) -> Path:
    """A path given on the command line (``--out``, ``--config``, a plan or state file, ...) as
    the command uses it: relative to ``-C DIR`` when one is given, as ``terraform -chdir`` and
    ``git -C`` take paths ("as if started in DIR"); an absolute path, or any path without
    ``-C``, as given."""
    obj = ctx.find_root().obj or {}
    directory = obj.get("directory")
    if directory is None or path.is_absolute():
        return path
    base = Path(directory)
    if base.resolve() == Path.cwd().resolve():  # no -C (or -C .): the path as the user wrote it
        return path
    return base / path


def writable_path(ctx: click.Context, path: Path, option: str = "--out") -> Path:
    """:func:`given_path` of a file the command will write, checked first (before any work):
    a directory, a FIFO, a path under a file is refused naming ``option`` (exit 1)."""
    resolved = given_path(ctx, path)
    problem = write_target_problem(resolved)
    if problem is not None:
        raise ReconcilerError(f"{option} {printable(str(path))}: {problem}")
    return resolved


def command_prefix(ctx: click.Context) -> str:
    """``reconciler`` with the ``-C DIR`` this run was given (if any): the start of a command
    line a message suggests, so that the paths it names (as given) resolve the same."""
    obj = ctx.find_root().obj or {}
    directory = obj.get("directory")
    if directory is None or Path(directory).resolve() == Path.cwd().resolve():
        return "reconciler"
    return f"reconciler -C {shlex.quote(str(directory))}"


def environments_to_plan(ctx: click.Context) -> tuple[str, ...] | None:
    """Every declared environment when ``--env all`` was asked for, else ``None``."""
    if chosen_environment(ctx) != ALL:
        return None
    directory, config = project_dir(ctx)
    declared = declared_environments(directory, config)
    if not declared:
        load_settings(directory, config, os.environ)  # a file that cannot be read says why
        raise EnvironmentChoiceError(
            f"--env {ALL}: the settings file declares no environments", declared
        )
    return declared


def one_environment(ctx: click.Context) -> str | None:
    """The chosen environment of a command that works on one: ``--env all`` is refused (only
    plan and validate take it)."""
    chosen = chosen_environment(ctx)
    if chosen == ALL:
        directory, config = project_dir(ctx)
        declared = declared_environments(directory, config)
        raise EnvironmentChoiceError(
            f"--env {ALL} is for plan and validate; this command works on one environment "
            f"({', '.join(declared) or 'none declared'})",
            declared,
        )
    return chosen


def project_from_context(ctx: click.Context, environment: str | None = None) -> Project:
    """Open the project named by the global options, as ``environment`` (default: the chosen
    one) sees it; read-only when the running command is (:func:`runs_read_only`)."""
    chosen = environment or one_environment(ctx)
    directory, config = project_dir(ctx)
    return Project.open(directory, config, os.environ, chosen, read_only=runs_read_only(ctx))


def projects_from_context(
    ctx: click.Context, environments: tuple[str, ...]
) -> list[tuple[str, Project | ReconcilerError]]:
    """The project as each of ``environments`` sees it (``plan --env all``), or why its settings
    cannot be read; read-only when the running command is, as :func:`project_from_context`
    opens one."""
    from reconciler.project.environments import open_environments

    directory, config = project_dir(ctx)
    return open_environments(
        directory, config, os.environ, environments, read_only=runs_read_only(ctx)
    )
