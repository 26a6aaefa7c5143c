"""What an apply reports while it runs (events) and when it ends (result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["stop", "wait", "update", "start", "resolve"]


@dataclass(frozen=True)
class ApplyEvent:
    """One step of one agent: begun, finished, retried or failed."""

    name: str
    action: str
    phase: Phase
    status: Literal["begin", "done", "failed", "note"]
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


@dataclass
class ApplyResult:
    """Every action's outcome, in completion order."""

    results: list[ActionResult] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.ok and r.action == action)
