"""The apply executor: phases, parallelism, write-ahead journal and state after every action.

Order (DESIGN section 7): stops (removals and the stop half of restarts), wait until those
agents are STOPPED or gone, in-place updates (one ``update`` per agent carrying every in-place
field), starts (new agents, drift and the start half of restarts). A failure of one agent never
stops the others; a restart whose stop failed does not start a second copy.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult, Phase
from reconciler.apply.payload import update_properties
from reconciler.errors import EngineError
from reconciler.models import (
    AgentPlan,
    AgentRecord,
    DesiredAgent,
    DesiredSet,
    LiveAgent,
    PendingEntry,
    Plan,
    StateDoc,
)
from reconciler.models.live import ENDED_STATUSES
from reconciler.plan import desired_view

ACTIVE_STATE_CODES = (1, 2, 5)
"""STARTING, RUNNING, RECOVERING: what a 409 conflict search looks for."""


class JoinAnswer(Protocol):
    @property
    def agent_id(self) -> str: ...


class EngineOps(Protocol):
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

    async def list_agents(
        self,
        *,
        channel: str | None = None,
        states: Sequence[int] | None = None,
        from_time: int | None = None,
        to_time: int | None = None,
        limit: int = 100,
    ) -> list[LiveAgent]: ...

    async def wait_stopped(
        self, agent_id: str, timeout: float, poll_interval: float = 1.0
    ) -> LiveAgent: ...


class StateWriter(Protocol):
    """Where state goes after every step (``reconciler.state.LocalStateStore``)."""

    def write(self, doc: StateDoc) -> StateDoc: ...


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
    check_capacity: bool = True


@dataclass
class _Run:
    plan: Plan
    desired: DesiredSet
    ctx: ApplyContext
    doc: StateDoc
    result: ApplyResult = field(default_factory=ApplyResult)
    sem: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(10))
    stopped_ok: set[str] = field(default_factory=set)
    queued: list[tuple[Callable[[StateDoc], StateDoc], asyncio.Future[None]]] = field(
        default_factory=list
    )
    flushing: bool = False
    finishing: list[asyncio.Future[None]] = field(default_factory=list)
    """Starts whose engine call is done and whose record is being written (see _start_one)."""
    joined: set[str] = field(default_factory=set)
    """Agent ids this run started, recorded or about to be."""

    def emit(self, event: ApplyEvent) -> None:
        self.ctx.on_event(event)

    async def save(self, mutate: Callable[[StateDoc], StateDoc]) -> None:
        """Apply ``mutate`` to the state and return once the result is on disk.

        Group commit: the changes of every action that reaches this point while a write is
        pending or in progress go to disk together, in one write, in the order they came; each
        caller still resumes only after its own change is durable, so no engine call that depends
        on it starts before. (A write per action made a 500-agent apply spend longer writing
        than waiting for the engine.) The write runs in a thread so that responses keep arriving.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queued.append((mutate, done))
        if not self.flushing:
            self.flushing = True
            batch: list[tuple[Callable[[StateDoc], StateDoc], asyncio.Future[None]]] = []
            try:
                await asyncio.sleep(0)  # let actions that finished at the same moment join in
                while self.queued:
                    batch, self.queued = self.queued, []
                    await self._write(batch)
            except BaseException:  # cancelled: nobody is left to write for the others
                for _, waiting in [*batch, *self.queued]:
                    waiting.cancel()
                self.queued = []
                raise
            finally:
                self.flushing = False
        await done

    async def _write(
        self, batch: list[tuple[Callable[[StateDoc], StateDoc], asyncio.Future[None]]]
    ) -> None:
        """One write for the whole batch; on failure, one write per change, as if unbatched."""
        doc = self.doc
        try:
            for mutate, _ in batch:
                doc = mutate(doc)
            written = await asyncio.to_thread(self.ctx.store.write, doc)
        except Exception:
            for mutate, waiting in batch:
                try:
                    self.doc = await asyncio.to_thread(self.ctx.store.write, mutate(self.doc))
                except Exception as exc:
                    waiting.set_exception(exc)
                else:
                    waiting.set_result(None)
            return
        self.doc = written
        for _, waiting in batch:
            waiting.set_result(None)

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async with self.sem:
            return await fn()


