"""Helpers shared by the subcommands: the project's settings and desired agents.

Commands call :func:`project_settings` with their click context (the global ``-C DIR`` and
``--config PATH`` options live in ``ctx.obj``) and :func:`desired_agents` with the result. Both
raise :class:`~reconciler.errors.ValidationError`; :func:`reconciler.cli.main` prints it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.manifests import load_desired, load_settings
from reconciler.models import DesiredSet, Settings
from reconciler.project import require_project


def project_settings(ctx: click.Context) -> Settings:
    """The settings of the project named by the global options (default: the current directory)."""
    obj = ctx.find_root().obj
    options = obj if isinstance(obj, dict) else {}
    directory = options.get("directory")
    config = options.get("config")
    project_dir = Path(directory) if directory is not None else Path.cwd()
    config_path = Path(config) if config is not None else None
    require_project(project_dir, config_path)
    return load_settings(project_dir, config_path, os.environ)


def desired_agents(settings: Settings) -> DesiredSet:
    """Every agent the project's manifests declare (interpolated from the process environment).

    Unset variables are no problem here (``validate`` runs without secrets, e.g. in a fork's
    pull request or a pre-commit hook): their values are unknown, not wrong.
    """
    return load_desired(settings, os.environ, allow_unset=True)
