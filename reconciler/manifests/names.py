"""The agent names declared in ``agents.d/``, read fast and forgivingly (for shell completion).

Only each document's top-level ``name:`` is read: no settings, no ``extends``, no interpolation,
no validation. Unreadable or invalid files contribute nothing; this never raises.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.manifests.loader import MANIFEST_SUFFIXES
from reconciler.models.platform import PLATFORM_KINDS

_MAX_BYTES = 1_000_000


def declared_names(agents_dir: Path) -> list[str]:
    """Sorted names of the agents the manifests under ``agents_dir`` declare (partials skipped),
    and the addresses (``KIND/NAME``) of the Platform resources they declare."""
    names: set[str] = set()
    if not agents_dir.is_dir():
        return []
    for path in agents_dir.rglob("*"):
        parts = path.relative_to(agents_dir).parts
        if path.suffix in MANIFEST_SUFFIXES and not any(p.startswith(("_", ".")) for p in parts):
            names.update(_names_in(path))
    return sorted(names)


def _names_in(path: Path) -> list[str]:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return []
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    return [
        _address(d) for d in documents if isinstance(d, dict) and isinstance(d.get("name"), str)
    ]


def _address(document: dict[str, object]) -> str:
    """An agent's name, or a resource's address ``KIND/NAME`` (what ``--target`` takes)."""
    kind, name = document.get("kind"), str(document["name"])
    return f"{kind}/{name}" if isinstance(kind, str) and kind in PLATFORM_KINDS else name
