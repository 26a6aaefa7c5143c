"""JSON merge patch (RFC 7396): objects merge field by field, anything else replaces, null
removes."""

from __future__ import annotations

import copy
from typing import Any


def apply(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` merged in; neither argument is changed."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result
