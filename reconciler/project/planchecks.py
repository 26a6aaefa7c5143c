"""The checks that stand between a saved plan and the engine.

A saved plan is applied only if it still describes the world and asks for nothing the state
does not support:

- :func:`check_same_state` and :func:`check_same_manifests`: the state is the one the plan was
  made for (lineage and serial) and the manifests (and the secrets they reference) are
  unchanged. Failing either is a *stale plan* (:class:`~reconciler.errors.StalePlanError`,
  exit 3): plan again.
- :func:`check_actions` (only once the state is known to be the one the plan was made for, or a
  plan that is merely stale would look edited; before the manifests, so that an edited action is
  reported as such): every action fits that state. A stop, update, restart or token renewal
  names exactly the agent id the state records for that name; a start of a recorded name comes
  only from a refreshed plan that saw the recorded agent gone; generations follow the record;
  a name appears once; a destroy plan only stops; the spec a new agent's start lists is the one
  its digest names (what a reviewer of the file saw is what apply checks the manifests
  against). Failing it means the file asks for something no plan of this state can contain (it
  was edited, and its digest recomputed):
  :class:`~reconciler.errors.PlanError`, exit 1. Resources likewise: an address once, a
  destroy plan only deletes, a create names no id (a recorded one only from a refreshed plan)
  and lists the spec its digest names, every other action names the id state records.
- :func:`check_resources_unmoved`: at apply time, each recorded resource the plan changes (or
  creates again) is read from the Platform: one changed or deleted outside since the plan (its
  version moved, or its drift is not the one the plan showed), or one that is back, refuses
  the plan (stale, exit 3), as a start of a running agent does.
- :func:`check_starts_not_running`: at apply time, with the engine's live status, a start of a
  recorded name is refused while the recorded agent is still active, so no second copy is
  started (stale, exit 3).

And before any plan, fresh or saved, is applied, :func:`ensure_applicable` refuses one that has
errors or unknown values (such a plan is shown, never applied).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.diff import outside_changes, spec_digest
from reconciler.errors import PlanError, StalePlanError
from reconciler.kinds import KindRegistry
from reconciler.models import AgentPlan, DesiredSet, LiveStatus, Plan, StateDoc
from reconciler.models.live import LiveResource
from reconciler.models.plan import ReasonCode, ResourcePlan
from reconciler.models.resources import ResourceRecord
from reconciler.models.state import AgentRecord
from reconciler.plan import (
    DesiredView,
    desired_view,
    digest_of_digests,
    reviewed_digest,
    reviewed_resource_digest,
)

_ALLOWED_IN_DESTROY = frozenset({"stop", "no-op"})
_RESOURCE_ALLOWED_IN_DESTROY = frozenset({"delete", "no-op"})


def check_same_state(plan: Plan, state: StateDoc) -> None:
    """Raise :class:`StalePlanError` unless ``state`` is the one ``plan`` was made for."""
    if plan.lineage != state.lineage:
        raise StalePlanError(
            f"stale plan: it was made for state lineage {plan.lineage}, "
            f"but the state is lineage {state.lineage}"
        )
    if plan.serial != state.serial:
        raise StalePlanError(
            f"stale plan: state has moved on since the plan was made "
            f"(serial {plan.serial} -> {state.serial}); plan again"
        )


def check_same_manifests(
    plan: Plan, state: StateDoc, desired: DesiredSet
) -> dict[str, DesiredView]:
    """Raise :class:`StalePlanError` saying which manifests moved on since ``plan`` was made.

    Returns the view of every desired agent (the apply of the plan records them as they are).
    """
    views = {name: desired_view(agent, state.salt) for name, agent in desired.agents.items()}
    changed: list[str] = []
    for agent in plan.agents:
        view = views.get(agent.name)
        if agent.action in ("stop", "forget") and not plan.destroy:
            if view is not None:
                changed.append(f"{agent.name} (added back to the manifests)")
            continue
        if plan.destroy:
            continue
        if view is None:
            changed.append(f"{agent.name} (removed from the manifests)")
        elif view.digest != agent.desired_digest:
            changed.append(f"{agent.name} (manifest or a secret it references changed)")
    if not plan.destroy:
        changed.extend(_moved_resources(plan, state, desired))
    if changed:
        raise StalePlanError("stale plan: since it was made, " + "; ".join(changed))
    digests = {name: reviewed_digest(view) for name, view in views.items()}
    digests.update(
        (address, reviewed_resource_digest(resource, state.salt))
        for address, resource in desired.resources.items()
    )
    if not plan.destroy and digest_of_digests(digests) != plan.manifests_digest:
        raise StalePlanError(
            "stale plan: the manifests changed since it was made (an agent the plan does not "
            "act on, or a resource of another kind, was added, removed or edited); plan again"
        )
    return views


def _moved_resources(plan: Plan, state: StateDoc, desired: DesiredSet) -> list[str]:
    """The resources of ``plan`` whose manifests moved on since it was made, each with how."""
    changed = []
    for resource in plan.resources:
        wanted = desired.resources.get(resource.address)
        if resource.deposed is not None:  # the old one of a replacement: no manifest of its own
            continue
        if resource.action == "delete":
            if wanted is not None:
                changed.append(f"{resource.address} (added back to the manifests)")
        elif wanted is None:
            changed.append(f"{resource.address} (removed from the manifests)")
        elif resource.reviewed_digest not in (None, reviewed_resource_digest(wanted, state.salt)):
            changed.append(f"{resource.address} (manifest or a secret it references changed)")
    return changed


def check_actions(plan: Plan, state: StateDoc, path: Path) -> None:
    """Raise :class:`PlanError` for the first action of ``plan`` that ``state`` does not support.

    ``state`` is the state the plan was made for (:func:`check_same_state` passed).
    """
    seen: set[str] = set()
    for action in plan.agents:
        if action.name in seen:
            raise _unfit(path, f"it lists {action.name} twice")
        seen.add(action.name)
        if plan.destroy and action.action not in _ALLOWED_IN_DESTROY:
            raise _unfit(path, f"a destroy plan cannot {action.action} {action.name}")
        recorded_as = action.renamed_from if action.action == "rename" else action.name
        problem = _action_problem(plan, action, state.agents.get(recorded_as or action.name))
        if problem is not None:
            raise _unfit(path, problem)
    for resource in plan.resources:
        if resource.key in seen:
            raise _unfit(path, f"it lists {resource.address} twice")
        seen.add(resource.key)
        if plan.destroy and resource.action not in _RESOURCE_ALLOWED_IN_DESTROY:
            raise _unfit(path, f"a destroy plan cannot {resource.action} {resource.address}")
        problem = _resource_problem(plan, resource, state.resources.get(resource.address))
        if problem is not None:
            raise _unfit(path, problem)


def _resource_problem(
    plan: Plan, action: ResourcePlan, record: ResourceRecord | None
) -> str | None:
    """Why the state the plan was made for cannot hold ``action`` (None: it can)."""
    what = f"{action.action} of {action.address}"
    if action.deposed is not None:
        held = [d.id for d in record.deposed] if record is not None else []
        if action.action != "delete" or action.id != action.deposed:
            return f"{what} names deposed {action.deposed}, which only its delete does"
        if action.deposed not in held:
            return f"{what} names deposed {action.deposed}, which the state does not record"
        return None
    if action.create_before_delete and action.action != "replace":
        return f"{what} says it creates before deleting, which only a replace does"
    if action.create_spec is not None:
        if action.action != "create":
            return f"{what} lists the spec of a new resource, which only its create does"
        if spec_digest(action.create_spec) != action.desired_digest:
            return f"{what} lists a spec that its desired_digest does not name"
    if action.action == "create":
        if action.create_spec is None:
            return f"{what} lists no spec to create"
        if action.id is not None:
            return f"{what} names id {action.id}, which only the Platform can give"
        if record is not None and not plan.refreshed:
            return (
                f"{what}: the state records {record.id} for it, and a plan made without "
                "refreshing cannot have seen it gone"
            )
        return None
    if record is None:
        return f"{what}: the state records no {action.address}"
    if action.id != record.id:
        return (
            f"{what} names id {action.id or '(none)'}, but the state records {record.id} for "
            f"{action.address}"
        )
    if action.live_version is not None and not plan.refreshed:
        return f"{what} carries a version read from the Platform by a plan that read nothing"
    return None


def resources_to_recheck(plan: Plan, state: StateDoc) -> dict[str, ResourceRecord]:
    """The recorded resources whose planned action depends on what the Platform held when the
    plan was made: each one it updates, replaces or deletes, or creates again (it was gone)."""
    return {
        r.address: state.resources[r.address]
        for r in plan.resources
        if r.action != "no-op" and r.address in state.resources
    }


def check_resources_unmoved(
    plan: Plan,
    state: StateDoc,
    live: Mapping[str, LiveResource | None],
    kinds: KindRegistry,
) -> None:
    """Refuse (stale) a saved plan whose resource actions no longer match the Platform: a
    resource it changes was changed or deleted outside since it was made, or one it creates
    again (it was gone) is back. ``live``: each of :func:`resources_to_recheck` read now."""
    moved: list[str] = []
    for action in plan.resources:
        record = state.resources.get(action.address)
        if record is None or action.address not in live or action.deposed is not None:
            continue
        held = live[action.address]
        if action.action == "create":
            if held is not None:
                moved.append(
                    f"{action.address} (the plan creates it again, but the Platform holds "
                    f"{record.id} again)"
                )
            continue
        if held is None:
            moved.append(f"{action.address} ({record.id} was deleted outside)")
            continue
        expected = action.live_version or record.version
        if held.version is not None and expected is not None:
            if held.version != expected:
                moved.append(f"{action.address} (changed outside: its version moved)")
            continue
        observed = kinds.kind(record.kind).observe(held, record.spec)
        drift, _ = outside_changes(record.spec, observed, state.salt)
        if drift != action.drift:
            paths = ", ".join(str(c.path) for c in drift) or "back as recorded"
            moved.append(f"{action.address} (changed outside: {paths})")
    if moved:
        raise StalePlanError(
            "stale plan: Platform resources it changes moved since it was made: "
            + "; ".join(moved)
            + "; plan again to review what the Platform holds now"
        )


def _action_problem(plan: Plan, action: AgentPlan, record: AgentRecord | None) -> str | None:
    what = f"{action.action} of {action.name}"
    if action.create_spec is not None:
        if action.action != "start" or record is not None:
            return f"{what} lists the spec of a new agent, which only the start of one does"
        if spec_digest(action.create_spec) != action.desired_digest:
            return f"{what} lists a spec that its desired_digest does not name"
    if action.reason_code == ReasonCode.IMPORTED:
        return _import_problem(plan, action, record)
    if record is None:
        if action.action == "no-op" and action.agent_id is None:
            return None  # declared but meant to be stopped (desired: stopped), never started
        if action.action != "start":
            return f"{what}: the state records no agent {action.name}"
        if action.agent_id is not None:
            return f"{what} names agent {action.agent_id}, which the state does not record"
        if action.generation != 1:
            return f"{what} is at generation {action.generation}; a new agent starts at 1"
        return None
    if action.agent_id != record.agent_id:
        return (
            f"{what} names agent {action.agent_id or '(none)'}, but the state records "
            f"{record.agent_id} for {action.name}"
        )
    if action.action == "start" and not plan.refreshed:
        return (
            f"{what}: the state records agent {record.agent_id} for it, and a plan made without "
            "refreshing cannot have seen that agent gone"
        )
    bumps = action.action in ("start", "restart")
    expected = record.generation + 1 if bumps else record.generation
    if action.generation != expected:
        return f"{what} is at generation {action.generation}; the state implies {expected}"
    return None


def _import_problem(plan: Plan, action: AgentPlan, record: AgentRecord | None) -> str | None:
    """Why a saved plan's ``import:`` entry cannot be applied (None: it can)."""
    what = f"import of {action.name}"
    if action.action != "adopt" or action.agent_id is None or action.generation != 0:
        return f"{what} is not an adopt of an agent at generation 0"
    if record is not None:
        return f"{what}: the state records {action.name} already"
    if not plan.refreshed:
        return (
            f"{what}: a plan made without refreshing did not check agent {action.agent_id} on "
            "the engine; plan again with refresh"
        )
    return None


