"""A toy kind that exists only in the tests: ``Widget``, and the engine that holds widgets.

It is declared here and registered with :meth:`KindRegistry.with_kind`, the way a new kind's
module is: the plan package, the executor and the renderers know nothing of it. A widget has a
``color`` (changed in place), a ``size`` (a change replaces the widget), an optional ``password``
(write-only: recorded and shown as a digest only) and an optional ``parent``, a reference
``{ref: Widget/NAME}`` that the engine receives as the parent's id. Whether a replacement
creates the new widget before deleting the old one is the test's choice (``creates_first``).

:class:`WidgetEngine` behaves like a careful API: a create or update naming a parent it does not
hold is refused (404), and a widget that another one names as its parent cannot be deleted
(409 ``InUse``), so a plan that runs in the wrong order fails loudly; an update must name the
version it changes (``If-Match``: 412 ``PreconditionFailed`` otherwise).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from typing import Any

from pydantic import BaseModel

from reconciler.errors import EngineError
from reconciler.kinds import Created, Held, find_references
from reconciler.models import FieldPath
from reconciler.models.live import LiveResource
from reconciler.models.resources import DesiredResource

KIND = "Widget"
PASSWORD = FieldPath(("password",))


class WidgetManifest(BaseModel):
    """A widget's manifest (what ``reconciler schema`` would show of the kind)."""

    kind: str = KIND
    name: str
    spec: dict[str, Any]


class WidgetEngine:
    """The engine of widgets: ids ``w-1``, ``w-2``, ...; every call is logged in ``calls``."""

    def __init__(self) -> None:
        self.widgets: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.markers: dict[str, str] = {}
        self._next = 0
        self.in_flight = 0
        self.peak = 0
        self.gate: int | None = None
        """When set, a create waits until this many creates are in flight at once (so creates
        made one at a time fail: the wait gives up after a generous timeout)."""
        self._gate_open = asyncio.Event()

    def _check_parent(self, spec: dict[str, Any]) -> None:
        parent = spec.get("parent")
        if parent is not None and parent not in self.widgets:
            raise EngineError(f"parent {parent!r} not found", reason="NotFound")

    async def create(self, name: str, spec: dict[str, Any]) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.gate is not None:
                if self.in_flight >= self.gate:
                    self._gate_open.set()
                try:
                    await asyncio.wait_for(self._gate_open.wait(), 30)
                except TimeoutError:
                    raise EngineError(f"{self.gate} creates never were in flight at once") from None
            return self._create(name, spec)
        finally:
            self.in_flight -= 1

    def _create(self, name: str, spec: dict[str, Any]) -> str:
        self._check_parent(spec)
        if spec.get("color") == "invalid":  # a careless API that echoes what it was sent
            raise EngineError(f"invalid widget {spec}", reason="BadRequest", detail=f"{spec}")
        self._next += 1
        widget_id = f"w-{self._next}"
        self.widgets[widget_id] = copy.deepcopy(spec)
        self.names[widget_id] = name
        self.calls.append(("create", name))
        return widget_id

    def version(self, widget_id: str) -> str:
        """The widget's version (an ETag): a digest of what the engine holds."""
        return '"' + hashlib.sha256(repr(self.widgets[widget_id]).encode()).hexdigest()[:12] + '"'

    async def update(self, widget_id: str, spec: dict[str, Any], *, if_match: str | None) -> None:
        if widget_id not in self.widgets:
            raise EngineError(f"widget {widget_id} not found", reason="NotFound")
        if if_match != self.version(widget_id):
            raise EngineError(f"widget {widget_id} changed meanwhile", reason="PreconditionFailed")
        self._check_parent(spec)
        self.widgets[widget_id] = copy.deepcopy(spec)
        self.calls.append(("update", self.names[widget_id]))

    async def delete(self, widget_id: str) -> None:
        users = sorted(i for i, w in self.widgets.items() if w.get("parent") == widget_id)
        if users:
            raise EngineError(
                f"widget {widget_id} is the parent of {', '.join(users)}", reason="InUse"
            )
        self.calls.append(("delete", self.names.get(widget_id, widget_id)))
        self.widgets.pop(widget_id, None)

    def by_name(self, name: str) -> dict[str, Any]:
        (found,) = [w for i, w in self.widgets.items() if self.names[i] == name]
        return found

    def id_of(self, name: str) -> str:
        (found,) = [i for i in self.widgets if self.names[i] == name]
        return found


class WidgetKind:
    """The ``Widget`` kind, bound to one :class:`WidgetEngine`."""

    name = KIND
    manifest_model = WidgetManifest

    def __init__(self, engine: WidgetEngine, *, creates_first: bool = False) -> None:
        self.engine = engine
        self.creates_first = creates_first

    def forces_replacement(self, path: FieldPath) -> bool:
        return path.is_within(FieldPath(("size",)))

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """As the test says (``creates_first``): the toy engine takes two widgets of a name."""
        return self.creates_first

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        return find_references(spec)

    def sensitive_paths(self, spec: dict[str, Any]) -> frozenset[FieldPath]:
        return frozenset({PASSWORD}) if "password" in spec else frozenset()

    async def create(self, name: str, spec: dict[str, Any], marker: str) -> Created:
        widget_id = await self.engine.create(name, spec)
        self.engine.markers[widget_id] = marker
        return Created(widget_id, self.engine.version(widget_id))

    async def find(
        self, name: str, recorded: dict[str, Any], marker: str, since: float
    ) -> list[Created]:
        return [
            Created(i, self.engine.version(i))
            for i, m in self.engine.markers.items()
            if m == marker and i in self.engine.widgets
        ]

    async def update(
        self, resource: Held, spec: dict[str, Any], changed: tuple[str, ...]
    ) -> str | None:
        await self.engine.update(resource.id, spec, if_match=resource.version)
        return self.engine.version(resource.id)

    async def delete(self, resource: Held) -> None:
        await self.engine.delete(resource.id)

    def observe(self, live: LiveResource, recorded: dict[str, Any]) -> dict[str, Any]:
        observed = copy.deepcopy(live.spec)
        if "password" in recorded:  # write-only: never shown (the toy engine keeps it)
            observed["password"] = recorded["password"]
        return observed

    async def read_many(self, resource_ids: list[str]) -> dict[str, LiveResource | None]:
        return {i: await self.read(i) for i in resource_ids}

    async def read(self, resource_id: str) -> LiveResource | None:
        held = self.engine.widgets.get(resource_id)
        if held is None:
            return None
        return LiveResource(version=self.engine.version(resource_id), spec=copy.deepcopy(held))


def widget(name: str, *, parent: str | None = None, **spec: Any) -> DesiredResource:
    """A desired widget; ``parent`` names another widget (a ``{ref: Widget/NAME}``)."""
    body: dict[str, Any] = {"color": "red", "size": 1, **spec}
    if parent is not None:
        body["parent"] = {"ref": f"{KIND}/{parent}"}
    return DesiredResource(
        kind=KIND,
        name=name,
        path=f"agents.d/{name}.yaml",
        line=1,
        spec=body,
        sensitive=WidgetKind(WidgetEngine()).sensitive_paths(body),
    )
