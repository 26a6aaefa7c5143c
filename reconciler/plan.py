"""Layer 2: ``build_plan``, the pure heart of the tool.

``build_plan(desired, state, live, now=..., options=...)`` compares what the manifests declare
with what the state records and what the engine reports, and returns a frozen
:class:`~reconciler.models.Plan`. No IO, no clock (``now`` is passed in), deterministic order:
the same inputs always give the same plan. The plan holds no secret: both sides are redacted
with the state's salt before they are compared.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.diff import (
    normalize_spec,
    normalize_spec_sharing,
    outside_changes,
    redact_copying,
    redact_in_place,
    settle_unknown,
    shown_changes,
    spec_digest,
)
from reconciler.diff.normalize import drop_nulls
from reconciler.errors import Location, PlanError, Problem, ValidationError, printable
from reconciler.kinds import (
    AGENT,
    KindRegistry,
    closure,
    creation_order,
    default_registry,
    resolve_references,
)
from reconciler.models import (
    AgentPlan,
    AgentRecord,
    DesiredAgent,
    DesiredSet,
    FieldChange,
    FieldPath,
    LiveStatus,
    Plan,
    StateDoc,
)
from reconciler.models.liveness import agent_exit, exit_expected, unmanaged_agents
from reconciler.models.plan import EXIT_REASON_CODES, ReasonCode, ResourcePlan
from reconciler.models.resources import DesiredResource, ResourceRecord
from reconciler.models.rollout import DEFAULT_MAX_UNAVAILABLE, resolve_max_unavailable
from reconciler.models.state import another_states, foreign_tag

STATE_FIELDS = ("protect", "lifecycle.on_delete", "restart_policy")
"""Manifest fields recorded in state only (not in the spec, never sent to the engine): their
change alone is an ``update`` without an engine call."""

MAX_RUNTIME_S = 72 * 3600
"""The engine stops every agent after 72 hours, whatever ``idle_timeout`` says."""


@dataclass(frozen=True)
class PlanOptions:
    """What the plan needs to know besides its three inputs."""

    app_id: str = ""
    engine: str = ""
    platform: str = ""
    """The Platform, as the plan names it when it has resources (``Plan.platform``)."""
    environment: str = ""
    max_concurrent_agents: int = 20
    token_renewal_window_s: int = 7200
    rotate_before_cap_s: int = 7200
    """Restart agents that reach the 72 h runtime cap within this window (its own setting)."""
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    """``--exclude``: agents and resources (``KIND/NAME``) left out of the plan, with the
    resources that depend on them (the negation of ``targets``)."""
    replace: tuple[str, ...] = ()
    destroy: bool = False
    force: bool = False
    """``destroy --force``: protected agents are destroyed too."""
    warnings: tuple[str, ...] = field(default=())
    max_unavailable: int | str = DEFAULT_MAX_UNAVAILABLE
    """``max_unavailable`` from the settings; the plan carries it resolved to a count."""
    adopted: tuple[tuple[str, str], ...] = ()
    """``(name, agent_id)`` of agents the journal's evidence takes into state (an interrupted
    run started them): the state given is as if settled, and the plan shows each as ``adopt``."""
    kinds: KindRegistry = field(default_factory=default_registry)
    """The kinds the manifests may declare; resources of kinds other than ``Agent`` are planned
    by their kind's rules (:mod:`reconciler.kinds`)."""


@dataclass(frozen=True)
class DesiredView:
    """A desired agent brought to the form it is compared in."""

    agent: DesiredAgent
    spec: dict[str, Any]
    digest: str


def desired_view(
    agent: DesiredAgent, salt: str, recorded: dict[str, Any] | None = None
) -> DesiredView:
    """Normalize and redact a desired agent with the state's salt.

    Values the manifests could not give (an unset variable, in a plan made without secrets) take
    the ``recorded`` spec's value where it has one, else an unknown marker.
    """
    spec = dict(agent.spec)
    if agent.token_mode == "auto":
        spec["token"] = "auto"
    if agent.unknown:  # settled in place below: a tree of its own
        redacted = redact_in_place(normalize_spec(spec), agent.sensitive, salt)
        settle_unknown(redacted, agent.unknown, agent.sensitive, recorded)
    else:
        # The view shares every subtree that neither normalization nor redaction changes with
        # the manifest's spec (never changed in place, neither of them): one copy of those in
        # memory, not two, for every agent a plan starts or records.
        redacted = redact_copying(normalize_spec_sharing(spec), agent.sensitive, salt)
    return DesiredView(agent=agent, spec=redacted, digest=spec_digest(redacted))


