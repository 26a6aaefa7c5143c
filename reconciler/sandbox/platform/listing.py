"""List endpoints: ``limit``/``cursor``/``order`` and the envelope
``{"data": {"count", "list"}, "has_more", "next_cursor"}`` (documented).

The cursor is opaque to clients: base64url of the kind, the order, the position (the last item's
creation sequence) and the filters of the first page, so that later pages keep the filters the
first one resolved (for sessions, "the last two hours" is fixed when the first page is read),
then ``.`` and an HMAC of those bytes keyed from the database's salt: a cursor the sandbox did
not make (edited, or built by hand) is refused before anything in it is used. A cursor of
another kind or order, or one that does not decode or verify, is a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import wire
from .errors import invalid
from .rules import DEFAULT_LIMIT, MAX_LIMIT, ORDERS
from .store import PlatformStore, Resource


@dataclass(frozen=True)
class PageRequest:
    """A validated list query."""

    kind: str
    limit: int
    ascending: bool
    order: str
    after: int | None
    filters: dict[str, Any] = field(default_factory=dict)


def page_request(
    store: PlatformStore,
    kind: str,
    query: Mapping[str, str],
    filters: Callable[[], dict[str, Any]] | None = None,
) -> PageRequest:
    """Read ``limit``, ``order`` and ``cursor``; ``filters`` gives a first page's filters."""
    top = MAX_LIMIT[kind]
    raw_limit = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        value = wire.integer(raw_limit.strip())
        if value is None or not 1 <= value <= top:
            raise invalid("limit", f"must be an integer from 1 to {top}")
        limit = value
    order = query.get("order", ORDERS[0])
    if order not in ORDERS:
        raise invalid("order", f"must be one of {', '.join(ORDERS)}")
    cursor = query.get("cursor")
    if cursor:
        data = _decode(cursor, _key(store))
        if data.get("k") != kind or not isinstance(data.get("s"), int):
            raise invalid("cursor", "is not a cursor of this list")
        if data.get("o") != order:
            raise invalid("cursor", "was made for another order; pass the same order")
        saved = data.get("f")
        return PageRequest(
            kind, limit, order.endswith(".asc"), order, data["s"], saved if saved else {}
        )
    return PageRequest(
        kind, limit, order.endswith(".asc"), order, None, filters() if filters else {}
    )


def _key(store: PlatformStore) -> bytes:
    """The key that signs cursors, derived from the database's salt (kept across restarts)."""
    return hmac.new(store.salt().encode(), b"platform list cursor", hashlib.sha256).digest()


def _signature(payload: str, key: bytes) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _decode(cursor: str, key: bytes) -> dict[str, Any]:
    refused = invalid("cursor", "is not a valid cursor; pass next_cursor unchanged")
    payload, _, signature = cursor.partition(".")
    if not cursor.isascii() or not hmac.compare_digest(signature, _signature(payload, key)):
        raise refused
    try:
        padded = payload + "=" * (-len(payload) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise refused from None
    if not isinstance(value, dict):
        raise refused
    return value


def _encode(request: PageRequest, seq: int, key: bytes) -> str:
    data: dict[str, Any] = {"k": request.kind, "o": request.order, "s": seq}
    if request.filters:
        data["f"] = request.filters
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    payload = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return f"{payload}.{_signature(payload, key)}"


def page(
    store: PlatformStore,
    app_id: str,
    request: PageRequest,
    view: Callable[[Resource], dict[str, Any] | None],
) -> dict[str, Any]:
    """One page of the envelope; ``view`` gives an item's JSON, or None to leave it out."""
    items: list[tuple[int, dict[str, Any]]] = []
    more = False
    resources: Iterable[Resource] = store.scan(
        app_id, request.kind, after=request.after, ascending=request.ascending
    )
    for resource in resources:
        shown = view(resource)
        if shown is None:
            continue
        if len(items) == request.limit:
            more = True
            break
        items.append((resource.seq, shown))
    next_cursor = _encode(request, items[-1][0], _key(store)) if more else None
    return {
        "data": {"count": len(items), "list": [item for _, item in items]},
        "has_more": more,
        "next_cursor": next_cursor,
    }
