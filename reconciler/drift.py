"""Layer 2: ``build_drift``, the pure comparison of recorded state with the engine's live status.

``build_drift(desired, state, live, now=..., app_id=..., engine=...)`` returns a frozen
:class:`~reconciler.models.drift.DriftReport`: per agent, whether it exited (and why), is missing,
runs unrecorded in a managed channel, or runs differently from its record where the engine shows
it (its channel). No IO and no clock; the same inputs always give the same report.

Whether a drift is *expected* is decided in one place, :func:`expectation`: an exit of an agent
the manifests still want running is unexpected (the next apply starts it again) unless its
``restart_policy`` expects that exit (:func:`~reconciler.models.liveness.exit_expected`); an
exit of an agent whose manifest says ``desired: stopped``, and the drift of an agent whose
manifest is gone, are expected (the next apply stops or forgets it anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import PlanError
from reconciler.models import AgentRecord, DesiredAgent, DesiredSet, LiveStatus, StateDoc
from reconciler.models.desired import RestartPolicy
from reconciler.models.drift import DriftItem, DriftKind, DriftReport
from reconciler.models.liveness import (
    ExitCause,
    agent_exit,
    exit_expected,
    unmanaged_agents,
)


@dataclass(frozen=True)
class Expectation:
    """Whether one drift is expected, and the sentence that says why."""

    expected: bool
    why: str


def expectation(
    kind: DriftKind,
    cause: ExitCause | None,
    wanted: bool,
    policy: RestartPolicy = "always",
    stopped: bool = False,
) -> Expectation:
    """The one rule deciding whether a drift is expected.

    ``wanted``: the manifests still declare the agent (unmanaged agents are never wanted).
    ``cause`` is set for exited and missing agents; the agent's ``policy`` (its manifest's
    ``restart_policy``) decides which causes are expected; ``stopped``: its manifest says
    ``desired: stopped``.
    """
    if kind == "unmanaged":
        return Expectation(
            False,
            "an agent this project does not record takes a slot in a managed channel and in "
            "the app's capacity; stop it, or take it over with `reconciler import`",
        )
    if not wanted:
        return Expectation(True, "its manifest is gone; the next apply stops it anyway")
    if kind == "changed":
        return Expectation(
            False,
            "the engine lists it in another channel than its record; the plan does not correct "
            "this",
        )
    if stopped:
        return Expectation(True, "its manifest says desired: stopped; the next apply stops it")
    if cause is not None and exit_expected(policy, cause):
        return Expectation(
            True, f"restart_policy {policy} expects this exit; the next apply leaves it stopped"
        )
    return Expectation(False, "the manifests want it running; the next apply starts it again")


def build_drift(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    *,
    now: float,
    app_id: str = "",
    engine: str = "",
    environment: str = "",
) -> DriftReport:
    """The drift report. Raises :class:`PlanError` when ``live`` was not read from the engine."""
    if not live.refreshed:
        raise PlanError("drift needs the engine's live status (no refresh was made)")
    items: list[DriftItem] = []
    in_sync = 0
    for name in sorted(state.agents):
        record = state.agents[name]
        item = _recorded_drift(record, live, desired.agents.get(name))
        if item is None:
            in_sync += 1
        else:
            items.append(item)
    managed = managed_channels(desired, state)
    for agent in unmanaged_agents(state, live):
        if agent.channel is None or agent.channel not in managed:
            continue  # another project's agent in the same app: not ours to judge
        verdict = expectation("unmanaged", None, wanted=False)
        items.append(
            DriftItem(
                kind="unmanaged",
                name=None,
                agent_id=agent.agent_id,
                channel=agent.channel,
                status=agent.status,
                reason=f"{agent.status} in managed channel {agent.channel}, not in state",
                expected=verdict.expected,
                why=verdict.why,
            )
        )
    return DriftReport(
        app_id=app_id,
        engine=engine,
        environment=environment,
        lineage=state.lineage,
        serial=state.serial,
        checked_at=now,
        recorded=len(state.agents),
        in_sync=in_sync,
        journal_entries=len(state.journal),
        items=tuple(items),
    )


def managed_channels(desired: DesiredSet, state: StateDoc) -> set[str]:
    """Channels of the manifests and of the recorded agents: where an unrecorded agent is drift."""
    return {a.channel for a in desired.agents.values()} | {r.channel for r in state.agents.values()}


def _recorded_drift(
    record: AgentRecord, live: LiveStatus, agent: DesiredAgent | None
) -> DriftItem | None:
    wanted = agent is not None
    exited = agent_exit(record.agent_id, live)
    if exited is not None:
        kind: DriftKind = "missing" if exited.cause == "missing" else "exited"
        verdict = expectation(
            kind,
            exited.cause,
            wanted,
            policy=agent.restart_policy if agent is not None else "always",
            stopped=agent is not None and agent.desired == "stopped",
        )
        return DriftItem(
            kind=kind,
            name=record.name,
            agent_id=record.agent_id,
            channel=record.channel,
            status=exited.status,
            cause=exited.cause,
            message=exited.message,
            reason=exited.reason,
            expected=verdict.expected,
            why=verdict.why,
        )
    running = live.agents[record.agent_id]
    if running.channel is not None and running.channel != record.channel:
        verdict = expectation("changed", None, wanted)
        return DriftItem(
            kind="changed",
            name=record.name,
            agent_id=record.agent_id,
            channel=running.channel,
            status=running.status,
            reason=f"runs in channel {running.channel}, recorded in {record.channel}",
            expected=verdict.expected,
            why=verdict.why,
            field="channel",
            recorded=record.channel,
            live=running.channel,
        )
    return None
