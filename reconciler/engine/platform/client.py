"""The async REST client of the Conversational AI Platform (docs/platform-api.md).

:class:`PlatformClient` sends its operations through the engine client's layers: the auth flow
(:class:`~reconciler.engine.auth.EngineAuth`), the retry transport (attempts, backoff,
``Retry-After``, in-flight limit) and the pooled network transport or the in-process
sandbox's ASGI transport. Non-2xx answers become exceptions in the one error table
(:mod:`reconciler.engine.errors_map`), worded ``platform refused ...``.

Creates have no idempotency key on the Platform, so a create is never sent a second time once
an attempt may have reached it: it fails with
:class:`~reconciler.errors.OutcomeUnknownError` and the caller looks for the
resource (list and match) before trying again. Secret values (secret sets' values, SIP
passwords) are added to the client's scrubber before they are sent, so no error quotes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.engine.layered import LayeredClient, path_segment
from reconciler.engine.platform.rules import (
    MAX_PAGES,
    NOT_FOUND_REASON,
    PAGE_SIZE,
    VERSION_PATH,
)
from reconciler.engine.platform.wire import Versioned, page, reason_of, resource
from reconciler.errors import EngineProtocolError
from reconciler.models.secrets import secret_strings


@dataclass(frozen=True)
class _Kind:
    """One kind of Platform resource as the client addresses it."""

    slug: str
    """Its part of the operation ids (``create-<slug>``, ``list-<slug>s``)."""
    noun: str
    """How messages name one (``phone number``)."""
    path: str
    """The collection's path under the project."""
    id_field: str
    """The field of an answer that holds the resource's id."""
    quoted: bool = False
    """Whether messages quote the id (a user's name, not a generated id)."""

    def item(self, ident: str) -> str:
        """The path of one resource."""
        return f"{self.path}/{path_segment(ident)}"

    def what(self, verb: str, ident: str) -> str:
        """What a call does, for its messages: ``update of agent 1f2e...``."""
        shown = repr(ident) if self.quoted else ident
        return f"{verb} of {self.noun} {shown}"


_SECRET_SETS = _Kind("secret-set", "secret set", "secrets", "name", quoted=True)
_AGENTS = _Kind("agent", "agent", "agents", "agent_id")
_NUMBERS = _Kind("number", "phone number", "numbers", "number_id")


@dataclass(frozen=True)
class KeyWrite:
    """The answer to setting one secret key: whether it was new, the key's ETag and the set."""

    created: bool
    etag: str | None
    secret_set: dict[str, Any]


