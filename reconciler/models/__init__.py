"""Layer 0: the pydantic models shared by every layer.

Desired agents, settings, state, live status and the plan.
"""

from reconciler.models.desired import DesiredAgent, DesiredSet, TokenMode
from reconciler.models.live import LiveAgent, LiveStatus
from reconciler.models.plan import ActionKind, AgentPlan, FieldChange, Plan
from reconciler.models.settings import Settings
from reconciler.models.state import AgentRecord, PendingEntry, StateDoc

__all__ = [
    "ActionKind",
    "AgentPlan",
    "AgentRecord",
    "DesiredAgent",
    "DesiredSet",
    "FieldChange",
    "LiveAgent",
    "LiveStatus",
    "PendingEntry",
    "Plan",
    "Settings",
    "StateDoc",
    "TokenMode",
]
