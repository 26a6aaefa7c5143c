"""Layer 3: carrying out a plan against the engine, recording every step in state.

:func:`apply_plan` runs the phases (stops, wait for stopped, in-place updates, starts) with up
to ``parallelism`` engine calls in flight, writes state after every completed action, journals
every join and leave before it is sent, and reports progress through a callback. It never prints.
"""

from reconciler.apply.context import ApplyContext, EngineOps, StateWriter
from reconciler.apply.events import ActionResult, ApplyEvent, ApplyResult
from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Settlement, preview_journal, resolve_journal, settle
from reconciler.apply.verdict import ApplyVerdict, apply_verdict

__all__ = [
    "ActionResult",
    "ApplyContext",
    "ApplyEvent",
    "ApplyResult",
    "ApplyVerdict",
    "EngineOps",
    "Settlement",
    "StateWriter",
    "apply_plan",
    "apply_verdict",
    "preview_journal",
    "resolve_journal",
    "settle",
]