async def apply_plan(
    plan: Plan, desired: DesiredSet, state: StateDoc, ctx: ApplyContext
) -> tuple[ApplyResult, StateDoc]:
    """Carry out ``plan``; return what happened and the final state (already written)."""
    run = _Run(plan=plan, desired=desired, ctx=ctx, doc=state)
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
            await _check_capacity(run, len(ready))
        if not any(r.action == "capacity" for r in run.result.results):
            await _start_phase(run, ready)
    run.result.interrupted = ctx.should_stop()
    return run.result, run.doc


async def _phase(
    run: _Run, actions: list[AgentPlan], worker: Callable[[_Run, AgentPlan], Awaitable[None]]
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


def _fail(run: _Run, action: AgentPlan, exc: Exception, started: float, phase: str) -> None:
    reason = exc.reason if isinstance(exc, EngineError) else type(exc).__name__
    detail = exc.detail if isinstance(exc, EngineError) and exc.detail else str(exc)
    duration = run.ctx.clock() - started
    run.result.results.append(
        ActionResult(
            name=action.name,
            action=action.action,
            ok=False,
            agent_id=action.agent_id,
            duration_s=duration,
            reason=reason,
            detail=f"{phase}: {detail}",
        )
    )
    event_phase: Phase = "start" if phase == "join" else "update" if phase == "update" else "stop"
    why = " ".join(part for part in (reason, detail) if part)
    run.emit(
        ApplyEvent(
            action.name, action.action, event_phase, "failed",
            action.agent_id, duration, f"{phase} failed: {why}",
        )
    )


async def _stop_one(run: _Run, action: AgentPlan) -> None:
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
            lambda: ctx.client.wait_stopped(
                agent_id, ctx.stop_wait_timeout_s, ctx.poll_interval_s
            )
        )
        if final.status not in ENDED_STATUSES and final.status != "MISSING":
            raise EngineError(
                f"agent {agent_id} still {final.status} after {ctx.stop_wait_timeout_s:.0f}s",
                reason="StopTimeout",
                detail=f"still {final.status} after {ctx.stop_wait_timeout_s:.0f}s",
            )
    except Exception as exc:
        await run.save(lambda d: _drop_pending(d, entry.id))
        _fail(run, action, exc, started, "leave")
        return

    def done(d: StateDoc) -> StateDoc:
        d = _drop_pending(d, entry.id)
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


