"""The recorded state: what the tool started, with what (redacted) spec, and what is in flight.

One JSON document per project. Specs here are *redacted*: every sensitive value is a salted
digest ``{"$sensitive": "sha256:<hex>"}``, so a changed secret is detected but never stored.

Validation is strict: a value of the wrong JSON type is an error, never converted (a
``"version": "2"`` read as the number 2 would be written back as a version this tool refuses),
the lineage is a UUID, serial and generations are non-negative integers, and every agent record
carries the name it is filed under.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from reconciler.models.desired import OnDelete, TokenMode
from reconciler.models.resources import ResourceRecord

STATE_VERSION = 1

_STRICT = ConfigDict(extra="forbid", strict=True)


class AgentRecord(BaseModel):
    """One agent the tool started and believes is running."""

    model_config = _STRICT

    name: str
    agent_id: str
    wire_name: str
    """The ``name`` sent to the engine's join: ``<name>-<generation>``."""
    generation: int = Field(ge=0)
    channel: str
    started_at: FiniteFloat
    token_mode: TokenMode = "none"
    token_expires_at: FiniteFloat | None = None
    spec: dict[str, Any]
    """Redacted spec as applied (after any in-place updates)."""
    spec_digest: str
    """Digest of the redacted spec (canonical JSON)."""
    protect: bool = False
    """The manifest's ``protect`` as last applied (absent in older state files: False)."""
    on_delete: OnDelete = "stop"
    """The manifest's ``lifecycle.on_delete`` as last applied: ``forget`` drops the record and
    leaves the agent running when the manifest is removed."""


class JournalEntry(BaseModel):
    """A write-ahead journal entry: an engine call that creates or destroys an agent, in flight."""

    model_config = _STRICT

    id: str
    op: Literal["join", "leave"]
    name: str
    wire_name: str
    generation: int = Field(ge=0)
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

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    version: int = Field(default=STATE_VERSION, ge=1)
    lineage: str
    """A UUID, fixed when the document is created."""
    serial: int = Field(default=0, ge=0)
    salt: str = Field(min_length=1)
    agents: dict[str, AgentRecord] = Field(default_factory=dict)
    journal: list[JournalEntry] = Field(default_factory=list, alias="pending")
    """The write-ahead journal, in the order its entries were written; stored under
    ``pending`` (the key of the document's format)."""
    resources: dict[str, ResourceRecord] = Field(default_factory=dict)
    """Resources of the kinds other than ``Agent``, by address (``KIND/NAME``). Left out of the
    document when empty, so a state of agents only is written byte for byte as before (and an
    older reconciler, which does not know the key, refuses a state that has some)."""

    @model_serializer(mode="wrap")
    def _omit_no_resources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.resources:
            data.pop("resources", None)
        return data

    @field_validator("lineage")
    @classmethod
    def _lineage_is_a_uuid(cls, value: str) -> str:
        try:
            canonical = str(uuid.UUID(value))
        except ValueError:
            canonical = ""
        if canonical != value.lower():
            raise ValueError("must be a UUID (8-4-4-4-12 hexadecimal digits)")
        return value

    @field_validator("agents")
    @classmethod
    def _records_carry_their_key(cls, agents: dict[str, AgentRecord]) -> dict[str, AgentRecord]:
        for key, record in agents.items():
            if record.name != key:
                raise ValueError(f"the record under {key!r} is named {record.name!r}")
        return agents

    @field_validator("resources")
    @classmethod
    def _resources_carry_their_address(
        cls, resources: dict[str, ResourceRecord]
    ) -> dict[str, ResourceRecord]:
        for key, record in resources.items():
            if record.address != key:
                raise ValueError(f"the resource under {key!r} is {record.address!r}")
        return resources
