"""The Platform's answers as the client reads them: a resource (a JSON object with its id) and
its ``ETag``, and list pages (``{"data": {"count", "list"}, "has_more", "next_cursor"}``).

A 2xx answer that is not JSON or lacks what the client needs is an
:class:`~reconciler.errors.EngineProtocolError` naming the operation and the field, never the
values it carried. The page models are built on first use (``defer_build``): a project
without Platform resources never reads a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import EngineProtocolError


@dataclass(frozen=True)
class Versioned:
    """A resource as the Platform answered it, with its ``ETag`` (None when none was sent)."""

    body: dict[str, Any]
    etag: str | None


class _Data(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    items: list[dict[str, Any]] = Field(alias="list")
    count: int | None = None


class Page(BaseModel):
    """One page of a list."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    data: _Data
    has_more: bool = False
    next_cursor: str | None = None


def _json(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise EngineProtocolError(
            f"platform answered {response.status_code} to {operation} with a body that is not JSON",
            status=response.status_code,
        ) from None


def resource(response: httpx.Response, operation: str, id_field: str) -> Versioned:
    """The resource of a 2xx answer, which must be an object with ``id_field``."""
    body = _json(response, operation)
    if not isinstance(body, dict) or not isinstance(body.get(id_field), str):
        raise EngineProtocolError(
            f"platform answered {response.status_code} to {operation} without {id_field}",
            status=response.status_code,
        )
    return Versioned(body, response.headers.get("etag"))


def page(response: httpx.Response, operation: str) -> Page:
    """A list page."""
    body = _json(response, operation)
    try:
        return Page.model_validate(body)
    except PydanticValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
        raise EngineProtocolError(
            f"platform answered {response.status_code} to {operation} with a list of the wrong "
            f"shape (at {where})",
            status=response.status_code,
        ) from None


def reason_of(response: httpx.Response) -> str:
    """The ``reason`` of an error answer ('' when there is none)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""
