"""How a recorded agent stands on the engine: running, exited (and why), or missing.

One classification, shared by the plan (which restarts an exited agent and says why) and by
drift (which reports it and decides whether it was expected). The engine says why an agent
ended only in free text (GET's ``message``, such as ``agent exits with reason: idle timeout``),
so the cause is read from that text by keyword; an unrecognised message keeps the cause
``exited`` and the message itself.

Also here: which exits an agent's ``restart_policy`` expects (:func:`exit_expected`, used by
the plan, which then does not start it again, and by drift, which then reports it expected), and
which live agents are *unmanaged* (active, yet recorded neither in state nor in a
journal entry), used by the plan's warnings and capacity count and by drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.models.desired import RestartPolicy
from reconciler.models.live import ACTIVE_STATUSES, LiveAgent, LiveStatus
from reconciler.models.state import AgentRecord, StateDoc

ROUTINE_EXITS: frozenset[str] = frozenset({"idle-timeout", "runtime-cap"})
"""Exits that are the engine working as designed (``on-failure`` leaves them alone)."""

ExitCause = Literal[
    "missing",
    "failed",
    "idle-timeout",
    "runtime-cap",
    "token-expired",
    "exited",
    "restart-unfinished",
]
"""Why an agent is no longer running: unknown to the engine, failed, one of the known exits, or
stopped by an apply that restarted it and did not start its new agent."""

MISSING_TEXT = "the engine does not know the agent"
UNFINISHED_TEXT = "an apply stopped it to restart it and did not start it again"

# Keywords of the engine's exit message, checked in this order (a message naming two causes
# is attributed to the first).
_MESSAGE_CAUSES: tuple[tuple[ExitCause, tuple[str, ...]], ...] = (
    ("token-expired", ("token expired", "token has expired", "token expire")),
    ("idle-timeout", ("idle timeout", "idle_timeout", "idle-timeout")),
    ("runtime-cap", ("maximum runtime", "max runtime", "max_runtime", "72h", "72 h")),
)


@dataclass(frozen=True)
class AgentExit:
    """A recorded agent that is not running: its cause, the engine's status and message."""

    cause: ExitCause
    status: str
    """The engine's status (``STOPPED``, ``FAILED``, ``STOPPING``, ...; ``MISSING`` for a 404)."""
    message: str
    """The engine's exit message, stripped ('' when it sent none)."""

    @property
    def reason(self) -> str:
        """The one-line reason the plan and drift show (``failed: <engine message>``)."""
        if self.cause == "missing":
            return f"missing: {MISSING_TEXT}"
        if self.cause == "restart-unfinished":
            return f"restart unfinished: {UNFINISHED_TEXT} ({self.status.lower()})"
        if self.status == "FAILED":
            return f"failed: {self.message or 'no message from the engine'}"
        if self.status in ("STOPPED", "STOPPING"):
            return f"exited: {self.message or self.status.lower()}"
        return f"exited: status {self.status}"


def agent_exit(agent_id: str, live: LiveStatus) -> AgentExit | None:
    """Why agent ``agent_id`` no longer runs; None if it does (or the engine was not asked)."""
    if not live.refreshed:
        return None
    agent = live.agents.get(agent_id)
    if agent is None or agent.status == "MISSING":
        return AgentExit(cause="missing", status="MISSING", message="")
    if agent.status in ACTIVE_STATUSES:
        return None
    message = (agent.message or "").strip()
    return AgentExit(cause=_cause(agent.status, message), status=agent.status, message=message)


def record_exit(record: AgentRecord, live: LiveStatus) -> AgentExit | None:
    """Why the agent of ``record`` no longer runs (:func:`agent_exit`), or None if it does.

    A record marked ``restarting`` whose agent is not running was stopped by an apply's restart
    that did not start the new agent: its cause is ``restart-unfinished`` whatever the engine
    says (``missing`` too: a stopped agent leaves the engine's list in time).
    """
    exited = agent_exit(record.agent_id, live)
    if exited is None or not record.restarting:
        return exited
    return AgentExit(cause="restart-unfinished", status=exited.status, message=exited.message)


def _cause(status: str, message: str) -> ExitCause:
    if status == "FAILED":
        return "failed"
    lowered = message.lower()
    for cause, words in _MESSAGE_CAUSES:
        if any(word in lowered for word in words):
            return cause
    return "exited"


def exit_expected(policy: RestartPolicy, cause: ExitCause) -> bool:
    """Whether an agent with ``policy`` that exited with ``cause`` is meant to stay down.

    ``always`` heals every exit; ``on-failure`` heals all but the routine ones (idle timeout,
    the runtime cap); ``never`` heals none (drift only reports it). A restart left unfinished is
    no exit of the agent's own: every policy heals it.
    """
    if cause == "restart-unfinished":
        return False
    if policy == "never":
        return True
    if policy == "on-failure":
        return cause in ROUTINE_EXITS
    return False


def unmanaged_agents(state: StateDoc, live: LiveStatus) -> list[LiveAgent]:
    """Active live agents that neither a record nor a journal entry names, by agent id."""
    if not live.refreshed:
        return []
    recorded = {r.agent_id for r in state.agents.values()}
    recorded |= {p.agent_id for p in state.journal if p.agent_id}
    return [
        live.agents[agent_id]
        for agent_id in sorted(live.agents)
        if live.agents[agent_id].active and agent_id not in recorded
    ]
