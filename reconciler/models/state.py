"""The recorded state: what the tool started, with what (redacted) spec, and what is in flight.

One JSON document per project. Specs here are *redacted*: every sensitive value is a salted
digest ``{"$sensitive": "sha256:<hex>"}``, so a changed secret is detected but never stored.

Validation is strict: a value of the wrong JSON type is an error, never converted (a
``"version": "2"`` read as the number 2 would be written back as a version this tool refuses),
the lineage is a UUID, serial and generations are non-negative integers (generations at most
:data:`MAX_GENERATION`), and every agent record carries the name it is filed under. Whatever a
later request would carry is held to the engine's rules here, so a hand-edited state cannot
make an invalid request: names are manifest names, channels follow the engine's channel rules,
wire names are at most :data:`MAX_WIRE_NAME_CHARS` characters of ``[a-z0-9-]``, agent ids are
1 to 128 URL-safe characters. One agent id recorded under two names, or one wire name recorded
twice, is refused: the state would manage one agent twice.

Version 2 records the App ID and the engine the state belongs to (``app_id``, ``engine``; see
:mod:`reconciler.state.binding`). A version 1 document has neither: it is read as it is, and
takes the project's App ID and engine at its next write. Version 3 adds the name of the
environment the state belongs to (``environment``, null for a project without environments);
a version 1 or 2 document has none and takes it at its next write in an environment.
"""

from __future__ import annotations

import re
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
    model_validator,
)

from reconciler.errors import printable
from reconciler.models.desired import OnDelete, RestartPolicy, TokenMode
from reconciler.models.manifest import NAME_PATTERN
from reconciler.models.resources import PendingCreate, ResourceRecord
from reconciler.models.rules import CHANNEL_PATTERN

STATE_VERSION = 3
"""The format this tool writes; it reads versions 1 (no App ID, no engine), 2 (no environment)
and 3."""
MAX_GENERATION = 999_999
"""Largest generation a state may record (a million restarts of one agent): with the longest
name and the lineage tag, the wire name stays within :data:`MAX_WIRE_NAME_CHARS`."""
MAX_WIRE_NAME_CHARS = 64
"""Longest wire name sent to the engine (see docs/engine-api.md, "Names")."""
WIRE_NAME_PATTERN = rf"^[a-z0-9][a-z0-9-]{{0,{MAX_WIRE_NAME_CHARS - 1}}}$"
AGENT_ID_PATTERN = r"^[A-Za-z0-9._~:-]{1,128}$"
"""An agent id as the engine hands them out; anything else cannot go into a request path."""

_STRICT = ConfigDict(extra="forbid", strict=True)


