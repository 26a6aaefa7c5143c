"""The plan of the v2 engine's running agents (the ``Agent`` kind).

One decision per agent (start, stop, update, restart, renew-token, rotate, rename, adopt, forget,
no-op) with its reason code, and what follows from all of them together: the renames, the
protected agents a plan must not stop, the agents that run after it (the concurrency cap), the
warnings about exited and unmanaged agents."""

from __future__ import annotations

from typing import Any

from reconciler.diff import (
    shown_changes,
)
from reconciler.kinds import (
    AGENT,
)
from reconciler.models import (
    AgentPlan,
    AgentRecord,
    DesiredSet,
    FieldChange,
    LiveStatus,
    StateDoc,
)
from reconciler.models.liveness import agent_exit, exit_expected, record_exit, unmanaged_agents
from reconciler.models.plan import EXIT_REASON_CODES, ReasonCode
from reconciler.plan.options import PlanOptions
from reconciler.plan.state_fields import STATE_FIELDS, state_change
from reconciler.plan.views import DesiredView
from reconciler.plan.wording import duration, shown_value

MAX_RUNTIME_S = 72 * 3600
"""The engine stops every agent after 72 hours, whatever ``idle_timeout`` says."""


RECORDING_ACTIONS = frozenset({"start", "restart", "update", "renew-token"})
"""Actions whose apply records the agent's view (its redacted spec and digest) in state (and
the ``adopt`` of an ``import:`` entry, :data:`ReasonCode.IMPORTED`)."""


def planned_renames(desired: DesiredSet, state: StateDoc) -> dict[str, str]:
    """``new -> old`` for each manifest whose ``renamed_from`` names a record to move.

    Only while state records the old name, not the new one, and no manifest still declares the
    old name (then the old record is that manifest's, and the new agent is a new one).
    """
    out: dict[str, str] = {}
    for name, agent in desired.agents.items():
        old = agent.renamed_from
        if (
            old
            and old != name
            and old in state.agents
            and name not in state.agents
            and old not in desired.agents
            and old not in out.values()
        ):
            out[name] = old
    return out


def as_rename(planned: AgentPlan, old: str, generation: int) -> AgentPlan:
    """The plan of an agent moved from ``old``: the rename, and what follows it if anything.

    A rename is a state edit only. When the moved agent also differs from its manifest, the
    plan says so: the next plan (after this one is applied) carries that action.
    """
    reason = f"{old} -> {planned.name} (renamed, no restart)"
    if planned.action != "no-op":
        reason += f"; then {planned.action} on the next plan: {planned.reason}"
    return planned.model_copy(
        update={
            "action": "rename",
            "reason": reason,
            "reason_code": ReasonCode.RENAMED,
            "renamed_from": old,
            "changes": (),
            "generation": generation,
        }
    )


def protection_errors(
    plans: list[AgentPlan], state: StateDoc, declared: set[str], options: PlanOptions
) -> list[str]:
    """Why the plan must not stop protected agents (one sentence per agent).

    A manifest that says ``desired: stopped`` stops its agent on purpose: not an error.
    """
    errors: list[str] = []
    for plan in plans:
        record = state.agents.get(plan.name)
        if plan.action != "stop" or record is None or not record.protect:
            continue
        if plan.name in declared and not options.destroy:
            continue
        if options.destroy and options.force:
            continue
        how = (
            "pass --force to destroy it anyway, or run `reconciler state unprotect "
            f"{plan.name}` first"
            if options.destroy
            else f"to remove it, first apply its manifest with protect: false, or run "
            f"`reconciler state unprotect {plan.name}`"
        )
        why = "destroy would stop it" if options.destroy else "its manifest was removed"
        errors.append(f"{plan.name} is protected (protect: true in state) and {why}; {how}")
    return errors


def plan_agent(
    name: str,
    view: DesiredView | None,
    record: AgentRecord | None,
    live: LiveStatus,
    now: float,
    options: PlanOptions,
) -> AgentPlan:
    """The decision for one agent: its manifest's ``view`` (None: removed, or a destroy)
    against its ``record`` (None: never started) and what the engine reports of it."""
    if view is None:
        assert record is not None
        return _planned_removal(name, record, live, options)
    common: dict[str, Any] = {
        "name": name,
        "channel": view.agent.channel,
        "desired_digest": view.digest,
        "path": view.agent.path,
    }
    if view.agent.desired == "stopped":
        return _planned_stopped(view, record, live, common)
    if record is None:
        # Like Terraform's create: the plan carries the spec, and renderers show every
        # attribute of it (reconciler.render.created), so a reviewer sees the new agent.
        return AgentPlan(
            action="start",
            reason="new agent",
            reason_code=ReasonCode.NEW,
            create_spec=view.spec,
            generation=1,
            **common,
        )
    common.update(agent_id=record.agent_id)
    changes = _recorded_changes(view, record)
    exit = record_exit(record, live)
    policy = view.agent.restart_policy
    if exit is not None and exit_expected(policy, exit.cause):
        return AgentPlan(
            action="no-op",
            reason=f"{exit.reason} (expected by restart_policy {policy}: left stopped)",
            reason_code=ReasonCode.EXITED_EXPECTED,
            generation=record.generation,
            **common,
        )
    if exit is not None:
        return AgentPlan(
            action="start",
            reason=exit.reason,
            reason_code=EXIT_REASON_CODES[exit.cause],
            changes=changes,
            generation=record.generation + 1,
            **common,
        )
    changed = _planned_change(name, changes, record, options, common)
    if changed is not None:
        return changed
    return _planned_upkeep(record, live, now, options, common)


