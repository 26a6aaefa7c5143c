"""Apply the resources of kinds other than ``Agent``: by their kind's engine calls, in the
order of the reference graph.

Three passes; each runs the reference graph level by level, the actions of one level
concurrently with at most ``parallelism`` of them in progress (the in-flight bound of the
engine calls), and each outcome is written to state as it lands:

1. the resources the plan *replaces* deleting first are deleted (such a replace deletes, then
   creates), in the plan's order reversed (a resource before what it references);
2. creates, updates and the create half of each replace run in the plan's order (a resource
   after what it references), each with the ids of what it references as state records them at
   that moment: a reference to a resource created earlier in this run is sent as its new id
   (a level starts once every level before it, holding what it references, has finished); a
   replace that creates first (``ResourcePlan.create_before_delete``) records the new resource
   with the old one *deposed* in its record, in one write;
3. the resources the plan *deletes*, deposed ones included, and the old resources of the
   replaces that created first are deleted, in the plan's order reversed: after the updates,
   since an update may drop the last reference to one of them (or point it at the new one);
4. the removals an update held back (:func:`remove_held`): an update that removes fields of a
   resource that others, which this plan updates or deletes, reference (a secret set's key
   renamed with the agents that use it) sends the rest in pass 2 (the new key, before the
   agents that will reference it) and the removals once those referrers changed (the engine
   refuses to remove what is still referenced); the record holds the removed fields between
   the two, so a run stopped there leaves an update of them for the next plan.

A resource whose reference failed is not attempted, nor is the create half of a replace whose
delete failed, nor the delete of a resource still referenced by one whose action failed. A
replace of a resource that another one keeps referencing would delete it while it is referenced:
the plan refuses it (:func:`~reconciler.plan.resources.replaced_in_use_errors`); a plan that
holds one all the same (an engine that refuses the delete as in use) fails the replace, cleanly;
nothing else is attempted for it.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from reconciler.apply.events import ActionResult, ApplyEvent, StepCall, phase_of
from reconciler.apply.run import Run, as_reconciler_error
from reconciler.diff import spec_digest
from reconciler.engine.wire import scrub
from reconciler.errors import (
    AlreadyExistsError,
    ApplyError,
    EngineError,
    EngineUnavailableError,
    StateError,
)
from reconciler.kinds import resolve_references
from reconciler.kinds.base import Created, Held
from reconciler.kinds.references import is_known_after_apply
from reconciler.models import StateDoc
from reconciler.models.fieldpath import ABSENT, FieldPath
from reconciler.models.plan import ResourcePlan
from reconciler.models.resources import (
    DesiredResource,
    PendingCreate,
    PendingUpdate,
    ResourceRecord,
)
from reconciler.models.secrets import values_under
from reconciler.plan import STATE_FIELDS, resource_view


async def delete_replaced(run: Run, failed: set[str]) -> None:
    """Delete the resources the plan replaces deleting first (their create follows),
    referencing ones first."""
    actions = [
        a
        for a in reversed(run.plan.resources)
        if a.action == "replace" and not a.create_before_delete
    ]
    await _deletes(run, failed, actions)


async def delete_removed(run: Run, failed: set[str]) -> None:
    """Delete the resources the plan deletes, and the old resources of the replaces that
    created first (deposed: recorded with their successor) once that create succeeded,
    referencing ones first, once every create and update ran (an update may drop the last
    reference to one of them, or point it at the successor)."""
    actions = [a for a in reversed(run.plan.resources) if a.action == "delete"]
    for action in reversed(run.plan.resources):
        record = run.doc.resources.get(action.address)
        replaced = action.action == "replace" and action.create_before_delete
        deposed = record.deposed if record is not None else []
        if replaced and action.address not in failed and any(d.id == action.id for d in deposed):
            actions.append(action.model_copy(update={"deposed": action.id}))
    await _deletes(run, failed, actions)


async def _deletes(run: Run, failed: set[str], actions: list[ResourcePlan]) -> None:
    keys: dict[str, list[str]] = {}
    for action in actions:
        keys.setdefault(action.address, []).append(action.key)
    references: dict[str, set[str]] = {}
    for action in actions:
        targets = set(action.depends_on) | set(_references_of(run, action))
        found = {k for t in targets for k in keys.get(t, ())}
        if action.deposed:  # before the resource recorded at its address, if deleted too
            found.add(action.address)
        references[action.key] = found - {action.key}
    level: dict[str, int] = {a.key: 0 for a in actions}
    changed, passes = True, 0
    while changed and passes <= len(actions):  # usually one pass (the graph has no cycle)
        changed, passes = False, passes + 1
        for action in actions:
            for target in references[action.key] & level.keys():
                if target != action.key and level[target] <= level[action.key]:
                    level[target] = level[action.key] + 1
                    changed = True

    async def one(action: ResourcePlan) -> None:
        holders = _failed_referrers(run, failed, action.address)
        if holders:
            _skip(run, action, f"{', '.join(holders)} still references it")
            failed.add(action.address)
            return
        if not await _attempt(run, action, _delete_one(run, action), "delete"):
            failed.add(action.address)

    await _by_level(run, actions, level, one)


async def _by_level(
    run: Run,
    actions: list[ResourcePlan],
    level: dict[str, int],
    one: Callable[[ResourcePlan], Awaitable[None]],
) -> None:
    """Run ``one`` over ``actions`` level by level (a level after every lower one finished),
    the actions of a level concurrently, at most ``parallelism`` in progress; once the run is
    stopping, no new action begins."""
    levels: dict[int, list[ResourcePlan]] = {}
    for action in actions:
        levels.setdefault(level[action.key], []).append(action)
    for depth in sorted(levels):
        queue = iter(levels[depth])

        async def drain(queue: Any = queue) -> None:
            for action in queue:  # shared by the workers: each action is taken once
                if run.stopping():
                    return
                await one(action)

        if run.stopping():
            return
        workers = min(len(levels[depth]), max(1, run.ctx.parallelism))
        await asyncio.gather(*(drain() for _ in range(workers)))


def _failed_referrers(run: Run, failed: set[str], address: str) -> list[str]:
    """The resources of ``failed`` that still reference ``address`` (as state records them):
    what it holds, or what an update of it removes, may still be needed."""
    return sorted(a for a in failed if address in _recorded_references(run, a))


def _recorded_references(run: Run, address: str) -> list[str]:
    record = run.doc.resources.get(address)
    return record.references if record is not None else []


def _references_of(run: Run, action: ResourcePlan) -> list[str]:
    """What the resource ``action`` deletes references as state records it (for a deposed
    object's delete, the object's own references)."""
    if action.deposed is None:
        return _recorded_references(run, action.address)
    old = _deposed_record(run, action)
    return old.references if old is not None else []


def _deposed_record(run: Run, action: ResourcePlan) -> ResourceRecord | None:
    """The deposed object ``action`` deletes, as the record at its address holds it."""
    record = run.doc.resources.get(action.address)
    found = [d for d in record.deposed if d.id == action.deposed] if record is not None else []
    return found[0] if found else None


async def create_resources(run: Run, failed: set[str]) -> None:
    """Create and update every resource the plan creates, updates or replaces, referenced
    ones first (an update's removals that referrers changed by this plan may still need are
    held back for :func:`remove_held`)."""
    actions = [
        a
        for a in run.plan.resources
        if a.action in ("create", "update", "replace") and a.address not in failed
    ]
    level: dict[str, int] = {}
    for action in actions:  # the plan's order puts a resource after what it references
        below = [level[d] + 1 for d in action.depends_on if d in level]
        level[action.address] = max(below, default=0)
    held = {a.address: _removals_to_hold(run, a) for a in actions}

    async def one(action: ResourcePlan) -> None:
        missing = [d for d in action.depends_on if d in failed]
        if missing:
            _skip(run, action, f"{', '.join(missing)} failed")
            failed.add(action.address)
            return
        later = held[action.address]
        if later:
            if await _attempt(run, action, _put_one(run, action, hold=later), "update"):
                sent = bool(_engine_paths(action, without=later))
                run.held_removals[action.address] = (later, sent)
            else:
                failed.add(action.address)
            return
        call: StepCall = "update" if action.action == "update" else "create"
        if not await _attempt(run, action, _put_one(run, action), call):
            failed.add(action.address)

    await _by_level(run, actions, level, one)


async def remove_held(run: Run, failed: set[str]) -> None:
    """Send the removals :func:`create_resources` held back, once every create, update and
    delete ran; one whose referrer's action failed is not attempted (they may still need what
    it removes: the next plan removes it), and the call its first half began is reported
    failed (each ``begin`` event ends in ``done`` or ``failed``)."""
    actions = [a for a in run.plan.resources if a.address in run.held_removals]

    async def one(action: ResourcePlan) -> None:
        paths, sent = run.held_removals[action.address]
        holders = _failed_referrers(run, failed, action.address)
        if holders:  # its first half was sent: its begun call ends here, as failed
            why = f"{', '.join(holders)} still references it; the rest of the update was sent"
            message = f"update failed: the removal of {', '.join(paths)} not attempted: {why}"
            run.emit(
                ApplyEvent(
                    action.address, action.action, "update", "failed", action.id, 0.0, message
                )
            )
            _skip(run, action, why)
            failed.add(action.address)
            return
        work = _put_one(run, action, only=paths, after_first=sent)
        if not await _attempt(run, action, work, "update"):
            failed.add(action.address)

    await _by_level(run, actions, dict.fromkeys((a.address for a in actions), 0), one)


def _removals_to_hold(run: Run, action: ResourcePlan) -> tuple[str, ...]:
    """The paths an update removes, when a resource this plan updates, replaces or deletes
    references the updated one (as state records it): it may reference what they remove
    until its own action ran."""
    if action.action != "update" or action.address not in run.doc.resources:
        return ()
    removed = tuple(p for p in _engine_paths(action) if p in _removed_paths(action))
    changing = (
        a.address for a in run.plan.resources if a.action in ("update", "replace", "delete")
    )
    if removed and any(action.address in _recorded_references(run, a) for a in changing):
        return removed
    return ()


def _removed_paths(action: ResourcePlan) -> set[str]:
    return {str(c.path) for c in action.changes if not c.after_present}


def not_attempted(run: Run) -> list[str]:
    """Addresses of the planned resource actions with no result (the run stopped first)."""
    reported = {r.name for r in run.result.results}
    planned = list(dict.fromkeys(r.address for r in run.plan.resources if r.action != "no-op"))
    return [address for address in planned if address not in reported]


async def _attempt(run: Run, action: ResourcePlan, work: Awaitable[bool], phase: StepCall) -> bool:
    """Await ``work``; anything it raises fails the action (a defect also halts the run)."""
    started = run.ctx.clock()
    try:
        return await work
    except Exception as exc:
        _failed(run, action, exc, started, phase, action.id)
        return False


async def _delete_one(run: Run, action: ResourcePlan) -> bool:
    ctx, address = run.ctx, action.address
    if action.deposed is not None:
        return await _delete_deposed(run, action)
    started = ctx.clock()
    record = run.doc.resources.get(address)
    if record is None:  # only what state records is ever deleted (a saved plan can be edited)
        return True
    if record.deposed:  # its record is their only trace: removing it would orphan them
        why = f"{address} still has deposed (old) resources to delete first: " + ", ".join(
            d.id for d in record.deposed
        )
        _failed(run, action, ApplyError(why), started, "delete", record.id)
        return False
    run.emit(ApplyEvent(address, action.action, "delete", "begin", record.id))
    kind = ctx.kinds.kind(record.kind)
    try:
        await run.call(lambda: kind.delete(Held(record.id, action.live_version or record.version)))
    except Exception as exc:
        _failed(run, action, exc, started, "delete", record.id)
        return False
    removed = await run.save_or_halt(lambda d: _without(d, address))
    duration = ctx.clock() - started
    if not removed:
        _failed(run, action, StateError(str(run.halted)), started, "delete", record.id, True)
        return False
    run.emit(ApplyEvent(address, action.action, "delete", "done", record.id, duration))
    if action.action == "delete":
        run.result.results.append(
            ActionResult(address, "delete", True, agent_id=record.id, duration_s=duration)
        )
    return True


async def _delete_deposed(run: Run, action: ResourcePlan) -> bool:
    """Delete a deposed object (the old resource of a replacement that created first) and
    drop it from its successor's record. Reports the delete a plan listed, or for the
    replacement that deposed it in this run, the replacement (now complete)."""
    ctx, address = run.ctx, action.address
    started = ctx.clock()
    old = _deposed_record(run, action)
    if old is None:  # only what state records is ever deleted (a saved plan can be edited)
        return True
    run.emit(ApplyEvent(address, action.action, "delete", "begin", old.id))
    kind = ctx.kinds.kind(old.kind)
    try:
        await run.call(lambda: kind.delete(Held(old.id, old.version)))
    except Exception as exc:
        _failed(run, action, exc, started, "delete", old.id)
        return False
    removed = await run.save_or_halt(lambda d: _without_deposed(d, address, old.id))
    duration = ctx.clock() - started
    if not removed:
        _failed(run, action, StateError(str(run.halted)), started, "delete", old.id, True)
        return False
    run.emit(ApplyEvent(address, action.action, "delete", "done", old.id, duration))
    record = run.doc.resources.get(address)
    resource_id = record.id if action.action == "replace" and record is not None else old.id
    run.result.results.append(
        ActionResult(address, action.action, True, agent_id=resource_id, duration_s=duration)
    )
    return True


def _without_deposed(doc: StateDoc, address: str, old_id: str) -> StateDoc:
    record = doc.resources.get(address)
    if record is None:
        return doc
    kept = [d for d in record.deposed if d.id != old_id]
    return _with(doc, record.model_copy(update={"deposed": kept}))


async def _put_one(
    run: Run,
    action: ResourcePlan,
    *,
    hold: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    after_first: bool = False,
) -> bool:
    """Create, update or replace one resource and record it. An update sends every changed
    path but those in ``hold`` (recorded as they were: they are sent later), or only the paths
    in ``only`` (the held ones; ``after_first``: the rest was sent, so the record's version is
    the one to send); a held first half reports no result (the second half does)."""
    ctx, address = run.ctx, action.address
    started = ctx.clock()
    resource = run.desired.resources[address]
    kind = ctx.kinds.kind(resource.kind)
    ids: dict[str, str | None] = {a: r.id for a, r in run.doc.resources.items()}
    body: dict[str, Any] = resolve_references(resource.spec, ids)
    unknown = [d for d in action.depends_on if ids.get(d) is None]
    if unknown or _has_unknown(body):
        why = f"{address} references {', '.join(unknown)}, which state does not record"
        _failed(run, action, ApplyError(why), started, "create", None)
        return False
    record = run.doc.resources.get(address)
    call: StepCall = "update" if action.action == "update" and record is not None else "create"
    if only is None:  # a held second half continues the first half's action
        shown = record.id if record is not None and not _creates_first(action, record) else None
        run.emit(ApplyEvent(address, action.action, phase_of(call), "begin", shown))
    spec = resource_view(resource, run.doc.salt, ids)
    changed = _engine_paths(action, without=hold) if only is None else only
    if hold and record is not None:
        spec = _with_paths_of(spec, record.spec, hold)
    try:
        if call == "update" and record is not None and not changed:
            version, resource_id = record.version, record.id  # protect only: state, no call
        elif call == "update" and record is not None:
            version_sent = record.version if after_first else None
            updated = await _update(
                run, action, resource, record, body, spec, started, changed, version_sent
            )
            if updated is None:
                return False
            (version,) = updated
            resource_id = record.id
        else:
            replacing = record.id if _creates_first(action, record) and record else None
            created = await _create(run, action, resource, body, spec, started, replacing)
            if created is None:
                return False
            resource_id, version = created
    except Exception as exc:
        _failed(run, action, exc, started, call, record.id if record else None)
        return False
    new = ResourceRecord(
        kind=resource.kind,
        name=resource.name,
        id=resource_id,
        version=version,
        spec=spec,
        spec_digest=spec_digest(spec),
        created_at=record.created_at if record is not None and call == "update" else started,
        references=list(kind.references(resource.spec)),
        protect=resource.protect,
        deposed=_deposing(action, record),
    )
    if not await run.save_or_halt(lambda d: _with(_settled(d, address), new)):
        _failed(run, action, StateError(str(run.halted)), started, call, resource_id, True)
        return False
    if hold:
        return True  # the held paths follow (remove_held), which reports the update
    duration = ctx.clock() - started
    run.emit(ApplyEvent(address, action.action, phase_of(call), "done", resource_id, duration))
    if _creates_first(action, record):
        return True  # the old one's delete (delete_removed) reports the replacement
    run.result.results.append(
        ActionResult(address, action.action, True, agent_id=resource_id, duration_s=duration)
    )
    return True


def _creates_first(action: ResourcePlan, record: ResourceRecord | None) -> bool:
    """Whether ``action`` is a replace that creates the new resource while ``record``, the old
    one, still exists (and is kept, deposed, until delete_removed deletes it)."""
    return action.action == "replace" and action.create_before_delete and record is not None


def _deposing(action: ResourcePlan, record: ResourceRecord | None) -> list[ResourceRecord]:
    """The deposed objects of the record that replaces ``record``: its own, and for a replace
    that creates first, ``record`` itself (deleted once the new one is recorded)."""
    if record is None:
        return []
    if _creates_first(action, record):
        version = action.live_version or record.version  # the one the plan read, if it did
        old = record.model_copy(update={"deposed": [], "updating": None, "version": version})
        return [*record.deposed, old]
    return list(record.deposed)


def _with_paths_of(
    spec: dict[str, Any], recorded: dict[str, Any], paths: tuple[str, ...]
) -> dict[str, Any]:
    """``spec`` with each of ``paths`` as ``recorded`` has it (the fields an update removes
    only later, so the record says what the engine still holds)."""
    kept = copy.deepcopy(spec)
    for text in paths:
        path = FieldPath.parse(text)
        value = path.get_in(recorded)
        if value is not ABSENT:
            path.set_in(kept, copy.deepcopy(value))
    return kept


async def _create(
    run: Run,
    action: ResourcePlan,
    resource: DesiredResource,
    body: dict[str, Any],
    spec: dict[str, Any],
    started: float,
    replacing: str | None = None,
) -> Created | None:
    """Create one resource under a write-ahead entry (:class:`PendingCreate`), written before
    the call: a create whose answer is lost (or a run killed meanwhile) leaves the entry, which
    the next run settles by looking for the resource with evidence (``Kind.find``). A refusal
    removes the entry; an outcome that is unknown keeps it. None: failed (reported)."""
    address, kind = action.address, run.ctx.kinds.kind(resource.kind)
    entry = PendingCreate(
        kind=resource.kind,
        name=resource.name,
        marker=f"{run.doc.lineage}:{address}:{uuid.uuid4().hex[:16]}",
        started_at=started,
        spec=spec,
        spec_digest=spec_digest(spec),
        references=list(kind.references(resource.spec)),
        protect=resource.protect,
        replacing=replacing,
    )
    if not await run.save_or_halt(lambda d: _pending(d, entry)):
        _failed(run, action, StateError(str(run.halted)), started, "create", None)
        return None
    try:
        created: Created = await run.call(lambda: kind.create(resource.name, body, entry.marker))
    except EngineUnavailableError as exc:  # it may have taken effect: the entry stays
        unknown = EngineUnavailableError(
            f"{exc} (whether the create took effect is unknown: the next apply or plan looks "
            "for the resource by its evidence before creating anything)"
        )
        _failed(run, action, unknown, started, "create", None)
        return None
    except Exception as exc:  # refused: nothing was created
        await run.save_or_halt(lambda d: _settled(d, address))
        _failed(run, action, _with_import_hint(exc, address), started, "create", None)
        return None
    return created


def _with_import_hint(exc: Exception, address: str) -> Exception:
    """A create refused because the Platform holds it already (made outside this state, or
    another project's), worded with the way to manage it if it is this project's; any other
    error as it is. Nothing is adopted here: the name alone is no evidence of ours."""
    if not isinstance(exc, AlreadyExistsError):
        return exc
    said = exc.detail or str(exc)
    hint = (
        f"{said.rstrip('.')}: the Platform holds one outside this state (made by hand, or "
        f"another project's); if it is this project's, record it with `reconciler import "
        f"{address} ID` (a secret set's ID is its name; `reconciler pull` writes manifests of "
        "what the Platform holds and state lacks), otherwise rename this manifest"
    )
    return AlreadyExistsError(hint, status=exc.status, reason=exc.reason, detail=hint)


async def _update(
    run: Run,
    action: ResourcePlan,
    resource: DesiredResource,
    record: ResourceRecord,
    body: dict[str, Any],
    spec: dict[str, Any],
    started: float,
    changed: tuple[str, ...],
    version_sent: str | None = None,
) -> tuple[str | None] | None:
    """Update one resource under a write-ahead entry (:class:`PendingUpdate`, in its record),
    written before the call: an update whose answer is lost (or a run killed meanwhile) leaves
    the entry, which the next run settles from what the engine holds
    (:mod:`reconciler.apply.updates`). A refusal puts the record back as it was; an outcome
    that is unknown keeps the entry. Returns the new version (in a tuple: a version may be
    None); None: failed (reported). ``changed``: the paths to send; ``version_sent``: the
    version to send instead of the plan's (a second call of one update)."""
    kind = run.ctx.kinds.kind(resource.kind)
    held = Held(record.id, version_sent or action.live_version or record.version)
    entry = PendingUpdate(
        base_version=held.version,
        started_at=started,
        spec=spec,
        spec_digest=spec_digest(spec),
        references=list(kind.references(resource.spec)),
        protect=resource.protect,
    )
    pending = record.model_copy(update={"updating": entry})
    if not await run.save_or_halt(lambda d: _with(d, pending)):
        _failed(run, action, StateError(str(run.halted)), started, "update", record.id)
        return None
    try:
        version: str | None = await run.call(lambda: kind.update(held, body, changed))
    except EngineUnavailableError as exc:  # it may have taken effect: the entry stays
        unknown = type(exc)(  # of its class: a deadline keeps its exit code
            f"{exc} (whether the update took effect is unknown: the next apply or plan "
            "compares the resource with what was sent before sending anything)",
            status=exc.status,
            reason=exc.reason,
        )
        _failed(run, action, unknown, started, "update", record.id)
        return None
    except Exception as exc:  # refused: nothing changed, the record is as it was
        await run.save_or_halt(lambda d: _with(d, record))
        _failed(run, action, exc, started, "update", record.id)
        return None
    return (version,)


def _engine_paths(action: ResourcePlan, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The paths an update changes on the engine: its changes but the state-only fields
    (:data:`~reconciler.plan.STATE_FIELDS`, such as ``protect``) and those in ``without``."""
    return tuple(
        str(c.path)
        for c in action.changes
        if str(c.path) not in STATE_FIELDS and str(c.path) not in without
    )


def _pending(doc: StateDoc, entry: PendingCreate) -> StateDoc:
    return doc.model_copy(update={"creating": {**doc.creating, entry.address: entry}})


def _settled(doc: StateDoc, address: str) -> StateDoc:
    if address not in doc.creating:
        return doc
    kept = {a: e for a, e in doc.creating.items() if a != address}
    return doc.model_copy(update={"creating": kept})


def _has_unknown(value: Any) -> bool:
    if is_known_after_apply(value):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def _secrets(run: Run, address: str) -> set[str]:
    """Every string under a sensitive path of the desired resource at ``address``."""
    resource = run.desired.resources.get(address)
    if resource is None:
        return set()
    return values_under(resource.spec, resource.sensitive) | resource.secrets


def _with(doc: StateDoc, record: ResourceRecord) -> StateDoc:
    return doc.model_copy(update={"resources": {**doc.resources, record.address: record}})


def _without(doc: StateDoc, address: str) -> StateDoc:
    kept = {a: r for a, r in doc.resources.items() if a != address}
    return doc.model_copy(update={"resources": kept})


def _skip(run: Run, action: ResourcePlan, why: str) -> None:
    run.result.results.append(
        ActionResult(
            action.address,
            action.action,
            False,
            action.id,
            reason="Skipped",
            detail=f"not attempted: {why}",
        )
    )


def _failed(
    run: Run,
    action: ResourcePlan,
    exc: Exception,
    started: float,
    phase: StepCall,
    resource_id: str | None,
    reached_engine: bool = False,
) -> None:
    error = as_reconciler_error(exc)
    if error is not exc:
        run.halt(error)
    reason = error.reason if isinstance(error, EngineError) else type(error).__name__
    if reached_engine:
        reason = "StateWriteFailed"
    detail = error.detail if isinstance(error, EngineError) and error.detail else str(error)
    detail = scrub(detail, _secrets(run, action.address))  # an engine may echo what it was sent
    if isinstance(error, EngineError):
        reason = scrub(reason, _secrets(run, action.address))
    duration = run.record_failure(
        action.address,
        action.action,
        started,
        agent_id=resource_id,
        reason=reason,
        detail=f"{phase}: {detail}",
        reached_engine=reached_engine,
    )
    event_phase = phase_of(phase)
    run.emit(
        ApplyEvent(
            action.address,
            action.action,
            event_phase,
            "failed",
            resource_id,
            duration,
            f"{phase} failed: {reason} {detail}",
        )
    )
