"""``--heal-only``: keep the actions of a plan that heal drift, hold back the reviewed kind.

Healing puts back what the manifests and the state already agree on: the start of a recorded
agent that exited or is missing (its spec unchanged), a restart forced by the engine's runtime
cap (no field changed), a token renewal, and the adoption of an agent an interrupted run
started (recording what already runs). Everything else is a manifest change somebody has
to review first (a new agent, a changed spec, a removal, a replacement) and is held back.
The decision is the plan's own: the action's ``reason_code`` (one of
:data:`~reconciler.models.plan.HEALING_CODES`) and whether a field changed, never how a reason
is worded nor a second reading of what the plan already decided.

The Platform's resources (``SecretSet``, ``SavedAgent``, ``PhoneNumber``) are never changed by a
heal-only run: each of their actions but a no-op is held (``held_resources``). A resource deleted
outside comes back with a new id, which the resources referencing it must then be updated to:
a change of the reviewed graph, not a heal.

An exited agent is healed by the ``restart_policy`` it was last applied with (recorded in
state): one that policy leaves stopped stays stopped, held, even when the manifest's policy now
says to heal it.

A recorded agent that exited while its manifest holds such a change is healed all the same, with
the spec it was last applied with (:mod:`reconciler.watch.recorded`): an always-on agent does
not stay down until someone merges, and the unreviewed change is still not applied (the next
plan shows it, held, as a restart).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.models import AgentPlan, AgentRecord, DesiredSet, Plan, StateDoc
from reconciler.models.liveness import exit_expected
from reconciler.models.plan import EXIT_REASON_CODES, HEALING_CODES, ResourcePlan
from reconciler.plan import DesiredView, desired_view
from reconciler.watch.recorded import NotRebuildable, recorded_agent

__all__ = ["HealSplit", "Healed", "heal_only", "heals_drift"]


def heals_drift(action: AgentPlan) -> bool:
    """Whether ``action`` only puts back what the state records (see the module docstring)."""
    return action.reason_code in HEALING_CODES and not action.changes


_EXIT_CAUSES = {code: cause for cause, code in EXIT_REASON_CODES.items()}


def _left_down_as_reviewed(action: AgentPlan, record: AgentRecord | None) -> bool:
    """A start of an exited agent that the ``restart_policy`` it was last applied with leaves
    stopped: the manifest's new policy heals it, a change that waits for review."""
    cause = _EXIT_CAUSES.get(action.reason_code)
    if cause is None or record is None or record.restart_policy is None:
        return False
    return exit_expected(record.restart_policy, cause)


def _down_with_a_pending_change(action: AgentPlan) -> bool:
    """A recorded agent that is not running, whose manifest changed since it was applied."""
    return action.reason_code in EXIT_REASON_CODES.values() and bool(action.changes)


@dataclass(frozen=True)
class Healed:
    """An agent started with its recorded spec while its manifest change is held."""

    name: str
    rotated: tuple[str, ...] = ()
    """Sensitive paths whose value changed in the environment since (the current one is used)."""


@dataclass(frozen=True)
class HealSplit:
    """A plan cut down to its healing actions, and the actions held back for review.

    ``desired`` is the desired set to apply ``plan`` with: the manifests' agents, except that
    each agent in ``recorded`` has its last-applied spec, whose view is in ``views`` (the apply
    records it instead of the plan's view of the manifest). ``unhealed`` says, per held agent
    that is down, why its recorded spec could not be rebuilt.
    """

    plan: Plan
    held: tuple[AgentPlan, ...]
    desired: DesiredSet | None = None
    held_resources: tuple[ResourcePlan, ...] = ()
    """The resource actions left out (every one but a no-op: see the module docstring)."""
    recorded: tuple[Healed, ...] = ()
    unhealed: tuple[tuple[str, str], ...] = ()
    views: dict[str, DesiredView] = field(default_factory=dict)


def heal_only(
    plan: Plan, desired: DesiredSet | None = None, state: StateDoc | None = None
) -> HealSplit:
    """``plan`` with only the healing actions (and the no-ops); the rest are ``held``.

    A held action is left out of the plan entirely (not turned into a no-op), so apply does
    nothing for that agent: a new agent is not started, a removed one keeps running, a changed
    one keeps its recorded spec until someone applies the change. With ``desired`` and
    ``state``, a recorded agent that is down while its manifest changed is started with its
    recorded spec (see the module docstring); its change stays held.
    """
    kept: list[AgentPlan] = []
    held: list[AgentPlan] = []
    agents = dict(desired.agents) if desired is not None else {}
    recorded: list[Healed] = []
    unhealed: list[tuple[str, str]] = []
    views: dict[str, DesiredView] = {}
    for action in plan.agents:
        record = state.agents.get(action.name) if state is not None else None
        if _left_down_as_reviewed(action, record):
            held.append(action)
            continue
        if action.action == "no-op" or heals_drift(action):
            kept.append(action)
            continue
        current = agents.get(action.name)
        if (
            state is not None
            and record is not None
            and current is not None
            and _down_with_a_pending_change(action)
        ):
            try:
                rebuilt = recorded_agent(current, record, state.salt)
            except NotRebuildable as exc:
                unhealed.append((action.name, str(exc)))
            else:
                agents[action.name] = rebuilt.agent
                view = views[action.name] = desired_view(rebuilt.agent, state.salt)
                kept.append(
                    action.model_copy(
                        update={
                            "reason": f"{action.reason}; started with its recorded spec "
                            "(--heal-only: the manifest change waits for review)",
                            "changes": (),
                            "desired_digest": view.digest,
                        }
                    )
                )
                recorded.append(Healed(action.name, tuple(str(p) for p in rebuilt.rotated)))
                continue
        held.append(action)
    resources = tuple(r for r in plan.resources if r.action == "no-op")
    return HealSplit(
        plan=plan.model_copy(update={"agents": tuple(kept), "resources": resources}),
        held=tuple(held),
        held_resources=tuple(r for r in plan.resources if r.action != "no-op"),
        desired=desired.model_copy(update={"agents": agents}) if desired is not None else None,
        recorded=tuple(recorded),
        unhealed=tuple(unhealed),
        views=views,
    )
