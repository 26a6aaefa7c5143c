"""Operations beside plan and apply: ``drift``, ``import``, ``state mv|rm|unprotect``.

* :func:`check_status` (``reconciler status``) is read-only too.
* :func:`check_drift` is read-only: it reads manifests and state, asks the engine, and writes
  nothing (no state, no lock file, no journal resolution).
* :func:`import_agent`, :func:`move_agent`, :func:`forget_agent` and
  :func:`unprotect_agent` hold the state lock, check
  everything first and then write the state exactly once. None of them starts or stops an agent.
* :func:`move_resource` and :func:`forget_resource` do the same for a resource of another kind,
  named by its address ``KIND/NAME`` (:mod:`reconciler.state.resource_edits`); none of them
  creates, changes or deletes anything on the engine. :func:`edit_target` tells an agent's name
  from a resource's address (``Agent/NAME`` names the agent ``NAME``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.drift import build_drift, managed_channels
from reconciler.errors import (
    DeadlineExceededError,
    EngineError,
    OperationError,
    PlanError,
    printable,
)
from reconciler.models import AgentRecord, DesiredSet, LiveStatus, StateDoc
from reconciler.models.drift import DriftReport
from reconciler.models.liveness import unmanaged_agents
from reconciler.models.manifest import AGENT_KIND
from reconciler.models.resources import ResourceRecord
from reconciler.project.credentials import secret_values
from reconciler.project.project import Project
from reconciler.state.edits import drop_record, move_record, unprotect_record
from reconciler.state.resource_edits import (
    address_problem,
    drop_resource,
    move_resource,
    recorded_resource,
    referrers,
    split_address,
    unprotect_resource,
)
from reconciler.status import StatusReport, build_status

if TYPE_CHECKING:
    from reconciler.engine import EngineClient, RetryEvent


@dataclass
class EditOutcome:
    """What a state edit did: the record it concerned, and what the user should know."""

    record: AgentRecord
    serial: int
    """The state's serial after the write."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class ResourceEditOutcome:
    """What a state edit of a resource did: its record (as written, or as dropped)."""

    record: ResourceRecord
    serial: int
    warnings: list[str] = field(default_factory=list)


def edit_target(text: str, kinds: Iterable[str]) -> str | None:
    """The address ``text`` names a resource by (``KIND/NAME``), or None for an agent's name
    (a bare ``NAME``, or ``Agent/NAME``: see :func:`agent_name`). Text with a ``/`` is meant as
    an address (no agent's name has one): :class:`OperationError` when it is not one of a kind
    in ``kinds`` (the project's), saying why and naming the known kinds."""
    if "/" in text:
        problem = address_problem(text, kinds)
        if problem is not None:
            raise OperationError(f"'{printable(text)}' is not an address: {problem}")
    parts = split_address(text)
    if parts is None or parts[0] == AGENT_KIND:
        return None
    return text


def agent_name(text: str) -> str:
    """The agent name ``text`` names: ``NAME`` for ``Agent/NAME``, else ``text`` itself."""
    parts = split_address(text)
    return parts[1] if parts is not None and parts[0] == AGENT_KIND else text


async def check_drift(
    project: Project, *, on_retry: Callable[[RetryEvent], None] | None = None
) -> DriftReport:
    """Compare the recorded state with the engine's live status (read-only)."""
    from reconciler.kinds import read_resources
    from reconciler.project.platform_uses import unrecorded_uses

    settings = project.settings
    project.require_credentials("drift (comparing the state with the engine)")
    desired = project.load_desired()
    state = project.store.load()
    async with project.engine_client(on_retry=on_retry, secrets=secret_values(desired)) as c:
        live = await drift_live(c, desired, state, project.clock())
    uses = []
    if state.resources:  # the Platform's side: each recorded resource, and who uses them
        async with project.platform.connect(secrets=secret_values(desired), on_retry=on_retry):
            found = await read_resources(project.kinds, state.resources)
            uses = await unrecorded_uses(project.platform, state)
        live = live.model_copy(update={"resources": found})
    return build_drift(
        desired,
        state,
        live,
        now=project.clock(),
        app_id=settings.app_id,
        engine=settings.engine_label,
        environment=settings.environment or "",
        platform=settings.platform_label,
        kinds=project.kinds,
        uses=uses,
    )


