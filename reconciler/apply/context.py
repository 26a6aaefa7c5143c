"""What the apply executor needs from outside: the engine, the state writer, a token minter.

The protocols keep ``apply`` testable and independent of the concrete client and store
(``reconciler.engine.EngineClient`` and ``reconciler.state.LocalStateStore`` satisfy them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.apply.events import ApplyEvent
from reconciler.engine.adopt import AgentFinder
from reconciler.kinds import KindRegistry, default_registry
from reconciler.models import DesiredAgent, LiveAgent, StateDoc

INTERRUPT_GRACE_S = 60.0
"""The default of :attr:`ApplyContext.interrupt_grace_s`."""


class JoinAnswer(Protocol):
    @property
    def agent_id(self) -> str: ...


class EngineOps(AgentFinder, Protocol):
    """The engine calls apply needs (``reconciler.engine.EngineClient`` provides them)."""

    async def join(
        self,
        name: str,
        properties: Mapping[str, Any],
        preset: str | None = None,
        pipeline_id: str | None = None,
    ) -> JoinAnswer: ...

    async def leave(self, agent_id: str) -> bool: ...

    async def update(self, agent_id: str, properties: Mapping[str, Any]) -> None: ...

    async def wait_stopped(
        self, agent_id: str, timeout: float, poll_interval: float = 1.0
    ) -> LiveAgent: ...

    async def get(self, agent_id: str) -> LiveAgent: ...


class StateWriter(Protocol):
    """Where state goes after every step (``reconciler.state.LocalStateStore``)."""

    def write(self, doc: StateDoc) -> StateDoc: ...


@dataclass(frozen=True)
class ActiveListing:
    """The agents the engine listed as active (``models.live.ACTIVE_STATUSES``) in this run's
    refresh, and when (``time.monotonic()``): the capacity check may count them instead of
    listing again (see ``reconciler.apply.starts.check_capacity``)."""

    agent_ids: frozenset[str]
    listed_at: float


TokenMinter = Callable[[DesiredAgent, float], tuple[str, float]]
"""``(agent, now) -> (token, expires_at)`` for agents with ``token: auto``."""


def _ignore(_: ApplyEvent) -> None:
    return None


def _never() -> bool:
    return False


@dataclass
class ApplyContext:
    """Everything the executor needs besides the plan."""

    client: EngineOps
    store: StateWriter
    mint_token: TokenMinter | None = None
    parallelism: int = 10
    max_concurrent_agents: int = 20
    stop_wait_timeout_s: float = 120.0
    poll_interval_s: float = 1.0
    clock: Callable[[], float] = time.time
    on_event: Callable[[ApplyEvent], None] = _ignore
    should_stop: Callable[[], bool] = _never
    """Polled before each action begins: once true, no new action begins (see below)."""
    interrupt_grace_s: float = INTERRUPT_GRACE_S
    """After a stop request, restarts whose old agent was already stopped are still started
    (their new agent) for up to this many seconds, so an interrupt leaves nothing down that it
    could bring back; anything else not begun yet is left for the next run."""
    ready_timeout_s: float | None = None
    """How long each wave of a rolling restart waits for its new agents to be up (``RUNNING``,
    ``IDLE``, ``RECOVERING``) before the next wave is stopped (``apply --wait-timeout``); None
    (``--no-wait``): the join's answer is enough."""
    check_capacity: bool = True
    active_listing: ActiveListing | None = None
    """The refresh's listing of active agents, when it was made under this run's state lock."""
    kinds: KindRegistry = field(default_factory=default_registry)
    """The kinds of the plan's resources, each bound to its engine (their create, update and
    delete calls)."""