async def _update_one(run: _Run, action: AgentPlan) -> None:
    ctx = run.ctx
    started = ctx.clock()
    agent = run.desired.agents[action.name]
    record = run.doc.agents[action.name]
    token: str | None = None
    expires: float | None = record.token_expires_at
    if agent.token_mode == "auto" and (
        action.action == "renew-token" or record.token_mode != "auto"
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
        _fail(run, action, exc, started, "update")
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
    await run.save(
        lambda d: d.model_copy(update={"agents": {**d.agents, action.name: new_record}})
    )
    duration = ctx.clock() - started
    run.emit(ApplyEvent(action.name, action.action, "update", "done", record.agent_id, duration))
    run.result.results.append(
        ActionResult(action.name, action.action, True, agent_id=record.agent_id,
                     duration_s=duration)
    )


async def _start_phase(run: _Run, actions: list[AgentPlan]) -> None:
    """Start ``actions`` with at most ``parallelism`` joins in flight (see :func:`_phase`).

    Each worker writes the next agent's write-ahead entry while its current join is in flight,
    so a join goes out as soon as the previous one is answered instead of after a state write.
    An entry written ahead for an agent whose join never goes out (a stop was requested
    meanwhile) is removed again; one left by a crash is resolved by the next run like any
    other (nothing in the channel: forgotten).
    """
    queue = list(reversed(actions))

    async def drain() -> None:
        ahead: asyncio.Future[_Prepared] | None = None
        try:
            while True:
                if ahead is None:
                    if not queue or run.ctx.should_stop():
                        return
                    ahead = asyncio.ensure_future(_prepare_start(run, queue.pop()))
                prepared = await ahead
                ahead = None
                if run.ctx.should_stop():
                    await run.save(functools.partial(_drop_pending, entry_id=prepared.entry.id))
                    return
                if queue:
                    ahead = asyncio.ensure_future(_prepare_start(run, queue.pop()))
                await _send_start(run, prepared)
        finally:
            if ahead is not None:
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


async def _start_one(run: _Run, action: AgentPlan) -> None:
    await _send_start(run, await _prepare_start(run, action))


async def _prepare_start(run: _Run, action: AgentPlan) -> _Prepared:
    ctx = run.ctx
    started = ctx.clock()
    agent = run.desired.agents[action.name]
    previous = run.doc.agents.get(action.name)
    generation = max(action.generation, (previous.generation + 1) if previous else 1)
    wire_name = f"{agent.name}-{generation}"
    properties = dict(agent.spec.get("properties", {}))
    expires: float | None = None
    if agent.token_mode == "auto":
        if ctx.mint_token is None:
            raise RuntimeError("token: auto needs a token minter")
        properties["token"], expires = ctx.mint_token(agent, started)
    view = desired_view(agent, run.doc.salt)
    entry = PendingEntry(
        id=str(uuid.uuid4()), op="join", name=agent.name, wire_name=wire_name,
        generation=generation, channel=agent.channel, created_at=started, spec=view.spec,
        spec_digest=view.digest, token_mode=agent.token_mode, token_expires_at=expires,
    )
    await run.save(lambda d: d.model_copy(update={"pending": [*d.pending, entry]}))
    return _Prepared(
        action, agent, previous, generation, wire_name, properties, expires, view.spec,
        view.digest, entry,
    )  # fmt: skip


async def _send_start(run: _Run, prepared: _Prepared) -> None:
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
            # probably started): keep the journal entry so the next run adopts or forgets it.
            pass
        else:
            await run.save(lambda d: _drop_pending(d, entry.id))
        _fail(run, action, exc, started, "join")
        return
    record = AgentRecord(
        name=agent.name, agent_id=agent_id, wire_name=wire_name, generation=generation,
        channel=agent.channel, started_at=started, token_mode=agent.token_mode,
        token_expires_at=expires, spec=prepared.spec, spec_digest=prepared.digest,
    )

    def done(d: StateDoc) -> StateDoc:
        d = _drop_pending(d, entry.id)
        return d.model_copy(update={"agents": {**d.agents, agent.name: record}})

    async def finish() -> None:
        await run.save(done)
        duration = ctx.clock() - started
        run.emit(ApplyEvent(action.name, action.action, "start", "done", agent_id, duration, note))
        run.result.results.append(
            ActionResult(
                action.name, action.action, True, agent_id=agent_id,
                previous_agent_id=previous.agent_id if previous else None,
                duration_s=duration, detail=note,
            )
        )

    # The record is written, and then reported, while this worker goes on to its next agent,
    # whose write-ahead entry then shares that write: one write per agent instead of two on
    # the way between engine calls. Nothing waits on the record but the report (and the end
    # of the phase, which waits for every record).
    run.finishing.append(asyncio.ensure_future(finish()))


async def _adopt(run: _Run, agent: DesiredAgent, conflict: EngineError) -> str:
    recorded = {r.agent_id for r in run.doc.agents.values()} | run.joined
    found = await run.call(
        lambda: run.ctx.client.list_agents(channel=agent.channel, states=ACTIVE_STATE_CODES)
    )
    candidates = [a for a in found if a.agent_id not in recorded]
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


async def _check_capacity(run: _Run, starting: int) -> None:
    try:
        active = await run.call(
            lambda: run.ctx.client.list_agents(
                states=ACTIVE_STATE_CODES,
                from_time=int(run.ctx.clock()) - 73 * 3600,
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


def _drop_pending(doc: StateDoc, entry_id: str) -> StateDoc:
    return doc.model_copy(update={"pending": [p for p in doc.pending if p.id != entry_id]})
