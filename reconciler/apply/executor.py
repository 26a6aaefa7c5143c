"""The apply executor: phases, parallelism, write-ahead journal and state after every action.

Order (DESIGN section 7): stops (removals and the stop half of restarts), wait until those
agents are STOPPED or gone, in-place updates (one ``update`` per agent carrying every in-place
field), starts (new agents, drift and the start half of restarts). A failure of one agent never
stops the others; a restart whose stop failed does not start a second copy.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from reconciler.apply.context import ApplyContext
from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult
from reconciler.apply.payload import update_properties
from reconciler.apply.run import Run, drop_pending, fail
from reconciler.apply.starts import check_capacity, start_phase
from reconciler.errors import EngineError
from reconciler.models import AgentPlan, DesiredSet, PendingEntry, Plan, StateDoc
from reconciler.models.live import ENDED_STATUSES
from reconciler.plan import desired_view


async def apply_plan(
    plan: Plan, desired: DesiredSet, state: StateDoc, ctx: ApplyContext
) -> tuple[ApplyResult, StateDoc]:
    """Carry out ``plan``; return what happened and the final state (already written)."""
    run = Run(plan=plan, desired=desired, ctx=ctx, doc=state)
    run.sem = asyncio.Semaphore(max(1, ctx.parallelism))
    stops = [a for a in plan.agents if a.action in ("stop", "restart")]
    updates = [a for a in plan.agents if a.action in ("update", "renew-token")]
    starts = [a for a in plan.agents if a.action in ("start", "restart")]

    await _phase(run, stops, _stop_one)
    if updates and not ctx.should_stop():
        await _phase(run, updates, _update_one)
    if starts and not ctx.should_stop():
        ready = [a for a in starts if a.action == "start" or a.name in run.stopped_ok]
        if ready and ctx.check_capacity:
            await check_capacity(run, len(ready))
        if not any(r.action == "capacity" for r in run.result.results):
            await start_phase(run, ready)
    run.result.interrupted = ctx.should_stop()
    return run.result, run.doc


async def _phase(
    run: Run, actions: list[AgentPlan], worker: Callable[[Run, AgentPlan], Awaitable[None]]
) -> None:
    """Run ``worker`` over ``actions`` with at most ``parallelism`` agents in progress.

    Each worker takes the next action only while no stop was requested, so after SIGTERM or
    Ctrl-C the actions in progress finish (and are recorded) and no new one begins.
    """
    queue = list(reversed(actions))

    async def drain() -> None:
        while queue and not run.ctx.should_stop():
            await worker(run, queue.pop())

    workers = min(len(actions), max(1, run.ctx.parallelism))
    await asyncio.gather(*(drain() for _ in range(workers)))
    while run.finishing:
        finishing, run.finishing = run.finishing, []
        await asyncio.gather(*finishing)


async def _stop_one(run: Run, action: AgentPlan) -> None:
    ctx = run.ctx
    started = ctx.clock()
    record = run.doc.agents.get(action.name)
    agent_id = record.agent_id if record else action.agent_id
    if agent_id is None:
        run.stopped_ok.add(action.name)
        return
    entry = PendingEntry(
        id=str(uuid.uuid4()),
        op="leave",
        name=action.name,
        wire_name=record.wire_name if record else action.name,
        generation=record.generation if record else action.generation,
        channel=record.channel if record else (action.channel or ""),
        agent_id=agent_id,
        created_at=started,
    )
    run.emit(ApplyEvent(action.name, action.action, "stop", "begin", agent_id))
    await run.save(lambda d: d.model_copy(update={"pending": [*d.pending, entry]}))
    try:
        await run.call(lambda: ctx.client.leave(agent_id))
        final = await run.call(
            lambda: ctx.client.wait_stopped(agent_id, ctx.stop_wait_timeout_s, ctx.poll_interval_s)
        )
        if final.status not in ENDED_STATUSES and final.status != "MISSING":
            raise EngineError(
                f"agent {agent_id} still {final.status} after {ctx.stop_wait_timeout_s:.0f}s",
                reason="StopTimeout",
                detail=f"still {final.status} after {ctx.stop_wait_timeout_s:.0f}s",
            )
    except Exception as exc:
        await run.save(lambda d: drop_pending(d, entry.id))
        fail(run, action, exc, started, "leave")
        return

    def done(d: StateDoc) -> StateDoc:
        d = drop_pending(d, entry.id)
        if action.action == "stop":
            agents = {k: v for k, v in d.agents.items() if k != action.name}
            d = d.model_copy(update={"agents": agents})
        return d

    await run.save(done)
    run.stopped_ok.add(action.name)
    duration = ctx.clock() - started
    run.emit(ApplyEvent(action.name, action.action, "stop", "done", agent_id, duration))
    if action.action == "stop":
        run.result.results.append(
            ActionResult(action.name, "stop", True, agent_id=agent_id, duration_s=duration)
        )


async def _update_one(run: Run, action: AgentPlan) -> None:
    ctx = run.ctx
    started = ctx.clock()
    agent = run.desired.agents[action.name]
    record = run.doc.agents[action.name]
    token: str | None = None
    expires: float | None = record.token_expires_at
    if agent.token_mode == "auto" and (
        action.action == "renew-token"
        or record.token_mode != "auto"
        or any(c.path == "token" for c in action.changes)
    ):
        if ctx.mint_token is None:
            raise RuntimeError("token: auto needs a token minter")
        token, expires = ctx.mint_token(agent, started)
    props = update_properties(agent, action, token)
    run.emit(ApplyEvent(action.name, action.action, "update", "begin", record.agent_id))
    try:
        await run.call(lambda: ctx.client.update(record.agent_id, props))
    except Exception as exc:
        fail(run, action, exc, started, "update")
        return
    view = desired_view(agent, run.doc.salt)
    new_record = record.model_copy(
        update={
            "spec": view.spec,
            "spec_digest": view.digest,
            "token_mode": agent.token_mode,
            "token_expires_at": expires if agent.token_mode == "auto" else None,
        }
    )
    await run.save(lambda d: d.model_copy(update={"agents": {**d.agents, action.name: new_record}}))
    duration = ctx.clock() - started
    run.emit(ApplyEvent(action.name, action.action, "update", "done", record.agent_id, duration))
    run.result.results.append(
        ActionResult(
            action.name, action.action, True, agent_id=record.agent_id, duration_s=duration
        )
    )