class PlatformClient(LayeredClient):
    """Async client of the Platform's REST API for one project (App ID); ``async with``.

    Its base URLs end in ``/conversational-ai``; its layers, limits and hooks are
    :class:`~reconciler.engine.layered.LayeredClient`'s (``on_response`` hears the operation
    ids, ``create-agent``, ...).
    """

    SERVICE = "platform"
    API_ROOT = VERSION_PATH

    # ------------------------------------------------------------------------- secret sets

    async def create_secret_set(self, name: str, secrets: Mapping[str, str]) -> Versioned:
        """``POST /secrets``; :class:`~reconciler.errors.AlreadyExistsError` when the name is
        taken."""
        self._secrets.add(secrets.values())
        return await self._create(_SECRET_SETS, name, {"name": name, "secrets": dict(secrets)})

    async def get_secret_set(self, name: str) -> Versioned | None:
        """``GET /secrets/{name}``: its key names and ETag, or None when it does not exist."""
        return await self._get(_SECRET_SETS, name)

    async def list_secret_sets(self) -> list[dict[str, Any]]:
        """Every secret set (names and key names), oldest first, across pages."""
        return await self._list_all(_SECRET_SETS)

    async def replace_secret_set(
        self, name: str, secrets: Mapping[str, str], if_match: str
    ) -> Versioned:
        """``PUT /secrets/{name}``: the set holds exactly ``secrets`` afterwards."""
        self._secrets.add(secrets.values())
        body = {"secrets": dict(secrets)}
        return await self._write(_SECRET_SETS, "replace", "PUT", name, body, if_match)

    async def update_secret_set(
        self, name: str, changes: Mapping[str, str | None], if_match: str | None = None
    ) -> Versioned:
        """``PATCH /secrets/{name}``: a string sets a key, None removes it."""
        self._secrets.add(v for v in changes.values() if v is not None)
        body = {"secrets": dict(changes)}
        return await self._write(_SECRET_SETS, "update", "PATCH", name, body, if_match)

    async def delete_secret_set(self, name: str, if_match: str) -> bool:
        """``DELETE /secrets/{name}``; False when it did not exist (any more)."""
        return await self._delete(_SECRET_SETS, name, if_match)

    async def set_secret_key(
        self,
        name: str,
        key: str,
        value: str,
        *,
        if_match: str | None = None,
        only_if_absent: bool = False,
    ) -> KeyWrite:
        """``PUT /secrets/{name}/keys/{key}``: add or rotate one key (safe to repeat).

        ``if_match`` is the key's ETag from the last write; ``only_if_absent`` sends
        ``If-None-Match: *`` (a live value is never overwritten).
        """
        self._secrets.add([value])
        headers = {"If-None-Match": "*"} if only_if_absent else {}
        response = await self._send(
            "set-secret-key",
            "PUT",
            f"secrets/{path_segment(name)}/keys/{path_segment(key)}",
            what=f"write of key {key!r} of secret set {name!r}",
            body={"value": value},
            headers=_if_match(if_match, headers),
        )
        answer = resource(response, "set-secret-key", "name")
        return KeyWrite(response.status_code == 201, answer.etag, answer.body)

    async def delete_secret_key(self, name: str, key: str, if_match: str | None = None) -> bool:
        """``DELETE /secrets/{name}/keys/{key}``; False when the key did not exist."""
        response = await self._send(
            "delete-secret-key",
            "DELETE",
            f"secrets/{path_segment(name)}/keys/{path_segment(key)}",
            what=f"delete of key {key!r} of secret set {name!r}",
            headers=_if_match(if_match),
            not_found_ok=True,
        )
        return response.status_code != 404

    # ------------------------------------------------------------------------------ agents

    async def create_agent(self, config: Mapping[str, Any]) -> Versioned:
        """``POST /agents`` (never resent: see the module)."""
        return await self._create(_AGENTS, config.get("agent_name"), dict(config))

    async def get_agent(self, agent_id: str) -> Versioned | None:
        """``GET /agents/{agent_id}``, or None when it does not exist."""
        return await self._get(_AGENTS, agent_id)

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every saved agent, oldest first, across pages."""
        return await self._list_all(_AGENTS)

    async def update_agent(
        self, agent_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        """``PATCH /agents/{agent_id}`` with a JSON merge patch; 412 ->
        :class:`~reconciler.errors.PreconditionFailedError`."""
        return await self._write(_AGENTS, "update", "PATCH", agent_id, dict(patch), if_match)

    async def delete_agent(self, agent_id: str, if_match: str | None = None) -> bool:
        """``DELETE /agents/{agent_id}``; False when it did not exist (any more)."""
        return await self._delete(_AGENTS, agent_id, if_match)

    # ------------------------------------------------------------------------------ numbers

    async def create_number(self, spec: Mapping[str, Any]) -> Versioned:
        """``POST /numbers`` (never resent: see the module)."""
        return await self._create(_NUMBERS, spec.get("number"), dict(spec))

    async def get_number(self, number_id: str) -> Versioned | None:
        """``GET /numbers/{number_id}``, or None when it does not exist."""
        return await self._get(_NUMBERS, number_id)

    async def list_numbers(self) -> list[dict[str, Any]]:
        """Every phone number, oldest first, across pages."""
        return await self._list_all(_NUMBERS)

    async def update_number(
        self, number_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        """``PATCH /numbers/{number_id}`` (``sip_trunk`` and ``inbound`` replace whole)."""
        return await self._write(_NUMBERS, "update", "PATCH", number_id, dict(patch), if_match)

    async def delete_number(self, number_id: str, if_match: str | None = None) -> bool:
        """``DELETE /numbers/{number_id}``; False when it did not exist (any more)."""
        return await self._delete(_NUMBERS, number_id, if_match)

    # ------------------------------------------------------------------------------ helpers

    async def _create(self, kind: _Kind, label: object, body: Mapping[str, Any]) -> Versioned:
        """``POST`` a new resource, never resent; ``label`` names it in messages."""
        operation = f"create-{kind.slug}"
        response = await self._send(
            operation,
            "POST",
            kind.path,
            what=f"create of {kind.noun} {label!r}",
            body=body,
            resend_safe=False,
        )
        return resource(response, operation, kind.id_field)

    async def _get(self, kind: _Kind, ident: str) -> Versioned | None:
        operation = f"retrieve-{kind.slug}"
        response = await self._send(
            operation, "GET", kind.item(ident), what=kind.what("retrieve", ident), not_found_ok=True
        )
        if response.status_code == 404:
            return None
        return resource(response, operation, kind.id_field)

    async def _write(
        self,
        kind: _Kind,
        verb: str,
        method: str,
        ident: str,
        body: Mapping[str, Any],
        if_match: str | None,
    ) -> Versioned:
        """``PUT`` (``replace``) or ``PATCH`` (``update``) one resource."""
        operation = f"{verb}-{kind.slug}"
        response = await self._send(
            operation,
            method,
            kind.item(ident),
            what=kind.what(verb, ident),
            body=body,
            headers=_if_match(if_match),
        )
        return resource(response, operation, kind.id_field)

    async def _delete(self, kind: _Kind, ident: str, if_match: str | None) -> bool:
        response = await self._send(
            f"delete-{kind.slug}",
            "DELETE",
            kind.item(ident),
            what=kind.what("delete", ident),
            headers=_if_match(if_match),
            not_found_ok=True,
        )
        return response.status_code != 404

    async def _list_all(self, kind: _Kind) -> list[dict[str, Any]]:
        return await self._list(f"list-{kind.slug}s", kind.path, f"{kind.noun}s")

    async def _list(self, operation: str, path: str, what: str) -> list[dict[str, Any]]:
        """Every item of a list, following ``next_cursor`` (oldest first, each once)."""
        params = {"limit": str(PAGE_SIZE[path]), "order": "create_ts.asc"}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        cursor = ""
        for _ in range(MAX_PAGES):
            query = dict(params, cursor=cursor) if cursor else params
            response = await self._send(
                operation, "GET", path, what=f"list of {what}", params=query
            )
            answer = page(response, operation)
            items.extend(answer.data.items)
            cursor = answer.next_cursor or ""
            if not answer.has_more or not cursor:
                return items
            if cursor in seen:
                raise EngineProtocolError(
                    f"platform's list of {what} went in a loop (a cursor came back twice)",
                    status=200,
                )
            seen.add(cursor)
        raise EngineProtocolError(f"platform's list of {what} did not end after {MAX_PAGES} pages")

    def _no_such_resource(self, response: httpx.Response) -> bool:
        """A 404 ``NotFound``: the resource does not exist (not a wrong path)."""
        return reason_of(response) == NOT_FOUND_REASON

    def _remember_body_secrets(self, body: Mapping[str, Any]) -> None:
        """A body's secret values (a secret set's, a SIP password) are scrubbed from every
        later answer too."""
        self._secrets.add(secret_strings(body))


def _if_match(etag: str | None, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``headers`` with ``If-Match: etag`` when an ETag is given."""
    extra = dict(headers or {})
    if etag is not None:
        extra["If-Match"] = etag
    return extra


__all__: Sequence[str] = ("KeyWrite", "PlatformClient", "Versioned")
