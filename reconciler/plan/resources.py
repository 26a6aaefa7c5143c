"""The plan of resources of every kind other than ``Agent``: in the order of the reference
graph, with ``--target``/``--exclude`` closures, replacements, protection and drift."""

from __future__ import annotations

from typing import Any

from reconciler.diff import (
    outside_changes,
    redact_in_place,
    settle_unknown,
    shown_changes,
    spec_digest,
)
from reconciler.diff.normalize import drop_nulls
from reconciler.errors import Location, PlanError, Problem, ValidationError, printable
from reconciler.kinds import (
    KindRegistry,
    closure,
    creation_order,
    resolve_references,
)
from reconciler.models import (
    DesiredSet,
    FieldChange,
    FieldPath,
    LiveStatus,
    StateDoc,
)
from reconciler.models.plan import ResourcePlan
from reconciler.models.platform import UNIQUE_FIELDS
from reconciler.models.resources import DesiredResource, ResourceRecord
from reconciler.plan.options import PlanOptions
from reconciler.plan.state_fields import state_change
from reconciler.plan.wording import shown_value


def plan_resources(
    desired: DesiredSet,
    state: StateDoc,
    live: LiveStatus,
    options: PlanOptions,
    digests: dict[str, str],
    notes: list[str],
) -> tuple[ResourcePlan, ...]:
    """The plan of every resource of a kind other than ``Agent``, in creation order.

    Resources are planned in the order of the reference graph, so that each one knows whether
    the ids it references stay (recorded, not replaced) or will be known only after apply.
    Adds each desired resource's digest to ``digests`` (the manifests' digest covers them) and
    to ``notes`` what ``--exclude`` leaves out besides what it names.
    """
    if not desired.resources and not state.resources:
        return ()
    wanted = {} if options.destroy else desired.resources
    edges, where = _resource_edges(wanted, state.resources, options.kinds, desired.unmanaged)
    order = creation_order(edges, where)
    selected = _selected_resources(options, edges, set(wanted)) if options.targets else set(edges)
    held_with, held_for = _excluded_resources(options, edges, set(wanted))
    notes.extend(_exclusion_notes(options, edges, set(wanted), held_with, held_for, selected))
    selected -= held_with | held_for
    ids: dict[str, str | None] = {}
    plans: list[ResourcePlan] = []
    deletes_first: set[str] = set()  # the replaces that delete the old resource first
    for address in order:
        resource, record = wanted.get(address), state.resources.get(address)
        gone = live.refreshed and address in live.resources and live.resources[address] is None
        drift, observed, live_version = _drift(record, live, options, state.salt)
        if address in selected and record is not None:
            plans.extend(_deposed_deletes(record))
        if resource is None:
            assert record is not None
            ids[address] = None
            if address in selected:
                plans.append(_resource_delete(record, options, drift, live_version))
            continue
        spec = resource_view(resource, state.salt, ids)
        if resource.unknown:
            recorded = record.spec if record is not None else None
            settle_unknown(spec, resource.unknown, resource.sensitive, recorded)
        digest = spec_digest(spec)
        digests[address] = reviewed_resource_digest(resource, state.salt)
        if gone and record is not None:  # deleted outside: created again, with a new id
            ids[address] = None
            spec = resource_view(resource, state.salt, ids)
            planned = ResourcePlan(
                kind=resource.kind,
                name=resource.name,
                action="create",
                reason=f"missing: {record.id} was deleted outside",
                create_spec=spec,
                depends_on=edges[address],
                desired_digest=spec_digest(spec),
                path=resource.path,
                reviewed_digest=digests[address],
            )
            if address in selected:
                plans.append(planned)
            continue
        planned = _plan_resource(resource, record, spec, digest, edges[address], options)
        if drift and record is not None and observed is not None:
            planned = _with_drift(planned, resource, record, observed, spec, drift, live_version)
            planned = planned.model_copy(update={"protect": resource.protect})
        elif resource.protect:
            planned = planned.model_copy(update={"protect": True})
        if record is not None and record.version is None and live_version is not None:
            planned = planned.model_copy(update={"live_version": live_version})  # imported
        stays = planned.action in ("update", "no-op") or address not in selected
        ids[address] = record.id if record is not None and stays else None
        if address in selected and planned.action == "replace" and record is not None:
            first = _creates_first(options, record, spec, deletes_first)
            planned = planned.model_copy(update={"create_before_delete": first})
            if not first:
                deletes_first.add(address)
        if address in selected:
            plans.append(planned.model_copy(update={"reviewed_digest": digests[address]}))
    return tuple(plans)


