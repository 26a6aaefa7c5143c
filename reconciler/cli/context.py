"""The project a command works on: the global ``-C``/``--config`` options and the environment."""

from __future__ import annotations

import os

import click

from reconciler.project import Project


def project_from_context(ctx: click.Context) -> Project:
    """Open the project named by the global options."""
    obj = ctx.find_root().obj or {}
    return Project.open(obj["directory"], obj.get("config"), os.environ)
