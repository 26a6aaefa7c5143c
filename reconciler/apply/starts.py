"""The start phase: write-ahead entry, join, record; 409 handling; the capacity check.

Starts into one channel are serialized (a per-channel lock held from the write-ahead entry
until the result is recorded), so at most one join per channel is ever unresolved; a channel
with an unsettled entry left by an earlier run gets no start at all until it is settled.

A 409 ``TaskConflict`` means an active agent already holds the wire name. It is adopted only
when this very join was sent before (an earlier attempt may have reached the engine) and the
engine names that agent with the wire name (unique to this state) in the channel asked for, and
created it after the join's journal entry (see :mod:`reconciler.engine.adopt`). A 409 on the first
attempt means the name was held before this run sent anything (another project, or a copy of
this one's state, manages that agent): the start fails and nothing is adopted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from reconciler.apply.events import ActionResult, ApplyEvent
from reconciler.apply.records import agent_record
from reconciler.apply.records import wire_name as record_wire_name
from reconciler.apply.run import AgentChange, Run, fail, guarded, settled, unrecorded
from reconciler.engine import (
    ACTIVE_STATE_CODES,
    REFRESH_WINDOW_S,
    NameSearch,
    find_by_name,
)
from reconciler.errors import EngineError, EngineUnavailableError, NameConflictError
from reconciler.models import AgentPlan, AgentRecord, DesiredAgent, JournalEntry, StateDoc


async def start_phase(run: Run, actions: list[AgentPlan]) -> None:
    """Start ``actions`` with at most ``parallelism`` joins in flight (see :func:`_phase`).

    Each worker writes the next agent's write-ahead entry while its current join is in flight,
    so a join goes out as soon as the previous one is answered instead of after a state write.
    An entry written ahead for an agent whose join never goes out (a stop was requested
    meanwhile) is removed again; one left by a crash is resolved by the next run like any
    other (nothing in the channel: forgotten).
    """
    queue = list(reversed(actions))
    # Entries an earlier run left and the resolution could not settle: their join may still
    # have started an agent, so nothing more is started in their channels.
    run.unresolved_channels.update(p.channel for p in run.doc.journal if p.op == "join")

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
                        await run.save_or_halt(settled(prepared.entry.id))
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
    """A start whose write-ahead entry is on disk and whose join is still to be sent.

    The entry carries what the record will hold (wire name, generation, redacted spec and its
    digest, token expiry); ``properties`` is what the join sends (a minted token included).
    """

    action: AgentPlan
    agent: DesiredAgent
    previous: AgentRecord | None
    properties: dict[str, Any]
    entry: JournalEntry
    lock: asyncio.Lock
    """The channel's lock, held until the join's outcome is recorded."""


async def _prepare_start(run: Run, action: AgentPlan) -> _Prepared | None:
    ctx = run.ctx
    started = ctx.clock()
    agent = run.desired.agents[action.name]
    previous = run.doc.agents.get(action.name)
    generation = max(action.generation, (previous.generation + 1) if previous else 1)
    wire_name = record_wire_name(agent.name, generation, run.doc.lineage)
    properties = dict(agent.spec.get("properties", {}))
    expires: float | None = None
    if agent.token_mode == "auto":
        if ctx.mint_token is None:
            raise RuntimeError("token: auto needs a token minter")
        properties["token"], expires = ctx.mint_token(agent, started)
    view = run.view(action.name)
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
                detail=f"an earlier join in channel {agent.channel}"
                f"{_wire_names(run.doc, agent.channel)} has an unknown outcome; nothing more is "
                "started in that channel until a later apply settles it (see its notes)",
            ),
            started,
            "join",
        )
        return None
    entry = JournalEntry(
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
        await run.save(AgentChange(add=(entry,)))
    except BaseException:
        lock.release()
        raise
    return _Prepared(
        action=action,
        agent=agent,
        previous=previous,
        properties=properties,
        entry=entry,
        lock=lock,
    )


async def _send_start(run: Run, prepared: _Prepared) -> None:
    """Send the join of ``prepared``; its record is written (and reported) while this worker
    goes on (see :func:`_finish_start`)."""
    ctx = run.ctx
    action = prepared.action
    started = ctx.clock()  # the join goes out now (its entry may have been written a while ago)
    run.emit(ApplyEvent(action.name, action.action, "start", "begin"))
    try:
        agent_id, note = await _join(run, prepared)
    except Exception as exc:
        await _join_failed(run, prepared, exc)
        fail(run, action, exc, started, "join")
        return
    run.emit(ApplyEvent(action.name, action.action, "start", "answered", agent_id))
    # The record is written, and then reported, while this worker goes on to its next agent,
    # whose write-ahead entry then shares that write: one write per agent instead of two on
    # the way between engine calls. Nothing waits on the record but the report (and the end
    # of the phase, which waits for every record).
    done = _started_change(prepared, agent_id, started)
    run.finishing.append(
        asyncio.ensure_future(_finish_start(run, prepared, done, agent_id, started, note))
    )


async def _join(run: Run, prepared: _Prepared) -> tuple[str, str]:
    """The engine's id of the agent ``prepared`` starts, and a note when it is adopted after a
    409 (a retried join)."""
    agent, entry, wire_name = prepared.agent, prepared.entry, prepared.entry.wire_name
    try:
        answer = await run.call(
            lambda: run.ctx.client.join(
                wire_name,
                prepared.properties,
                agent.spec.get("preset"),
                agent.spec.get("pipeline_id"),
            )
        )
    except NameConflictError as exc:
        agent_id = await _adopt(run, agent, entry, exc)
        run.joined.add(agent_id)
        return agent_id, (
            f"adopted the running agent after 409 TaskConflict (a retried join; the "
            f"engine names it {wire_name})"
        )
    run.joined.add(answer.agent_id)
    return answer.agent_id, ""


async def _join_failed(run: Run, prepared: _Prepared, exc: Exception) -> None:
    """After a failed join: settle its journal entry, unless the outcome is unknown; the
    channel's lock released either way."""
    from reconciler.errors import EngineProtocolError

    if isinstance(exc, (EngineUnavailableError, EngineProtocolError)):
        # Outcome unknown (no answer, or a 2xx answer that cannot be read, so the agent
        # probably started): keep the journal entry so the next run adopts or forgets it,
        # and start nothing else in this channel, which would make that ambiguous.
        run.unresolved_channels.add(prepared.agent.channel)
        prepared.lock.release()
        return
    try:
        await run.save_or_halt(settled(prepared.entry.id))
    finally:
        prepared.lock.release()