def _planned_removal(
    name: str, record: AgentRecord, live: LiveStatus, options: PlanOptions
) -> AgentPlan:
    """A recorded agent no manifest declares (or a destroy): stopped, or forgotten."""
    if not options.destroy and record.on_delete == "forget":
        return AgentPlan(
            name=name,
            action="forget",
            reason="removed from the manifests; lifecycle.on_delete: forget leaves it "
            "running, no longer managed",
            reason_code=ReasonCode.FORGOTTEN,
            agent_id=record.agent_id,
            channel=record.channel,
            generation=record.generation,
        )
    reason = "destroy requested" if options.destroy else "removed from the manifests"
    exited = _exit_reason(record, live)
    if exited is not None:
        reason += f" (already {exited})"
    return AgentPlan(
        name=name,
        action="stop",
        reason=reason,
        reason_code=ReasonCode.DESTROY_REQUESTED if options.destroy else ReasonCode.REMOVED,
        agent_id=record.agent_id,
        channel=record.channel,
        generation=record.generation,
    )


def _recorded_changes(view: DesiredView, record: AgentRecord) -> tuple[FieldChange, ...]:
    """What differs between the record and the manifest: the spec's fields, then the
    state-only fields (:data:`STATE_FIELDS`)."""
    # Digests first: an unchanged agent (the common case) is not walked field by field. The
    # equality check keeps a record whose digest does not match its spec from hiding a change.
    unchanged = record.spec_digest == view.digest and record.spec == view.spec
    changes = () if unchanged else _changes(record.spec, view.spec)
    if record.protect != view.agent.protect:
        changes = (*changes, state_change("protect", record.protect, view.agent.protect))
    if record.on_delete != view.agent.on_delete:
        changes = (
            *changes,
            state_change("lifecycle.on_delete", record.on_delete, view.agent.on_delete),
        )
    if record.restart_policy not in (None, view.agent.restart_policy):
        changes = (
            *changes,
            state_change("restart_policy", record.restart_policy, view.agent.restart_policy),
        )
    return changes


def _planned_change(
    name: str,
    changes: tuple[FieldChange, ...],
    record: AgentRecord,
    options: PlanOptions,
    common: dict[str, Any],
) -> AgentPlan | None:
    """The restart or update a running agent's ``changes`` (or ``--replace``) call for;
    None when there is none."""
    if name in options.replace:
        return AgentPlan(
            action="restart",
            reason="replacement requested (--replace)",
            reason_code=ReasonCode.REPLACE_REQUESTED,
            changes=changes,
            generation=record.generation + 1,
            **common,
        )
    restart_fields = [str(c.path) for c in changes if c.forces_restart]
    if restart_fields:
        return AgentPlan(
            action="restart",
            reason="changes force a restart: " + ", ".join(restart_fields),
            reason_code=ReasonCode.SPEC_CHANGED,
            changes=changes,
            generation=record.generation + 1,
            **common,
        )
    if changes and all(str(c.path) in STATE_FIELDS for c in changes):
        shown = ", ".join(f"{c.path}: {shown_value(c.after)}" for c in changes)
        return AgentPlan(
            action="update",
            reason=f"{shown} recorded in state (no engine call)",
            reason_code=ReasonCode.STATE_ONLY_CHANGE,
            changes=changes,
            generation=record.generation,
            **common,
        )
    if changes:
        return AgentPlan(
            action="update",
            reason="in-place update of " + ", ".join(str(c.path) for c in changes),
            reason_code=ReasonCode.UPDATED_IN_PLACE,
            changes=changes,
            generation=record.generation,
            **common,
        )
    return None


