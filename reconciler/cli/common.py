"""Helpers shared by the subcommands: the project's settings and desired agents.

Commands call :func:`project_settings` with their click context (the global ``-C DIR`` and
``--config PATH`` options live in ``ctx.obj``) and :func:`desired_agents` with the result. Both
raise :class:`~reconciler.errors.ValidationError`; :func:`reconciler.cli.main` prints it.
"""

from __future__ import annotations

import os

import click

from reconciler.manifests import load_desired, load_settings
from reconciler.manifests.settings import environ_for
from reconciler.models import DesiredSet, Settings
from reconciler.project import require_project
from reconciler.project.platform import check_reference_cycles


def project_settings(
    ctx: click.Context, environment: str | None = None, *, allow_unset: bool = False
) -> Settings:
    """The settings of the project named by the global options (default: the current
    directory), as ``environment`` (default: the chosen one) sees them; ``allow_unset``: an
    unset variable is no problem (``validate`` only: see :func:`load_settings`)."""
    from reconciler.cli.context import one_environment, project_dir

    directory, config_path = project_dir(ctx)
    require_project(directory, config_path)
    chosen = environment or one_environment(ctx)
    return load_settings(directory, config_path, os.environ, chosen, allow_unset=allow_unset)


def desired_agents(settings: Settings) -> DesiredSet:
    """Every agent the project's manifests declare (interpolated from the process environment).

    Unset variables are no problem here (``validate`` runs without secrets, e.g. in a fork's
    pull request or a pre-commit hook): their values are unknown, not wrong.
    """
    environ = environ_for(settings.variables, os.environ)
    desired = load_desired(settings, environ, allow_unset=True)
    check_reference_cycles(desired, settings)  # what plan refuses as invalid, validate does
    return desired
