"""Reading the live status of recorded resources, each through its kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.registry import KindRegistry
from reconciler.models.resources import ResourceRecord


async def read_resources(
    kinds: KindRegistry, records: Mapping[str, ResourceRecord]
) -> dict[str, dict[str, Any] | None]:
    """Every recorded resource as the engine holds it now (``None``: gone), by address, for
    :attr:`LiveStatus.resources <reconciler.models.live.LiveStatus.resources>`."""
    found: dict[str, dict[str, Any] | None] = {}
    for address in sorted(records):
        record = records[address]
        found[address] = await kinds.kind(record.kind).read(record.id)
    return found
