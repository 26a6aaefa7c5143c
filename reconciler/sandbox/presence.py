"""Channel presence and the idle countdown it drives.

Who counts as present for an agent: the remote users in its channel (marked by the control
routes, or by the `occupied` default of a new channel) whose uid is in its `remote_rtc_uids`,
and the other active agents of the channel whose `agent_rtc_uid` is listed; `["*"]` counts every
user and every other agent. An agent's idle countdown (`users_left_at` + `idle_timeout`) runs
while nobody it counts is present. Before anyone it counts has been present, the countdown runs
from the join when the `idle_before_join` setting says so, else not at all.

Nothing runs in the background: `settle` is called after every event that changes who is in a
channel (a join, a leave, a crash, a token update, a control route) and computes, for each agent
of the channel that has not begun to exit, when its countdown starts, assuming the channel stays
as it is: users stay until they leave, agents stay until their scheduled end. Agents that count
each other (two `["*"]` agents) keep each other alive; that mutual dependency is solved by
iterating from the latest possible ends down to a fixed point.
"""

from __future__ import annotations

from collections.abc import Sequence

from .lifecycle import exit_event, refresh
from .store import AgentRecord, Store

WILDCARD = "*"


def _counts(record: AgentRecord, uid: str) -> bool:
    wanted = record.remote_list()
    return WILDCARD in wanted or uid in wanted


def occupied_uids(record: AgentRecord) -> list[str]:
    """The users a new channel starts with under the `occupied` default: the agent's own."""
    return record.remote_list()


def settle(
    store: Store,
    app_id: str,
    channel: str,
    now: float,
    *,
    idle_before_join: bool,
    extra: Sequence[AgentRecord] = (),
) -> list[AgentRecord]:
    """Recompute the idle countdown of the channel's agents and save the ones that changed.

    `extra` are records of the channel not (yet) in the store's active set, e.g. a record being
    inserted; they are updated in memory but not saved. Returns the agents still to exit.
    """
    stored = store.active_in_channel(channel, app_id, now)
    extra_ids = {r.agent_id for r in extra}
    agents = [r for r in stored if r.agent_id not in extra_ids] + list(extra)
    humans = store.present_uids(app_id, channel)
    waiting = [r for r in agents if exit_event(r).at > now]
    before = {r.agent_id: (r.users_left_at, r.remote_seen) for r in waiting}
    waiting_ids = {r.agent_id for r in waiting}
    ends = {
        r.agent_id: _end_without_idle(r) if r.agent_id in waiting_ids else r.terminal_at
        for r in agents
    }
    for _ in range(len(agents) + 1):
        for record in waiting:
            left_at, seen = before[record.agent_id]
            record.users_left_at, record.remote_seen = _countdown_start(
                record, agents, humans, ends, now, left_at, seen, idle_before_join
            )
            refresh(record)
        new_ends = {r.agent_id: r.terminal_at for r in agents}
        if new_ends == ends:
            break
        ends = new_ends
    for record in waiting:
        if record.agent_id not in extra_ids and before[record.agent_id] != (
            record.users_left_at,
            record.remote_seen,
        ):
            store.save(record)
    return waiting


def _end_without_idle(record: AgentRecord) -> float:
    """The latest the agent can end: its terminal instant if the idle exit never came."""
    saved = record.users_left_at
    record.users_left_at = None
    refresh(record)
    end = record.terminal_at
    record.users_left_at = saved
    refresh(record)
    return end


def _countdown_start(
    record: AgentRecord,
    agents: Sequence[AgentRecord],
    humans: Sequence[str],
    ends: dict[str, float],
    now: float,
    left_at: float | None,
    seen: bool,
    idle_before_join: bool,
) -> tuple[float | None, bool]:
    """When the agent's idle countdown starts (None: not running), and whether it saw anyone."""
    if any(_counts(record, uid) for uid in humans):
        return None, True
    peers = [
        ends[other.agent_id]
        for other in agents
        if other.agent_id != record.agent_id and _counts(record, other.agent_uid)
    ]
    if peers:
        return max(peers), True
    if left_at is not None and left_at <= now:
        return left_at, seen
    if seen:
        return now, True
    return (record.created_at if idle_before_join else None), False
