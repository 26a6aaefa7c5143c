"""The apply executor: phases, parallelism, write-ahead journal and state after every action.

Order: state edits (renames and forgets: no engine call), the resources of other kinds
(:mod:`reconciler.apply.resources`: creates and updates after what they reference, deletes
before it), stops of removed agents, in-place
updates (one ``update`` per agent carrying every in-place field), restarts, then starts of new
agents (and of exited ones). Restarts roll: in waves of at most the plan's ``max_unavailable``
agents, each wave stopped, waited for until STOPPED or gone, then started again before the next
wave begins, so no more than that many managed agents are ever down because of this apply. The
capacity cap is checked before every batch of starts (each wave, then the new agents), after
the agents it replaces are stopped. A failure
of one agent never stops the others, except in a rollout: a wave with a failed restart (or, with
``ready_timeout_s``, one not up in time) ends it, as a wave whose starts are refused for
capacity does (no further agent is taken down); a restart whose stop failed does not start a
second copy.

A stop request (SIGTERM, Ctrl-C) lets the actions in progress finish and begins no new one,
except the start half of every restart whose stop went through (for a bounded time), so that an
interrupt does not leave agents down; no further wave begins. A state write failure halts the
run the same way, minus those starts (a start needs a write-ahead entry first). The result then
lists the restarts left stopped and the actions not attempted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping

from reconciler.apply.context import ApplyContext
from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult, StepCall
from reconciler.apply.imports import imported_record
from reconciler.apply.payload import update_properties
from reconciler.apply.readiness import wait_until_up
from reconciler.apply.resources import (
    create_resources,
    delete_removed,
    delete_replaced,
    remove_held,
)
from reconciler.apply.resources import not_attempted as resources_not_attempted
from reconciler.apply.run import AgentChange, Run, fail, guarded, unrecorded
from reconciler.apply.starts import check_capacity, start_phase
from reconciler.errors import ApplyError, EngineError
from reconciler.models import AgentPlan, DesiredSet, JournalEntry, Plan, StateDoc
from reconciler.models.agent_table import AgentTable
from reconciler.models.live import ENDED_STATUSES
from reconciler.models.plan import STATE_ONLY_ACTIONS, ReasonCode
from reconciler.plan import DesiredView
from reconciler.state.edits import drop_record, move_record


async def apply_plan(
    plan: Plan,
    desired: DesiredSet,
    state: StateDoc,
    ctx: ApplyContext,
    views: Mapping[str, DesiredView] | None = None,
) -> tuple[ApplyResult, StateDoc]:
    """Carry out ``plan``; return what happened and the final state (already written).

    ``views``: what the plan computed of the agents it starts, restarts or updates
    (:func:`reconciler.plan.build_plan_with_views`), recorded as they are.
    """
    run = Run(plan=plan, desired=desired, ctx=ctx, doc=state, views=views or {})
    edits = [a for a in plan.agents if a.action in STATE_ONLY_ACTIONS]
    stops = [a for a in plan.agents if a.action == "stop"]
    updates = [a for a in plan.agents if a.action in ("update", "renew-token")]
    restarts = _rollout_order(run, [a for a in plan.agents if a.action == "restart"])
    starts = [a for a in plan.agents if a.action == "start"]

    await _phase(run, edits, _edit_one, "state")
    failed: set[str] = set()  # resources of other kinds whose action failed
    await delete_replaced(run, failed)
    await create_resources(run, failed)
    await delete_removed(run, failed)
    await remove_held(run, failed)
    await _phase(run, stops, _stop_one, "leave")
    if updates and not run.stopping():
        await _phase(run, updates, _update_one, "update")
    await _roll(run, restarts)
    ready = [a for a in starts if run.may_start(a)]
    if ready:
        await _start_batch(run, ready)
    _account(run)
    return run.result, run.doc


def _rollout_order(run: Run, restarts: list[AgentPlan]) -> list[AgentPlan]:
    """Restarts in plan order, then rotations (ahead of the runtime cap), oldest agent first."""
    changed = [a for a in restarts if not a.is_rotation]
    rotations = [a for a in restarts if a.is_rotation]

    def started(action: AgentPlan) -> float:
        record = run.doc.agents.get(action.name)
        return record.started_at if record is not None else 0.0

    return changed + sorted(rotations, key=lambda a: (started(a), a.name))


async def _roll(run: Run, restarts: list[AgentPlan]) -> None:
    """Restart ``restarts`` in waves of at most ``max_unavailable`` (stop, wait, start, wait
    until up).

    The next wave is stopped only once every agent of this one is up again: started and, with
    ``ctx.ready_timeout_s``, reported up by the engine. A restart of the wave that failed (its
    stop, its start, or its readiness) ends the rollout: the later waves keep running their old
    agents and are reported not attempted (the next plan shows them again), so a bad change
    takes down at most one wave.
    """
    width = max(1, run.plan.max_unavailable)
    for first in range(0, len(restarts), width):
        if run.stopping():
            return
        wave = restarts[first : first + width]
        await _phase(run, wave, _stop_one, "leave")
        ready = [a for a in wave if a.name in run.stopped_ok and run.may_start(a)]
        if ready and not await _start_batch(run, ready):
            return
        if first + width >= len(restarts) or run.stopping():
            return
        if run.ctx.ready_timeout_s is not None:
            names = frozenset(a.name for a in wave)
            await wait_until_up(run.ctx, run.result, run.ctx.ready_timeout_s, names)
        restarted = {r.name for r in run.result.results if r.action == "restart" and r.ok}
        failed = [a.name for a in wave if a.name not in restarted]
        if failed and not run.stopping():
            run.result.rollout_halted_by = failed
            return


async def _start_batch(run: Run, ready: list[AgentPlan]) -> bool:
    """Start ``ready`` unless the capacity cap refuses them; whether they were attempted."""
    if run.ctx.check_capacity:
        refused = _capacity_refusals(run)
        await check_capacity(run, len(ready))
        if _capacity_refusals(run) > refused:
            return False
    await start_phase(run, ready)
    return True


def _capacity_refusals(run: Run) -> int:
    return sum(1 for r in run.result.results if r.action == "capacity")


def _account(run: Run) -> None:
    """Fill in what the result says beyond its action outcomes: interruption, what was left."""
    result = run.result
    result.interrupted = run.ctx.should_stop()
    if run.halted is not None:
        result.aborted = str(run.halted)
    running = {
        r.name for r in result.results if r.action == "restart" and (r.ok or r.reached_engine)
    }
    result.left_stopped = [
        a.name
        for a in run.plan.agents
        if a.action == "restart" and a.name in run.stopped_ok and a.name not in running
    ]
    replaced = {r.name for r in result.results if r.action == "replace" and r.ok}
    replaced.update(run.doc.resources)  # what state records was not deleted, or was created
    result.left_deleted = [
        a.address for a in run.plan.resources if a.action == "replace" and a.address not in replaced
    ]
    reported = {r.name for r in result.results} | set(result.left_stopped)
    reported |= {a.name for a in run.plan.agents if a.action == "stop" and a.name in run.stopped_ok}
    result.not_attempted = [
        a.name for a in run.plan.agents if a.action != "no-op" and a.name not in reported
    ] + resources_not_attempted(run)


async def _phase(
    run: Run,
    actions: list[AgentPlan],
    worker: Callable[[Run, AgentPlan], Awaitable[None]],
    call: StepCall,
) -> None:
    """Run ``worker`` over ``actions`` with at most ``parallelism`` agents in progress.

    Each worker takes the next action only while the run is not stopping, so after SIGTERM or
    Ctrl-C (or a failed state write) the actions in progress finish (and are recorded) and no
    new one begins. Each action runs :func:`guarded`: its failure is its result.
    """
    queue = list(reversed(actions))

    async def drain() -> None:
        while queue and not run.stopping():
            action = queue.pop()
            await guarded(run, action, call, worker(run, action))

    workers = min(len(actions), max(1, run.ctx.parallelism))
    await asyncio.gather(*(drain() for _ in range(workers)))
    while run.finishing:
        finishing, run.finishing = run.finishing, []
        await asyncio.gather(*finishing)


async def _edit_one(run: Run, action: AgentPlan) -> None:
    """A rename (the record moves to the new name), a forget (the record is dropped) or an
    adopt (the journal's evidence made an interrupted run's agent a record).

    A pure state edit: no engine call, so no journal entry; the agent keeps running, with its id.
    An adoption is written when apply settles the journal, under the lock and before it plans;
    here it is only confirmed, never made from what a plan says.
    """
    started = run.ctx.clock()
    old = action.renamed_from
    if action.action == "adopt" and action.reason_code == ReasonCode.IMPORTED:
        await _import_one(run, action)
        return
    if action.action == "adopt":
        record = run.doc.agents.get(action.name)
        if record is None or record.agent_id != action.agent_id:
            raise ApplyError(
                f"{action.name}: the adoption of {action.agent_id} was not settled from the "
                f"journal (plan and {run.plan.operation} again)"
            )
        run.result.results.append(
            ActionResult(action.name, "adopt", True, agent_id=action.agent_id)
        )
        return

    def edit(doc: StateDoc) -> StateDoc:
        if action.action == "rename" and old is not None:
            return move_record(doc, old, action.name)[0]
        return drop_record(doc, action.name)[0]

    await run.save(edit)
    run.result.results.append(
        ActionResult(
            action.name,
            action.action,
            True,
            agent_id=action.agent_id,
            duration_s=run.ctx.clock() - started,
        )
    )


async def _import_one(run: Run, action: AgentPlan) -> None:
    """Record the agent of a manifest's ``import:`` entry (see :mod:`reconciler.apply.imports`).

    No journal entry and no engine call but one read: the engine is asked once more that the
    agent is active (a saved plan may be old) and when it started (for the runtime cap).
    """
    started = run.ctx.clock()
    agent = run.desired.agents.get(action.name)
    agent_id = action.agent_id
    if agent is None or agent_id is None or agent.import_id != agent_id:
        # A plan's agent id is not evidence (a saved plan can be edited): the manifest's is.
        raise ApplyError(
            f"{action.name}: import of {agent_id}: the manifest does not name that agent in "
            f"import: (plan and {run.plan.operation} again)"
        )
    recorded = [n for n, r in run.doc.agents.items() if n == action.name or r.agent_id == agent_id]
    if recorded:
        raise ApplyError(
            f"{action.name}: import of {agent_id}: the state records {recorded[0]} already "
            f"(plan and {run.plan.operation} again)"
        )
    live = await run.ctx.client.get(agent_id)
    if not live.active:
        raise ApplyError(f"{action.name}: import of {agent_id}: the agent is {live.status}")
    record = imported_record(
        agent, run.view(action.name), agent_id, started_at=live.start_ts, now=started
    )

    def add(doc: StateDoc) -> StateDoc:
        return doc.model_copy(update={"agents": AgentTable.derive(doc.agents, put=(record,))})

    await run.save(add)
    run.result.results.append(
        ActionResult(
            action.name,
            "adopt",
            True,
            agent_id=agent_id,
            duration_s=run.ctx.clock() - started,
        )
    )


async def _stop_one(run: Run, action: AgentPlan) -> None:
    ctx = run.ctx
    started = ctx.clock()
    record = run.doc.agents.get(action.name)
    # Only what the state records is ever stopped: a plan's agent id is not evidence (a saved
    # plan can be edited), so an action without a record has nothing of ours to stop.
    if record is None:
        run.stopped_ok.add(action.name)
        return
    agent_id = record.agent_id
    entry = JournalEntry(
        id=str(uuid.uuid4()),
        op="leave",
        name=action.name,
        wire_name=record.wire_name,
        generation=record.generation,
        channel=record.channel,
        agent_id=agent_id,
        created_at=started,
    )
    run.emit(ApplyEvent(action.name, action.action, "stop", "begin", agent_id))
    # A restart marks its record ahead of the stop: if the new agent is never started (its join
    # fails, the run is killed), the next plan knows the exit is ours and finishes the restart.
    marked = (record.model_copy(update={"restarting": True}),) if action.action == "restart" else ()
    await run.save(AgentChange(add=(entry,), put=marked))
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
        fail(run, action, exc, started, "leave")
        unmarked = (record,) if marked else ()
        await run.save_or_halt(AgentChange(settle=frozenset((entry.id,)), put=unmarked))
        return
    run.emit(ApplyEvent(action.name, action.action, "stop", "answered", agent_id))

    dropped = frozenset((action.name,)) if action.action == "stop" else frozenset()
    recorded = await run.save_or_halt(AgentChange(settle=frozenset((entry.id,)), drop=dropped))
    run.stopped_ok.add(action.name)
    if not recorded:
        if action.action == "stop":
            unrecorded(run, action, agent_id, started, "stopped")
        return  # a restart's old agent is down: the result lists it as left stopped
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
        or any(c.path == ("token",) for c in action.changes)
    ):
        if ctx.mint_token is None:
            raise RuntimeError("token: auto needs a token minter")
        token, expires = ctx.mint_token(agent, started)
    props = update_properties(agent, action, token)
    run.emit(ApplyEvent(action.name, action.action, "update", "begin", record.agent_id))
    if props:  # a change of state-only fields (protect) alone needs no engine call
        try:
            await run.call(lambda: ctx.client.update(record.agent_id, props))
        except Exception as exc:
            fail(run, action, exc, started, "update")
            return
        run.emit(ApplyEvent(action.name, action.action, "update", "answered", record.agent_id))
    view = run.view(action.name)
    new_record = record.model_copy(
        update={
            "spec": view.spec,
            "spec_digest": view.digest,
            "token_mode": agent.token_mode,
            "token_expires_at": expires if agent.token_mode == "auto" else None,
            "protect": agent.protect,
            "on_delete": agent.on_delete,
            "restart_policy": agent.restart_policy,
        }
    )
    if not await run.save_or_halt(AgentChange(put=(new_record,))):
        unrecorded(run, action, record.agent_id, started, "updated")
        return
    duration = ctx.clock() - started
    run.emit(ApplyEvent(action.name, action.action, "update", "done", record.agent_id, duration))
    run.result.results.append(
        ActionResult(
            action.name, action.action, True, agent_id=record.agent_id, duration_s=duration
        )
    )
