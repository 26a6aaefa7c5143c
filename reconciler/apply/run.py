"""One apply in progress: the state it writes (group commit), its results and its limits.

It is also the one boundary where failures become results. An action's work runs under
:func:`guarded`: an error the tool raises on purpose (:class:`ReconcilerError`) fails that
action; any other exception is a defect, typed as :class:`ApplyError` and failing that action.
A state write that fails, or a defect, also *halts* the run: no further action begins (each
would need a write-ahead entry the state cannot take), the actions in progress finish, and the
result says what reached the engine. Nothing escapes as an exception except cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.apply.context import ApplyContext
from reconciler.apply.events import (
    ActionResult,
    ApplyEvent,
    ApplyResult,
    Phase,
    StepCall,
    phase_of,
)
from reconciler.errors import ApplyError, EngineError, ReconcilerError, StateError
from reconciler.models import AgentPlan, AgentRecord, DesiredSet, JournalEntry, Plan, StateDoc
from reconciler.models.agent_table import AgentTable
from reconciler.plan import DesiredView, desired_view

T = TypeVar("T")
StateChange = Callable[[StateDoc], StateDoc]
"""A change of the state document, applied by the next group write (see :meth:`Run.save`)."""


@dataclass(frozen=True)
class AgentChange:
    """A state change of journal entries and agent records, in this order: ``settle`` (journal
    entry ids) leave the journal, ``add`` joins it, ``put`` records are set (by name) and
    ``drop`` records (names) removed.

    Applied alone it is a :data:`StateChange` like any other; the changes of this kind that
    follow each other in one group write are applied together, with one copy of the records
    and of the journal for all of them instead of one each (a copy of every record per agent
    made a large apply quadratic in its agents).
    """

    settle: frozenset[str] = frozenset()
    add: tuple[JournalEntry, ...] = ()
    put: tuple[AgentRecord, ...] = ()
    drop: frozenset[str] = frozenset()

    def __call__(self, doc: StateDoc) -> StateDoc:
        return apply_agent_changes(doc, [self])


def apply_agent_changes(doc: StateDoc, changes: list[AgentChange]) -> StateDoc:
    """``doc`` after ``changes`` one after the other; unchanged parts stay the same objects."""
    update: dict[str, Any] = {}
    settled = frozenset().union(*(c.settle for c in changes))
    added = [entry for c in changes for entry in c.add]
    if settled or added:
        # Entry ids are unique: one settled is never added again, so one pass does it all.
        update["journal"] = [e for e in (*doc.journal, *added) if e.id not in settled]
    if any(c.put or c.drop for c in changes):
        final: dict[str, AgentRecord | None] = {}  # the last change of each name wins
        for change in changes:
            final.update((record.name, record) for record in change.put)
            final.update(dict.fromkeys(change.drop))
        # One copy of the records, as a table that knows its changes: the store then writes
        # just those (O(changed) per write, not O(recorded agents)).
        update["agents"] = AgentTable.derive(
            doc.agents,
            put=[record for record in final.values() if record is not None],
            drop=[name for name, record in final.items() if record is None],
        )
    return doc.model_copy(update=update) if update else doc


@dataclass
class Run:
    """The shared, mutable side of one :func:`~reconciler.apply.executor.apply_plan` call.

    It holds the state document as last written (``doc``; every change goes through
    :meth:`save`), the results so far, the bound on engine calls in flight (``ctx.parallelism``,
    through :meth:`call`), the per-channel locks and unresolved channels that keep at most one
    join per channel unsettled, and whether the run is stopping (a stop request) or halted (a
    failed state write or a defect).
    """

    plan: Plan
    desired: DesiredSet
    ctx: ApplyContext
    doc: StateDoc
    """The state as last written."""
    views: Mapping[str, DesiredView] = field(default_factory=dict)
    """The views the plan computed of the agents it starts, restarts or updates (see
    :meth:`view`)."""
    result: ApplyResult = field(default_factory=ApplyResult)
    in_flight: asyncio.Semaphore = field(init=False)
    """Bounds the engine calls in flight to ``ctx.parallelism`` (at least 1)."""
    stopped_ok: set[str] = field(default_factory=set)
    """Names whose stop (of a stop, or the first half of a restart) went through."""
    queued: list[tuple[StateChange, asyncio.Future[None]]] = field(default_factory=list)
    """State changes waiting for the next group write, each with its caller's future."""
    flushing: bool = False
    """Whether a group write is under way (see :meth:`save`)."""
    finishing: list[asyncio.Future[None]] = field(default_factory=list)
    """Starts whose engine call is done and whose record is being written (see ``starts``)."""
    joined: set[str] = field(default_factory=set)
    """Agent ids this run started, recorded or about to be."""
    unresolved_channels: set[str] = field(default_factory=set)
    """Channels with a join whose outcome is unknown: nothing more is started there."""
    channel_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """Held from a join's write-ahead entry until its outcome is recorded (see ``starts``)."""
    held_removals: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    """Resource updates whose removed paths wait until what references the resource has
    changed (``apply/resources.py``, :func:`~reconciler.apply.resources.remove_held`): by
    address, those paths and whether the rest of the update was sent already."""
    halted: ReconcilerError | None = None
    """The failure that stopped this run from beginning more actions (see :meth:`halt`)."""
    stop_seen_at: float | None = None
    """When a stop request was first seen (the interrupt grace for restarts counts from it)."""

    def __post_init__(self) -> None:
        self.in_flight = asyncio.Semaphore(max(1, self.ctx.parallelism))

    def halt(self, error: ReconcilerError) -> None:
        """Begin no further action (the first cause is kept)."""
        if self.halted is None:
            self.halted = error

    def stopping(self) -> bool:
        """Whether new actions must not begin: a stop was requested or the run is halted."""
        if self.halted is not None:
            return True
        if self.ctx.should_stop():
            if self.stop_seen_at is None:
                self.stop_seen_at = self.ctx.clock()
            return True
        return False

    def may_start(self, action: AgentPlan) -> bool:
        """Whether the start of ``action`` may begin now.

        After a stop request, the start half of a restart whose stop went through still may, for
        ``interrupt_grace_s``: leaving it for the next run would leave that agent down meanwhile.
        """
        if not self.stopping():
            return True
        if self.halted is not None or self.stop_seen_at is None:
            return False
        return (
            action.action == "restart"
            and action.name in self.stopped_ok
            and self.ctx.clock() - self.stop_seen_at < self.ctx.interrupt_grace_s
        )

    def view(self, name: str) -> DesiredView:
        """The view of the desired agent ``name``: what its record holds (redacted spec and
        digest). The one the plan handed over; computed here only for a plan that came without
        its views."""
        view = self.views.get(name)
        return view if view is not None else desired_view(self.desired.agents[name], self.doc.salt)

    def channel_lock(self, channel: str) -> asyncio.Lock:
        lock = self.channel_locks.get(channel)
        if lock is None:
            lock = self.channel_locks[channel] = asyncio.Lock()
        return lock

    def emit(self, event: ApplyEvent) -> None:
        self.ctx.on_event(event)

    def record_failure(
        self,
        name: str,
        action: str,
        started: float,
        *,
        agent_id: str | None,
        reason: str,
        detail: str,
        reached_engine: bool = False,
    ) -> float:
        """Record the failed result of an action begun at ``started``; its duration."""
        duration = self.ctx.clock() - started
        self.result.results.append(
            ActionResult(
                name,
                action,
                False,
                agent_id=agent_id,
                duration_s=duration,
                reason=reason,
                detail=detail,
                reached_engine=reached_engine,
            )
        )
        return duration

    async def save(self, mutate: StateChange) -> None:
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
            batch: list[tuple[StateChange, asyncio.Future[None]]] = []
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

    async def save_or_halt(self, mutate: StateChange) -> bool:
        """:meth:`save`, turning a failure into a halt of the run; whether the change is durable.

        For writes that follow an engine call: the call is done either way, and the caller
        reports it as not recorded (its write-ahead entry on disk still covers it).
        """
        try:
            await self.save(mutate)
        except Exception as exc:
            self.halt(as_reconciler_error(exc))
            return False
        return True

    async def _write(self, batch: list[tuple[StateChange, asyncio.Future[None]]]) -> None:
        """One write for the whole batch; on failure, one write per change, as if unbatched."""
        try:
            doc = _changed(self.doc, [mutate for mutate, _ in batch])
            written = await asyncio.to_thread(self.ctx.store.write, doc)
        except Exception:
            for mutate, waiting in batch:
                try:
                    self.doc = await asyncio.to_thread(self.ctx.store.write, mutate(self.doc))
                except Exception as exc:
                    if not waiting.done():  # its waiter may have been cancelled meanwhile
                        waiting.set_exception(exc)
                else:
                    if not waiting.done():
                        waiting.set_result(None)
            return
        self.doc = written
        for _, waiting in batch:
            if not waiting.done():
                waiting.set_result(None)

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """``await fn()`` once fewer than ``ctx.parallelism`` engine calls are in flight."""
        async with self.in_flight:
            return await fn()


