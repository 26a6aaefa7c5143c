"""The drift report: how the engine and the Platform differ from the recorded state, a frozen
value.

``build_drift`` (``reconciler.drift``) makes it; ``reconciler.render.drift`` shows it as text,
markdown or JSON. Like a plan it holds no secret: only names, ids, channels, statuses, the
engine's own exit messages and, for Platform resources, the fields changed outside (values of
sensitive fields never, only their paths). Unlike a plan it can never be applied.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from reconciler.models.liveness import ExitCause
from reconciler.models.plan import FieldChange

DriftKind = Literal["exited", "missing", "unmanaged", "changed"]
"""exited: recorded, ended on the engine; missing: recorded, unknown to the engine; unmanaged:
active in a managed channel, recorded nowhere; changed: recorded, shown differently by the engine.
"""


class DriftItem(BaseModel):
    """One difference between the state and the engine."""

    model_config = ConfigDict(frozen=True)

    kind: DriftKind
    name: str | None
    """The manifest name of a recorded agent; None for an unmanaged one."""
    agent_id: str
    channel: str | None = None
    status: str
    """The engine's status (``MISSING`` when it does not know the agent)."""
    cause: ExitCause | None = None
    """Why it exited (exited and missing items only)."""
    message: str = ""
    """The engine's exit message, when it sent one."""
    reason: str
    """One line saying what drifted."""
    expected: bool
    why: str
    """Why the drift is expected or not, and what the next apply does about it."""
    field: str | None = None
    """For a changed item: what differs (``channel``)."""
    recorded: str | None = None
    live: str | None = None


ResourceDriftKind = Literal["missing", "changed", "unmanaged"]
"""missing: recorded, gone from the Platform; changed: recorded, changed outside this project
(field by field); unmanaged: recorded nowhere, but it uses (references) a recorded resource."""


class ResourceDriftItem(BaseModel):
    """One difference between the state and the Platform, for a resource of a Platform kind."""

    model_config = ConfigDict(frozen=True)

    kind: ResourceDriftKind
    resource_kind: str
    """The resource's kind (``SavedAgent``)."""
    name: str | None
    """Its name in the manifests (the second half of its address); None for an unmanaged one."""
    id: str
    """The Platform's id of it."""
    reason: str
    expected: bool
    why: str
    changes: tuple[FieldChange, ...] = ()
    """For a changed item: each field changed outside, state's value (``before``) and the
    Platform's (``after``); a sensitive field's values are never carried."""
    uses: tuple[str, ...] = ()
    """For an unmanaged item: the recorded resources (addresses) it references."""

    @property
    def address(self) -> str:
        """``KIND/NAME``, or ``KIND id`` for an unmanaged resource (it has no name here)."""
        if self.name is None:
            return f"{self.resource_kind} {self.id}"
        return f"{self.resource_kind}/{self.name}"


class ResourceUse(BaseModel):
    """A Platform resource state does not record, and the ids it references (the Platform's
    lists show them): what ``drift`` judges as unmanaged in use."""

    model_config = ConfigDict(frozen=True)

    resource_kind: str
    id: str
    label: str = ""
    """What the Platform calls it (a number's E.164 digits, an agent's name)."""
    references: tuple[str, ...] = ()


class DriftReport(BaseModel):
    """Every drifted agent, in a fixed order (recorded agents by name, then unmanaged by id)."""

    model_config = ConfigDict(frozen=True)

    app_id: str = ""
    engine: str = ""
    environment: str = ""
    """The environment of ``reconciler.yaml`` checked (empty: the project has none)."""
    lineage: str = ""
    serial: int = 0
    checked_at: float
    recorded: int
    """How many agents the state records."""
    in_sync: int
    """Recorded agents running on the engine as recorded."""
    journal_entries: int = 0
    """Journal entries of an interrupted run, and interrupted creates of resources (the next
    plan or apply resolves them)."""
    items: tuple[DriftItem, ...] = ()
    platform: str = ""
    """The Platform compared, when the state records resources of its kinds (else empty)."""
    resources_recorded: int = 0
    """How many Platform resources the state records."""
    resources_in_sync: int = 0
    """Recorded resources the Platform holds as recorded."""
    resources: tuple[ResourceDriftItem, ...] = ()
    """Every drifted Platform resource: recorded ones by address, then unmanaged ones by id."""

    @property
    def expected(self) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if item.expected)

    @property
    def unexpected(self) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if not item.expected)

    @property
    def expected_resources(self) -> tuple[ResourceDriftItem, ...]:
        return tuple(item for item in self.resources if item.expected)

    @property
    def unexpected_resources(self) -> tuple[ResourceDriftItem, ...]:
        return tuple(item for item in self.resources if not item.expected)

    @property
    def has_unexpected(self) -> bool:
        """Unexpected drift of an agent or of a Platform resource (``drift`` exits 2)."""
        return bool(self.unexpected) or bool(self.unexpected_resources)
