"""What a kind is: the rules every kind states (:class:`KindRules`) and, for a kind that the
generic plan and executor carry, its engine calls (:class:`Kind`).

A kind's module implements these protocols in one place; the core finds it through the
:class:`~reconciler.kinds.registry.KindRegistry` and never names a kind. A kind's engine calls
are bound to their engine when the kind is built (the project's wiring gives it its client), so
the executor only says *what* to do: create this spec, update that id, delete it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel

from reconciler.models.fieldpath import FieldPath
from reconciler.models.live import LiveResource


class Created(NamedTuple):
    """What a create answered: the engine's id of the new resource and its version."""

    id: str
    version: str | None = None
    """The engine's version of it (an ``ETag``), when the engine versions resources; state
    records it, and updates and deletes send it back (``If-Match``)."""


class Held(NamedTuple):
    """A resource the state records, as a kind's engine calls see it."""

    id: str
    version: str | None = None


class KindRules(Protocol):
    """What every kind states about itself."""

    @property
    def name(self) -> str:
        """The manifest's ``kind:`` (``Agent``, ``SecretSet``), the first half of an address."""

    @property
    def manifest_model(self) -> type[BaseModel]:
        """The pydantic model a manifest of this kind validates against (``reconciler schema``)."""

    def forces_replacement(self, path: FieldPath) -> bool:
        """True when a change at ``path`` cannot be made in place: the resource is replaced."""

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        """The addresses (``KIND/NAME``) the spec references, sorted; usually
        :func:`reconciler.kinds.references.find_references`."""

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """True when a replacement of the resource recorded as ``recorded`` by ``desired`` (both
        redacted specs) can create the new resource while the old one still exists, then delete
        the old one (Terraform's ``create_before_destroy``): the engine must accept two at once,
        so nothing the engine holds once per project may be the same in both. False: the old
        one is deleted first (a refused create then leaves nothing)."""


class Kind(KindRules, Protocol):
    """A kind that the generic plan and executor carry: its rules and its engine calls."""

    def sensitive_paths(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        """Paths of ``spec`` that are secret or write-only: recorded and shown as digests only."""

    async def create(self, name: str, spec: dict[str, Any], marker: str) -> Created:
        """Create the resource (references already resolved to ids): the id the engine gave it
        and its version. ``marker`` is unique to this create (its write-ahead entry's): a kind
        whose engine keeps some field of the body sends it there, as evidence."""

    async def find(
        self, name: str, recorded: dict[str, Any], marker: str, since: float
    ) -> list[Created]:
        """What the engine holds that *this* create made, if it took effect: the resources
        whose evidence matches (``marker``, or for a kind whose body cannot carry it, an
        identity the engine keeps unique, the recorded spec's visible fields and a creation
        time not before ``since``). A name alone is never evidence. Empty: it did not."""

    async def update(
        self, resource: Held, spec: dict[str, Any], changed: tuple[str, ...]
    ) -> str | None:
        """Bring ``resource`` to ``spec`` in place; ``changed`` lists the paths that differ
        (written as text), so a kind can send only those. Returns the new version. A kind whose
        engine versions its resources sends ``resource.version`` as its precondition."""

    async def delete(self, resource: Held) -> None:
        """Delete the resource; one that is already gone is not an error."""

    def observe(self, live: LiveResource, recorded: dict[str, Any]) -> dict[str, Any]:
        """The live resource in the terms of the ``recorded`` spec: what the engine takes but
        never shows (credentials, secret values) taken from the record, defaults the engine
        fills in that the record did not set left out. Where it differs from the record, the
        resource was changed outside (drift)."""

    async def read_many(self, resource_ids: list[str]) -> dict[str, LiveResource | None]:
        """Several resources at once (a list of the kind, page by page, where the engine has
        one); the versions may be unknown (None: a list carries no ``ETag``)."""

    async def read(self, resource_id: str) -> LiveResource | None:
        """The resource as the engine holds it now (its live status, in the recorded spec's
        form, write-only fields absent), or None when it is gone."""
