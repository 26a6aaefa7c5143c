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

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.diff import outside_changes
from reconciler.errors import PlanError, printable
from reconciler.kinds import KindRegistry, default_registry
from reconciler.models import (
    AgentRecord,
    DesiredAgent,
    DesiredSet,
    FieldChange,
    LiveStatus,
    StateDoc,
)
from reconciler.models.desired import RestartPolicy
from reconciler.models.drift import (
    DriftItem,
    DriftKind,
    DriftReport,
    ResourceDriftItem,
    ResourceDriftKind,
    ResourceUse,
)
from reconciler.models.liveness import (
    ExitCause,
    exit_expected,
    record_exit,
    unmanaged_agents,
)
from reconciler.models.resources import ResourceRecord


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
    platform: str = "",
    kinds: KindRegistry | None = None,
    uses: Sequence[ResourceUse] = (),
) -> DriftReport:
    """The drift report. Raises :class:`PlanError` when ``live`` was not read from the engine.

    ``kinds`` observes each recorded resource of ``live.resources`` (the project's registry);
    ``uses``: the Platform resources state does not record and what they reference.
    """
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
    resources = resource_drift(desired, state, live, kinds or default_registry(), uses)
    return DriftReport(
        app_id=app_id,
        engine=engine,
        environment=environment,
        lineage=state.lineage,
        serial=state.serial,
        checked_at=now,
        recorded=len(state.agents),
        in_sync=in_sync,
        journal_entries=len(state.journal) + len(state.creating),
        items=tuple(items),
        platform=platform if state.resources or resources else "",
        resources_recorded=len(state.resources),
        resources_in_sync=len(state.resources) - sum(1 for r in resources if r.name is not None),
        resources=resources,
    )


def resource_expectation(kind: ResourceDriftKind, wanted: bool, uses: str = "") -> Expectation:
    """The one rule deciding whether the drift of a Platform resource is expected.

    ``wanted``: a manifest still declares it; ``uses``: for an unmanaged resource, what
    recorded resources it references (shown in the sentence).
    """
    if kind == "unmanaged":
        return Expectation(
            False,
            f"a Platform resource this project does not record uses {uses}: it depends on it "
            "and keeps it from being deleted; delete it, or take it in with `reconciler import "
            "KIND/NAME ID` (or `reconciler pull`)",
        )
    if not wanted:
        return Expectation(True, "its manifest is gone; the next apply deletes it anyway")
    if kind == "missing":
        return Expectation(
            False, "the manifests still declare it; the next apply creates it again (a new id)"
        )
    return Expectation(
        False,
        "changed outside this project; the next apply brings it back to its manifest (the "
        "plan shows what it overwrites)",
    )


def resource_drift(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    kinds: KindRegistry,
    uses: Sequence[ResourceUse] = (),
) -> tuple[ResourceDriftItem, ...]:
    """The drift of every recorded Platform resource the refresh read (by address), then each
    unrecorded one in use (by kind and id)."""
    items: list[ResourceDriftItem] = []
    for address in sorted(state.resources):
        if address not in live.resources:
            continue  # not read (none was asked for): nothing to judge
        item = _resource_item(state.resources[address], live, kinds, state.salt, desired)
        if item is not None:
            items.append(item)
    owners = {record.id: address for address, record in state.resources.items()}
    recorded = {(record.kind, record.id) for record in state.resources.values()}
    for use in sorted(uses, key=lambda u: (u.resource_kind, u.id)):
        if (use.resource_kind, use.id) in recorded:
            continue
        used = tuple(sorted({owners[ref] for ref in use.references if ref in owners}))
        if not used:
            continue
        label = f" ({printable(use.label)})" if use.label else ""
        reason = f"not in state{label}, uses {', '.join(used)}"
        items.append(_judged("unmanaged", use.resource_kind, None, use.id, reason, uses=used))
    return tuple(items)


def _judged(
    kind: ResourceDriftKind,
    resource_kind: str,
    name: str | None,
    ident: str,
    reason: str,
    *,
    wanted: bool = False,
    changes: tuple[FieldChange, ...] = (),
    uses: tuple[str, ...] = (),
) -> ResourceDriftItem:
    """One resource's drift item, judged by :func:`resource_expectation`."""
    verdict = resource_expectation(kind, wanted, ", ".join(uses))
    return ResourceDriftItem(
        kind=kind,
        resource_kind=resource_kind,
        name=name,
        id=ident,
        reason=reason,
        expected=verdict.expected,
        why=verdict.why,
        changes=changes,
        uses=uses,
    )


def _resource_item(
    record: ResourceRecord,
    live: LiveStatus,
    kinds: KindRegistry,
    salt: str,
    desired: DesiredSet,
) -> ResourceDriftItem | None:
    wanted = record.address in desired.resources
    held = live.resources.get(record.address)
    if held is None:
        reason = f"recorded, but the Platform no longer holds {record.id}"
        return _judged("missing", record.kind, record.name, record.id, reason, wanted=wanted)
    observed = kinds.kind(record.kind).observe(held, record.spec)
    changes, _ = outside_changes(record.spec, observed, salt)
    if not changes:
        return None
    reason = "changed outside: " + ", ".join(str(c.path) for c in changes)
    return _judged(
        "changed", record.kind, record.name, record.id, reason, wanted=wanted, changes=changes
    )


def managed_channels(desired: DesiredSet, state: StateDoc) -> set[str]:
    """Channels of the manifests and of the recorded agents: where an unrecorded agent is drift."""
    return {a.channel for a in desired.agents.values()} | {r.channel for r in state.agents.values()}


def _recorded_drift(
    record: AgentRecord, live: LiveStatus, agent: DesiredAgent | None
) -> DriftItem | None:
    wanted = agent is not None
    exited = record_exit(record, live)
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