def _started_change(prepared: _Prepared, agent_id: str, started: float) -> AgentChange:
    """The state change of a started agent: its record put, its journal entry settled."""
    entry = prepared.entry
    record = agent_record(
        prepared.agent,
        agent_id=agent_id,
        wire_name=entry.wire_name,
        generation=entry.generation,
        started_at=started,
        token_expires_at=entry.token_expires_at,
        spec=entry.spec,
        spec_digest=entry.spec_digest,
    )
    return AgentChange(settle=frozenset((entry.id,)), put=(record,))


async def _finish_start(
    run: Run,
    prepared: _Prepared,
    done: AgentChange,
    agent_id: str,
    started: float,
    note: str,
) -> None:
    """Write ``done`` (the started agent's record), release its channel, and report the
    action done (or unrecorded)."""
    action, previous = prepared.action, prepared.previous
    try:
        recorded = await run.save_or_halt(done)
    finally:
        prepared.lock.release()
    if not recorded:
        unrecorded(run, action, agent_id, started, "started")
        return
    duration = run.ctx.clock() - started
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


async def _adopt(
    run: Run, agent: DesiredAgent, entry: JournalEntry, conflict: NameConflictError
) -> str:
    """The agent to record after a 409, or an EngineError saying why none is adopted.

    The evidence is that of journal resolution (:mod:`reconciler.engine.adopt`): the wire name
    unique to this state, the channel, and a creation after this join's journal entry.
    """
    wire_name = entry.wire_name
    recorded = {r.agent_id for r in run.doc.agents.values()} | run.joined
    try:
        search: NameSearch | None = await run.call(
            lambda: find_by_name(
                run.ctx.client,
                agent.channel,
                wire_name,
                recorded,
                sent_after=entry.created_at,
                now=run.ctx.clock(),
            )
        )
    except EngineError:
        search = None  # not listed or not identified: no evidence either way
    holder = search.match.agent_id if search is not None and search.match else None
    if not conflict.resent:
        # The 409's own naming of the holder only reports who it is; it is never evidence.
        named = holder or conflict.holder
        held_by = f"agent {named}" if named else "an agent"
        raise EngineError(
            f"join of {agent.name} conflicted: the name {wire_name} is held by {held_by} "
            "that this state does not record",
            status=conflict.status,
            reason="TaskConflict",
            detail=f"the name {wire_name} is already held by {held_by} that this state does not "
            "record (another project, or a copy of this project's state, manages it); nothing "
            "was adopted. Manage it from the project that started it, or stop it there (or on "
            "the engine) and apply again to start it from here",
        )
    if holder is not None:
        return holder
    why = search.why_unknown() if search is not None else ""
    # Inconclusive: the lost attempt may have started the holder, so the outcome is unknown and
    # the journal entry stays for the next run (an unavailable-engine error keeps it).
    if search is None or search.unknown:
        raise EngineUnavailableError(
            f"join of {agent.name} conflicted after a retry and the engine cannot say which "
            f"agent carries the name {wire_name}",
            status=conflict.status,
            reason="TaskConflict",
            detail=f"a retried join of {wire_name} conflicted and "
            + (why or "the agents of the channel could not be listed")
            + "; nothing was adopted: the journal keeps the join and the next apply settles it",
        )
    raise EngineError(
        f"join of {agent.name} conflicted after a retry and no agent in channel "
        f"{agent.channel} carries the name {wire_name}",
        status=conflict.status,
        reason="TaskConflict",
        detail=f"a retried join of {wire_name} conflicted, yet no active agent in channel "
        f"{agent.channel} carries that name; nothing was adopted: apply again",
    )


