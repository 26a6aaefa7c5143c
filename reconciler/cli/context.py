"""The project a command works on: the global ``-C``/``--config``/``--env`` options and the
environment."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.errors import EnvironmentChoiceError
from reconciler.manifests.environments import ALL
from reconciler.manifests.settings import ENV_ENVIRONMENT, declared_environments, load_settings
from reconciler.project import Project


def chosen_environment(ctx: click.Context) -> str | None:
    """``--env NAME``, else ``RECONCILER_ENV``, else ``None`` (empty counts as unset)."""
    obj = ctx.find_root().obj or {}
    chosen = obj.get("env") or os.environ.get(ENV_ENVIRONMENT, "").strip()
    return str(chosen) if chosen else None


def project_dir(ctx: click.Context) -> tuple[Path, Path | None]:
    """The project directory and the ``--config`` file named by the global options."""
    obj = ctx.find_root().obj or {}
    directory = obj.get("directory")
    config = obj.get("config")
    return (
        Path(directory) if directory is not None else Path.cwd(),
        Path(config) if config is not None else None,
    )


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
    one) sees it."""
    chosen = environment or one_environment(ctx)
    directory, config = project_dir(ctx)
    return Project.open(directory, config, os.environ, chosen)
