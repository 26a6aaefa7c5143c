"""Edits of the state document by hand for resources of kinds other than ``Agent``.

What ``state mv``, ``state rm`` and ``state unprotect`` do to a
:class:`~reconciler.models.resources.ResourceRecord` (an address ``KIND/NAME``). Like
:mod:`reconciler.state.edits` for agents, they leave the engine alone (the resource keeps its
id), are pure (a new document is returned; the caller writes it under the lock) and refuse
with :class:`~reconciler.errors.OperationError`:

* an address the state does not record, and one whose create was interrupted and is not
  settled yet (``creating``): what the engine holds for it is unknown until a plan or apply
  looks for it;
* a move to another kind (a record of one kind cannot describe a resource of another), to an
  address state already records or has a create in flight for, or to a name no reference can
  spell.

An interrupted update (``ResourceRecord.updating``) lives in its record: a move carries it (it
names the resource by its id, which the move keeps), and a remove drops it with the record
(only when asked to, :func:`drop_resource` ``drop_update``). The deposed objects of a
record (the old resources of a replacement that created first) move with it, and a remove
refuses to forget them unless asked to, as an interrupted update. Records and interrupted
creates that reference a moved address are rewritten to reference the new one, so the order of
deletes stays right; :func:`referrers` says which reference an address (a remove leaves them
dangling).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from reconciler.errors import OperationError, printable
from reconciler.models.resources import PendingCreate, ResourceRecord, address
from reconciler.models.state import StateDoc

_ADDRESS = re.compile(r"^([A-Z][A-Za-z0-9]*)/([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$")
"""The address a ``{ref: KIND/NAME}`` and ``plan --target`` name a resource by (the name: any a
kind's manifests take: a secret set's may start with ``_``)."""
_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
ADDRESS_FORM = (
    "KIND/NAME (NAME: 1 to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-')"
)


def split_address(text: str) -> tuple[str, str] | None:
    """``(KIND, NAME)`` for an address ``KIND/NAME``; None for anything else (a bare name)."""
    match = _ADDRESS.fullmatch(text)
    return None if match is None else (match.group(1), match.group(2))


def address_problem(text: str, kinds: Iterable[str]) -> str | None:
    """Why ``text``, which holds a ``/`` (an agent's name never does), is not the address of a
    kind in ``kinds``; None when it is one. Says what is wrong and the form to write."""
    known = sorted(kinds)
    listed = ", ".join(known)
    kind, _, name = text.partition("/")
    if "/" in name:
        return f"an address has one '/': {ADDRESS_FORM}, KIND one of {listed}"
    if not kind:
        return f"it names no kind: write {ADDRESS_FORM}, KIND one of {listed}"
    if not name:
        return f"it names no {kind if kind in known else 'resource'}: write {ADDRESS_FORM}"
    if kind not in known:
        close = difflib.get_close_matches(kind, known, n=1, cutoff=0.6)
        if not close:
            close = [k for k in known if k.lower() == kind.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        shown = kind if _KIND.fullmatch(kind) else f"'{printable(kind)}'"
        return f"unknown kind {shown}{hint}: the kinds are {listed}"
    if _NAME.fullmatch(name) is None:
        return f"'{printable(name)}' is not a name: write {ADDRESS_FORM}"
    return None


def referrers(doc: StateDoc, target: str) -> list[str]:
    """The addresses of the records and interrupted creates that reference ``target``, sorted."""
    found = {a for a, r in doc.resources.items() if target in r.references and a != target}
    found |= {a for a, c in doc.creating.items() if target in c.references and a != target}
    return sorted(found)


def move_resource(doc: StateDoc, old: str, new: str) -> tuple[StateDoc, ResourceRecord, list[str]]:
    """``doc`` with the record of ``old`` under ``new``; the moved record; the addresses whose
    references were rewritten from ``old`` to ``new``."""
    record = recorded_resource(doc, old, "move")
    parts = split_address(new)
    if parts is None:
        raise OperationError(
            f"cannot move {old} to {printable(new)}: a resource moves to an address "
            f"{record.kind}/NAME (a name of letters, digits, '_', '.' and '-', starting with a "
            "letter or digit, at most 64 characters)"
        )
    kind, name = parts
    if kind != record.kind:
        raise OperationError(
            f"cannot move {old} to {new}: a move keeps the kind (a {record.kind} record cannot "
            f"describe a {kind}); to rename it, move it to {address(record.kind, name)}"
        )
    if new == old:
        raise OperationError(f"cannot move {old} to itself")
    if new in doc.resources:
        raise OperationError(
            f"cannot move {old} to {new}: state already records {new} as {doc.resources[new].id}"
        )
    if new in doc.creating:
        raise OperationError(
            f"cannot move {old} to {new}: an interrupted create of {new} is not settled yet; "
            "run `reconciler apply` to settle it first"
        )
    moved = record.model_copy(
        update={
            "name": name,
            "deposed": [d.model_copy(update={"name": name}) for d in record.deposed],
        }
    )
    resources: dict[str, ResourceRecord] = {}
    rewritten: list[str] = []
    for key, other in doc.resources.items():
        if key == old:
            continue
        if old in other.references or any(old in d.references for d in other.deposed):
            deposed = [
                d.model_copy(update={"references": _renamed(d.references, old, new)})
                for d in other.deposed
            ]
            other = other.model_copy(
                update={"references": _renamed(other.references, old, new), "deposed": deposed}
            )
            rewritten.append(key)
        resources[key] = other
    resources[new] = moved
    creating: dict[str, PendingCreate] = {}
    for key, entry in doc.creating.items():
        if old in entry.references:
            entry = entry.model_copy(update={"references": _renamed(entry.references, old, new)})
            rewritten.append(key)
        creating[key] = entry
    updated = doc.model_copy(
        update={"resources": dict(sorted(resources.items())), "creating": creating}
    )
    return updated, moved, sorted(rewritten)


def drop_resource(
    doc: StateDoc, target: str, *, drop_update: bool = False
) -> tuple[StateDoc, ResourceRecord]:
    """``doc`` without the record of ``target``; also the dropped record.

    A record that holds an interrupted update is refused unless ``drop_update``.
    """
    record = recorded_resource(doc, target, "remove")
    if record.updating is not None and not drop_update:
        raise OperationError(
            f"refusing to remove {target} from state: an interrupted update of it is not "
            "settled yet (what the engine holds is unknown); run `reconciler apply` to settle "
            "it first, or pass --force to drop the record with its unsettled update"
        )
    if record.deposed and not drop_update:
        ids = ", ".join(d.id for d in record.deposed)
        raise OperationError(
            f"refusing to remove {target} from state: it also records the old resource(s) a "
            f"replacement deposed and has not deleted yet ({ids}), which state would then "
            "forget; run `reconciler apply` to delete them first, or pass --force to forget "
            "them with the record"
        )
    resources = {a: r for a, r in doc.resources.items() if a != target}
    return doc.model_copy(update={"resources": resources}), record


def unprotect_resource(doc: StateDoc, target: str) -> tuple[StateDoc, ResourceRecord]:
    """``doc`` with the record of ``target`` no longer protected; also the updated record."""
    record = recorded_resource(doc, target, "unprotect")
    if not record.protect:
        raise OperationError(f"cannot unprotect {target}: its record is not protected")
    updated = record.model_copy(update={"protect": False})
    return doc.model_copy(update={"resources": {**doc.resources, target: updated}}), updated


def recorded_resource(doc: StateDoc, target: str, verb: str) -> ResourceRecord:
    """The record of ``target``; :class:`OperationError` when state holds none to edit."""
    record = doc.resources.get(target)
    if record is not None:
        return record
    if target in doc.creating:
        raise OperationError(
            f"cannot {verb} {printable(target)}: its create was interrupted and is not settled "
            "yet (state does not know whether the engine holds it); run `reconciler apply` to "
            "settle it first"
        )
    raise OperationError(
        f"cannot {verb} {printable(target)}: state records no resource {target!r} "
        "(`reconciler state list` shows the recorded ones)"
    )


def _renamed(references: list[str], old: str, new: str) -> list[str]:
    return sorted({new if ref == old else ref for ref in references})