def _creates_first(
    options: PlanOptions, record: ResourceRecord, spec: dict[str, Any], deletes_first: set[str]
) -> bool:
    """Whether the replacement of ``record`` by ``spec`` creates the new resource before it
    deletes the old one: its kind says the engine takes both at once
    (``KindRules.creates_before_deleting``), and nothing the old one references is replaced
    deleting first (that delete comes before every create, and the engine refuses to delete a
    resource the old one, still there, references)."""
    rules = options.kinds.rules(record.kind)
    if any(r in deletes_first for r in record.references):
        return False
    return rules.creates_before_deleting(record.spec, spec)


def _deposed_deletes(record: ResourceRecord) -> list[ResourcePlan]:
    """The deletes of ``record``'s deposed objects: the old resources of a create-before-delete
    replacement that a run stopped (or failed) before deleting. The resource recorded at the
    address is planned on its own."""
    return [
        ResourcePlan(
            kind=record.kind,
            name=record.name,
            action="delete",
            reason=(
                "deposed: the old resource of a replacement that created its successor "
                f"({record.id}) but did not delete it"
            ),
            id=old.id,
            depends_on=tuple(old.references),
            deposed=old.id,
        )
        for old in record.deposed
    ]


def _excluded_resources(
    options: PlanOptions, edges: dict[str, tuple[str, ...]], wanted: set[str]
) -> tuple[set[str], set[str]]:
    """What ``--exclude`` leaves alone, in two parts: an excluded resource that is kept, with
    whatever references it (its id may change only with it); and an excluded one that would be
    deleted, with whatever it references (it still needs them)."""
    excluded = set(options.excludes) & set(edges)
    if not excluded:
        return set(), set()
    referrers = _referrers(edges)
    kept = closure((e for e in excluded if e in wanted), referrers)
    gone = closure((e for e in excluded if e not in wanted), edges)
    return kept, gone


def _exclusion_notes(
    options: PlanOptions,
    edges: dict[str, tuple[str, ...]],
    wanted: set[str],
    held_with: set[str],
    held_for: set[str],
    selected: set[str],
) -> list[str]:
    """Why each resource ``--exclude`` leaves out without naming it is left out (one sentence
    each), by the part of :func:`_excluded_resources` that holds it: it references a resource
    left out that stays (``held_with``), or one left out that would be deleted references it
    (``held_for``). A resource ``--target`` or ``--replace`` asks for is a :class:`PlanError`
    instead."""
    asked = set(options.targets) | set(options.replace)
    notes: list[str] = []
    conflicts: list[str] = []
    for address in sorted(((held_with | held_for) & selected) - set(options.excludes)):
        kept = sorted(e for e in edges[address] if e in held_with and e in wanted)
        if address in held_with and kept:
            why = (
                f"it references {', '.join(printable(e) for e in kept)}, which --exclude leaves out"
            )
        else:
            holders = sorted(e for e in held_for if address in edges.get(e, ()))
            deleted = all(e not in wanted for e in holders)
            why = (
                f"{', '.join(printable(e) for e in holders)}, "
                f"{'whose delete' if deleted else 'which'} --exclude leaves out, references it"
            )
        if address in asked:
            conflicts.append(
                f"{printable(address)} is asked for (--target/--replace) but --exclude leaves it "
                f"out: {why}"
            )
        else:
            notes.append(f"--exclude also leaves out {printable(address)}: {why}")
    if conflicts:
        raise PlanError("; ".join(conflicts) + "; drop one of the two options")
    return notes