async def check_status(
    project: Project, *, on_retry: Callable[[RetryEvent], None] | None = None
) -> StatusReport:
    """The live status of every managed resource (read-only, like :func:`check_drift`)."""
    settings = project.settings
    project.require_credentials("status (asking the engine)")
    desired = project.load_desired(allow_unset=True)
    state = project.store.load()
    async with project.engine_client(on_retry=on_retry, secrets=secret_values(desired)) as c:
        live = await drift_live(c, desired, state, project.clock())
    unread: tuple[str, ...] = ()
    if state.resources:  # the Platform's side: is each recorded resource still there?
        from reconciler.kinds import read_resources

        try:
            async with project.platform.connect(secrets=secret_values(desired), on_retry=on_retry):
                found = await read_resources(project.kinds, state.resources)
        except DeadlineExceededError:
            raise
        except EngineError as exc:  # the agents are still worth showing: kubectl get's way
            unread = (str(exc),)
        else:
            live = live.model_copy(update={"resources": found})
    return build_status(
        state,
        live,
        managed_channels(desired, state),
        now=project.clock(),
        app_id=settings.app_id,
        engine=settings.engine_label,
        unread=unread,
    )


async def drift_live(
    client: EngineClient, desired: DesiredSet, state: StateDoc, now: float
) -> LiveStatus:
    """The live status drift compares with: the refresh plan makes, plus channels when needed.

    The engine shows an agent's channel only in a channel-filtered list, one list per channel.
    Those lists are made only when the app-wide list shows an active agent that nothing records
    (then they tell whether it sits in one of this project's channels, and whether a recorded
    agent is listed in another channel than its record); a clean engine costs what a plan costs.
    """
    from reconciler.engine import refresh

    live = await refresh(client, state.agents, now)
    if unmanaged_agents(state, live):
        live = await refresh(client, state.agents, now, channels=managed_channels(desired, state))
    return live


