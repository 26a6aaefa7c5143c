"""The ``import:`` entries of agent manifests: which to plan as an ``adopt``, and why one
cannot be (a problem located at its entry)."""

from __future__ import annotations

from reconciler.errors import Location, Problem, ValidationError, printable
from reconciler.models import (
    AgentPlan,
    DesiredSet,
    LiveStatus,
    StateDoc,
)
from reconciler.models.plan import ReasonCode
from reconciler.models.state import another_states, foreign_tag
from reconciler.plan.views import DesiredView


def planned_imports(
    desired: DesiredSet, state: StateDoc, live: LiveStatus, selected: set[str], destroy: bool
) -> tuple[dict[str, str], list[str]]:
    """The ``import:`` entries to plan (name -> agent id), and a note per entry that is a no-op.

    An entry is a no-op once the state records its name (Terraform's "already managed"): the
    record governs, the entry is only noted. Otherwise the id must not be recorded under
    another name, and, when the engine was refreshed, it must be an agent the engine lists
    active in the manifest's channel; each failed check is a problem located at the entry.
    Without a refresh nothing can be checked: the import is planned as unverified (a plan that
    cannot be saved; ``apply`` refreshes, so it checks before it records).
    """
    planned: dict[str, str] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    if destroy:
        return planned, notes
    owners = {record.agent_id: name for name, record in state.agents.items()}
    claimed: dict[str, str] = {}
    for name, agent in sorted(desired.agents.items()):
        agent_id = agent.import_id
        if agent_id is None or name not in selected:
            continue  # --target and --exclude leave an entry out as they leave its agent
        where = Location(agent.path, agent.import_line or agent.line)
        if agent_id in claimed:
            problems.append(
                Problem(
                    where, f"import: {agent_id}: the manifest of {claimed[agent_id]} imports it too"
                )
            )
            continue
        claimed[agent_id] = name
        recorded_as = name if name in state.agents else agent.renamed_from
        recorded = state.agents.get(recorded_as) if recorded_as is not None else None
        if recorded is not None:
            other = "" if recorded.agent_id == agent_id else f" (as agent {recorded.agent_id})"
            notes.append(
                f"{name}: import: {agent_id} is a no-op, the state already records "
                f"{recorded_as}{other}; the entry can be removed from {printable(agent.path)}"
            )
            continue
        if agent.desired == "stopped":
            problems.append(
                Problem(
                    where,
                    f"import: {agent_id}: the manifest says desired: stopped, so there is nothing "
                    "to import the agent into (remove one of the two)",
                )
            )
            continue
        owner = owners.get(agent_id)
        if owner is not None:
            problems.append(
                Problem(
                    where,
                    f"import: {agent_id}: the state already records it as {owner} (use "
                    f"`reconciler state mv {owner} {name}` to rename it)",
                )
            )
            continue
        if live.refreshed:
            problem = _import_problem(agent_id, agent.channel, live, state.lineage)
            if problem is not None:
                problems.append(Problem(where, problem))
                continue
        planned[name] = agent_id
    if problems:
        raise ValidationError(problems, "the import entries")
    return planned, notes


def _import_problem(agent_id: str, channel: str, live: LiveStatus, lineage: str) -> str | None:
    """Why the engine's listing rules out importing ``agent_id`` in ``channel`` (None: fine):
    among them, a join name that carries another state's tag (``lineage``: this state's)."""
    seen = live.agents.get(agent_id)
    if seen is None or seen.status == "MISSING":
        return f"import: {agent_id}: the engine lists no such agent"
    if not seen.active:
        return (
            f"import: {agent_id}: the agent is {seen.status}, not running (remove the entry: "
            "apply starts a new agent for the manifest)"
        )
    if seen.channel != channel:  # the refresh lists the channel of every pending import
        return (
            f"import: {agent_id}: the engine does not list it among the active agents of this "
            f"manifest's channel {channel!r}"
        )
    tag = foreign_tag(seen.join_name, lineage) if seen.join_name is not None else None
    if tag is not None:
        return (
            f"import: {agent_id}: {another_states(seen.join_name or '', tag)} (once that state "
            "no longer records it, take it with `reconciler import --force NAME ID`)"
        )
    return None


def planned_import(view: DesiredView, agent_id: str, live: LiveStatus) -> AgentPlan:
    """The ``adopt`` of an ``import:`` entry: a state edit, the agent recorded as running its
    manifest (the engine does not say what an agent runs, so nothing else can be diffed)."""
    agent = view.agent
    unverified = "" if live.refreshed else " (unverified: engine not refreshed)"
    why = f"import agent {agent_id}{unverified}: recorded as running {printable(agent.path)}"
    if agent.token_mode == "auto":
        why += "; its token is unknown, so the next plan renews it"
    return AgentPlan(
        name=agent.name,
        action="adopt",
        reason=why,
        reason_code=ReasonCode.IMPORTED,
        agent_id=agent_id,
        channel=agent.channel,
        generation=0,
        desired_digest=view.digest,
        path=agent.path,
    )