def _referrers(edges: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The reference graph turned around: what references each resource."""
    referrers: dict[str, list[str]] = {address: [] for address in edges}
    for address, references in edges.items():
        for reference in references:
            if reference in referrers:
                referrers[reference].append(address)
    return referrers


def _selected_resources(
    options: PlanOptions, edges: dict[str, tuple[str, ...]], wanted: set[str]
) -> set[str]:
    """What ``--target`` plans: a kept target and what it references (created or updated
    first), and a target to delete and whatever references it (deleted first)."""
    targets = (set(options.targets) | set(options.replace)) & set(edges)
    referrers = _referrers(edges)
    kept = closure((t for t in targets if t in wanted), edges)
    gone = closure((t for t in targets if t not in wanted), referrers)
    return (kept & wanted) | gone


def reviewed_resource_digest(resource: DesiredResource, salt: str) -> str:
    """What a saved plan's manifests digest covers of a resource: its manifest's spec as
    written (references unresolved), redacted, and ``protect``."""
    spec = redact_in_place(drop_nulls(resource.spec), resource.sensitive, salt)
    return spec_digest(spec) + ("+protect" if resource.protect else "")


def resource_view(
    resource: DesiredResource, salt: str, ids: dict[str, str | None]
) -> dict[str, Any]:
    """A desired resource's spec as it is compared and recorded: nulls dropped, references
    resolved to ``ids`` (a marker where an id is known only after apply), secrets redacted."""
    spec = resolve_references(drop_nulls(resource.spec), ids)
    return redact_in_place(spec, resource.sensitive, salt)


def _resource_edges(
    wanted: dict[str, DesiredResource],
    recorded: dict[str, ResourceRecord],
    kinds: KindRegistry,
    unmanaged: tuple[str, ...] = (),
) -> tuple[dict[str, tuple[str, ...]], dict[str, Location]]:
    """The reference graph (what each resource references) and where each is declared.

    A desired resource's references come from its manifest and must name declared resources;
    a recorded one that is to be deleted keeps the references it was created with.
    """
    edges: dict[str, tuple[str, ...]] = {}
    where: dict[str, Location] = {}
    problems: list[Problem] = []
    for address, resource in wanted.items():
        edges[address] = kinds.kind(resource.kind).references(resource.spec)
        where[address] = Location(resource.path or "agents.d", resource.line)
        for target in edges[address]:
            if target not in wanted and target not in unmanaged:
                problems.append(
                    Problem(
                        where[address], f"{address} references {target}, which no manifest declares"
                    )
                )
    for address, record in recorded.items():
        if address not in edges:
            edges[address] = tuple(record.references)
    if problems:
        raise ValidationError(problems, "the references")
    return edges, where


def _plan_resource(
    resource: DesiredResource,
    record: ResourceRecord | None,
    spec: dict[str, Any],
    digest: str,
    references: tuple[str, ...],
    options: PlanOptions,
) -> ResourcePlan:
    """Create, update, replace or leave one desired resource."""
    common: dict[str, Any] = {
        "kind": resource.kind,
        "name": resource.name,
        "depends_on": references,
        "desired_digest": digest,
        "path": resource.path,
    }
    if record is None:
        return ResourcePlan(action="create", reason="new resource", create_spec=spec, **common)
    common["id"] = record.id
    protect = (
        (state_change("protect", record.protect, resource.protect),)
        if record.protect != resource.protect
        else ()
    )
    if record.spec_digest == digest and record.spec == spec:
        if resource.address in options.replace:
            return ResourcePlan(action="replace", reason="replacement requested", **common)
        if protect:
            return ResourcePlan(
                action="update",
                reason=f"protect: {shown_value(resource.protect)} recorded in state "
                "(no engine call)",
                changes=protect,
                **common,
            )
        return ResourcePlan(action="no-op", reason="up to date", **common)
    rules = options.kinds.rules(resource.kind)
    changes = (*shown_changes(record.spec, spec, rules.forces_replacement), *protect)
    fixed = [str(c.path) for c in changes if c.forces_restart]
    if fixed or resource.address in options.replace:
        why = "replacement requested"
        if fixed:
            why = "changes force a replacement: " + ", ".join(fixed)
        return ResourcePlan(action="replace", reason=why, changes=changes, **common)
    reason = "in-place update of " + ", ".join(str(c.path) for c in changes)
    return ResourcePlan(action="update", reason=reason, changes=changes, **common)


def resource_protection_errors(
    resources: tuple[ResourcePlan, ...], options: PlanOptions
) -> list[str]:
    """Why the plan must not delete or replace protected resources (one sentence each)."""
    errors: list[str] = []
    for planned in resources:
        if not planned.protect or planned.action not in ("delete", "replace"):
            continue
        if options.destroy and options.force:
            continue
        how = (
            "pass --force to destroy it anyway"
            if options.destroy
            else "remove protect: true from its manifest first (apply it), or keep it"
        )
        errors.append(
            f"{planned.address} is protected (protect: true) and the plan would "
            f"{planned.action} it; {how}"
        )
    return errors


def replaced_in_use_errors(resources: tuple[ResourcePlan, ...], state: StateDoc) -> list[str]:
    """Why the plan must not replace a resource that another one references as state records
    it, where the apply would have to delete it while it is still referenced (one sentence
    each); the engine refuses to delete a resource in use (the Platform: a number routed to the
    agent, an agent using the set), so the apply could only fail.

    A replace that deletes first deletes it before every create and update: any referrer not
    replaced along with it (deleted before it, created after it) holds it then, and so does a
    deposed object that references it. A replace that creates first deletes the old one after
    every create and update: a referrer that this plan updates, replaces or deletes no longer
    holds it then, one the plan leaves alone (``--target``, ``--exclude``) does."""
    deleting_first = {
        r.address for r in resources if r.action == "replace" and not r.create_before_delete
    }
    creating_first = {r.address for r in resources if r.action == "replace"} - deleting_first
    acted_on = {r.address for r in resources if r.action != "no-op" and r.deposed is None}
    errors: list[str] = []
    for address in sorted(deleting_first | creating_first):
        first = address in deleting_first
        holders = sorted(
            a
            for a, r in state.resources.items()
            if (address in r.references and a not in (deleting_first if first else acted_on))
            or (first and any(address in d.references for d in r.deposed))
        )
        if not holders:
            continue
        them = "it" if len(holders) == 1 else "them"
        verb = "references" if len(holders) == 1 else "reference"
        named = ", ".join(printable(h) for h in holders)
        if first:
            errors.append(
                f"{printable(address)} cannot be replaced while {named} {verb} it: a replace "
                "deletes it first, and a resource in use is not deleted (the Platform refuses); "
                f"replace {them} too (--replace), or apply a change that drops the reference "
                "first"
            )
        else:
            errors.append(
                f"{printable(address)} cannot be replaced while {named} {verb} it and this plan "
                f"leaves {them} alone: the old one is deleted once the new one exists, and a "
                "resource in use is not deleted (the Platform refuses); plan "
                f"{them} too (--target), or drop --exclude"
            )
    return errors


def unique_value_errors(
    resources: tuple[ResourcePlan, ...], desired: DesiredSet, state: StateDoc
) -> list[str]:
    """Why the plan must not create a resource with a value the engine holds once per project
    (:data:`~reconciler.models.platform.UNIQUE_FIELDS`, a phone number's ``number``) that
    another record holds and keeps until after the create (its delete comes after the creates;
    only a replace deletes first): the engine would refuse the create, and the apply would then
    delete the other one anyway. Usually a renamed manifest: ``state mv`` renames the record."""
    replaced_first = {
        r.address for r in resources if r.action == "replace" and not r.create_before_delete
    }
    errors: list[str] = []
    for planned in resources:
        resource = desired.resources.get(planned.address)
        if planned.action not in ("create", "replace") or resource is None:
            continue
        for name in UNIQUE_FIELDS.get(resource.kind, ()):
            value = resource.spec.get(name)
            if not isinstance(value, str) or FieldPath((name,)) in resource.unknown:
                continue
            holders = sorted(
                a
                for a, r in state.resources.items()
                if r.kind == resource.kind
                and a != planned.address
                and a not in replaced_first
                and r.spec.get(name) == value
            )
            deposed = sorted(
                a
                for a, r in state.resources.items()
                if r.kind == resource.kind and any(d.spec.get(name) == value for d in r.deposed)
            )
            for holder in deposed:
                errors.append(
                    f"{printable(planned.address)} declares {name} {printable(repr(value))}, "
                    f"which the deposed (old, not yet deleted) resource of {printable(holder)} "
                    f"holds: the Platform holds one {resource.kind} of each {name} in a "
                    "project, so the create would be refused; apply once without this change "
                    "(it deletes the deposed resource), then again with it"
                )
            for holder in holders:
                gone = holder not in desired.resources
                errors.append(
                    f"{printable(planned.address)} declares {name} {printable(repr(value))}, "
                    f"which {printable(holder)} holds (recorded"
                    + (
                        "; its manifest is gone, and its delete comes after the creates"
                        if gone
                        else ""
                    )
                    + f"): the Platform holds one {resource.kind} of each {name} in a project, "
                    "so the create would be refused"
                    + (
                        f"; if the manifest was renamed, move the record: `reconciler state mv "
                        f"{holder} {planned.address}`"
                        if gone
                        else ""
                    )
                )
    return errors


def _resource_delete(
    record: ResourceRecord,
    options: PlanOptions,
    drift: tuple[FieldChange, ...] = (),
    live_version: str | None = None,
) -> ResourcePlan:
    reason = "destroy requested" if options.destroy else "removed from the manifests"
    if drift:
        reason += "; changed outside: " + ", ".join(str(c.path) for c in drift)
    return ResourcePlan(
        kind=record.kind,
        name=record.name,
        action="delete",
        reason=reason,
        id=record.id,
        depends_on=tuple(record.references),
        drift=drift,
        live_version=live_version if drift else None,
        protect=record.protect,
    )


def _drift(
    record: ResourceRecord | None, live: LiveStatus, options: PlanOptions, salt: str
) -> tuple[tuple[FieldChange, ...], dict[str, Any] | None, str | None]:
    """What was changed outside in a recorded resource (state's spec against the engine's,
    field by field), the resource as the engine holds it (in state's terms) and its version."""
    if record is None or not live.refreshed:
        return (), None, None
    held = live.resources.get(record.address)
    if held is None:
        return (), None, None
    observe = options.kinds.kind(record.kind).observe
    drift, observed = outside_changes(record.spec, observe(held, record.spec), salt)
    return drift, observed, held.version


def _with_drift(
    planned: ResourcePlan,
    resource: DesiredResource,
    record: ResourceRecord,
    observed: dict[str, Any],
    spec: dict[str, Any],
    drift: tuple[FieldChange, ...],
    live_version: str | None,
) -> ResourcePlan:
    """The plan of a resource changed outside: what brings the engine's version (not state's)
    to the manifest, sent with the version read (the reviewer sees the drift it overwrites)."""
    outside = "changed outside: " + ", ".join(str(c.path) for c in drift)
    if planned.action == "replace":
        return planned.model_copy(update={"drift": drift, "reason": f"{outside}; {planned.reason}"})
    changes = shown_changes(observed, spec)
    if not changes:
        reason = f"{outside}; the manifest agrees with the engine: state is brought up to date"
    else:
        reason = f"{outside}; in-place update of " + ", ".join(str(c.path) for c in changes)
    return planned.model_copy(
        update={
            "action": "update",
            "reason": reason,
            "changes": changes,
            "drift": drift,
            "live_version": live_version,
        }
    )
