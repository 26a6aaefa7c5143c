"""``--heal-only``: keep the actions of a plan that heal drift, hold back the reviewed kind.

Healing puts back what the manifests and the state already agree on: the start of a recorded
agent that exited or is missing (its spec unchanged), a restart forced by the engine's runtime
cap (no field changed), a token renewal, and the adoption of an agent an interrupted run
started (recording what already runs). Everything else is a manifest change somebody has
to review first (a new agent, a changed spec, a removal, a replacement) and is held back.
The decision is the plan's own: the action's ``reason_code`` (one of
:data:`~reconciler.models.plan.HEALING_CODES`) and whether a field changed, never how a reason
is worded nor a second reading of what the plan already decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.models import AgentPlan, Plan
from reconciler.models.plan import HEALING_CODES

__all__ = ["HealSplit", "heal_only", "heals_drift"]


def heals_drift(action: AgentPlan) -> bool:
    """Whether ``action`` only puts back what the state records (see the module docstring)."""
    return action.reason_code in HEALING_CODES and not action.changes


@dataclass(frozen=True)
class HealSplit:
    """A plan cut down to its healing actions, and the actions held back for review."""

    plan: Plan
    held: tuple[AgentPlan, ...]


def heal_only(plan: Plan) -> HealSplit:
    """``plan`` with only the healing actions (and the no-ops); the rest are ``held``.

    A held action is left out of the plan entirely (not turned into a no-op), so apply does
    nothing for that agent: a new agent is not started, a removed one keeps running, a changed
    one keeps its recorded spec until someone applies the change.
    """
    kept: list[AgentPlan] = []
    held: list[AgentPlan] = []
    for action in plan.agents:
        if action.action == "no-op" or heals_drift(action):
            kept.append(action)
        else:
            held.append(action)
    return HealSplit(plan=plan.model_copy(update={"agents": tuple(kept)}), held=tuple(held))