def _wire_names(doc: StateDoc, channel: str) -> str:
    names = sorted({p.wire_name for p in doc.journal if p.op == "join" and p.channel == channel})
    return f" ({', '.join(names)})" if names else ""


LISTING_REUSE_S = 10.0
"""How old the refresh's listing of active agents may be for the capacity check to count it."""
_STOPPING = frozenset({"stop", "restart"})


def _reusable(run: Run) -> frozenset[str] | None:
    """The refresh's active agents, if they are still what the engine holds as far as we know.

    Fresh enough means: listed by this run's own refresh under the state lock (no other
    writer of this state ran since), at most :data:`LISTING_REUSE_S` seconds ago, by a run that
    stops no agent and has started none yet (the first check of a run whose only earlier
    engine calls are in-place updates). Otherwise the engine is asked again.
    Either way the engine's own refusal of a join over the cap stays the last word.
    """
    listing = run.ctx.active_listing
    if listing is None or run.joined or any(a.action in _STOPPING for a in run.plan.agents):
        return None
    if time.monotonic() - listing.listed_at > LISTING_REUSE_S:
        return None
    return listing.agent_ids


async def check_capacity(run: Run, starting: int) -> None:
    """Refuse the next ``starting`` starts (a ``capacity`` result) if they would exceed the cap."""
    listed = _reusable(run)
    if listed is not None:
        active: Collection[object] = listed
    else:
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
