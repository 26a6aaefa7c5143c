"""Layer 0: the pydantic models shared by every layer.

Desired agents, settings, state, live status and the plan; and the rules several layers apply
alike: which values are secret (:mod:`reconciler.models.secrets`) and which hosts are this
machine (:mod:`reconciler.models.hosts`); and :class:`FieldPath`, the one form of a path into a
spec (:mod:`reconciler.models.fieldpath`).
"""

from reconciler.models.desired import DesiredAgent, DesiredSet, TokenMode
from reconciler.models.fieldpath import ABSENT, FieldPath, PathPart
from reconciler.models.live import LiveAgent, LiveStatus
from reconciler.models.plan import ActionKind, AgentPlan, FieldChange, Plan
from reconciler.models.settings import Settings
from reconciler.models.state import AgentRecord, JournalEntry, StateDoc

__all__ = [
    "ABSENT",
    "ActionKind",
    "AgentPlan",
    "AgentRecord",
    "DesiredAgent",
    "DesiredSet",
    "FieldChange",
    "FieldPath",
    "JournalEntry",
    "LiveAgent",
    "LiveStatus",
    "PathPart",
    "Plan",
    "Settings",
    "StateDoc",
    "TokenMode",
]