def manifests_digest(views: Iterable[DesiredView]) -> str:
    """Digest of the whole desired set (names and redacted specs): moves when any manifest does."""
    return digest_of_digests({view.agent.name: reviewed_digest(view) for view in views})


def reviewed_digest(view: DesiredView) -> str:
    """The spec digest, plus the lifecycle fields that differ from their defaults (so a saved
    plan goes stale when one of them changes)."""
    agent = view.agent
    marks = [
        "protect" if agent.protect else "",
        f"restart_policy={agent.restart_policy}" if agent.restart_policy != "always" else "",
        f"desired={agent.desired}" if agent.desired != "running" else "",
        f"renamed_from={agent.renamed_from}" if agent.renamed_from else "",
        f"on_delete={agent.on_delete}" if agent.on_delete != "stop" else "",
        f"import={agent.import_id}" if agent.import_id else "",
    ]
    return "+".join([view.digest, *(m for m in marks if m)])


def digest_of_digests(digests: dict[str, str]) -> str:
    """:func:`manifests_digest` from each agent's name and digest."""
    h = hashlib.sha256()
    for name in sorted(digests):
        h.update(f"{name}\x00{digests[name]}\n".encode())
    return "sha256:" + h.hexdigest()


RECORDING_ACTIONS = frozenset({"start", "restart", "update", "renew-token"})
"""Actions whose apply records the agent's view (its redacted spec and digest) in state (and
the ``adopt`` of an ``import:`` entry, :data:`ReasonCode.IMPORTED`)."""


def build_plan(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    *,
    now: float,
    options: PlanOptions,
) -> Plan:
    """Compute the plan. Raises :class:`PlanError` for unknown targets.

    A plan that would exceed the engine's concurrency cap is still returned, so it can be
    rendered and reviewed, but with the overrun in :attr:`Plan.errors`: nothing applies it.
    """
    return build_plan_with_views(desired, state, live, now=now, options=options)[0]


