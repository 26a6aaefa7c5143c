"""Shell completion of agent names for ``--target`` and ``--replace``.

Completion runs on every <Tab>, so it reads only the ``name:`` of each manifest document (no
settings, no interpolation, no validation) and never fails: a broken file just offers nothing.
The project directory is the ``-C`` given on the command line so far, else the current one.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from click.shell_completion import CompletionItem

_SUFFIXES = (".yaml", ".yml")


def complete_agent_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The manifest names in ``agents.d/`` that start with ``incomplete``."""
    directory = ctx.find_root().params.get("directory") or ctx.params.get("_global_directory")
    agents = Path(directory or ".") / "agents.d"
    names: set[str] = set()
    for path in sorted(agents.rglob("*")) if agents.is_dir() else []:
        relative = path.relative_to(agents).parts
        if path.suffix not in _SUFFIXES or any(part.startswith(("_", ".")) for part in relative):
            continue
        names.update(_names_in(path))
    return [CompletionItem(name) for name in sorted(names) if name.startswith(incomplete)]


def _names_in(path: Path) -> list[str]:
    try:
        if not path.is_file() or path.stat().st_size > 1_000_000:
            return []
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    return [
        doc["name"]
        for doc in documents
        if isinstance(doc, dict) and isinstance(doc.get("name"), str)
    ]