async def import_agent(
    project: Project,
    name: str,
    agent_id: str,
    *,
    assume_matches: bool = False,
    force: bool = False,
    lock_timeout: float = 0.0,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> EditOutcome:
    """Record the running agent ``agent_id`` as ``name`` (see :mod:`reconciler.apply.imports`;
    ``force``: even one another state started)."""
    from reconciler.apply.imports import check_importable, import_record

    project.require_credentials("import (checking the agent on the engine)")
    desired = project.load_desired()
    with project.lock("import", lock_timeout):
        state = project.store.load()
        check_importable(desired, state, name, agent_id)  # before any engine call
        async with project.engine_client(
            on_retry=on_retry, secrets=secret_values(desired)
        ) as client:
            record = await import_record(
                client,
                desired,
                state,
                name,
                agent_id,
                now=project.clock(),
                assume_matches=assume_matches,
                force=force,
            )
        written = project.store.write(
            state.model_copy(update={"agents": {**state.agents, name: record}})
        )
    warnings = (
        []
        if assume_matches
        else [
            f"the engine does not say what {agent_id} runs, so the next plan restarts {name} "
            f"onto {printable(desired.agents[name].path)}; pass --assume-matches to import it "
            "as running that manifest already"
        ]
    )
    return EditOutcome(record=record, serial=written.serial, warnings=warnings)


def move_agent(
    project: Project, old: str, new: str, *, force: bool = False, lock_timeout: float = 0.0
) -> EditOutcome:
    """Move the record of ``old`` to ``new``; the agent keeps running with its id."""
    desired = project.load_desired()
    with project.lock("state mv", lock_timeout):
        doc, record = move_record(project.store.load(), old, new)
        risks = _move_risks(desired, old, new)
        if risks and not force:
            raise OperationError(
                f"refusing to move {old} to {new}: {'; '.join(risks)} (--force moves it anyway)"
            )
        written = project.store.write(doc)
    return EditOutcome(record=record, serial=written.serial, warnings=risks)


def forget_agent(
    project: Project, name: str, *, force: bool = False, lock_timeout: float = 0.0
) -> EditOutcome:
    """Drop the record of ``name``; the agent keeps running, no longer managed."""
    desired = project.load_desired()
    with project.lock("state rm", lock_timeout):
        doc, record = drop_record(project.store.load(), name)
        risks: list[str] = []
        if name in desired.agents:
            risks.append(
                f"{printable(desired.agents[name].path)} still declares {name}, so the next plan "
                "starts a second agent for it while this one keeps running"
            )
        if risks and not force:
            raise OperationError(
                f"refusing to remove {name} from state: {'; '.join(risks)}; delete the manifest "
                "first, or pass --force"
            )
        written = project.store.write(doc)
    return EditOutcome(record=record, serial=written.serial, warnings=risks)


@dataclass(frozen=True)
class Unprotected:
    """What ``state unprotect`` did: its target (an agent's name or a resource's address), the
    target's id on the engine or the Platform, the state's serial after the write, and what the
    user should know."""

    target: str
    id: str
    serial: int
    warnings: list[str] = field(default_factory=list)


def unprotect(
    project: Project, target: str, *, resource: bool, lock_timeout: float = 0.0
) -> Unprotected:
    """Clear the protection recorded for ``target`` (a resource's address with ``resource``, else
    an agent's name), so a plan may stop or delete it; the engine and the Platform are untouched.

    A manifest that still says ``protect: true`` records it again at the next apply (warned).
    """
    desired = project.load_desired()
    with project.lock("state unprotect", lock_timeout):
        doc = project.store.load()
        if resource:
            doc, record = unprotect_resource(doc, target)
            ident = record.id
        else:
            doc, agent = unprotect_record(doc, target)
            ident = agent.agent_id
        written = project.store.write(doc)
    declared = desired.resources.get(target) if resource else desired.agents.get(target)
    warnings: list[str] = []
    if declared is not None and declared.protect:
        warnings.append(
            f"{printable(declared.path)} still says protect: true, so the next apply protects "
            f"{target} again"
        )
    return Unprotected(target=target, id=ident, serial=written.serial, warnings=warnings)


def _move_risks(desired: DesiredSet, old: str, new: str) -> list[str]:
    risks: list[str] = []
    if new not in desired.agents:
        risks.append(f"no manifest declares {new}, so the next plan stops the agent")
    if old in desired.agents:
        risks.append(
            f"{printable(desired.agents[old].path)} still declares {old}, so the next plan "
            "starts a second agent for it"
        )
    return risks


def move_resource_record(
    project: Project, old: str, new: str, *, force: bool = False, lock_timeout: float = 0.0
) -> ResourceEditOutcome:
    """Move the record of the resource ``old`` to the address ``new`` (same kind); the resource
    keeps its id on the engine. Refused (nothing written) when the next plan would act on it,
    unless ``force``."""
    desired = project.load_desired()
    with project.lock("state mv", lock_timeout):
        state = project.store.load()
        doc, record, rewritten = move_resource(state, old, new)
        _check_resource_name(project, record.kind, new)
        risks = _resource_move_risks(desired, state.resources[old], old, new)
        if risks and not force:
            raise OperationError(
                f"refusing to move {old} to {new}: {'; '.join(risks)} (--force moves it anyway)"
            )
        written = project.store.write(doc)
    notes = list(risks)
    if rewritten:
        notes.append(
            f"the recorded references of {', '.join(rewritten)} to {old} now name {new}; "
            f"their manifests must reference {new} too"
        )
    if record.updating is not None:
        notes.append(
            f"the interrupted update of {old} moved with its record to {new}; the next plan "
            "or apply settles it"
        )
    return ResourceEditOutcome(record=record, serial=written.serial, warnings=notes)


def forget_resource(
    project: Project, target: str, *, force: bool = False, lock_timeout: float = 0.0
) -> ResourceEditOutcome:
    """Drop the record of the resource ``target``; it stays on the engine, no longer managed.
    Refused (nothing written) while a manifest declares it, recorded resources reference it, or
    an update of it is unsettled, unless ``force``."""
    desired = project.load_desired()
    with project.lock("state rm", lock_timeout):
        state = project.store.load()
        recorded_resource(state, target, "remove")  # refuses an unknown address first
        risks: list[str] = []
        declared = desired.resources.get(target)
        if declared is not None:
            risks.append(
                f"{printable(declared.path)} still declares {target}, so the next plan creates "
                "a second one while this one stays"
            )
        using = referrers(state, target)
        if using:
            risks.append(
                f"{', '.join(using)} reference{'s' if len(using) == 1 else ''} it, and the "
                "next plan would no longer know what they use"
            )
        if risks and not force:
            raise OperationError(
                f"refusing to remove {target} from state: {'; '.join(risks)}; delete the "
                "manifests first, or pass --force"
            )
        doc, record = drop_resource(state, target, drop_update=force)
        written = project.store.write(doc)
    if record.updating is not None:
        risks.append(
            f"the interrupted update of {target} was dropped with its record; what the engine "
            "holds for it is unknown"
        )
    return ResourceEditOutcome(record=record, serial=written.serial, warnings=risks)


def _check_resource_name(project: Project, kind: str, new: str) -> None:
    """Refuse a name the kind's manifests cannot declare (the record could never be matched)."""
    name = new.split("/", 1)[1]
    try:
        model = project.kinds.rules(kind).manifest_model
    except PlanError:
        return  # a kind this project does not register: the address form is all there is
    info = model.model_fields.get("name")
    patterns = [getattr(m, "pattern", None) for m in (info.metadata if info else [])]
    for pattern in (p for p in patterns if isinstance(p, str)):
        if re.match(pattern, name) is None:
            raise OperationError(
                f"cannot move to {printable(new)}: {printable(name)} is not a {kind} name "
                f"(it must match {pattern})"
            )


def _resource_move_risks(
    desired: DesiredSet, record: ResourceRecord, old: str, new: str
) -> list[str]:
    risks: list[str] = []
    if new not in desired.resources:
        risks.append(f"no manifest declares {new}, so the next plan deletes it")
    if old in desired.resources:
        risks.append(
            f"{printable(desired.resources[old].path)} still declares {old}, so the next plan "
            "creates a second one"
        )
    if record.id == record.name:
        risks.append(f"the engine knows it by its name ({record.id}), which a move does not change")
    return risks
