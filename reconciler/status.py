"""``build_status``: the live view of every managed resource, pure (``reconciler status``).

One row per agent record of the state, with what the engine reports for it now (``RUNNING``,
``STARTING``, ``IDLE``, ``FAILED``, an exit with its reason, ``MISSING``), its uptime and its
token's expiry; one row per recorded resource of the Platform's kinds (:data:`PRESENT`, or
:data:`MISSING` when the Platform no longer holds it; a note when an update of it was
interrupted) and per interrupted create (:data:`CREATING`); then one row per active agent that
nothing records in a managed channel (unmanaged). The exit reason comes from
:mod:`reconciler.models.liveness`, as the plan and drift word it. No clock and no engine here:
the caller passes the live status (with ``resources`` read when state records some) and
``now``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from reconciler.models import LiveStatus, StateDoc
from reconciler.models.liveness import record_exit, unmanaged_agents
from reconciler.models.manifest import AGENT_KIND

PRESENT = "PRESENT"
"""A recorded resource the Platform holds."""
MISSING = "MISSING"
"""A recorded agent or resource the engine or the Platform no longer knows."""
CREATING = "CREATING"
"""A resource whose create was interrupted: whether the Platform holds it is not settled yet."""
UNKNOWN = "UNKNOWN"
"""Not read (the engine's or the Platform's answer did not cover it)."""


@dataclass(frozen=True)
class StatusRow:
    """One resource as the engine reports it now."""

    name: str
    """The manifest's name; empty for an unmanaged agent."""
    kind: str
    id: str
    channel: str
    status: str
    """The engine's status (``RUNNING``, ``STOPPED``, ...; ``MISSING`` when it does not know it)."""
    reason: str = ""
    """Why it is not running (``exited: idle timeout``), or ``unmanaged``."""
    started_at: float | None = None
    """When it started (the engine's start time, else the recorded one); None if unknown."""
    token_expires_at: float | None = None
    managed: bool = True

    def uptime_s(self, now: float) -> float | None:
        """Seconds it has been up at ``now`` (None unless it is active and its start known)."""
        if self.started_at is None or self.reason:
            return None
        return max(0.0, now - self.started_at)


@dataclass(frozen=True)
class StatusReport:
    """Every row, managed ones first by name, then the unmanaged ones by id."""

    checked_at: float
    rows: tuple[StatusRow, ...]
    app_id: str = ""
    engine: str = ""
    unread: tuple[str, ...] = ()
    """What could not be read, one sentence each (``platform unavailable: ...``): the rows it
    covers are :data:`UNKNOWN`, the rest is shown, and the command fails after showing it."""


def build_status(
    state: StateDoc,
    live: LiveStatus,
    channels: Collection[str],
    *,
    now: float,
    app_id: str = "",
    engine: str = "",
    unread: tuple[str, ...] = (),
) -> StatusReport:
    """The status of every recorded resource and of the unmanaged agents in ``channels``;
    ``unread`` says what could not be read (its rows are :data:`UNKNOWN`)."""
    rows: list[StatusRow] = []
    for name, record in sorted(state.agents.items()):
        agent = live.agents.get(record.agent_id)
        ended = record_exit(record, live)
        started = float(agent.start_ts) if agent is not None and agent.start_ts else None
        rows.append(
            StatusRow(
                name=name,
                kind=AGENT_KIND,
                id=record.agent_id,
                channel=record.channel,
                status=ended.status if ended else (agent.status if agent else "UNKNOWN"),
                reason=ended.reason if ended else "",
                started_at=started if started is not None else record.started_at,
                token_expires_at=record.token_expires_at,
            )
        )
    rows.extend(_resource_rows(state, live))
    wanted = set(channels)
    for agent in unmanaged_agents(state, live):
        if agent.channel is None or agent.channel not in wanted:
            continue
        rows.append(
            StatusRow(
                name="",
                kind=AGENT_KIND,
                id=agent.agent_id,
                channel=agent.channel,
                status=agent.status,
                reason="unmanaged: in a managed channel, recorded nowhere",
                started_at=float(agent.start_ts) if agent.start_ts else None,
                managed=False,
            )
        )
    return StatusReport(
        checked_at=now, rows=tuple(rows), app_id=app_id, engine=engine, unread=unread
    )


def _resource_rows(state: StateDoc, live: LiveStatus) -> list[StatusRow]:
    """A row per recorded resource of the Platform's kinds, by address, then per interrupted
    create."""
    rows: list[StatusRow] = []
    for address, record in sorted(state.resources.items()):
        if address not in live.resources:
            status, reason = UNKNOWN, "not read"
        elif live.resources[address] is None:
            status, reason = MISSING, "deleted outside: the next plan creates it again"
        else:
            status, reason = PRESENT, ""
        if record.updating is not None:
            note = "update interrupted: the next plan or apply settles it"
            reason = f"{reason}; {note}" if reason else note
        rows.append(
            StatusRow(
                name=record.name,
                kind=record.kind,
                id=record.id,
                channel="",
                status=status,
                reason=reason,
            )
        )
    for entry in (state.creating[address] for address in sorted(state.creating)):
        rows.append(
            StatusRow(
                name=entry.name,
                kind=entry.kind,
                id="",
                channel="",
                status=CREATING,
                reason="create interrupted: the next plan or apply looks for it",
            )
        )
    return rows
