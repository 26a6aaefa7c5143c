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
    seeds: Sequence[AgentRecord] | None = None,
) -> list[AgentRecord]:
    """Recompute the idle countdown of the channel's agents and save the ones that changed.

    `extra` are records of the channel not (yet) in the store, e.g. a record being inserted;
    they are updated in memory but not saved. `seeds` are the agents that arrived or whose end
    moved (None: the users changed, so every agent may be affected); then only they and the
    agents that count them, transitively, are recomputed, and only the agents that matters for
    are read. Returns the agents recomputed.
    """
    agents = None if seeds is None else _relevant(store, app_id, channel, now, extra, seeds)
    if agents is None:
        extra_ids = {r.agent_id for r in extra}
        stored = store.active_in_channel_light(channel, app_id, now)
        agents = [r for r in stored if r.agent_id not in extra_ids] + list(extra)
    humans = store.present_uids(app_id, channel)
    candidates = [r for r in agents if exit_event(r).at > now]
    wanted = {r.agent_id: frozenset(r.remote_list()) for r in candidates}
    waiting = _affected(candidates, wanted, seeds)
    before = {r.agent_id: (r.users_left_at, r.remote_seen) for r in waiting}
    ends = {r.agent_id: r.terminal_at for r in agents}
    for record in waiting:
        ends[record.agent_id] = _end_without_idle(record)
    for _ in range(len(waiting) + 1):
        peers = _Peers(agents, ends)
        for record in waiting:
            left_at, seen = before[record.agent_id]
            record.users_left_at, record.remote_seen = _countdown_start(
                record, wanted[record.agent_id], humans, peers, now, left_at, seen,
                idle_before_join,
            )  # fmt: skip
            refresh(record)
        new_ends = {r.agent_id: r.terminal_at for r in agents}
        if new_ends == ends:
            break
        ends = new_ends
    extra_ids = {r.agent_id for r in extra}
    for record in waiting:
        changed = before[record.agent_id] != (record.users_left_at, record.remote_seen)
        if changed and record.agent_id not in extra_ids:
            store.save_countdown(record)
    return waiting


def _relevant(
    store: Store,
    app_id: str,
    channel: str,
    now: float,
    extra: Sequence[AgentRecord],
    seeds: Sequence[AgentRecord],
) -> list[AgentRecord] | None:
    """The seeds, the agents that count them (transitively) and the agents those count.

    None when that cannot be narrowed down (a `*` listener is involved, or a uid the store
    cannot match): then every agent of the channel is relevant.
    """
    by_id = {r.agent_id: r for r in extra}
    seed_ids = [r.agent_id for r in seeds if r.agent_id not in by_id]
    found = store.active_in_channel_matching(channel, app_id, now, agent_ids=seed_ids)
    if found is None:
        return None
    by_id.update((r.agent_id, r) for r in found if r.agent_id not in by_id)
    frontier = {r.agent_uid for r in seeds}
    done: set[str] = set()
    while frontier:
        done |= frontier
        found = store.active_in_channel_matching(channel, app_id, now, listening_to=frontier)
        if found is None:
            return None
        new = [r for r in found if r.agent_id not in by_id]
        by_id.update((r.agent_id, r) for r in new)
        frontier = {r.agent_uid for r in new} - done
    counted: set[str] = set()
    for record in by_id.values():
        uids = record.remote_list()
        if WILDCARD in uids:
            return None
        counted.update(uids)
    found = store.active_in_channel_matching(channel, app_id, now, agent_uids=counted)
    if found is None:
        return None
    by_id.update((r.agent_id, r) for r in found if r.agent_id not in by_id)
    return list(by_id.values())


def _affected(
    candidates: Sequence[AgentRecord],
    wanted: dict[str, frozenset[str]],
    seeds: Sequence[AgentRecord] | None,
) -> list[AgentRecord]:
    """The candidates whose countdown may change: the seeds and who counts them, transitively."""
    if seeds is None:
        return list(candidates)
    affected = {r.agent_id for r in seeds if r.agent_id in wanted}
    frontier = {r.agent_uid for r in seeds}
    while frontier:
        new = {
            r.agent_id
            for r in candidates
            if r.agent_id not in affected
            and (WILDCARD in wanted[r.agent_id] or not wanted[r.agent_id].isdisjoint(frontier))
        }
        affected |= new
        frontier = {r.agent_uid for r in candidates if r.agent_id in new}
    return [r for r in candidates if r.agent_id in affected]


class _Peers:
    """The scheduled ends of a channel's agents, by uid, for "when does the last one leave"."""

    def __init__(self, agents: Sequence[AgentRecord], ends: dict[str, float]) -> None:
        self._by_uid: dict[str, list[tuple[float, str]]] = {}
        everyone: list[tuple[float, str]] = []
        for record in agents:
            item = (ends[record.agent_id], record.agent_id)
            self._by_uid.setdefault(record.agent_uid, []).append(item)
            everyone.append(item)
        self._top = sorted(everyone, reverse=True)[:2]

    def last_end(self, record: AgentRecord, wanted: frozenset[str]) -> float | None:
        """When the last other agent that `record` counts leaves (None: there is none)."""
        if WILDCARD in wanted:
            candidates = self._top
        else:
            candidates = [item for uid in wanted for item in self._by_uid.get(uid, [])]
        ends = [end for end, agent_id in candidates if agent_id != record.agent_id]
        return max(ends) if ends else None


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
    wanted: frozenset[str],
    humans: Sequence[str],
    peers: _Peers,
    now: float,
    left_at: float | None,
    seen: bool,
    idle_before_join: bool,
) -> tuple[float | None, bool]:
    """When the agent's idle countdown starts (None: not running), and whether it saw anyone."""
    if (WILDCARD in wanted and humans) or any(uid in wanted for uid in humans):
        return None, True
    last = peers.last_end(record, wanted)
    if last is not None:
        return last, True
    if left_at is not None and left_at <= now:
        return left_at, seen
    if seen:
        return now, True
    return (record.created_at if idle_before_join else None), False
