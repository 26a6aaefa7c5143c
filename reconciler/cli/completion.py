"""Shell completion of agent names for ``--target`` and ``--replace``.

Completion runs on every <Tab>, so it reads only the ``name:`` of each manifest document and
never fails (:func:`reconciler.manifests.names.declared_names`). The project directory is the
``-C`` given on the command line so far, else the current one.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem

from reconciler.manifests.names import declared_names


def complete_agent_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The manifest names in ``agents.d/`` that start with ``incomplete``."""
    directory = ctx.find_root().params.get("directory") or ctx.params.get("_global_directory")
    names = declared_names(Path(directory or ".") / "agents.d")
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
