"""The ``SavedAgent`` kind: a Platform agent (a saved configuration), named by us.

* **Spec**: the create-agent body as the manifest writes it, ``agent_name`` defaulting to the
  manifest's ``name``. ``$secrets.<set>.<key>`` strings reference secret sets (created first,
  deleted after); values interpolated from the environment are sensitive.
* **Identity**: the ``agent_id`` (a UUID) the create answered; ``agent_name`` is not unique on
  the Platform, so it is never used to find the agent.
* **Update**: one JSON merge patch of the changed fields only (objects merge, arrays replace,
  null removes), with ``If-Match`` from the recorded ``ETag``; a 412 fails the update and
  nothing is overwritten. Nothing forces a replacement.
* **Live status and drift**: the Platform returns the configuration except credentials'
  ``fields`` (write-only here), so a console edit of any other field is drift.
* **Delete**: refused by the Platform while a number routes to the agent (the plan changes or
  deletes such numbers first).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reconciler.errors import EngineError
from reconciler.kinds.base import Created, Held
from reconciler.kinds.platform_api import (
    PRECONDITION_FAILED,
    PlatformApi,
    drop_nulls,
    merge_patch,
    stale,
    with_recorded,
)
from reconciler.kinds.references import find_references
from reconciler.models.fieldpath import FieldPath
from reconciler.models.live import LiveResource
from reconciler.models.platform import SAVED_AGENT, SavedAgentManifest

READ_ONLY = ("agent_id", "create_ts", "update_ts")
"""Fields the Platform adds to an agent's answer; not part of its configuration."""
EVIDENCE_FIELD = ("metadata", "reconciler")
"""UNCONFIRMED: where a create's marker goes in an agent's body (``metadata.reconciler``).
The Platform's documented agent fields have no label or metadata; the sandbox keeps fields it
does not know (``UNKNOWN_AGENT_FIELDS_KEPT``) and so keeps this one. If the real Platform
refuses or drops it, only this constant and :func:`with_marker` change."""


class SavedAgentKind:
    """The ``SavedAgent`` kind, bound to a Platform client."""

    name = SAVED_AGENT
    manifest_model: type[BaseModel] = SavedAgentManifest

    def __init__(self, api: PlatformApi) -> None:
        self.api = api

    def forces_replacement(self, path: FieldPath) -> bool:
        return False

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """Not yet: possible on the Platform (``agent_name`` is not unique and a create's marker
        is its evidence), but no change replaces a saved agent (only ``--replace``), and its
        referrers (numbers) would route calls to the new agent mid-apply; kept delete-first
        until that is reviewed (docs/architecture.md, "Create before delete")."""
        return False

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        return find_references(spec)

    def sensitive_paths(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        return frozenset()  # the manifest loader marks interpolated and secret-like values

    def write_only(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        """Each stage's ``credential.fields``: the Platform shows only ``credential.mode``."""
        found = set()
        for stage, value in spec.items():
            credential = value.get("credential") if isinstance(value, dict) else None
            if isinstance(credential, dict) and "fields" in credential:
                found.add(FieldPath((stage, "credential", "fields")))
        return frozenset(found)

    def observe(self, live: LiveResource, recorded: dict[str, Any]) -> dict[str, Any]:
        return with_recorded(live.spec, recorded, self.write_only(recorded))

    async def create(self, name: str, spec: dict[str, Any], marker: str) -> Created:
        answer = await self.api.create_agent(with_marker(spec, marker))
        return Created(str(answer.body["agent_id"]), answer.etag)

    async def find(
        self, name: str, recorded: dict[str, Any], marker: str, since: float
    ) -> list[Created]:
        """The agents that carry this create's marker (``agent_name`` is not unique: never
        evidence)."""
        found = []
        for item in await self.api.list_agents():
            carried = item.get(EVIDENCE_FIELD[0])
            if not isinstance(carried, dict) or carried.get(EVIDENCE_FIELD[1]) != marker:
                continue
            held = await self.api.get_agent(str(item.get("agent_id")))
            if held is not None:
                found.append(Created(str(held.body["agent_id"]), held.etag))
        return found

    async def update(
        self, resource: Held, spec: dict[str, Any], changed: tuple[str, ...]
    ) -> str | None:
        patch = merge_patch(spec, changed)
        if not patch:
            return resource.version
        try:
            answer = await self.api.update_agent(resource.id, patch, resource.version or "*")
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"saved agent {resource.id}", exc)
            raise
        return answer.etag

    async def delete(self, resource: Held) -> None:
        try:
            await self.api.delete_agent(resource.id, resource.version)
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"saved agent {resource.id}", exc)
            raise

    async def read_many(self, resource_ids: list[str]) -> dict[str, LiveResource | None]:
        wanted = set(resource_ids)
        found: dict[str, LiveResource | None] = dict.fromkeys(resource_ids)
        for item in await self.api.list_agents():
            agent_id = item.get("agent_id")
            if isinstance(agent_id, str) and agent_id in wanted:
                found[agent_id] = LiveResource(spec=live_spec(item))
        return found

    async def read(self, resource_id: str) -> LiveResource | None:
        answer = await self.api.get_agent(resource_id)
        if answer is None:
            return None
        return LiveResource(version=answer.etag, spec=live_spec(answer.body))


def with_marker(spec: dict[str, Any], marker: str) -> dict[str, Any]:
    """The create body: ``spec`` and the create's marker at :data:`EVIDENCE_FIELD`."""
    field, key = EVIDENCE_FIELD
    kept = spec.get(field)
    return {**spec, field: {**(kept if isinstance(kept, dict) else {}), key: marker}}


def creator_lineage(body: dict[str, Any]) -> str | None:
    """The lineage of the state whose create made this agent, from the marker it carries
    (``<lineage>:<address>:<nonce>``, see :class:`~reconciler.models.resources.PendingCreate`);
    None for an agent made elsewhere (the console), which carries none."""
    field, key = EVIDENCE_FIELD
    carried = body.get(field)
    marker = carried.get(key) if isinstance(carried, dict) else None
    if not isinstance(marker, str) or ":" not in marker:
        return None
    return marker.split(":", 1)[0].lower()


def live_spec(body: dict[str, Any]) -> dict[str, Any]:
    """An agent's answer in the form of its spec: no ids or timestamps, no nulls, no marker."""
    spec: dict[str, Any] = drop_nulls({k: v for k, v in body.items() if k not in READ_ONLY})
    field, key = EVIDENCE_FIELD
    carried = spec.get(field)
    if isinstance(carried, dict) and key in carried:
        rest = {k: v for k, v in carried.items() if k != key}
        if rest:
            spec[field] = rest
        else:
            del spec[field]
    return spec
