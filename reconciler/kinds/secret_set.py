"""The ``SecretSet`` kind: a Platform secret set, named by its manifest's ``name``.

* **Spec**: ``{"keys": {key: value}}``. Every value is write-only on the Platform and sensitive
  here: state and plans hold a salted digest per key, so a plan says which keys change and
  never a value.
* **Identity**: the set's name is its id on the Platform (unique in a project), recorded with
  the set's ``ETag``.
* **Update**: one ``PATCH`` of the keys that changed (a string sets a key, null removes it),
  with ``If-Match`` from the recorded ``ETag``: a one-key rotation is one call that sends only
  that key. A 412 (someone changed the set outside) fails the update; nothing is overwritten.
* **Live status and drift**: the Platform shows key names only, so drift is a key added or
  removed outside; a value changed outside cannot be seen.
* **Delete**: with ``If-Match`` (required); the Platform refuses while an agent references
  the set (``SecretSetInUse``): the plan deletes referencing agents first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reconciler.errors import EngineError
from reconciler.kinds.base import Created, Held
from reconciler.kinds.platform_api import (
    OUTSIDE_MARKER,
    PRECONDITION_FAILED,
    PlatformApi,
    changed_paths,
    created_since,
    stale,
    with_recorded,
)
from reconciler.models.fieldpath import ABSENT, FieldPath
from reconciler.models.live import LiveResource
from reconciler.models.platform import SECRET_SET, SecretSetManifest

KEYS = "keys"


class SecretSetKind:
    """The ``SecretSet`` kind, bound to a Platform client."""

    name = SECRET_SET
    manifest_model: type[BaseModel] = SecretSetManifest

    def __init__(self, api: PlatformApi) -> None:
        self.api = api

    def forces_replacement(self, path: FieldPath) -> bool:
        return False  # every key can be set or removed in place

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """Never: a set's name is its id on the Platform, so the new set (same name) would be
        refused while the old one exists (only ``--replace`` replaces a set)."""
        return False

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        return ()

    def sensitive_paths(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        return frozenset(FieldPath((KEYS, key)) for key in spec.get(KEYS, {}))

    def observe(self, live: LiveResource, recorded: dict[str, Any]) -> dict[str, Any]:
        """The live set with each value the state records (the Platform shows none): a key
        added outside shows as set outside."""
        keys = {key: OUTSIDE_MARKER for key in live.spec.get(KEYS, {})}
        return with_recorded({KEYS: keys}, recorded, self.sensitive_paths(recorded))

    async def create(self, name: str, spec: dict[str, Any], marker: str) -> Created:
        answer = await self.api.create_secret_set(name, spec[KEYS])  # no field for a marker
        return Created(name, answer.etag)

    async def find(
        self, name: str, recorded: dict[str, Any], marker: str, since: float
    ) -> list[Created]:
        """The set of this name (unique in a project: if it was made after the entry, either
        this create made it or another one that then made this one fail) with exactly the
        recorded keys, created after the entry. Its values cannot be read: an adopted set's
        are written again by the next apply."""
        wanted = sorted(recorded.get(KEYS, {}))
        for item in await self.api.list_secret_sets():
            if item.get("name") != name or not created_since(item, since):
                continue
            if sorted(item.get(KEYS) or []) != wanted:
                continue
            held = await self.api.get_secret_set(name)
            return [Created(name, held.etag)] if held is not None else []
        return []

    async def update(
        self, resource: Held, spec: dict[str, Any], changed: tuple[str, ...]
    ) -> str | None:
        changes: dict[str, str | None] = {}
        for path in changed_paths(changed):
            if len(path) < 2 or path[0] != KEYS:
                continue
            key = str(path[1])
            value = FieldPath((KEYS, key)).get_in(spec)
            changes[key] = None if value is ABSENT else value
        if not changes:
            return resource.version
        try:
            answer = await self.api.update_secret_set(resource.id, changes, resource.version)
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"secret set {resource.id!r}", exc)
            raise
        return answer.etag

    async def delete(self, resource: Held) -> None:
        try:
            await self.api.delete_secret_set(resource.id, resource.version or "*")
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"secret set {resource.id!r}", exc)
            raise

    async def read_many(self, resource_ids: list[str]) -> dict[str, LiveResource | None]:
        wanted = set(resource_ids)
        found: dict[str, LiveResource | None] = dict.fromkeys(resource_ids)
        for item in await self.api.list_secret_sets():
            name = item.get("name")
            if isinstance(name, str) and name in wanted:
                found[name] = LiveResource(spec={KEYS: dict.fromkeys(_names(item), "")})
        return found

    async def read(self, resource_id: str) -> LiveResource | None:
        answer = await self.api.get_secret_set(resource_id)
        if answer is None:
            return None
        return LiveResource(
            version=answer.etag, spec={KEYS: dict.fromkeys(_names(answer.body), "")}
        )


def _names(body: dict[str, Any]) -> list[str]:
    """The key names a set's answer lists."""
    keys = body.get(KEYS)
    return sorted(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else []
