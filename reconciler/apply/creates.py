"""Settling the write-ahead entries of resources' creates (:class:`PendingCreate`).

A create is written ahead in state before it is sent; the Platform has no idempotency key for
creates, so an entry that is still there (the run was killed, or the answer was lost) is settled
by asking the resource's kind what the engine holds that this very create made
(``Kind.find``: evidence, never a name alone):

* one resource found: it is **adopted** (recorded with the spec the entry holds, its id and
  version), so the next apply does not create a duplicate;
* none: the create never took effect; the entry is **forgotten** and the plan creates it;
* several (which evidence should rule out): the entry is **kept**; the plan refuses to create
  that resource again until someone looks (``reconciler state show``).

``apply`` and ``destroy`` settle under the state lock and write the result; ``plan`` only
previews it (nothing is written) and lists each entry's fate among its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.kinds import Created, KindRegistry
from reconciler.models import StateDoc
from reconciler.models.resources import PendingCreate, ResourceRecord

Fate = Literal["adopt", "forget", "keep"]


@dataclass(frozen=True)
class CreateSettlement:
    """What one entry's evidence says."""

    entry: PendingCreate
    found: tuple[Created, ...]

    @property
    def fate(self) -> Fate:
        if len(self.found) == 1:
            return "adopt"
        return "forget" if not self.found else "keep"

    def preview(self) -> str:
        """The entry's fate in the words of a plan (apply will ...)."""
        address = self.entry.address
        if self.fate == "adopt":
            return (
                f"an interrupted create of {address} took effect ({self.found[0].id} carries "
                "its evidence): apply will record it instead of creating it again"
            )
        if self.fate == "forget":
            return (
                f"an interrupted create of {address} did not take effect (nothing carries its "
                "evidence): apply will create it"
            )
        return self._kept()

    def done(self) -> str:
        """What settling did (a note of apply)."""
        address = self.entry.address
        if self.fate == "adopt":
            return f"adopted {address} ({self.found[0].id}): its interrupted create took effect"
        if self.fate == "forget":
            return f"forgot the interrupted create of {address}: it did not take effect"
        return self._kept()

    def _kept(self) -> str:
        ids = ", ".join(c.id for c in self.found)
        return (
            f"the interrupted create of {self.entry.address} is unresolved: {len(self.found)} "
            f"resources carry its evidence ({ids}); nothing is created for it until one is "
            "removed (see `reconciler state show`)"
        )


async def look_for_creates(state: StateDoc, kinds: KindRegistry) -> list[CreateSettlement]:
    """The evidence of every write-ahead entry of ``state`` (reads only)."""
    recorded = {(r.kind, r.id) for r in state.held_resources()}
    settlements: list[CreateSettlement] = []
    for address in sorted(state.creating):
        entry = state.creating[address]
        kind = kinds.kind(entry.kind)
        found = await kind.find(entry.name, entry.spec, entry.marker, entry.started_at)
        fresh = tuple(c for c in found if (entry.kind, c.id) not in recorded)
        settlements.append(CreateSettlement(entry, fresh))
    return settlements


def settle_creates(state: StateDoc, settlements: list[CreateSettlement]) -> StateDoc:
    """``state`` with each adopted create recorded and each forgotten entry removed."""
    resources = dict(state.resources)
    creating = dict(state.creating)
    for settlement in settlements:
        entry = settlement.entry
        if settlement.fate == "keep":
            continue
        creating.pop(entry.address, None)
        if settlement.fate == "adopt":
            found = settlement.found[0]
            resources[entry.address] = _adopted(entry, found, resources.get(entry.address))
    return state.model_copy(update={"resources": resources, "creating": creating})


def _adopted(entry: PendingCreate, found: Created, old: ResourceRecord | None) -> ResourceRecord:
    """The record of a create that took effect. The create of a replacement that creates first
    (``entry.replacing``) keeps the old resource, still recorded at its address, as a deposed
    object (the plan then deletes it); any other record there is overwritten, as before."""
    deposed: list[ResourceRecord] = []
    if old is not None:
        deposed = list(old.deposed)
        if entry.replacing is not None and old.id == entry.replacing:
            deposed.append(old.model_copy(update={"deposed": [], "updating": None}))
    return ResourceRecord(
        kind=entry.kind,
        name=entry.name,
        id=found.id,
        version=found.version,
        spec=entry.spec,
        spec_digest=entry.spec_digest,
        created_at=entry.started_at,
        references=list(entry.references),
        protect=entry.protect,
        deposed=deposed,
    )
