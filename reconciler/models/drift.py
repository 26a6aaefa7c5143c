"""The drift report: how the engine differs from the recorded state, a frozen value.

``build_drift`` (``reconciler.drift``) makes it; ``reconciler.render.drift`` shows it as text,
markdown or JSON. Like a plan it holds no secret: only names, ids, channels, statuses and the
engine's own exit messages. Unlike a plan it can never be applied.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from reconciler.models.liveness import ExitCause

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
    """Journal entries of an interrupted run (the next plan or apply resolves them)."""
    items: tuple[DriftItem, ...] = ()

    @property
    def expected(self) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if item.expected)

    @property
    def unexpected(self) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if not item.expected)

    @property
    def has_unexpected(self) -> bool:
        return any(not item.expected for item in self.items)
