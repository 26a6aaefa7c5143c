"""After the starts: wait until every agent started (or restarted) is up, or say why not.

A join is answered while the engine still reports the agent ``STARTING``; an apply that says
"complete" then has not seen one agent run. :func:`wait_until_up` reads the engine's list of
agents (one paged list per poll for the whole apply, not a GET per agent) until each agent this
apply started is up (``RUNNING``; ``IDLE`` and ``RECOVERING`` are up too, and named), has ended
(``FAILED``, ``STOPPED``: one GET each for the engine's reason, and its action is failed with it)
or the wait's timeout has passed (its action is failed: still ``STARTING``).

The agent stays recorded either way (it was started): the next plan restarts one that failed.
Each waited agent reports phase ``wait`` (``begin``, then ``done`` naming the state reached, or
``failed``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from reconciler.apply.context import ApplyContext
from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult
from reconciler.engine import ALL_STATES, REFRESH_WINDOW_S
from reconciler.errors import EngineError

UP_STATUSES = frozenset({"RUNNING", "IDLE", "RECOVERING"})
"""What counts as up: the agent is in its channel and working (or waiting for users)."""
WAITED_ACTIONS = frozenset({"start", "restart"})
"""The actions that have a readiness to wait for: they start an agent."""


async def wait_until_up(
    ctx: ApplyContext,
    result: ApplyResult,
    timeout_s: float,
    names: frozenset[str] | None = None,
) -> None:
    """Wait for the agents ``result`` started; a failed wait turns its action into a failure.

    ``names``: only those (a wave of a rolling restart, waited for before the next wave is
    stopped). An agent waited for once (:attr:`ApplyResult.waited`) is not waited for again. A
    stop request ends a wave's wait without failing anyone (the wait after the apply is skipped
    then too: the agents were started, their readiness is unknown).
    """
    waiting = {
        r.name: r
        for r in result.results
        if r.ok
        and r.action in WAITED_ACTIONS
        and r.agent_id
        and r.name not in result.waited
        and (names is None or r.name in names)
    }
    if not waiting:
        return
    if names is not None and ctx.should_stop():
        return
    result.waited.update(waiting)
    began = ctx.clock()
    for r in waiting.values():
        ctx.on_event(ApplyEvent(r.name, r.action, "wait", "begin", r.agent_id))
    outcome: dict[str, ActionResult] = {}
    while waiting:
        try:
            listed = await ctx.client.list_agents(
                states=ALL_STATES, from_time=int(began - REFRESH_WINDOW_S)
            )
        except EngineError as exc:
            for r in waiting.values():
                outcome[r.name] = _failed(ctx, r, began, "NotConfirmed",
                                          f"could not read the engine's status: {exc}")  # fmt: skip
            break
        status = {agent.agent_id: agent.status for agent in listed}
        for name, r in list(waiting.items()):
            now = status.get(str(r.agent_id), "MISSING")
            if now in UP_STATUSES:
                waited = ctx.clock() - began
                ctx.on_event(ApplyEvent(name, r.action, "wait", "done", r.agent_id, waited, now))
                del waiting[name]
            elif now not in ("STARTING", "MISSING"):
                outcome[name] = _failed(ctx, r, began, now, await _why(ctx, str(r.agent_id), now))
                del waiting[name]
        if not waiting:
            break
        if names is not None and ctx.should_stop():
            result.waited.difference_update(waiting)
            break
        if ctx.clock() - began >= timeout_s or ctx.should_stop():
            why = "the wait was interrupted" if ctx.should_stop() else f"after {timeout_s:g}s"
            for name, r in waiting.items():
                state = status.get(str(r.agent_id), "MISSING")
                outcome[name] = _failed(ctx, r, began, "NotReady",
                                        f"started, but still {state} {why}")  # fmt: skip
            break
        await asyncio.sleep(ctx.poll_interval_s)
    result.results[:] = [outcome.get(r.name, r) if r.ok else r for r in result.results]


async def _why(ctx: ApplyContext, agent_id: str, status: str) -> str:
    """The engine's reason an agent ended (one GET), or its status alone."""
    try:
        agent = await ctx.client.get(agent_id)
    except EngineError:
        return f"the engine reports it {status}"
    message = (agent.message or "").strip()
    return (
        f"the engine reports it {agent.status}: {message}"
        if message
        else (f"the engine reports it {agent.status}")
    )


def _failed(
    ctx: ApplyContext, r: ActionResult, began: float, reason: str, detail: str
) -> ActionResult:
    duration = ctx.clock() - began
    ctx.on_event(ApplyEvent(r.name, r.action, "wait", "failed", r.agent_id, duration, detail))
    return replace(r, ok=False, reason=reason, detail=detail)
