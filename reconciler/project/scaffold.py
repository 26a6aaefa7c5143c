"""``reconciler init``: a new project from templates, never overwriting a file.

The templates live beside this module (``templates/``): ``reconciler.yaml`` for the embedded
sandbox, one commented manifest in ``agents.d/``, the manifest JSON Schema next to it (so the
manifest's ``# yaml-language-server: $schema=`` line works in any editor), a ``.gitignore`` for
the files that must not be committed, and the GitHub workflows (plan on pull request, apply on
merge). The project plans and applies against the sandbox as written, with nothing to edit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from reconciler.errors import SettingsError
from reconciler.manifests import manifest_schema

SCHEMA_FILE = "agents.d/manifest.schema.json"

_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("reconciler.yaml", "reconciler.yaml"),
    ("agents.d/assistant.yaml", "agents.d/assistant.yaml"),
    ("gitignore", ".gitignore"),
    ("github/reconciler-plan.yml", ".github/workflows/reconciler-plan.yml"),
    ("github/reconciler-apply.yml", ".github/workflows/reconciler-apply.yml"),
    ("github/reconciler-drift.yml", ".github/workflows/reconciler-drift.yml"),
)
"""(template, destination relative to the project directory)."""


@dataclass(frozen=True)
class Scaffolded:
    """One file of the scaffold and what ``init`` did with it."""

    path: str
    outcome: Literal["created", "kept"]


def scaffold(directory: Path) -> list[Scaffolded]:
    """Write the project files into ``directory`` (created if missing); keep existing ones."""
    if directory.exists() and not directory.is_dir():
        raise SettingsError(f"{directory} exists and is not a directory")
    contents = [(dest, _template(name)) for name, dest in _TEMPLATES]
    contents.insert(2, (SCHEMA_FILE, json.dumps(manifest_schema(), indent=2) + "\n"))
    done = []
    for dest, text in contents:
        target = directory / dest
        if target.exists() or target.is_symlink():
            done.append(Scaffolded(dest, "kept"))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_new(target, text)
        done.append(Scaffolded(dest, "created"))
    return done


def _template(name: str) -> str:
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; fail rather than replace a file that appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise SettingsError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