def _planned_upkeep(
    record: AgentRecord,
    live: LiveStatus,
    now: float,
    options: PlanOptions,
    common: dict[str, Any],
) -> AgentPlan:
    """A running agent its manifest agrees with: rotated before the runtime cap, its token
    renewed before it expires, else left as it is."""
    runtime_left = record.started_at + MAX_RUNTIME_S - now
    if live.refreshed and runtime_left < options.rotate_before_cap_s:
        return AgentPlan(
            action="restart",
            reason=f"rotate (reaches the 72 h cap in {duration(runtime_left)})",
            reason_code=ReasonCode.ROTATION,
            generation=record.generation + 1,
            **common,
        )
    if record.token_mode == "auto" and record.token_expires_at is not None:
        left = record.token_expires_at - now
        if left < options.token_renewal_window_s:
            when = "expired" if left <= 0 else f"expires in {duration(left)}"
            return AgentPlan(
                action="renew-token",
                reason=f"token {when} (renewal window {duration(options.token_renewal_window_s)})",
                reason_code=ReasonCode.TOKEN_EXPIRING,
                generation=record.generation,
                **common,
            )
    reason = "up to date" if live.refreshed else "up to date (engine not refreshed)"
    return AgentPlan(
        action="no-op",
        reason=reason,
        reason_code=ReasonCode.UP_TO_DATE,
        generation=record.generation,
        **common,
    )


def _planned_stopped(
    view: DesiredView, record: AgentRecord | None, live: LiveStatus, common: dict[str, Any]
) -> AgentPlan:
    """An agent whose manifest says ``desired: stopped``: stopped if recorded, else left alone."""
    if record is None:
        return AgentPlan(
            action="no-op",
            reason="desired: stopped (not started)",
            reason_code=ReasonCode.DESIRED_STOPPED,
            **common,
        )
    reason = "desired: stopped"
    exited = _exit_reason(record, live)
    if exited is not None:
        reason += f" (already {exited})"
    common = {**common, "agent_id": record.agent_id}
    return AgentPlan(
        action="stop",
        reason=reason,
        reason_code=ReasonCode.DESIRED_STOPPED,
        generation=record.generation,
        **common,
    )


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    return shown_changes(before, after, AGENT.forces_replacement, with_unknown=True)


def _exit_reason(record: AgentRecord, live: LiveStatus) -> str | None:
    """Why a recorded agent is no longer running on the engine, or None if it is (or unknown)."""
    exited = agent_exit(record.agent_id, live)
    return exited.reason if exited is not None else None


def left_stopped_warnings(
    plans: list[AgentPlan], desired: DesiredSet, state: StateDoc, live: LiveStatus
) -> list[str]:
    """One warning per agent that exited and that its restart policy leaves stopped."""
    out: list[str] = []
    for plan in plans:
        agent, record = desired.agents.get(plan.name), state.agents.get(plan.name)
        if plan.action != "no-op" or agent is None or record is None:
            continue
        exit = record_exit(record, live)
        if exit is not None and exit_expected(agent.restart_policy, exit.cause):
            out.append(
                f"{plan.name} {exit.reason}; left stopped (restart_policy {agent.restart_policy})"
            )
    return out


def unmanaged_warnings(state: StateDoc, live: LiveStatus, imported: set[str]) -> list[str]:
    out: list[str] = []
    for agent in unmanaged_agents(state, live):
        if agent.agent_id in imported:
            continue  # planned as an import
        where = f" in channel {agent.channel}" if agent.channel else ""
        out.append(f"unmanaged agent {agent.agent_id}{where} is {agent.status} (not in state)")
    return out


def agents_running_after(
    plans: list[AgentPlan],
    state: StateDoc,
    live: LiveStatus,
    selected: set[str],
    imported: set[str],
) -> int:
    count = 0
    for plan in plans:
        if plan.action == "stop" or (plan.action == "adopt" and plan.agent_id in imported):
            continue  # an import is counted among the engine's agents (below), as it is now
        if plan.action == "no-op":  # left as it is: counts only if it runs now
            record = state.agents.get(plan.name)
            if record is None or agent_exit(record.agent_id, live) is not None:
                continue
        count += 1
    for name, record in state.agents.items():
        if name in selected:
            continue
        agent = live.agents.get(record.agent_id) if live.refreshed else None
        if not live.refreshed or (agent is not None and agent.active):
            count += 1
    return count + unmanaged_count(state, live)


def unmanaged_count(state: StateDoc, live: LiveStatus) -> int:
    recorded = {r.agent_id for r in state.agents.values()}
    return sum(1 for a in live.agents.values() if a.active and a.agent_id not in recorded)


def as_adoption(planned: AgentPlan, adopted: dict[str, str]) -> AgentPlan:
    """Show an adoption: as the action when nothing else happens, else in the reason."""
    agent_id = adopted.get(planned.name)
    if agent_id is None or planned.agent_id != agent_id:
        return planned
    why = f"adopt agent {agent_id}: an interrupted run started it (the engine names it with this"
    why += " project's wire name)"
    if planned.action == "no-op":
        return planned.model_copy(
            update={"action": "adopt", "reason": why, "reason_code": ReasonCode.ADOPTED}
        )
    return planned.model_copy(update={"reason": f"{why}; then {planned.reason}"})
