"""The start phase: write-ahead entry, join, record; 409 adoption; the capacity check.

Starts into one channel are serialized (a per-channel lock held from the write-ahead entry
until the result is recorded), so at most one join per channel is ever unresolved: a run killed
mid-join leaves an entry that the next run can match to the one unrecorded agent in that
channel, even when several managed agents share the channel.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from reconciler.apply.events import ActionResult, ApplyEvent
from reconciler.apply.records import agent_record
from reconciler.apply.records import wire_name as record_wire_name
from reconciler.apply.run import Run, drop_pending, fail, guarded, unrecorded
from reconciler.engine import ACTIVE_STATE_CODES, REFRESH_WINDOW_S, find_conflicting
from reconciler.errors import EngineError
from reconciler.models import AgentPlan, AgentRecord, DesiredAgent, PendingEntry, StateDoc
from reconciler.plan import desired_view


async def start_phase(run: Run, actions: list[AgentPlan]) -> None:
    """Start ``actions`` with at most ``parallelism`` joins in flight (see :func:`_phase`).

    Each worker writes the next agent's write-ahead entry while its current join is in flight,
    so a join goes out as soon as the previous one is answered instead of after a state write.
    An entry written ahead for an agent whose join never goes out (a stop was requested
    meanwhile) is removed again; one left by a crash is resolved by the next run like any
    other (nothing in the channel: forgotten).
    """
    queue = list(reversed(actions))

    def prepare_next() -> asyncio.Future[_Prepared | None] | None:
        """Prepare the next start that may begin (see ``Run.may_start``); None if none may."""
        while queue:
            action = queue.pop()
            if run.may_start(action):
                return asyncio.ensure_future(
                    guarded(run, action, "join", _prepare_start(run, action))
                )
        return None

    async def drain() -> None:
        ahead: asyncio.Future[_Prepared | None] | None = None
        try:
            while True:
                if ahead is None:
                    ahead = prepare_next()
                    if ahead is None:
                        return
                prepared = await ahead
                ahead = None
                if prepared is None:
                    continue
                if not run.may_start(prepared.action):
                    try:
                        await run.save_or_halt(
                            functools.partial(drop_pending, entry_id=prepared.entry.id)
                        )
                    finally:
                        prepared.lock.release()
                    continue
                ahead = prepare_next()
                await guarded(run, prepared.action, "join", _send_start(run, prepared))
        finally:
            if ahead is not None:
                if ahead.done() and not ahead.cancelled() and ahead.exception() is None:
                    left = ahead.result()
                    if left is not None:
                        left.lock.release()  # its entry stays; the next run forgets it
                else:
                    ahead.cancel()

    workers = min(len(actions), max(1, run.ctx.parallelism))
    await asyncio.gather(*(drain() for _ in range(workers)))
    while run.finishing:
        finishing, run.finishing = run.finishing, []
        await asyncio.gather(*finishing)


@dataclass
class _Prepared:
    """A start whose write-ahead entry is on disk and whose join is still to be sent."""

    action: AgentPlan
    agent: DesiredAgent
    previous: AgentRecord | None
    generation: int
    wire_name: str
    properties: dict[str, Any]
    expires: float | None
    spec: dict[str, Any]
    digest: str
    entry: PendingEntry
    lock: asyncio.Lock
    """The channel's lock, held until the join's outcome is recorded."""


async def _prepare_start(run: Run, action: AgentPlan) -> _Prepared | None:
    ctx = run.ctx
    started = ctx.clock()
    agent = run.desired.agents[action.name]
    previous = run.doc.agents.get(action.name)
    generation = max(action.generation, (previous.generation + 1) if previous else 1)
    wire_name = record_wire_name(agent.name, generation)
    properties = dict(agent.spec.get("properties", {}))
    expires: float | None = None
    if agent.token_mode == "auto":
        if ctx.mint_token is None:
            raise RuntimeError("token: auto needs a token minter")
        properties["token"], expires = ctx.mint_token(agent, started)
    view = desired_view(agent, run.doc.salt)
    lock = run.channel_lock(agent.channel)
    await lock.acquire()
    if agent.channel in run.unresolved_channels:
        lock.release()
        fail(
            run,
            action,
            EngineError(
                "not started",
                reason="UnresolvedJoin",
                detail=f"an earlier join in channel {agent.channel} has an unknown outcome; "
                "apply again to resolve it first",
            ),
            started,
            "join",
        )
        return None
    entry = PendingEntry(
        id=str(uuid.uuid4()),
        op="join",
        name=agent.name,
        wire_name=wire_name,
        generation=generation,
        channel=agent.channel,
        created_at=started,
        spec=view.spec,
        spec_digest=view.digest,
        token_mode=agent.token_mode,
        token_expires_at=expires,
    )
    try:
        await run.save(lambda d: d.model_copy(update={"pending": [*d.pending, entry]}))
    except BaseException:
        lock.release()
        raise
    return _Prepared(
        action, agent, previous, generation, wire_name, properties, expires, view.spec,
        view.digest, entry, lock,
    )  # fmt: skip


async def _send_start(run: Run, prepared: _Prepared) -> None:
    ctx = run.ctx
    action, agent, previous = prepared.action, prepared.agent, prepared.previous
    started = ctx.clock()  # the join goes out now (its entry may have been written a while ago)
    wire_name, generation, properties = (
        prepared.wire_name, prepared.generation, prepared.properties,
    )  # fmt: skip
    expires, entry = prepared.expires, prepared.entry
    run.emit(ApplyEvent(action.name, action.action, "start", "begin"))
    note = ""
    try:
        try:
            answer = await run.call(
                lambda: ctx.client.join(
                    wire_name, properties, agent.spec.get("preset"), agent.spec.get("pipeline_id")
                )
            )
            agent_id = answer.agent_id
            run.joined.add(agent_id)
        except EngineError as exc:
            if exc.reason != "TaskConflict":
                raise
            agent_id = await _adopt(run, agent, exc)
            run.joined.add(agent_id)
            note = "adopted the running agent after 409 TaskConflict"
    except Exception as exc:
        from reconciler.errors import EngineProtocolError, EngineUnavailableError

        if isinstance(exc, (EngineUnavailableError, EngineProtocolError)):
            # Outcome unknown (no answer, or a 2xx answer that cannot be read, so the agent
            # probably started): keep the journal entry so the next run adopts or forgets it,
            # and start nothing else in this channel, which would make that ambiguous.
            run.unresolved_channels.add(agent.channel)
            prepared.lock.release()
        else:
            try:
                await run.save_or_halt(lambda d: drop_pending(d, entry.id))
            finally:
                prepared.lock.release()
        fail(run, action, exc, started, "join")
        return
    record = agent_record(
        agent,
        agent_id=agent_id,
        generation=generation,
        started_at=started,
        token_expires_at=expires,
        spec=prepared.spec,
        spec_digest=prepared.digest,
    )

    def done(d: StateDoc) -> StateDoc:
        d = drop_pending(d, entry.id)
        return d.model_copy(update={"agents": {**d.agents, agent.name: record}})

    async def finish() -> None:
        try:
            recorded = await run.save_or_halt(done)
        finally:
            prepared.lock.release()
        if not recorded:
            unrecorded(run, action, agent_id, started, "started")
            return
        duration = ctx.clock() - started
        run.emit(ApplyEvent(action.name, action.action, "start", "done", agent_id, duration, note))
        run.result.results.append(
            ActionResult(
                action.name,
                action.action,
                True,
                agent_id=agent_id,
                previous_agent_id=previous.agent_id if previous else None,
                duration_s=duration,
                detail=note,
            )
        )

    # The record is written, and then reported, while this worker goes on to its next agent,
    # whose write-ahead entry then shares that write: one write per agent instead of two on
    # the way between engine calls. Nothing waits on the record but the report (and the end
    # of the phase, which waits for every record).
    run.finishing.append(asyncio.ensure_future(finish()))


async def _adopt(run: Run, agent: DesiredAgent, conflict: EngineError) -> str:
    recorded = {r.agent_id for r in run.doc.agents.values()} | run.joined
    candidates = await run.call(
        lambda: find_conflicting(run.ctx.client, agent.channel, recorded, now=run.ctx.clock())
    )
    if len(candidates) == 1:
        return str(candidates[0].agent_id)
    raise EngineError(
        f"join of {agent.name} conflicted and {len(candidates)} unrecorded agents run in "
        f"channel {agent.channel}; cannot tell which to adopt",
        status=conflict.status,
        reason="TaskConflict",
        detail=f"{len(candidates)} unrecorded active agents in channel {agent.channel}; "
        "stop the stray ones or record them, then apply again",
    )


async def check_capacity(run: Run, starting: int) -> None:
    try:
        active = await run.call(
            lambda: run.ctx.client.list_agents(
                states=ACTIVE_STATE_CODES,
                from_time=int(run.ctx.clock() - REFRESH_WINDOW_S),
            )
        )
    except Exception:
        return  # the plan already checked; the engine's 422 is the last word
    if len(active) + starting > run.ctx.max_concurrent_agents:
        message = (
            f"{len(active) + starting} agents would run ({len(active)} running, {starting} "
            f"to start); the cap is {run.ctx.max_concurrent_agents}; no agent was started"
        )
        run.result.results.append(
            ActionResult("*", "capacity", False, reason="CapacityExceeded", detail=message)
        )
        run.emit(ApplyEvent("*", "start", "start", "failed", message=message))