def build_plan_with_views(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    *,
    now: float,
    options: PlanOptions,
) -> tuple[Plan, dict[str, DesiredView]]:
    """:func:`build_plan`, and the view of each agent the plan starts, restarts or updates
    (:data:`RECORDING_ACTIONS`): what the apply records for it, handed over so that the apply
    never computes it again. The views of the other agents are dropped once each is planned.
    """
    wanted = set() if options.destroy else set(desired.agents)
    universe = sorted(wanted | set(state.agents))
    resource_universe = set(desired.resources) | set(state.resources)
    known = [*universe, *sorted(resource_universe)]
    unknown = sorted(set(options.targets) - set(known))
    if unknown:
        raise PlanError(_names_nothing("--target", unknown, known, "in the manifests or state"))
    resource_wanted = set() if options.destroy else set(desired.resources)
    bad_replace = sorted(set(options.replace) - set(wanted) - resource_wanted)
    if bad_replace:
        declared = sorted(wanted | resource_wanted)
        raise PlanError(_names_nothing("--replace", bad_replace, declared, "in the manifests"))
    selected = set(options.targets) | set(options.replace) if options.targets else set(universe)
    selected -= _checked_excludes(options, known)

    imports, import_notes = _imports(desired, state, live, selected, options.destroy)
    # One agent at a time: its normalized, redacted view lives only while it is planned, so
    # memory does not hold a second copy of every spec (only the digests are kept).
    planned = set(universe) & selected
    renames = {} if options.destroy else _renames(desired, state)
    moved = {old: new for new, old in renames.items()}
    digests: dict[str, str] = {}
    plans: list[AgentPlan] = []
    kept: dict[str, DesiredView] = {}
    for name in sorted(set(desired.agents) | set(state.agents)):
        agent = desired.agents.get(name)
        record = state.agents.get(name)
        if name in renames:
            record = state.agents[renames[name]]
        recorded = record.spec if record is not None else None
        view = desired_view(agent, state.salt, recorded) if agent is not None else None
        if view is not None:
            digests[name] = reviewed_digest(view)
        if name not in planned or (name in moved and moved[name] in planned):
            continue  # a renamed agent is planned under its new name only
        if name in imports and view is not None:
            planned_agent = _planned_import(view, imports[name], live)
            kept[name] = view
            plans.append(planned_agent)
            continue
        planned_agent = _plan_agent(
            name, None if options.destroy else view, record, live, now, options
        )
        if name in renames and record is not None:
            planned_agent = _as_rename(planned_agent, renames[name], record.generation)
        planned_agent = _as_adoption(planned_agent, dict(options.adopted))
        if view is not None and planned_agent.action in RECORDING_ACTIONS:
            kept[name] = view
        plans.append(planned_agent)

    exclusion_notes: list[str] = []
    resources = _plan_resources(desired, state, live, options, digests, exclusion_notes)

    warnings = list(options.warnings)
    warnings.extend(exclusion_notes)
    unknown = sorted(
        {n for a in desired.agents.values() for ns in a.unknown.values() for n in ns}
        | {n for r in desired.resources.values() for ns in r.unknown.values() for n in ns}
    )
    if unknown:
        warnings.append(
            f"{_count(len(unknown), 'variable')} not set ({', '.join(unknown)}): "
            "their values are unknown, so a change of them cannot be detected; "
            "this plan cannot be saved or applied"
        )
    warnings.extend(import_notes)
    warnings.extend(_unmanaged_warnings(state, live, set(imports.values())))
    warnings.extend(_left_stopped_warnings(plans, desired, state, live))
    if not live.refreshed and state.creating:
        warnings.append(
            f"{len(state.creating)} interrupted create(s) recorded in state are unresolved; "
            "plan with --refresh to see what apply will do about them"
        )
    interrupted = sum(1 for r in state.resources.values() if r.updating is not None)
    if not live.refreshed and interrupted:
        warnings.append(
            f"{interrupted} interrupted update(s) recorded in state are unresolved; "
            "plan with --refresh to see what apply will do about them"
        )
    if not live.refreshed and state.journal:
        warnings.append(
            f"{len(state.journal)} interrupted engine call(s) recorded in state are unresolved; "
            "plan with --refresh to see what apply will do about them"
        )
    running_after = _running_after(plans, state, live, selected, set(imports.values()))
    errors = _protection_errors(plans, state, set(desired.agents), options)
    errors.extend(_resource_protection_errors(resources, options))
    errors.extend(
        f"the interrupted create of {address} is unresolved: {address} is not created again "
        "until it is (see the warnings)"
        for address in sorted(state.creating)
        if any(r.address == address and r.action in ("create", "replace") for r in resources)
    )
    if running_after > options.max_concurrent_agents and any(
        p.action in ("start", "restart") for p in plans
    ):
        unmanaged = _unmanaged_count(state, live)
        extra = f" (including {unmanaged} not managed by this project)" if unmanaged else ""
        errors.append(
            f"{running_after} agents would run{extra}; the cap for app "
            f"{options.app_id or '(unset)'} is {options.max_concurrent_agents} "
            "(max_concurrent_agents in reconciler.yaml)"
        )
    plan = Plan(
        app_id=options.app_id,
        engine=options.engine,
        platform=options.platform if resources else "",
        environment=options.environment,
        lineage=state.lineage,
        serial=state.serial,
        manifests_digest=digest_of_digests(digests),
        created_at=now,
        refreshed=live.refreshed,
        agents=tuple(plans),
        warnings=tuple(warnings),
        errors=tuple(errors),
        unknown_variables=tuple(unknown),
        targets=tuple(sorted(set(options.targets) | set(options.replace)))
        if options.targets
        else (),
        excluded=tuple(sorted(set(options.excludes))),
        max_concurrent_agents=options.max_concurrent_agents,
        running_after=running_after,
        destroy=options.destroy,
        max_unavailable=resolve_max_unavailable(options.max_unavailable, len(desired.agents)),
        resources=resources,
    )
    return plan, kept


def _checked_excludes(options: PlanOptions, universe: list[str]) -> set[str]:
    """The names ``--exclude`` leaves out; a name no agent has, or one also asked for by
    ``--target`` or ``--replace``, is a :class:`PlanError` (a typo must not go unnoticed)."""
    excludes = set(options.excludes)
    unknown = sorted(excludes - set(universe))
    if unknown:
        raise PlanError(_names_nothing("--exclude", unknown, universe, "in the manifests or state"))
    both = sorted(excludes & (set(options.targets) | set(options.replace)))
    if both:
        raise PlanError(
            f"{', '.join(both)}: both excluded (--exclude) and asked for (--target/--replace)"
        )
    return excludes


