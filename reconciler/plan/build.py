"""``build_plan``: the agents' plan, the resources' plan, and what is said of them together
(warnings, errors, the concurrency cap) as one frozen :class:`~reconciler.models.Plan`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from reconciler.errors import PlanError, printable
from reconciler.models import (
    AgentPlan,
    AgentRecord,
    DesiredSet,
    LiveStatus,
    Plan,
    StateDoc,
)
from reconciler.models.plan import ResourcePlan
from reconciler.models.rollout import resolve_max_unavailable
from reconciler.plan.agents import (
    RECORDING_ACTIONS,
    agents_running_after,
    as_adoption,
    as_rename,
    left_stopped_warnings,
    plan_agent,
    planned_renames,
    protection_errors,
    unmanaged_count,
    unmanaged_warnings,
)
from reconciler.plan.imports import planned_import, planned_imports
from reconciler.plan.options import PlanOptions
from reconciler.plan.resources import (
    plan_resources,
    replaced_in_use_errors,
    resource_protection_errors,
    unique_value_errors,
)
from reconciler.plan.views import DesiredView, desired_view, digest_of_digests, reviewed_digest
from reconciler.plan.wording import plural


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
    universe, selected = _selection(desired, state, options)
    imports, import_notes = planned_imports(desired, state, live, selected, options.destroy)
    agents = _plan_agents(desired, state, live, now, options, set(universe) & selected, imports)
    exclusion_notes: list[str] = []
    resources = plan_resources(desired, state, live, options, agents.digests, exclusion_notes)
    unknown = _unknown_variables(desired)
    adopted = set(imports.values())
    warnings = [
        *options.warnings,
        *exclusion_notes,
        *_unknown_variables_warnings(unknown),
        *import_notes,
        *unmanaged_warnings(state, live, adopted),
        *left_stopped_warnings(agents.plans, desired, state, live),
        *_unresolved_warnings(state, live),
    ]
    running_after = agents_running_after(agents.plans, state, live, selected, adopted)
    errors = _plan_errors(
        agents.plans, resources, desired, state, live, options, running_after=running_after
    )
    plan = _assemble_plan(
        desired,
        state,
        live,
        now=now,
        options=options,
        agents=agents,
        resources=resources,
        warnings=warnings,
        errors=errors,
        unknown=unknown,
        running_after=running_after,
    )
    return plan, agents.kept


@dataclass(frozen=True)
class _PlannedAgents:
    """What planning the agents one at a time leaves: each agent's plan, the views the apply
    records (see :func:`build_plan_with_views`), and the reviewed digest of every desired agent
    (to which :func:`plan_resources` then adds each desired resource's)."""

    plans: list[AgentPlan]
    kept: dict[str, DesiredView]
    digests: dict[str, str]


def _selection(
    desired: DesiredSet, state: StateDoc, options: PlanOptions
) -> tuple[list[str], set[str]]:
    """The agents' names the plan considers (desired or recorded, sorted) and the names and
    addresses it plans (``--target``/``--replace``, less ``--exclude``). A flag naming nothing
    is a :class:`PlanError`."""
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
    return universe, selected


def _plan_agents(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    now: float,
    options: PlanOptions,
    planned: set[str],
    imports: dict[str, str],
) -> _PlannedAgents:
    """Plan every agent in ``planned``, and digest every desired one.

    One agent at a time: its normalized, redacted view lives only while it is planned, so
    memory does not hold a second copy of every spec (only the digests are kept).
    """
    renames = {} if options.destroy else planned_renames(desired, state)
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
            kept[name] = view
            plans.append(planned_import(view, imports[name], live))
            continue
        planned_agent = _plan_one_agent(name, view, record, live, now, options, renames)
        if view is not None and planned_agent.action in RECORDING_ACTIONS:
            kept[name] = view
        plans.append(planned_agent)
    return _PlannedAgents(plans=plans, kept=kept, digests=digests)


def _plan_one_agent(
    name: str,
    view: DesiredView | None,
    record: AgentRecord | None,
    live: LiveStatus,
    now: float,
    options: PlanOptions,
    renames: dict[str, str],
) -> AgentPlan:
    """The plan of one agent that is not imported: its decision, as a rename when it was
    recorded under another name, and as an adoption when ``--adopt`` names it."""
    planned_agent = plan_agent(name, None if options.destroy else view, record, live, now, options)
    if name in renames and record is not None:
        planned_agent = as_rename(planned_agent, renames[name], record.generation)
    return as_adoption(planned_agent, dict(options.adopted))


def _unknown_variables(desired: DesiredSet) -> list[str]:
    """The variables the manifests use but nothing sets, sorted."""
    return sorted(
        {n for a in desired.agents.values() for ns in a.unknown.values() for n in ns}
        | {n for r in desired.resources.values() for ns in r.unknown.values() for n in ns}
    )


def _unknown_variables_warnings(unknown: list[str]) -> list[str]:
    """The warning that variables are not set, if any is not."""
    if not unknown:
        return []
    return [
        f"{plural(len(unknown), 'variable')} not set ({', '.join(unknown)}): "
        "their values are unknown, so a change of them cannot be detected; "
        "this plan cannot be saved or applied"
    ]


def _unresolved_warnings(state: StateDoc, live: LiveStatus) -> list[str]:
    """Without a refresh: the interrupted creates, updates and engine calls state records,
    whose outcome the plan cannot know."""
    if live.refreshed:
        return []
    warnings: list[str] = []
    hint = "plan with --refresh to see what apply will do about them"
    if state.creating:
        warnings.append(
            f"{len(state.creating)} interrupted create(s) recorded in state are unresolved; " + hint
        )
    interrupted = sum(1 for r in state.resources.values() if r.updating is not None)
    if interrupted:
        warnings.append(
            f"{interrupted} interrupted update(s) recorded in state are unresolved; " + hint
        )
    if state.journal:
        warnings.append(
            f"{len(state.journal)} interrupted engine call(s) recorded in state are unresolved; "
            + hint
        )
    return warnings


def _plan_errors(
    plans: list[AgentPlan],
    resources: tuple[ResourcePlan, ...],
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    options: PlanOptions,
    *,
    running_after: int,
) -> list[str]:
    """Why nothing may apply this plan: protections, replacements of what is in use, unique
    values taken twice, unresolved creates, and the concurrency cap."""
    errors = protection_errors(plans, state, set(desired.agents), options)
    errors.extend(resource_protection_errors(resources, options))
    errors.extend(replaced_in_use_errors(resources, state))
    errors.extend(unique_value_errors(resources, desired, state))
    errors.extend(_unresolved_create_errors(resources, state))
    errors.extend(_cap_errors(plans, state, live, options, running_after))
    return errors


def _unresolved_create_errors(resources: tuple[ResourcePlan, ...], state: StateDoc) -> list[str]:
    """A resource the plan would create again while an interrupted create of it is
    unresolved."""
    return [
        f"the interrupted create of {address} is unresolved: {address} is not created again "
        "until it is (see the warnings)"
        for address in sorted(state.creating)
        if any(r.address == address and r.action in ("create", "replace") for r in resources)
    ]


def _cap_errors(
    plans: list[AgentPlan],
    state: StateDoc,
    live: LiveStatus,
    options: PlanOptions,
    running_after: int,
) -> list[str]:
    """The overrun of the engine's concurrency cap, when the plan starts an agent past it."""
    if running_after <= options.max_concurrent_agents or not any(
        p.action in ("start", "restart") for p in plans
    ):
        return []
    unmanaged = unmanaged_count(state, live)
    extra = f" (including {unmanaged} not managed by this project)" if unmanaged else ""
    return [
        f"{running_after} agents would run{extra}; the cap for app "
        f"{options.app_id or '(unset)'} is {options.max_concurrent_agents} "
        "(max_concurrent_agents in reconciler.yaml)"
    ]


def _assemble_plan(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    *,
    now: float,
    options: PlanOptions,
    agents: _PlannedAgents,
    resources: tuple[ResourcePlan, ...],
    warnings: list[str],
    errors: list[str],
    unknown: list[str],
    running_after: int,
) -> Plan:
    """The frozen :class:`Plan` value of what was planned and said of it."""
    return Plan(
        app_id=options.app_id,
        engine=options.engine,
        platform=options.platform if resources else "",
        environment=options.environment,
        lineage=state.lineage,
        serial=state.serial,
        manifests_digest=digest_of_digests(agents.digests),
        created_at=now,
        refreshed=live.refreshed,
        agents=tuple(agents.plans),
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
