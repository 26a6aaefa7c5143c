"""``import``: take an agent that already runs on the engine into state under a manifest's name.

Nothing is started or stopped. The agent is taken only after every check passes: the manifests
declare the name, the state records neither the name nor the agent, no interrupted call of a
previous run concerns the name, the engine knows the agent and it is active, and the engine lists
it in the manifest's channel (an agent's channel is learned only from a channel-filtered list).
An agent the engine names with another state's wire name (``<name>-<generation>-<tag>``, the
tag of another lineage: another environment or project on the same App ID started it) is
refused unless ``force``: that state manages it, and both would then stop and restart it. When
the engine cannot say who the agent is (its ``turns`` answer fails), the other checks decide.

The engine does not say what an agent was started with, so by default the record gets an
*unknown* (empty) spec: the next plan then shows a restart onto the manifest, for review, rather
than assuming the agent runs what the manifest says. ``assume_matches`` records the manifest's
(redacted) spec instead, so the next plan shows no change; with ``token: auto`` the token the
agent holds is unknown too, so its expiry is recorded as the import time and the next plan
renews it in place. The record's generation is 0 (no start of ours yet): the next start of the
agent is generation 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.apply.records import agent_record
from reconciler.diff import spec_digest
from reconciler.engine import find_conflicting
from reconciler.errors import EngineError, OperationError, printable
from reconciler.models import AgentRecord, DesiredAgent, DesiredSet, StateDoc
from reconciler.models.state import another_states, foreign_tag
from reconciler.plan import DesiredView, desired_view

if TYPE_CHECKING:
    from reconciler.engine import EngineClient

IMPORTED_GENERATION = 0


def imported_record(
    agent: DesiredAgent,
    view: DesiredView,
    agent_id: str,
    *,
    started_at: int | None,
    now: float,
) -> AgentRecord:
    """The record of ``agent_id`` taken into state as running ``agent``'s manifest (``view``).

    Used by ``import --assume-matches`` and by a manifest's ``import:`` entry. With ``token:
    auto`` the token the agent holds is unknown: its expiry is recorded as ``now``, so the next
    plan renews it in place.
    """
    return agent_record(
        agent,
        agent_id=agent_id,
        # Not a name this state sent (the agent was joined by someone else): generation 0
        # without the lineage tag, a name no start of this state ever uses.
        wire_name=f"{agent.name}-{IMPORTED_GENERATION}",
        generation=IMPORTED_GENERATION,
        started_at=float(started_at) if started_at else now,
        token_expires_at=now if agent.token_mode == "auto" else None,
        spec=view.spec,
        spec_digest=view.digest,
    )


def check_importable(desired: DesiredSet, state: StateDoc, name: str, agent_id: str) -> None:
    """Refuse, before asking the engine, an import that state or manifests rule out."""
    if name not in desired.agents:
        raise OperationError(
            f"cannot import {agent_id} as {name}: no manifest in agents.d declares {name!r}; "
            "write its manifest first, so the plan can diff the agent against it"
        )
    recorded = state.agents.get(name)
    if recorded is not None:
        raise OperationError(
            f"cannot import {agent_id} as {name}: state already records {name} as agent "
            f"{recorded.agent_id}; run `reconciler state rm {name}` first if that is stale"
        )
    for other in state.agents.values():
        if other.agent_id == agent_id:
            raise OperationError(
                f"cannot import {agent_id} as {name}: state already records it as "
                f"{other.name}; use `reconciler state mv {other.name} {name}` to rename it"
            )
    if any(entry.name == name or entry.agent_id == agent_id for entry in state.journal):
        raise OperationError(
            f"cannot import {agent_id} as {name}: an interrupted engine call of a previous run "
            f"concerns {name} or {agent_id}; run `reconciler plan` or `reconciler apply` to "
            "resolve it first"
        )


async def import_record(
    client: EngineClient,
    desired: DesiredSet,
    state: StateDoc,
    name: str,
    agent_id: str,
    *,
    now: float,
    assume_matches: bool = False,
    force: bool = False,
) -> AgentRecord:
    """The record that takes ``agent_id`` into state as ``name``, after every check passes
    (``force``: even an agent another state started).

    Raises :class:`OperationError` when a check fails (nothing is changed), and the client's
    :class:`~reconciler.errors.EngineError` when the engine cannot answer.
    """
    check_importable(desired, state, name, agent_id)
    agent = desired.agents[name]
    live = await client.get(agent_id)
    if live.status == "MISSING":
        raise OperationError(f"cannot import {agent_id} as {name}: the engine does not know it")
    if not live.active:
        why = f" ({live.message})" if live.message else ""
        raise OperationError(
            f"cannot import {agent_id} as {name}: it is {live.status}{why}, not running; "
            "`reconciler apply` starts a new agent for the manifest"
        )
    in_channel = await find_conflicting(client, agent.channel, now=now)
    if agent_id not in {a.agent_id for a in in_channel}:
        raise OperationError(
            f"cannot import {agent_id} as {name}: the engine does not list it among the active "
            f"agents of channel {agent.channel!r}, the channel of {printable(agent.path)}"
        )
    if not force:
        await _refuse_another_states(client, state, name, agent_id)
    if assume_matches:
        return imported_record(
            agent, desired_view(agent, state.salt), agent_id, started_at=live.start_ts, now=now
        )
    spec: dict[str, object] = {}
    digest, expires = spec_digest({}), None
    return agent_record(
        agent,
        agent_id=agent_id,
        # Not a name this state sent (the agent was joined by someone else): generation 0
        # without the lineage tag, a name no start of this state ever uses.
        wire_name=f"{name}-{IMPORTED_GENERATION}",
        generation=IMPORTED_GENERATION,
        started_at=float(live.start_ts) if live.start_ts else now,
        token_expires_at=expires,
        spec=spec,
        spec_digest=digest,
    )


async def _refuse_another_states(
    client: EngineClient, state: StateDoc, name: str, agent_id: str
) -> None:
    """Refuse ``agent_id`` if the engine names it with a wire name of another state."""
    try:
        identity = await client.identify(agent_id)
    except EngineError:
        return  # who it is cannot be told: the channel check above decides
    tag = foreign_tag(identity.name, state.lineage)
    if tag is None:
        return
    raise OperationError(
        f"cannot import {agent_id} as {name}: {another_states(identity.name, tag)}. Import it "
        "only once that state no longer records it (`reconciler state rm NAME` with that "
        "state's settings, e.g. its --env), then pass --force"
    )