def _names_nothing(flag: str, names: list[str], known: list[str], where: str) -> str:
    """Why ``flag`` refuses ``names`` (an agent's name, or a resource's address ``KIND/NAME``),
    with the names or addresses it may have meant."""
    shown = ", ".join(printable(name) if name else "'' (an empty name)" for name in names)
    if not any("/" in name for name in names):
        message = f"{flag} names no agent {where}: {shown}"
    else:
        message = f"{flag} names no agent or resource (KIND/NAME) {where}: {shown}"
    hints = sorted(
        {
            hint
            for name in names
            for hint in difflib.get_close_matches(
                name, [k for k in known if ("/" in k) == ("/" in name)], 2, 0.8
            )
        }
    )
    if hints:
        message += f" (did you mean {', '.join(printable(h) for h in hints)}?)"
    return message


def _renames(desired: DesiredSet, state: StateDoc) -> dict[str, str]:
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


def _as_rename(planned: AgentPlan, old: str, generation: int) -> AgentPlan:
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


def _protection_errors(
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


def _plan_agent(
    name: str,
    view: DesiredView | None,
    record: AgentRecord | None,
    live: LiveStatus,
    now: float,
    options: PlanOptions,
) -> AgentPlan:
    if view is None:
        assert record is not None
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

    # Digests first: an unchanged agent (the common case) is not walked field by field. The
    # equality check keeps a record whose digest does not match its spec from hiding a change.
    unchanged = record.spec_digest == view.digest and record.spec == view.spec
    changes = () if unchanged else _changes(record.spec, view.spec)
    if record.protect != view.agent.protect:
        changes = (*changes, _state_change("protect", record.protect, view.agent.protect))
    if record.on_delete != view.agent.on_delete:
        changes = (
            *changes,
            _state_change("lifecycle.on_delete", record.on_delete, view.agent.on_delete),
        )
    if record.restart_policy not in (None, view.agent.restart_policy):
        changes = (
            *changes,
            _state_change("restart_policy", record.restart_policy, view.agent.restart_policy),
        )
    common.update(agent_id=record.agent_id)
    exit = agent_exit(record.agent_id, live)
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
        shown = ", ".join(f"{c.path}: {_shown(c.after)}" for c in changes)
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
    runtime_left = record.started_at + MAX_RUNTIME_S - now
    if live.refreshed and runtime_left < options.rotate_before_cap_s:
        return AgentPlan(
            action="restart",
            reason=f"rotate (reaches the 72 h cap in {_duration(runtime_left)})",
            reason_code=ReasonCode.ROTATION,
            generation=record.generation + 1,
            **common,
        )
    if record.token_mode == "auto" and record.token_expires_at is not None:
        left = record.token_expires_at - now
        if left < options.token_renewal_window_s:
            when = "expired" if left <= 0 else f"expires in {_duration(left)}"
            return AgentPlan(
                action="renew-token",
                reason=f"token {when} (renewal window {_duration(options.token_renewal_window_s)})",
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


def _state_change(path: str, before: Any, after: Any) -> FieldChange:
    """The change of a state-only field (see :data:`STATE_FIELDS`): the engine never sees it."""
    return FieldChange(path=FieldPath.parse(path), before=before, after=after)


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    return shown_changes(before, after, AGENT.forces_replacement, with_unknown=True)


def _exit_reason(record: AgentRecord, live: LiveStatus) -> str | None:
    """Why a recorded agent is no longer running on the engine, or None if it is (or unknown)."""
    exited = agent_exit(record.agent_id, live)
    return exited.reason if exited is not None else None


def _left_stopped_warnings(
    plans: list[AgentPlan], desired: DesiredSet, state: StateDoc, live: LiveStatus
) -> list[str]:
    """One warning per agent that exited and that its restart policy leaves stopped."""
    out: list[str] = []
    for plan in plans:
        agent, record = desired.agents.get(plan.name), state.agents.get(plan.name)
        if plan.action != "no-op" or agent is None or record is None:
            continue
        exit = agent_exit(record.agent_id, live)
        if exit is not None and exit_expected(agent.restart_policy, exit.cause):
            out.append(
                f"{plan.name} {exit.reason}; left stopped (restart_policy {agent.restart_policy})"
            )
    return out


def _unmanaged_warnings(state: StateDoc, live: LiveStatus, imported: set[str]) -> list[str]:
    out: list[str] = []
    for agent in unmanaged_agents(state, live):
        if agent.agent_id in imported:
            continue  # planned as an import
        where = f" in channel {agent.channel}" if agent.channel else ""
        out.append(f"unmanaged agent {agent.agent_id}{where} is {agent.status} (not in state)")
    return out


def _running_after(
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
    return count + _unmanaged_count(state, live)


def _unmanaged_count(state: StateDoc, live: LiveStatus) -> int:
    recorded = {r.agent_id for r in state.agents.values()}
    return sum(1 for a in live.agents.values() if a.active and a.agent_id not in recorded)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _as_adoption(planned: AgentPlan, adopted: dict[str, str]) -> AgentPlan:
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


def _imports(
    desired: DesiredSet, state: StateDoc, live: LiveStatus, selected: set[str], destroy: bool
) -> tuple[dict[str, str], list[str]]:
    """The ``import:`` entries to plan (name -> agent id), and a note per entry that is a no-op.

    An entry is a no-op once the state records its name (Terraform's "already managed"): the
    record governs, the entry is only noted. Otherwise the id must not be recorded under
    another name, and, when the engine was refreshed, it must be an agent the engine lists
    active in the manifest's channel; each failed check is a problem located at the entry.
    Without a refresh nothing can be checked: the import is planned as unverified (a plan that
    cannot be saved; ``apply`` refreshes, so it checks before it records).
    """
    planned: dict[str, str] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    if destroy:
        return planned, notes
    owners = {record.agent_id: name for name, record in state.agents.items()}
    claimed: dict[str, str] = {}
    for name, agent in sorted(desired.agents.items()):
        agent_id = agent.import_id
        if agent_id is None or name not in selected:
            continue  # --target and --exclude leave an entry out as they leave its agent
        where = Location(agent.path, agent.import_line or agent.line)
        if agent_id in claimed:
            problems.append(
                Problem(
                    where, f"import: {agent_id}: the manifest of {claimed[agent_id]} imports it too"
                )
            )
            continue
        claimed[agent_id] = name
        recorded_as = name if name in state.agents else agent.renamed_from
        recorded = state.agents.get(recorded_as) if recorded_as is not None else None
        if recorded is not None:
            other = "" if recorded.agent_id == agent_id else f" (as agent {recorded.agent_id})"
            notes.append(
                f"{name}: import: {agent_id} is a no-op, the state already records "
                f"{recorded_as}{other}; the entry can be removed from {printable(agent.path)}"
            )
            continue
        if agent.desired == "stopped":
            problems.append(
                Problem(
                    where,
                    f"import: {agent_id}: the manifest says desired: stopped, so there is nothing "
                    "to import the agent into (remove one of the two)",
                )
            )
            continue
        owner = owners.get(agent_id)
        if owner is not None:
            problems.append(
                Problem(
                    where,
                    f"import: {agent_id}: the state already records it as {owner} (use "
                    f"`reconciler state mv {owner} {name}` to rename it)",
                )
            )
            continue
        if live.refreshed:
            problem = _import_problem(agent_id, agent.channel, live, state.lineage)
            if problem is not None:
                problems.append(Problem(where, problem))
                continue
        planned[name] = agent_id
    if problems:
        raise ValidationError(problems, "the import entries")
    return planned, notes


def _import_problem(agent_id: str, channel: str, live: LiveStatus, lineage: str) -> str | None:
    """Why the engine's listing rules out importing ``agent_id`` in ``channel`` (None: fine):
    among them, a join name that carries another state's tag (``lineage``: this state's)."""
    seen = live.agents.get(agent_id)
    if seen is None or seen.status == "MISSING":
        return f"import: {agent_id}: the engine lists no such agent"
    if not seen.active:
        return (
            f"import: {agent_id}: the agent is {seen.status}, not running (remove the entry: "
            "apply starts a new agent for the manifest)"
        )
    if seen.channel != channel:  # the refresh lists the channel of every pending import
        return (
            f"import: {agent_id}: the engine does not list it among the active agents of this "
            f"manifest's channel {channel!r}"
        )
    tag = foreign_tag(seen.join_name, lineage) if seen.join_name is not None else None
    if tag is not None:
        return (
            f"import: {agent_id}: {another_states(seen.join_name or '', tag)} (once that state "
            "no longer records it, take it with `reconciler import --force NAME ID`)"
        )
    return None


def _planned_import(view: DesiredView, agent_id: str, live: LiveStatus) -> AgentPlan:
    """The ``adopt`` of an ``import:`` entry: a state edit, the agent recorded as running its
    manifest (the engine does not say what an agent runs, so nothing else can be diffed)."""
    agent = view.agent
    unverified = "" if live.refreshed else " (unverified: engine not refreshed)"
    why = f"import agent {agent_id}{unverified}: recorded as running {printable(agent.path)}"
    if agent.token_mode == "auto":
        why += "; its token is unknown, so the next plan renews it"
    return AgentPlan(
        name=agent.name,
        action="adopt",
        reason=why,
        reason_code=ReasonCode.IMPORTED,
        agent_id=agent_id,
        channel=agent.channel,
        generation=0,
        desired_digest=view.digest,
        path=agent.path,
    )


def _plan_resources(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    options: PlanOptions,
    digests: dict[str, str],
    notes: list[str],
) -> tuple[ResourcePlan, ...]:
    """The plan of every resource of a kind other than ``Agent``, in creation order.

    Resources are planned in the order of the reference graph, so that each one knows whether
    the ids it references stay (recorded, not replaced) or will be known only after apply.
    Adds each desired resource's digest to ``digests`` (the manifests' digest covers them) and
    to ``notes`` what ``--exclude`` leaves out besides what it names.
    """
    if not desired.resources and not state.resources:
        return ()
    wanted = {} if options.destroy else desired.resources
    edges, where = _resource_edges(wanted, state.resources, options.kinds, desired.unmanaged)
    order = creation_order(edges, where)
    selected = _selected_resources(options, edges, set(wanted)) if options.targets else set(edges)
    excluded = _excluded_resources(options, edges, set(wanted))
    notes.extend(_exclusion_notes(options, edges, set(wanted), excluded, selected))
    selected -= excluded
    ids: dict[str, str | None] = {}
    plans: list[ResourcePlan] = []
    for address in order:
        resource, record = wanted.get(address), state.resources.get(address)
        gone = live.refreshed and address in live.resources and live.resources[address] is None
        drift, observed, live_version = _drift(record, live, options, state.salt)
        if resource is None:
            assert record is not None
            ids[address] = None
            if address in selected:
                plans.append(_resource_delete(record, options, drift, live_version))
            continue
        spec = resource_view(resource, state.salt, ids)
        if resource.unknown:
            recorded = record.spec if record is not None else None
            settle_unknown(spec, resource.unknown, resource.sensitive, recorded)
        digest = spec_digest(spec)
        digests[address] = reviewed_resource_digest(resource, state.salt)
        if gone and record is not None:  # deleted outside: created again, with a new id
            ids[address] = None
            spec = resource_view(resource, state.salt, ids)
            planned = ResourcePlan(
                kind=resource.kind,
                name=resource.name,
                action="create",
                reason=f"missing: {record.id} was deleted outside",
                create_spec=spec,
                depends_on=edges[address],
                desired_digest=spec_digest(spec),
                path=resource.path,
                reviewed_digest=digests[address],
            )
            if address in selected:
                plans.append(planned)
            continue
        planned = _plan_resource(resource, record, spec, digest, edges[address], options)
        if drift and record is not None and observed is not None:
            planned = _with_drift(planned, resource, record, observed, spec, drift, live_version)
            planned = planned.model_copy(update={"protect": resource.protect})
        elif resource.protect:
            planned = planned.model_copy(update={"protect": True})
        if record is not None and record.version is None and live_version is not None:
            planned = planned.model_copy(update={"live_version": live_version})  # imported
        stays = planned.action in ("update", "no-op") or address not in selected
        ids[address] = record.id if record is not None and stays else None
        if address in selected:
            plans.append(planned.model_copy(update={"reviewed_digest": digests[address]}))
    return tuple(plans)


def _excluded_resources(
    options: PlanOptions, edges: dict[str, tuple[str, ...]], wanted: set[str]
) -> set[str]:
    """What ``--exclude`` leaves alone: an excluded resource that is kept, with whatever
    references it (its id may change only with it), and an excluded one that would be deleted,
    with whatever it references (it still needs them)."""
    excluded = set(options.excludes) & set(edges)
    if not excluded:
        return set()
    referrers: dict[str, list[str]] = {address: [] for address in edges}
    for address, references in edges.items():
        for reference in references:
            if reference in referrers:
                referrers[reference].append(address)
    kept = closure((e for e in excluded if e in wanted), referrers)
    gone = closure((e for e in excluded if e not in wanted), edges)
    return kept | gone


def _exclusion_notes(
    options: PlanOptions,
    edges: dict[str, tuple[str, ...]],
    wanted: set[str],
    excluded: set[str],
    selected: set[str],
) -> list[str]:
    """Why each resource ``--exclude`` leaves out without naming it is left out (one sentence
    each); a resource ``--target`` or ``--replace`` asks for is a :class:`PlanError` instead."""
    asked = set(options.targets) | set(options.replace)
    notes: list[str] = []
    conflicts: list[str] = []
    for address in sorted((excluded & selected) - set(options.excludes)):
        kept = sorted(e for e in edges[address] if e in excluded and e in wanted)
        gone = sorted(e for e in excluded - wanted if address in edges.get(e, ()))
        if kept:
            why = (
                f"it references {', '.join(printable(e) for e in kept)}, which --exclude leaves out"
            )
        else:
            why = (
                f"{', '.join(printable(e) for e in gone)}, whose delete --exclude leaves out, "
                "references it"
            )
        if address in asked:
            conflicts.append(
                f"{printable(address)} is asked for (--target/--replace) but --exclude leaves it "
                f"out: {why}"
            )
        else:
            notes.append(f"--exclude also leaves out {printable(address)}: {why}")
    if conflicts:
        raise PlanError("; ".join(conflicts) + "; drop one of the two options")
    return notes


def _selected_resources(
    options: PlanOptions, edges: dict[str, tuple[str, ...]], wanted: set[str]
) -> set[str]:
    """What ``--target`` plans: a kept target and what it references (created or updated
    first), and a target to delete and whatever references it (deleted first)."""
    targets = (set(options.targets) | set(options.replace)) & set(edges)
    referrers: dict[str, list[str]] = {address: [] for address in edges}
    for address, references in edges.items():
        for reference in references:
            if reference in referrers:
                referrers[reference].append(address)
    kept = closure((t for t in targets if t in wanted), edges)
    gone = closure((t for t in targets if t not in wanted), referrers)
    return (kept & wanted) | gone


def reviewed_resource_digest(resource: DesiredResource, salt: str) -> str:
    """What a saved plan's manifests digest covers of a resource: its manifest's spec as
    written (references unresolved), redacted, and ``protect``."""
    spec = redact_in_place(drop_nulls(resource.spec), resource.sensitive, salt)
    return spec_digest(spec) + ("+protect" if resource.protect else "")


def resource_view(
    resource: DesiredResource, salt: str, ids: dict[str, str | None]
) -> dict[str, Any]:
    """A desired resource's spec as it is compared and recorded: nulls dropped, references
    resolved to ``ids`` (a marker where an id is known only after apply), secrets redacted."""
    spec = resolve_references(drop_nulls(resource.spec), ids)
    return redact_in_place(spec, resource.sensitive, salt)


def _resource_edges(
    wanted: dict[str, DesiredResource],
    recorded: dict[str, ResourceRecord],
    kinds: KindRegistry,
    unmanaged: tuple[str, ...] = (),
) -> tuple[dict[str, tuple[str, ...]], dict[str, Location]]:
    """The reference graph (what each resource references) and where each is declared.

    A desired resource's references come from its manifest and must name declared resources;
    a recorded one that is to be deleted keeps the references it was created with.
    """
    edges: dict[str, tuple[str, ...]] = {}
    where: dict[str, Location] = {}
    problems: list[Problem] = []
    for address, resource in wanted.items():
        edges[address] = kinds.kind(resource.kind).references(resource.spec)
        where[address] = Location(resource.path or "agents.d", resource.line)
        for target in edges[address]:
            if target not in wanted and target not in unmanaged:
                problems.append(
                    Problem(
                        where[address], f"{address} references {target}, which no manifest declares"
                    )
                )
    for address, record in recorded.items():
        if address not in edges:
            edges[address] = tuple(record.references)
    if problems:
        raise ValidationError(problems, "the references")
    return edges, where


def _plan_resource(
    resource: DesiredResource,
    record: ResourceRecord | None,
    spec: dict[str, Any],
    digest: str,
    references: tuple[str, ...],
    options: PlanOptions,
) -> ResourcePlan:
    """Create, update, replace or leave one desired resource."""
    common: dict[str, Any] = {
        "kind": resource.kind,
        "name": resource.name,
        "depends_on": references,
        "desired_digest": digest,
        "path": resource.path,
    }
    if record is None:
        return ResourcePlan(action="create", reason="new resource", create_spec=spec, **common)
    common["id"] = record.id
    protect = (
        (_state_change("protect", record.protect, resource.protect),)
        if record.protect != resource.protect
        else ()
    )
    if record.spec_digest == digest and record.spec == spec:
        if resource.address in options.replace:
            return ResourcePlan(action="replace", reason="replacement requested", **common)
        if protect:
            return ResourcePlan(
                action="update",
                reason=f"protect: {_shown(resource.protect)} recorded in state (no engine call)",
                changes=protect,
                **common,
            )
        return ResourcePlan(action="no-op", reason="up to date", **common)
    rules = options.kinds.rules(resource.kind)
    changes = (*shown_changes(record.spec, spec, rules.forces_replacement), *protect)
    fixed = [str(c.path) for c in changes if c.forces_restart]
    if fixed or resource.address in options.replace:
        why = "replacement requested"
        if fixed:
            why = "changes force a replacement: " + ", ".join(fixed)
        return ResourcePlan(action="replace", reason=why, changes=changes, **common)
    reason = "in-place update of " + ", ".join(str(c.path) for c in changes)
    return ResourcePlan(action="update", reason=reason, changes=changes, **common)


def _resource_protection_errors(
    resources: tuple[ResourcePlan, ...], options: PlanOptions
) -> list[str]:
    """Why the plan must not delete or replace protected resources (one sentence each)."""
    errors: list[str] = []
    for planned in resources:
        if not planned.protect or planned.action not in ("delete", "replace"):
            continue
        if options.destroy and options.force:
            continue
        how = (
            "pass --force to destroy it anyway"
            if options.destroy
            else "remove protect: true from its manifest first (apply it), or keep it"
        )
        errors.append(
            f"{planned.address} is protected (protect: true) and the plan would "
            f"{planned.action} it; {how}"
        )
    return errors


def _resource_delete(
    record: ResourceRecord,
    options: PlanOptions,
    drift: tuple[FieldChange, ...] = (),
    live_version: str | None = None,
) -> ResourcePlan:
    reason = "destroy requested" if options.destroy else "removed from the manifests"
    if drift:
        reason += "; changed outside: " + ", ".join(str(c.path) for c in drift)
    return ResourcePlan(
        kind=record.kind,
        name=record.name,
        action="delete",
        reason=reason,
        id=record.id,
        depends_on=tuple(record.references),
        drift=drift,
        live_version=live_version if drift else None,
        protect=record.protect,
    )


def _drift(
    record: ResourceRecord | None, live: LiveStatus, options: PlanOptions, salt: str
) -> tuple[tuple[FieldChange, ...], dict[str, Any] | None, str | None]:
    """What was changed outside in a recorded resource (state's spec against the engine's,
    field by field), the resource as the engine holds it (in state's terms) and its version."""
    if record is None or not live.refreshed:
        return (), None, None
    held = live.resources.get(record.address)
    if held is None:
        return (), None, None
    observe = options.kinds.kind(record.kind).observe
    drift, observed = outside_changes(record.spec, observe(held, record.spec), salt)
    return drift, observed, held.version


def _with_drift(
    planned: ResourcePlan,
    resource: DesiredResource,
    record: ResourceRecord,
    observed: dict[str, Any],
    spec: dict[str, Any],
    drift: tuple[FieldChange, ...],
    live_version: str | None,
) -> ResourcePlan:
    """The plan of a resource changed outside: what brings the engine's version (not state's)
    to the manifest, sent with the version read (the reviewer sees the drift it overwrites)."""
    outside = "changed outside: " + ", ".join(str(c.path) for c in drift)
    if planned.action == "replace":
        return planned.model_copy(update={"drift": drift, "reason": f"{outside}; {planned.reason}"})
    changes = shown_changes(observed, spec)
    if not changes:
        reason = f"{outside}; the manifest agrees with the engine: state is brought up to date"
    else:
        reason = f"{outside}; in-place update of " + ", ".join(str(c.path) for c in changes)
    return planned.model_copy(
        update={
            "action": "update",
            "reason": reason,
            "changes": changes,
            "drift": drift,
            "live_version": live_version,
        }
    )
