"""What the Platform kinds (``SecretSet``, ``SavedAgent``, ``PhoneNumber``) need of the Platform
client, and the helpers they share: the update body built from the changed paths, the rewording
of a stale version (412), and the view of a live resource in its recorded form.

The client itself (:class:`reconciler.engine.platform.PlatformClient`) lives in ``engine``, a
sibling this package may not import; :class:`PlatformApi` is the part of it the kinds call,
so ``mypy`` checks the project's wiring against it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, Protocol

from reconciler.errors import EngineError, EngineUnavailableError
from reconciler.models.fieldpath import ABSENT, FieldPath

PRECONDITION_FAILED = "PreconditionFailed"
"""The reason of a 412: the version sent in ``If-Match`` is not the current one."""
OUTCOME_UNKNOWN = "OutcomeUnknown"
"""The reason given to a write whose outcome is unknown (a resent attempt met 412)."""
OUTSIDE_MARKER = {"$sensitive": "set outside"}
"""How a write-only value the state did not record (a key added outside) is shown."""
CLOCK_SKEW_S = 60.0
"""How far the Platform's clock may be behind ours: a resource created by an interrupted
create has a ``create_ts`` no earlier than its write-ahead entry's time minus this."""
UNVERIFIED = {"$sensitive": "adopted: value not verified"}
"""A write-only value of an adopted resource that the Platform cannot show: the next apply
writes it again."""


class VersionedBody(Protocol):
    """A resource as the Platform answered it, and its ``ETag``."""

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def etag(self) -> str | None: ...


class PlatformApi(Protocol):
    """The calls of the Platform client the kinds use."""

    async def create_secret_set(self, name: str, secrets: Mapping[str, str]) -> VersionedBody: ...

    async def get_secret_set(self, name: str) -> VersionedBody | None: ...

    async def list_secret_sets(self) -> list[dict[str, Any]]: ...

    async def update_secret_set(
        self, name: str, changes: Mapping[str, str | None], if_match: str | None = None
    ) -> VersionedBody: ...

    async def delete_secret_set(self, name: str, if_match: str) -> bool: ...

    async def create_agent(self, config: Mapping[str, Any]) -> VersionedBody: ...

    async def get_agent(self, agent_id: str) -> VersionedBody | None: ...

    async def list_agents(self) -> list[dict[str, Any]]: ...

    async def update_agent(
        self, agent_id: str, patch: Mapping[str, Any], if_match: str
    ) -> VersionedBody: ...

    async def delete_agent(self, agent_id: str, if_match: str | None = None) -> bool: ...

    async def create_number(self, spec: Mapping[str, Any]) -> VersionedBody: ...

    async def get_number(self, number_id: str) -> VersionedBody | None: ...

    async def list_numbers(self) -> list[dict[str, Any]]: ...

    async def update_number(
        self, number_id: str, patch: Mapping[str, Any], if_match: str
    ) -> VersionedBody: ...

    async def delete_number(self, number_id: str, if_match: str | None = None) -> bool: ...


def changed_paths(changed: Iterable[str]) -> list[FieldPath]:
    """The changed paths (as a plan writes them), each cut at its first list index: a list is
    replaced whole (JSON merge patch), never patched item by item."""
    paths: list[FieldPath] = []
    for text in changed:
        path = FieldPath.parse(text)
        cut = next((i for i, part in enumerate(path) if isinstance(part, int)), len(path))
        paths.append(FieldPath(path[:cut]))
    return paths


def merge_patch(
    body: dict[str, Any], changed: Iterable[str], depth: int | None = None
) -> dict[str, Any]:
    """The JSON merge patch (RFC 7396) that brings a resource to ``body``, touching only the
    ``changed`` paths: a path present in ``body`` is sent with its value, one absent as
    ``null`` (removed) at its first part ``body`` lacks (nulling only the leaf of an object
    ``body`` has no trace of would leave that object behind, empty). ``depth`` cuts every path
    to that many parts (1: whole top-level fields, for an API that replaces its objects
    whole)."""
    patch: dict[str, Any] = {}
    for path in sorted(set(changed_paths(changed)), key=len):
        if depth is not None:
            path = FieldPath(path[:depth])
        path = _up_to_absent(body, path)
        if not path or _covered(patch, path):
            continue
        value = path.get_in(body)
        node = patch
        for part in path[:-1]:
            node = node.setdefault(str(part), {})
        node[str(path[-1])] = None if value is ABSENT else copy.deepcopy(value)
    return patch


def _up_to_absent(body: dict[str, Any], path: FieldPath) -> FieldPath:
    """``path`` cut after its first part that ``body`` does not hold (``path`` itself when
    ``body`` holds every part but perhaps the last)."""
    for end in range(1, len(path)):
        if FieldPath(path[:end]).get_in(body) is ABSENT:
            return FieldPath(path[:end])
    return path


def _covered(patch: dict[str, Any], path: FieldPath) -> bool:
    """Whether a shorter path of ``patch`` already sets ``path`` (as a value, not an object)."""
    node: Any = patch
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict) or node is None:
            return True
    return False


def stale(what: str, error: EngineError) -> NoReturn:
    """Raise a 412 again in words that say what to do: someone changed the resource outside
    since the version state records; nothing was overwritten.

    A 412 met by a resent attempt (the client's ``resent``: an earlier attempt whose answer was
    lost may have reached the Platform) may be the request's own change: its outcome is unknown
    (:class:`~reconciler.errors.EngineUnavailableError`), so the write-ahead entry of an update
    stays for the next plan to settle from what the Platform holds."""
    if getattr(error, "resent", False):
        message = (
            f"{what}: the answer to an attempt was lost and the attempt resent was refused (412, "
            "as it would be if the first one had taken effect); whether the change took effect "
            "is unknown: the next plan or apply reads the resource and compares it with what "
            "was sent before sending anything else"
        )
        raise EngineUnavailableError(
            message, status=error.status, reason=OUTCOME_UNKNOWN, detail=message
        ) from error
    message = (
        f"{what} was changed outside this project since it was last applied (its version is "
        "not the one state records); nothing was overwritten: run `reconciler plan` to see the "
        "drift, then apply again"
    )
    raise EngineError(message, status=error.status, reason=error.reason, detail=message) from error


def with_recorded(
    live: dict[str, Any], recorded: dict[str, Any], write_only: Iterable[FieldPath]
) -> dict[str, Any]:
    """``live`` with each write-only path (which the Platform never shows) taken from the
    recorded spec, so that only what the Platform shows can differ."""
    observed = copy.deepcopy(live)
    for path in sorted(write_only, key=len):
        value = path.get_in(recorded)
        if value is ABSENT:
            continue
        if path.get_in(observed) is ABSENT and FieldPath(path[:-1]).get_in(observed) is ABSENT:
            continue  # its parent is gone outside: so is it
        path.set_in(observed, copy.deepcopy(value))
    return observed


def drop_nulls(value: Any) -> Any:
    """``value`` without the ``None`` values of its mappings (the Platform answers absent
    optional fields as null; a manifest leaves them out)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def created_since(item: Mapping[str, Any], since: float) -> bool:
    """Whether a listed resource was created at ``since`` or later (``create_ts``, seconds),
    allowing :data:`CLOCK_SKEW_S` of clock difference."""
    created = item.get("create_ts")
    return isinstance(created, (int, float)) and created >= since - CLOCK_SKEW_S
