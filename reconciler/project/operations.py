"""Operations beside plan and apply: ``drift``, ``import``, ``state mv|rm|unprotect``.

* :func:`check_status` (``reconciler status``) is read-only too.
* :func:`check_drift` is read-only: it reads manifests and state, asks the engine, and writes
  nothing (no state, no lock file, no journal resolution).
* :func:`import_agent`, :func:`move_agent`, :func:`forget_agent` and
  :func:`unprotect_agent` hold the state lock, check
  everything first and then write the state exactly once. None of them starts or stops an agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.drift import build_drift, managed_channels
from reconciler.errors import OperationError, printable
from reconciler.models import AgentRecord, DesiredSet, LiveStatus, StateDoc
from reconciler.models.drift import DriftReport
from reconciler.models.liveness import unmanaged_agents
from reconciler.project.credentials import secret_values
from reconciler.project.project import Project
from reconciler.state.edits import drop_record, move_record, unprotect_record
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


async def check_drift(
    project: Project, *, on_retry: Callable[[RetryEvent], None] | None = None
) -> DriftReport:
    """Compare the recorded state with the engine's live status (read-only)."""
    from reconciler.kinds import read_resources
    from reconciler.project.connect import engine_client
    from reconciler.project.platform_uses import unrecorded_uses

    settings = project.settings
    project.require_credentials("drift (comparing the state with the engine)")
    desired = project.load_desired()
    state = project.store.load()
    async with engine_client(settings, on_retry=on_retry, secrets=secret_values(desired)) as c:
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
    from reconciler.project.connect import engine_client

    settings = project.settings
    project.require_credentials("status (asking the engine)")
    desired = project.load_desired(allow_unset=True)
    state = project.store.load()
    async with engine_client(settings, on_retry=on_retry, secrets=secret_values(desired)) as c:
        live = await drift_live(c, desired, state, project.clock())
    return build_status(
        state,
        live,
        managed_channels(desired, state),
        now=project.clock(),
        app_id=settings.app_id,
        engine=settings.engine_label,
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
    lock_timeout: float = 0.0,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> EditOutcome:
    """Record the running agent ``agent_id`` as ``name`` (see :mod:`reconciler.apply.imports`)."""
    from reconciler.apply.imports import check_importable, import_record
    from reconciler.project.connect import engine_client

    project.require_credentials("import (checking the agent on the engine)")
    desired = project.load_desired()
    with project.lock("import", lock_timeout):
        state = project.store.load()
        check_importable(desired, state, name, agent_id)  # before any engine call
        async with engine_client(
            project.settings, on_retry=on_retry, secrets=secret_values(desired)
        ) as client:
            record = await import_record(
                client,
                desired,
                state,
                name,
                agent_id,
                now=project.clock(),
                assume_matches=assume_matches,
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


def unprotect_agent(project: Project, name: str, *, lock_timeout: float = 0.0) -> EditOutcome:
    """Clear the protection recorded for ``name``, so a plan may stop it; the engine is untouched.

    A manifest that still says ``protect: true`` records it again at the next apply.
    """
    desired = project.load_desired()
    with project.lock("state unprotect", lock_timeout):
        doc, record = unprotect_record(project.store.load(), name)
        written = project.store.write(doc)
    warnings: list[str] = []
    agent = desired.agents.get(name)
    if agent is not None and agent.protect:
        warnings.append(
            f"{printable(agent.path)} still says protect: true, so the next apply protects "
            f"{name} again"
        )
    return EditOutcome(record=record, serial=written.serial, warnings=warnings)


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
