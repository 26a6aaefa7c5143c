"""One apply in progress: the state it writes (group commit), its results and its limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.apply.context import ApplyContext
from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult, Phase
from reconciler.errors import EngineError
from reconciler.models import AgentPlan, DesiredSet, Plan, StateDoc


@dataclass
class Run:
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
    """Starts whose engine call is done and whose record is being written (see ``starts``)."""
    joined: set[str] = field(default_factory=set)
    """Agent ids this run started, recorded or about to be."""
    unresolved_channels: set[str] = field(default_factory=set)
    """Channels with a join whose outcome is unknown: nothing more is started there."""
    channel_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """Held from a join's write-ahead entry until its outcome is recorded (see ``starts``)."""

    def channel_lock(self, channel: str) -> asyncio.Lock:
        lock = self.channel_locks.get(channel)
        if lock is None:
            lock = self.channel_locks[channel] = asyncio.Lock()
        return lock

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


def fail(run: Run, action: AgentPlan, exc: Exception, started: float, phase: str) -> None:
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
            action.name,
            action.action,
            event_phase,
            "failed",
            action.agent_id,
            duration,
            f"{phase} failed: {why}",
        )
    )


def drop_pending(doc: StateDoc, entry_id: str) -> StateDoc:
    return doc.model_copy(update={"pending": [p for p in doc.pending if p.id != entry_id]})
