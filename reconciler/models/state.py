"""The recorded state: what the tool started, with what (redacted) spec, and what is in flight.

One JSON document per project. Specs here are *redacted*: every sensitive value is a salted
digest ``{"$sensitive": "sha256:<hex>"}``, so a changed secret is detected but never stored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from reconciler.models.desired import TokenMode

STATE_VERSION = 1


class AgentRecord(BaseModel):
    """One agent the tool started and believes is running."""

    model_config = ConfigDict(extra="forbid")

    name: str
    agent_id: str
    wire_name: str
    """The ``name`` sent to the engine's join: ``<name>-<generation>``."""
    generation: int
    channel: str
    started_at: FiniteFloat
    token_mode: TokenMode = "none"
    token_expires_at: FiniteFloat | None = None
    spec: dict[str, Any]
    """Redacted spec as applied (after any in-place updates)."""
    spec_digest: str
    """Digest of the redacted spec (canonical JSON)."""


class PendingEntry(BaseModel):
    """A write-ahead journal entry: an engine call that creates or destroys an agent, in flight."""

    model_config = ConfigDict(extra="forbid")

    id: str
    op: Literal["join", "leave"]
    name: str
    wire_name: str
    generation: int
    channel: str
    agent_id: str | None = None
    """Known for a leave; for a join, only once the engine answered."""
    created_at: FiniteFloat
    spec: dict[str, Any] = Field(default_factory=dict)
    """For a join: the redacted spec being started (so a later run can adopt it)."""
    spec_digest: str = ""
    token_mode: TokenMode = "none"
    token_expires_at: FiniteFloat | None = None


class StateDoc(BaseModel):
    """The whole state document."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    lineage: str
    serial: int = 0
    salt: str
    agents: dict[str, AgentRecord] = Field(default_factory=dict)
    pending: list[PendingEntry] = Field(default_factory=list)