def check_starts_not_running(plan: Plan, state: StateDoc, live: LiveStatus) -> None:
    """Refuse (stale) to start a recorded name whose recorded agent the engine shows active."""
    running = []
    for action in plan.agents:
        record = state.agents.get(action.name)
        if action.action != "start" or record is None:
            continue
        agent = live.agents.get(record.agent_id)
        if agent is not None and agent.active:
            running.append(f"{action.name} (agent {record.agent_id} is {agent.status})")
    if running:
        raise StalePlanError(
            "stale plan: it starts agents whose recorded agent is still active on the engine: "
            + "; ".join(running)
            + "; plan again"
        )


def recorded_starts(plan: Plan, state: StateDoc) -> dict[str, AgentRecord]:
    """The records of the names ``plan`` starts although the state records an agent for them."""
    return {
        a.name: state.agents[a.name]
        for a in plan.agents
        if a.action == "start" and a.name in state.agents
    }


def _unfit(path: Path, problem: str) -> PlanError:
    return PlanError(
        f"{path}: the saved plan does not fit the state it was made for: {problem}; "
        "refusing to apply it (was the file edited?)"
    )


def ensure_applicable(plan: Plan) -> None:
    """Raise :class:`PlanError` if ``plan`` has errors or unknown values (shown, not applied)."""
    if plan.errors:
        raise PlanError("this plan cannot be applied: " + "; ".join(plan.errors))
    if plan.unknown_variables:
        raise PlanError(
            "this plan was made without the variables "
            f"{', '.join(plan.unknown_variables)}; it cannot be saved or applied: set them and "
            "plan again"
        )
