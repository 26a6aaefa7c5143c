"""The ``PhoneNumber`` kind: a Platform phone number, its SIP trunk and its inbound routing.

* **Spec**: the create-number body as the manifest writes it; ``inbound.agent`` is a
  ``{ref: SavedAgent/NAME}`` (sent as that agent's id: the number is created after the agent
  and changed or deleted before it). ``sip_trunk.auth`` is write-only and sensitive.
* **Identity**: the ``number_id`` (a UUID) the create answered.
* **Update**: ``PATCH`` of the changed top-level fields with ``If-Match`` (required); the
  Platform replaces ``sip_trunk`` and ``inbound`` whole, so a changed one is sent whole (with
  the SIP password, which the Platform would otherwise drop). ``number`` cannot change: a new
  number is a replacement.
* **Live status and drift**: the Platform returns everything but ``sip_trunk.auth``; the port
  it fills in for a trunk without one is not drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reconciler.errors import EngineError
from reconciler.kinds.base import Created, Held
from reconciler.kinds.platform_api import (
    PRECONDITION_FAILED,
    PlatformApi,
    created_since,
    drop_nulls,
    merge_patch,
    stale,
    with_recorded,
)
from reconciler.kinds.references import find_references
from reconciler.models.fieldpath import FieldPath
from reconciler.models.live import LiveResource
from reconciler.models.platform import PHONE_NUMBER, PhoneNumberManifest

NUMBER = FieldPath(("number",))
SIP_AUTH = FieldPath(("sip_trunk", "auth"))
READ_ONLY = ("number_id", "create_ts", "update_ts")
DEFAULT_PORTS = {"tls": 5061, "udp": 5060, "tcp": 5060}
"""The port the Platform fills in for a trunk that names none (documented)."""
DEFAULT_TRANSPORT = "udp"
"""UNCONFIRMED: the transport of a trunk that names none (the sandbox's choice)."""


class PhoneNumberKind:
    """The ``PhoneNumber`` kind, bound to a Platform client."""

    name = PHONE_NUMBER
    manifest_model: type[BaseModel] = PhoneNumberManifest

    def __init__(self, api: PlatformApi) -> None:
        self.api = api

    def forces_replacement(self, path: FieldPath) -> bool:
        return path.is_within(NUMBER)

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        return find_references(spec)

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """When the ``number`` changes (the only change that replaces a number): the Platform
        holds each number once per project, and the old and new ones differ, so the new number
        is created while the old one still answers calls, and the old one is deleted only once
        the new one exists (a refused create leaves the old line in place). A ``--replace`` that
        keeps the number must delete first: the create of the same number would be refused."""
        return _digits(recorded.get("number")) != _digits(desired.get("number"))

    def sensitive_paths(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        trunk = spec.get("sip_trunk")
        has_auth = isinstance(trunk, dict) and trunk.get("auth") is not None
        return frozenset({SIP_AUTH}) if has_auth else frozenset()

    def observe(self, live: LiveResource, recorded: dict[str, Any]) -> dict[str, Any]:
        observed = with_recorded(live.spec, recorded, self.sensitive_paths(recorded))
        trunk, mine = observed.get("sip_trunk"), recorded.get("sip_trunk")
        if isinstance(trunk, dict) and isinstance(mine, dict) and "port" not in mine:
            default = DEFAULT_PORTS.get(str(trunk.get("transport", DEFAULT_TRANSPORT)))
            if trunk.get("port") == default:
                trunk.pop("port")
        return observed

    async def create(self, name: str, spec: dict[str, Any], marker: str) -> Created:
        answer = await self.api.create_number(spec)  # no field for a marker (unknown: refused)
        return Created(str(answer.body["number_id"]), answer.etag)

    async def find(
        self, name: str, recorded: dict[str, Any], marker: str, since: float
    ) -> list[Created]:
        """The number with the recorded E.164 digits (a number exists once in a project,
        UNCONFIRMED), created after the entry, with the recorded trunk host and inbound agent."""
        wanted = _digits(recorded.get("number"))
        trunk, inbound = _object(recorded.get("sip_trunk")), _object(recorded.get("inbound"))
        found = []
        for item in await self.api.list_numbers():
            if _digits(item.get("number")) != wanted or not created_since(item, since):
                continue
            held_trunk, held_inbound = _object(item.get("sip_trunk")), _object(item.get("inbound"))
            if held_trunk.get("hostname") != trunk.get("hostname"):
                continue
            if held_inbound.get("agent") != inbound.get("agent"):
                continue
            held = await self.api.get_number(str(item.get("number_id")))
            if held is not None:
                found.append(Created(str(held.body["number_id"]), held.etag))
        return found

    async def update(
        self, resource: Held, spec: dict[str, Any], changed: tuple[str, ...]
    ) -> str | None:
        patch = merge_patch(spec, changed, depth=1)
        patch.pop("number", None)  # immutable: a change of it is a replacement
        if not patch:
            return resource.version
        try:
            answer = await self.api.update_number(resource.id, patch, resource.version or "*")
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"phone number {resource.id}", exc)
            raise
        return answer.etag

    async def delete(self, resource: Held) -> None:
        try:
            await self.api.delete_number(resource.id, resource.version)
        except EngineError as exc:
            if exc.reason == PRECONDITION_FAILED:
                stale(f"phone number {resource.id}", exc)
            raise

    async def read_many(self, resource_ids: list[str]) -> dict[str, LiveResource | None]:
        wanted = set(resource_ids)
        found: dict[str, LiveResource | None] = dict.fromkeys(resource_ids)
        for item in await self.api.list_numbers():
            number_id = item.get("number_id")
            if isinstance(number_id, str) and number_id in wanted:
                found[number_id] = LiveResource(spec=_live_spec(item))
        return found

    async def read(self, resource_id: str) -> LiveResource | None:
        answer = await self.api.get_number(resource_id)
        if answer is None:
            return None
        return LiveResource(version=answer.etag, spec=_live_spec(answer.body))


def _digits(number: Any) -> str:
    """A number's digits (``+1 (415) 555-0100`` and ``+14155550100`` are one number)."""
    return "".join(ch for ch in number if ch.isdigit()) if isinstance(number, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _live_spec(body: dict[str, Any]) -> dict[str, Any]:
    """A number's answer in the form of its spec: no ids or timestamps, no nulls."""
    spec: dict[str, Any] = drop_nulls({k: v for k, v in body.items() if k not in READ_ONLY})
    return spec
