"""What an apply reports while it runs (events) and when it ends (result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["stop", "wait", "update", "start", "resolve", "create", "delete", "state"]
"""What a step attempts: an agent's ``stop``, ``update`` (in place) or ``start`` and the
``wait`` for it to run; a resource's ``create``, ``update`` or ``delete`` (a replace is a
delete, then a create); ``state``: a state-only edit (rename, forget, adopt)."""

StepCall = Literal["join", "leave", "update", "create", "delete", "state"]
"""The call a step makes, as a failure's ``detail`` names it (``join: ...``)."""

_CALL_PHASES: dict[StepCall, Phase] = {
    "join": "start",
    "leave": "stop",
    "update": "update",
    "create": "create",
    "delete": "delete",
    "state": "state",
}


def phase_of(call: StepCall) -> Phase:
    """The event phase of a step named by its call (``join``, ``leave``, ``update``,
    ``create``, ``delete``, ``state``): a failure names the step that was attempted."""
    return _CALL_PHASES[call]


@dataclass(frozen=True)
class ApplyEvent:
    """One step of one agent: begun, answered by the engine, finished (recorded), or failed.

    ``answered`` comes when the step's engine call returned, ``done`` once its outcome is
    recorded in state: a start's record is written while its worker already sends the next
    join, so ``answered`` is what tells that the call is no longer in flight.
    """

    name: str
    action: str
    phase: Phase
    status: Literal["begin", "answered", "done", "failed", "note"]
    agent_id: str | None = None
    duration_s: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class ActionResult:
    """The outcome of one planned action."""

    name: str
    action: str
    ok: bool
    agent_id: str | None = None
    previous_agent_id: str | None = None
    duration_s: float = 0.0
    reason: str = ""
    """The engine's ``reason`` code on failure (``TaskConflict``, ...)."""
    detail: str = ""
    """Human explanation on failure, or a note on success (e.g. "adopted after 409")."""
    reached_engine: bool = False
    """On failure: the engine carried the action out, but the state could not record it (the
    write-ahead journal on disk still covers it, so the next run settles it)."""


@dataclass
class ApplyResult:
    """Every action's outcome, in completion order, and what was left undone."""

    results: list[ActionResult] = field(default_factory=list)
    interrupted: bool = False
    """A stop was requested (SIGTERM, Ctrl-C); what was in progress was finished."""
    aborted: str = ""
    """Why the run stopped beginning actions on its own (the state could not be written)."""
    left_stopped: list[str] = field(default_factory=list)
    """Restarts whose old agent was stopped and whose new one is not running."""
    left_deleted: list[str] = field(default_factory=list)
    """Replacements (addresses) whose old resource was deleted and whose new one state does not
    record: the resource is gone until an apply creates it."""
    not_attempted: list[str] = field(default_factory=list)
    """Planned actions never begun (after an interrupt, an abort, a capacity refusal, or a
    rollout ended by a failed restart)."""
    rollout_halted_by: list[str] = field(default_factory=list)
    """The restarts whose failure (stop, start, or not up in time) ended the rolling restart:
    no later wave was begun."""
    waited: set[str] = field(default_factory=set)
    """Names whose readiness was waited for already (each wave of a rollout is, before the
    next is stopped): the wait after the apply does not wait for them again."""
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]

    @property
    def unrecorded(self) -> list[ActionResult]:
        """Failures that reached the engine: done there, missing from the state."""
        return [r for r in self.results if not r.ok and r.reached_engine]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.aborted

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.ok and r.action == action)
