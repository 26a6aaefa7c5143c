"""Edits of the state document by hand: move a record to a new name, drop it, unprotect it.

All leave the engine alone: the agent keeps running and keeps its id (and the wire name it was
started with). All are pure (a new document is returned; the caller writes it under the lock)
and refuse, with :class:`~reconciler.errors.OperationError`, a name the state does not record
and a name an interrupted engine call of a previous run still concerns (that call must be
resolved first, or the journal would name a record that is gone).
"""

from __future__ import annotations

import re

from reconciler.errors import OperationError, printable
from reconciler.models.manifest import NAME_PATTERN
from reconciler.models.state import AgentRecord, StateDoc

_NAME = re.compile(NAME_PATTERN)


def move_record(doc: StateDoc, old: str, new: str) -> tuple[StateDoc, AgentRecord]:
    """``doc`` with the record of ``old`` now under ``new``; also the moved record."""
    record = _recorded(doc, old, "move")
    if not _NAME.match(new):
        raise OperationError(
            f"cannot move {old} to {new!r}: not an agent name (lower-case letters, digits and "
            "'-', starting with a letter or digit, at most 48 characters)"
        )
    if new == old:
        raise OperationError(f"cannot move {old} to itself")
    if new in doc.agents:
        raise OperationError(
            f"cannot move {old} to {new}: state already records {new} as agent "
            f"{doc.agents[new].agent_id}"
        )
    _no_journal_entry(doc, new, "move")
    moved = record.model_copy(update={"name": new})
    agents = {name: r for name, r in doc.agents.items() if name != old}
    agents[new] = moved
    return doc.model_copy(update={"agents": dict(sorted(agents.items()))}), moved


def drop_record(doc: StateDoc, name: str) -> tuple[StateDoc, AgentRecord]:
    """``doc`` without the record of ``name``; also the dropped record."""
    record = _recorded(doc, name, "remove")
    agents = {n: r for n, r in doc.agents.items() if n != name}
    return doc.model_copy(update={"agents": agents}), record


def unprotect_record(doc: StateDoc, name: str) -> tuple[StateDoc, AgentRecord]:
    """``doc`` with the record of ``name`` no longer protected; also the updated record."""
    record = _recorded(doc, name, "unprotect")
    if not record.protect:
        raise OperationError(f"cannot unprotect {name}: its record is not protected")
    updated = record.model_copy(update={"protect": False})
    return doc.model_copy(update={"agents": {**doc.agents, name: updated}}), updated


def _recorded(doc: StateDoc, name: str, verb: str) -> AgentRecord:
    record = doc.agents.get(name)
    if record is None:
        same = sorted(a for a, r in doc.resources.items() if r.name == name)
        hint = f"; for a resource, name its address: {', '.join(same)}" if same else ""
        raise OperationError(
            f"cannot {verb} {printable(name)}: state records no agent {name!r} "
            f"(`reconciler state list` shows the recorded ones){hint}"
        )
    _no_journal_entry(doc, name, verb)
    return record


def _no_journal_entry(doc: StateDoc, name: str, verb: str) -> None:
    if any(entry.name == name for entry in doc.journal):
        raise OperationError(
            f"cannot {verb} {name}: an interrupted engine call of a previous run concerns {name}; "
            "run `reconciler plan` or `reconciler apply` to resolve it first"
        )
