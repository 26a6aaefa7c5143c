"""The engine's response bodies, parsed leniently, and its error bodies, read defensively.

Response models ignore unknown keys (the engine adds fields over time) and accept the status
under ``status`` or ``state`` (the CN docs and older clients use ``state``), as a name or a
numeric code. A body that does not fit is reported with field locations only, never with the
values it carried.

Error bodies come in the current shape ``{"detail", "reason"}``, the legacy shape
``{"message", "statusCode", ...}``, or as plain text/HTML from a gateway; :func:`error_fields`
reads all three. :func:`scrub` removes known secrets (in any encoding: raw, base64, hex,
percent-encoded) from any engine-supplied text before it goes into an exception message.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import EngineProtocolError
from reconciler.models.live import STATUS_CODES
from reconciler.models.masking import Forms, forms_of, mask_forms

STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
"""Status code -> name (``2`` -> ``RUNNING``)."""
MAX_DETAIL_CHARS = 300
"""Engine-supplied text is cut to this length in exception messages."""
SCRUBBED = "(sensitive)"
"""What a secret in engine text is replaced with."""
_M = TypeVar("_M", bound=BaseModel)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class StatusBody(_Lenient):
    """Body of a 200 answer to join and update: ``{agent_id, create_ts, status}``."""

    agent_id: str = Field(min_length=1)
    create_ts: FiniteFloat | None = None
    status: str | int | None = None
    state: str | int | None = None


class GetBody(_Lenient):
    """Body of a 200 answer to GET agent: ``{message, start_ts, stop_ts, status, agent_id}``."""

    agent_id: str | None = None
    status: str | int | None = None
    state: str | int | None = None
    start_ts: FiniteFloat | None = None
    stop_ts: FiniteFloat | None = None
    message: str | None = None


class ListItem(_Lenient):
    """One agent in a list page: ``{start_ts, status, agent_id}``."""

    agent_id: str = Field(min_length=1)
    status: str | int | None = None
    state: str | int | None = None
    start_ts: FiniteFloat | None = None


class ListData(_Lenient):
    """``data`` of a list page."""

    items: list[ListItem] = Field(alias="list")
    count: int | None = None


class ListMeta(_Lenient):
    """``meta`` of a list page: the cursor of the next page ('' or null on the last page)."""

    cursor: str | None = None
    total: int | None = None


class ListBody(_Lenient):
    """Body of a 200 answer to list."""

    data: ListData
    meta: ListMeta | None = None


class TurnsBody(_Lenient):
    """Body of a 200 answer to turns; only the agent's identity is read from it.

    ``{agent_id, name, channel, total_turn_count, pagination, turns}``: ``name`` is the name
    the agent was joined with, which no other answer (list, get) reports.
    """

    agent_id: str | None = None
    name: str | None = None
    channel: str | None = None


def status_name(status: str | int | None, state: str | int | None = None) -> str:
    """The status as a name: ``status`` first, then ``state``; numeric codes become names.

    Returns ``""`` when neither is present.
    """
    for value in (status, state):
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            return STATUS_NAMES.get(value, str(value))
        text = value.strip()
        if text.isdigit():
            return STATUS_NAMES.get(int(text), text)
        if text:
            return text.upper()
    return ""


def to_ts(value: float | None) -> int | None:
    """A Unix timestamp in whole seconds, or None."""
    return None if value is None else int(value)


def shape_problems(error: PydanticValidationError) -> str:
    """Where a body did not fit its model: field locations and error kinds, no values."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['type']}")
    return "; ".join(parts)


def error_fields(response: httpx.Response) -> tuple[str, str]:
    """``(reason, detail)`` from an error answer of any shape (empty strings when absent)."""
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if isinstance(body, dict):
        reason = body.get("reason") or body.get("statusCode") or body.get("error_type") or ""
        detail = body.get("detail") or body.get("message") or body.get("description") or ""
        return _text(reason), _text(detail)
    if body is not None:
        return "", _text(body)
    try:
        raw = response.text
    except (UnicodeDecodeError, LookupError):
        raw = ""
    return "", " ".join(raw.split())


_AGENT_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def conflict_holder(response: httpx.Response) -> str | None:
    """The agent id a 409 answer names as holding the name (``agent_id``, or the legacy
    ``taskId``), when it is one; None otherwise. Who holds a name, never evidence that it is ours.
    """
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    for key in ("agent_id", "taskId"):
        value = body.get(key)
        if isinstance(value, str) and _AGENT_ID.fullmatch(value):
            return value
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def scrub(
    text: str,
    secrets: Iterable[str],
    limit: int = MAX_DETAIL_CHARS,
    forms: Forms | None = None,
) -> str:
    """``text`` with every form of every secret replaced by ``(sensitive)``, then cut to
    ``limit`` characters.

    The forms are those of :func:`reconciler.models.masking.mask_secrets`: raw, JSON-escaped,
    base64 and base64url (padded or not, at any alignment inside a longer encoded text), hex,
    and each of them percent-encoded wholly or in part. Secrets shorter than
    :data:`~reconciler.models.secrets.MIN_SECRET_CHARS` are left alone. ``forms`` are the
    forms of more secrets, computed beforehand (:func:`reconciler.models.masking.forms_of`).
    """
    text = one_line(mask_forms(text, [forms_of(secrets), forms or Forms()], SCRUBBED))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def one_line(text: str) -> str:
    """``text`` on one line: every control character (newline, carriage return, tab, escape,
    bell) and line or paragraph separator becomes a space, and runs of spaces one. Engine text
    is quoted in messages and log lines, where a newline would forge a line of output and an
    escape sequence reach the terminal. Applied after scrubbing (a secret may hold newlines)."""
    if text.isprintable():
        return text
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(cleaned.split())


def parse_body(response: httpx.Response, model: type[_M], operation: str) -> _M:
    """Parse a 2xx body into ``model`` or raise :class:`EngineProtocolError`."""
    status = response.status_code
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise EngineProtocolError(
            f"engine answered {status} to {operation} with a body that is not JSON",
            status=status,
        ) from None
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise EngineProtocolError(
            f"engine answered {status} to {operation} with JSON of the wrong shape "
            f"({shape_problems(exc)})",
            status=status,
        ) from None


def is_not_found(response: httpx.Response) -> bool:
    """Whether a 404 means "no such agent" rather than "no such route" (a wrong base URL)."""
    reason, detail = error_fields(response)
    if reason:
        return reason == "TaskNotFound"
    return "no route" not in detail.lower()


def transport_cause(exc: BaseException) -> str:
    """A short description of a failed attempt that got no answer."""
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError)):
        return "timeout"
    return "connection dropped"


def host_of(base_url: str) -> str:
    """The ``host[:port]`` of a base URL, for messages."""
    return urlsplit(base_url).netloc or base_url
