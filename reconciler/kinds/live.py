"""Reading the live status of recorded resources, each through its kind.

Each kind's resources are read at once (``Kind.read_many``: for the Platform, one list, a page
per 100-200 resources), so a refresh costs list pages, not one call per resource. A list carries
no versions; a resource that looks changed outside is read again alone (``Kind.read``) for its
version, which the plan sends as the precondition of the update it shows.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.kinds.registry import KindRegistry
from reconciler.models.live import LiveResource
from reconciler.models.resources import ResourceRecord


async def read_resources(
    kinds: KindRegistry, records: Mapping[str, ResourceRecord]
) -> dict[str, LiveResource | None]:
    """Every recorded resource as the engine holds it now (``None``: gone), by address, for
    :attr:`LiveStatus.resources <reconciler.models.live.LiveStatus.resources>`."""
    by_kind: dict[str, list[ResourceRecord]] = {}
    for address in sorted(records):
        by_kind.setdefault(records[address].kind, []).append(records[address])
    found: dict[str, LiveResource | None] = {}
    for name, recorded in sorted(by_kind.items()):
        kind = kinds.kind(name)
        held = await kind.read_many([r.id for r in recorded])
        for record in recorded:
            live = held.get(record.id)
            drifted = live is not None and kind.observe(live, record.spec) != record.spec
            unversioned = record.version is None  # recorded by pull or import: read it
            if live is not None and live.version is None and (drifted or unversioned):
                live = await kind.read(record.id)
            found[record.address] = live
    return found
