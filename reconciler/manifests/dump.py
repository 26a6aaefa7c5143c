"""Writing manifests: documents as YAML text (``reconciler pull``), keys in the order given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def dump_documents(documents: Iterable[dict[str, Any]]) -> str:
    """The documents as one YAML text, separated by ``---`` lines."""
    return "---\n".join(
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=100) for d in documents
    )
