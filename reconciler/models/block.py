"""The base of every manifest model, and the type of vendor parameters.

Every model accepts unknown keys at the pydantic level (``extra="allow"``) so that a manifest with
``strict: false`` keeps them; the loader reports unknown keys itself. The generated JSON Schema
forbids them (``additionalProperties: false``), so editors flag a typo as you type.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Block", "Params"]


class Block(BaseModel):
    """Base of every manifest model: unknown keys kept (strict mode is the loader's job)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


Params = dict[str, Any]
"""Vendor parameters: passed to the engine untouched."""
