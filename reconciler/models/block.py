"""The base of every manifest model, and the type of vendor parameters.

Every model accepts unknown keys at the pydantic level (``extra="allow"``) so that a manifest with
``strict: false`` keeps them; the loader reports unknown keys itself. The generated JSON Schema
forbids them (``additionalProperties: false``), so editors flag a typo as you type.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_INT64", "Block", "Int64", "Params"]

MAX_INT64 = 2**63 - 1
"""The largest integer the engine's fields hold; it refuses a larger one (400
``InvalidFieldValue``, docs/engine-api.md)."""

Int64 = Annotated[int, Field(ge=-MAX_INT64 - 1, le=MAX_INT64)]
"""An integer field of a join whose documented range leaves a bound open: still a 64-bit
integer (those with a documented range have it as their bounds)."""


class Block(BaseModel):
    """Base of every manifest model: unknown keys kept (strict mode is the loader's job)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


Params = dict[str, Any]
"""Vendor parameters: passed to the engine untouched."""
