"""Resolving the write-ahead journal left by an interrupted run.

A ``join`` entry means a run sent (or was about to send) a join and died before recording the
answer: if exactly one unrecorded agent is active in that channel it is the one that run
started, and it is adopted; if none is, the join never took effect and the entry is dropped.
A ``leave`` entry is simply dropped: the refresh that follows shows whether the agent stopped,
and the plan acts on that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from reconciler.apply.context import EngineOps, StateWriter
from reconciler.engine import find_conflicting
from reconciler.models import AgentRecord, PendingEntry, StateDoc


async def resolve_pending(
    doc: StateDoc,
    client: EngineOps,
    store: StateWriter,
    clock: Callable[[], float] = time.time,
) -> tuple[StateDoc, list[str]]:
    """Settle every pending entry; write state once if anything changed. Returns notes."""
    if not doc.pending:
        return doc, []
    notes: list[str] = []
    agents = dict(doc.agents)
    keep: list[PendingEntry] = []
    joins = [p for p in doc.pending if p.op == "join"]
    channels = sorted({p.channel for p in joins})
    now = clock()
    listed = await asyncio.gather(*(find_conflicting(client, c, now=now) for c in channels))
    active_by_channel = dict(zip(channels, listed, strict=True))
    for entry in doc.pending:
        if entry.op == "leave":
            notes.append(
                f"{entry.name}: an interrupted stop of {entry.agent_id} was found; "
                "the refresh shows its outcome"
            )
            continue
        recorded = {r.agent_id for r in agents.values()}
        candidates = [
            a for a in active_by_channel.get(entry.channel, []) if a.agent_id not in recorded
        ]
        if len(candidates) == 1:
            found = candidates[0]
            agents[entry.name] = AgentRecord(
                name=entry.name,
                agent_id=found.agent_id,
                wire_name=entry.wire_name,
                generation=entry.generation,
                channel=entry.channel,
                started_at=float(found.start_ts or entry.created_at),
                token_mode=entry.token_mode,
                token_expires_at=entry.token_expires_at,
                spec=entry.spec,
                spec_digest=entry.spec_digest,
            )
            notes.append(
                f"{entry.name}: adopted agent {found.agent_id}, started by an interrupted run"
            )
        elif not candidates:
            notes.append(
                f"{entry.name}: an interrupted start of {entry.wire_name} never took effect; "
                "forgotten"
            )
        else:
            keep.append(entry)
            notes.append(
                f"{entry.name}: an interrupted start left {len(candidates)} unrecorded agents "
                f"in channel {entry.channel}; not adopting any (resolve by hand)"
            )
    new = doc.model_copy(update={"agents": agents, "pending": keep})
    return store.write(new), notes
