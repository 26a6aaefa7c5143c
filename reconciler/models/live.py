"""What the engine reports about agents: the result of a refresh.

``LiveStatus.refreshed`` is False when the plan was made without asking the engine
(``--no-refresh``); then ``agents`` is empty and means nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

STATUS_CODES = {
    "IDLE": 0,
    "STARTING": 1,
    "RUNNING": 2,
    "STOPPING": 3,
    "STOPPED": 4,
    "RECOVERING": 5,
    "FAILED": 6,
}
"""Each status the engine names in a body, and the number its ``state`` filter takes."""
ACTIVE_STATUSES = frozenset({"IDLE", "STARTING", "RUNNING", "RECOVERING"})
"""Statuses of an agent that is (or is about to be) in its channel, holding its name there:
the one definition of "active" (``docs/engine-api.md``, Agent status). IDLE counts: what it
means for an agent of this API is undocumented, and an agent that may still hold its name and
channel must never be taken for gone (that would start a second one beside it)."""
ACTIVE_STATE_CODES: tuple[int, ...] = tuple(sorted(STATUS_CODES[s] for s in ACTIVE_STATUSES))
"""The ``state`` filter of a list of the active agents: ``0,1,2,5``."""
ENDED_STATUSES = frozenset({"STOPPED", "FAILED"})


class LiveAgent(BaseModel):
    """One agent as the engine reports it (list item or GET)."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    status: str
    """Status name as the engine sends it (``RUNNING``, ``STOPPED``, ...); ``MISSING`` for a 404."""
    start_ts: int | None = None
    stop_ts: int | None = None
    message: str | None = None
    """Exit reason from GET, when the agent ended."""
    channel: str | None = None
    """Known only when the agent was found by a channel-filtered list."""
    join_name: str | None = None
    """The name it was joined with (the engine's ``turns`` answer), asked only for the agent of
    an ``import:`` entry the state does not record yet."""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class LiveResource(BaseModel):
    """A resource of another kind as the engine holds it now."""

    model_config = ConfigDict(frozen=True)

    version: str | None = None
    """Its version (``ETag``) as read."""
    spec: dict[str, Any]
    """What the engine shows of it, in the form of the spec its kind records (write-only
    fields, which the engine never returns, are absent)."""


class LiveStatus(BaseModel):
    """The engine's view, keyed by agent id."""

    model_config = ConfigDict(frozen=True)

    refreshed: bool = False
    agents: dict[str, LiveAgent] = Field(default_factory=dict)
    fetched_at: float = 0.0
    resources: dict[str, LiveResource | None] = Field(default_factory=dict)
    """Recorded resources of other kinds as their kind read them, by address (``None``: the
    engine no longer holds it; an address left out was not read)."""