def _changed(doc: StateDoc, changes: list[StateChange]) -> StateDoc:
    """``doc`` after ``changes`` in order, each run of :class:`AgentChange` applied at once."""
    run: list[AgentChange] = []
    for change in changes:
        if isinstance(change, AgentChange):
            run.append(change)
            continue
        if run:
            doc, run = apply_agent_changes(doc, run), []
        doc = change(doc)
    return apply_agent_changes(doc, run) if run else doc


def as_reconciler_error(exc: Exception) -> ReconcilerError:
    """``exc`` itself when the tool raised it on purpose, else an :class:`ApplyError` naming it."""
    if isinstance(exc, ReconcilerError):
        return exc
    return ApplyError(f"internal error ({type(exc).__name__}); please report it")


async def guarded(run: Run, action: AgentPlan, phase: StepCall, work: Awaitable[T]) -> T | None:
    """Await ``work`` for ``action``; a failure fails the action (None), never escapes.

    A state write failure or a defect also halts the run (see the module docstring).
    """
    started = run.ctx.clock()
    try:
        return await work
    except Exception as exc:
        error = as_reconciler_error(exc)
        if error is not exc or isinstance(exc, StateError):
            run.halt(error)
        fail(run, action, error, started, phase)
        return None


def unrecorded(run: Run, action: AgentPlan, agent_id: str, started: float, what: str) -> None:
    """Report an action the engine carried out but the state could not record."""
    why = str(run.halted) if run.halted is not None else "the state could not be written"
    detail = (
        f"{what} agent {agent_id} on the engine, but the state could not record it ({why}); "
        f"the journal in state covers it: run reconciler {run.plan.operation} again once state "
        "can be written"
    )
    duration = run.record_failure(
        action.name,
        action.action,
        started,
        agent_id=agent_id,
        reason="StateWriteFailed",
        detail=detail,
        reached_engine=True,
    )
    phase: Phase = "start" if what == "started" else "update" if what == "updated" else "stop"
    run.emit(ApplyEvent(action.name, action.action, phase, "failed", agent_id, duration, detail))


def fail(run: Run, action: AgentPlan, exc: Exception, started: float, phase: StepCall) -> None:
    reason = (
        exc.reason
        if isinstance(exc, EngineError)
        else "StateWriteFailed"
        if isinstance(exc, StateError)
        else type(exc).__name__
    )
    detail = exc.detail if isinstance(exc, EngineError) and exc.detail else str(exc)
    duration = run.record_failure(
        action.name,
        action.action,
        started,
        agent_id=action.agent_id,
        reason=reason,
        detail=f"{phase}: {detail}",
    )
    event_phase = phase_of(phase)
    why = " ".join(part for part in (reason, detail) if part)
    run.emit(
        ApplyEvent(
            action.name,
            action.action,
            event_phase,
            "failed",
            action.agent_id,
            duration,
            f"{phase} failed: {why}",
        )
    )


def drop_journal_entry(doc: StateDoc, entry_id: str) -> StateDoc:
    return doc.model_copy(update={"journal": [p for p in doc.journal if p.id != entry_id]})


def settled(entry_id: str) -> AgentChange:
    """The change that removes the journal entry ``entry_id``."""
    return AgentChange(settle=frozenset((entry_id,)))