class AgentRecord(BaseModel):
    """One agent the tool started and believes is running."""

    model_config = _STRICT

    name: str = Field(pattern=NAME_PATTERN)
    agent_id: str = Field(pattern=AGENT_ID_PATTERN)
    wire_name: str = Field(pattern=WIRE_NAME_PATTERN)
    """The ``name`` sent to the engine's join: ``<name>-<generation>-<lineage tag>`` (before
    version 2 of the format: ``<name>-<generation>``, kept until the agent's next restart)."""
    generation: int = Field(ge=0, le=MAX_GENERATION)
    channel: str = Field(pattern=CHANNEL_PATTERN)
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
    restart_policy: RestartPolicy | None = None
    """The manifest's ``restart_policy`` as last applied, which ``watch --heal-only`` heals by
    (a change of it in the manifest waits for review); None in a record written before it was
    recorded (then the manifest's is taken). Written only when not None."""
    restarting: bool = False
    """An apply is restarting this agent: written ahead of the stop of its restart, cleared when
    the stop fails or the new agent is recorded. While it is set and the agent is not running,
    the exit is the apply's own (its restart was left half done), so the next plan starts the
    agent whatever its ``restart_policy``. Written only when true."""

    @model_serializer(mode="wrap")
    def _omit_unrecorded_policy(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.restart_policy is None:  # older records stay byte-identical when rewritten
            data.pop("restart_policy", None)
        if not self.restarting:
            data.pop("restarting", None)
        return data


class JournalEntry(BaseModel):
    """A write-ahead journal entry: an engine call that creates or destroys an agent, in flight."""

    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64)
    op: Literal["join", "leave"]
    name: str = Field(pattern=NAME_PATTERN)
    wire_name: str = Field(pattern=WIRE_NAME_PATTERN)
    generation: int = Field(ge=0, le=MAX_GENERATION)
    channel: str = Field(pattern=CHANNEL_PATTERN)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN)
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
    app_id: str | None = Field(default=None, min_length=1)
    """The App ID the state belongs to (None: a version 1 state, not yet bound)."""
    engine: str | None = Field(default=None, min_length=1)
    """The engine's identity (:attr:`~reconciler.models.settings.Settings.engine_identity`);
    None as for ``app_id``."""
    environment: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,30}$")
    """The name of the environment the state belongs to (``reconciler.yaml`` ``environments:``);
    None for a project without environments, or a state written before version 3. Held to the
    rule of environment names (:data:`reconciler.manifests.environments.NAME_PATTERN`)."""
    agents: dict[str, AgentRecord] = Field(default_factory=dict)
    journal: list[JournalEntry] = Field(default_factory=list, alias="pending")
    """The write-ahead journal, in the order its entries were written; stored under
    ``pending`` (the key of the document's format)."""
    resources: dict[str, ResourceRecord] = Field(default_factory=dict)
    """Resources of the kinds other than ``Agent``, by address (``KIND/NAME``). Left out of the
    document when empty, so a state of agents only is written byte for byte as before (and an
    older reconciler, which does not know the key, refuses a state that has some)."""

    creating: dict[str, PendingCreate] = Field(default_factory=dict)
    """The write-ahead entries of resources' creates, by address; left out when empty."""

    def held_resources(self) -> list[ResourceRecord]:
        """Every resource state holds on the engine: each record and each of its deposed ones
        (the old resources of replacements not deleted yet), which are ours as well."""
        return [h for r in self.resources.values() for h in (r, *r.deposed)]

    @model_serializer(mode="wrap")
    def _omit_no_resources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.resources:
            data.pop("resources", None)
        if not self.creating:
            data.pop("creating", None)
        return data

    @field_validator("lineage")
    @classmethod
    def _lineage_is_a_uuid(cls, value: str) -> str:
        try:
            canonical = str(uuid.UUID(value))
        except ValueError:
            canonical = ""
        if not canonical or canonical != value.lower():
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

    @model_validator(mode="after")
    def _one_name_per_agent(self) -> StateDoc:
        """One agent id, and one wire name, is recorded under one name only."""
        for field, key in (("agent_id", "agent id"), ("wire_name", "wire name")):
            seen: dict[str, str] = {}
            for name, record in self.agents.items():
                value = getattr(record, field)
                other = seen.setdefault(value, name)
                if other != name:
                    raise ValueError(
                        f"agents.{other}.{field} and agents.{name}.{field}: the {key} {value} "
                        "is recorded under two names (one agent would be managed twice)"
                    )
        return self


def lineage_tag(lineage: str) -> str:
    """The part of a lineage that goes into wire names: its first 8 hexadecimal digits."""
    return lineage.replace("-", "")[:LINEAGE_TAG_CHARS].lower()


LINEAGE_TAG_CHARS = 8
"""Length of :func:`lineage_tag` (32 bits: two states' tags collide once in 4 billion pairs)."""
_TAGGED = re.compile(rf"^.+-[0-9]+-(?P<tag>[0-9a-f]{{{LINEAGE_TAG_CHARS}}})$")
"""A wire name a state of this tool sent: ``<name>-<generation>-<lineage tag>``."""


def foreign_tag(join_name: str, lineage: str) -> str | None:
    """The lineage tag of another state in ``join_name`` (the name an agent was joined with),
    or ``None`` when it is no wire name of this tool or one of the state of ``lineage``. An
    agent joined with another state's wire name is that state's: another environment or
    project on the App ID manages it."""
    match = _TAGGED.match(join_name)
    if match is None or match["tag"] == lineage_tag(lineage):
        return None
    return match["tag"]


def another_states(join_name: str, tag: str) -> str:
    """Why an agent joined as ``join_name`` (carrying the lineage tag ``tag`` of another state)
    is not this state's to take: the words of ``import`` and of an ``import:`` entry."""
    return (
        f"the engine names it {printable(join_name)}, a name another state of reconciler sent "
        f"(tag {tag}; another environment or project on this App ID): that state manages it, "
        "and its apply or destroy would stop it too"
    )
