"""What the text and markdown renderers share: symbols, wording, the summary line, change views.

A :class:`ChangeView` is one :class:`~reconciler.models.FieldChange` prepared for display
(sign, marker, clipped values or a line diff); each renderer lays it out its own way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.diff.normalize import PROPERTY_DEFAULTS
from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode
from reconciler.render.created import CreatedField, created_fields
from reconciler.render.values import clip_pair, compact, has_multiline, line_diff

SYMBOLS: dict[str, str] = {
    "start": "+",
    "stop": "-",
    "update": "~",
    "restart": "-/+",
    "renew-token": "~",
    "rename": "->",
    "forget": ".",
    "adopt": "<=",
    "no-op": " ",
}
"""Terraform-like symbol of each action."""

VERBS: dict[str, str] = {
    "start": "will be started",
    "stop": "will be stopped",
    "update": "will be updated in place",
    "restart": "will be restarted (stopped, then started again)",
    "renew-token": "will have its token renewed in place",
    "rename": "will be renamed in state (keeps running, no restart)",
    "forget": "will be forgotten (keeps running, no longer managed)",
    "adopt": "will be adopted into state (an agent an interrupted run started; no engine call)",
    "no-op": "is unchanged",
}
"""How the header of an agent block says what happens to it."""

LEGEND: tuple[tuple[str, str], ...] = (
    ("start", "start"),
    ("update", "update in place"),
    ("renew-token", "renew token in place"),
    ("restart", "restart (stop, then start again)"),
    ("stop", "stop"),
    ("rename", "rename (state only, keeps running)"),
    ("forget", "forget (state only, keeps running)"),
    ("adopt", "adopt or import (state only: a running agent is recorded)"),
)
"""Legend entries, in display order."""

IMPORT_VERB = "will be imported into state (its manifest's import: entry; no engine call)"


def verb(agent: AgentPlan) -> str:
    """How the header of an agent block says what happens to it (an ``import:`` entry's adopt
    reads as an import)."""
    return IMPORT_VERB if agent.reason_code == ReasonCode.IMPORTED else VERBS[agent.action]


def imports_of(plan: Plan) -> int:
    """How many of the plan's adopts are ``import:`` entries (the rest: interrupted runs')."""
    return sum(1 for a in plan.agents if a.reason_code == ReasonCode.IMPORTED)


SENSITIVE = "(sensitive)"
SENSITIVE_CHANGED = "(sensitive, changed)"
IN_PLACE = "(in place)"
FORCES_RESTART = "# forces restart"
_MARKER_KEY = "$sensitive"

ChangeKind = Literal["add", "remove", "change"]


RESOURCE_LABELS: dict[str, str] = {
    "create": "create",
    "update": "update in place",
    "replace": "replace",
    "delete": "delete",
    "no-op": "unchanged",
}
"""How text and markdown name each action of a resource of another kind."""


def plan_summary_line(plan: Plan) -> str:
    """The one-line summary that opens and closes every rendering.

    ``Plan: 2 to start, 1 to update in place, 1 to restart, 1 to stop, 1 token renewal;
    4 unchanged.`` (zero counts left out, the unchanged count always there), or
    ``No changes. 3 agents up to date.`` A restart counts once, not as a stop and a start.
    When resources of other kinds change, their :func:`resources_summary_line` follows
    (``Plan: no agent changes; 3 agents up to date. Resources: 1 to create; 2 unchanged.``):
    a plan that changes anything never reads as one that changes nothing.
    """
    agents = _agents_summary(plan)
    if plan.resource_summary.changes:
        return f"{agents} {resources_summary_line(plan)}"
    return agents


def resources_summary_line(plan: Plan) -> str:
    """``Resources: 1 to create, 1 to replace; 2 unchanged.`` (zero counts left out)."""
    s = plan.resource_summary
    counts = {"create": s.create, "update": s.update, "replace": s.replace, "delete": s.delete}
    parts = [f"{count} to {RESOURCE_LABELS[action]}" for action, count in counts.items() if count]
    unchanged = f"{s.unchanged} unchanged"
    if not parts:
        return f"Resources: no changes; {unchanged}."
    return f"Resources: {', '.join(parts)}; {unchanged}."


def _agents_summary(plan: Plan) -> str:
    """The agents' part of :func:`plan_summary_line`."""
    s = plan.summary
    if s.changes == 0 and plan.has_changes:  # only resources of other kinds change
        return f"Plan: no agent changes; {_plural(s.unchanged, 'agent')} up to date."
    if s.changes == 0:
        return f"No changes. {_plural(s.unchanged, 'agent')} up to date."
    parts = []
    if s.start:
        parts.append(f"{s.start} to start")
    if s.update:
        parts.append(f"{s.update} to update in place")
    if s.restart:
        parts.append(f"{s.restart} to restart")
    if s.stop:
        parts.append(f"{s.stop} to stop")
    if s.renew_token:
        parts.append(_plural(s.renew_token, "token renewal"))
    if s.rename:
        parts.append(f"{s.rename} to rename")
    if s.forget:
        parts.append(f"{s.forget} to forget")
    imports = imports_of(plan)
    if imports:
        parts.append(f"{imports} to import")
    if s.adopt - imports:
        parts.append(f"{s.adopt - imports} to adopt")
    return "Plan: " + ", ".join(parts) + f"; {s.unchanged} unchanged."


def target_line(plan: Plan) -> list[str]:
    """``Engine: sandbox (local emulator), app 0123...`` (no line for a plan made without one);
    a plan with resources names the Platform too (``..., app 0123..., platform preview``)."""
    if not plan.engine and not plan.app_id:
        return []
    parts = [f"Engine: {plan.engine or '(unknown)'}"]
    if plan.app_id:
        parts.append(f"app {plan.app_id}")
    if plan.platform:  # the plan has resources: where they are
        parts.append(f"platform {plan.platform}")
    line = ", ".join(parts)
    if plan.environment:
        line = f"Environment: {plan.environment}; {line[0].lower()}{line[1:]}"
    return [line]


def refresh_note(plan: Plan) -> str:
    """One sentence saying whether the plan saw the engine's live status."""
    if plan.refreshed:
        return "Engine status refreshed: live agents were read from the engine before planning."
    return (
        "Engine status not refreshed: planned against the recorded state only, so agents that "
        "exited or failed on the engine are not detected."
    )


def scope_notes(plan: Plan) -> list[str]:
    """Sentences about a targeted or destroy plan (empty for an ordinary plan)."""
    notes = []
    if plan.destroy and (plan.targets or plan.excluded):  # the notes below say which
        notes.append(
            "Destroy plan: every recorded agent considered is stopped"
            + (", every recorded resource considered deleted." if plan.resources else ".")
        )
    elif plan.destroy:
        notes.append(
            "Destroy plan: every recorded agent is stopped"
            + (", every recorded resource deleted." if plan.resources else ".")
        )
    if plan.targets:
        notes.append(
            "Targeted plan: only " + ", ".join(plan.targets) + " considered; "
            "other agents are left as they are."
        )
    if plan.excluded:
        notes.append(
            "Excluded: " + ", ".join(plan.excluded) + " (--exclude), with the resources that "
            "depend on them; left as they are."
        )
    if plan.summary.restart > 1:
        width = min(plan.max_unavailable, plan.summary.restart)
        notes.append(f"Restarts roll {width} at a time (max_unavailable in reconciler.yaml).")
    return notes


def details(agent: AgentPlan) -> str:
    """``agent_id=… channel=…`` for an agent's header line (empty when neither is known)."""
    parts = []
    if agent.agent_id:
        label = "previous agent_id" if agent.action == "start" else "agent_id"
        parts.append(f"{label}={agent.agent_id}")
    if agent.channel:
        parts.append(f"channel={agent.channel}")
    return "  ".join(parts)


def changed_agents(plan: Plan) -> list[AgentPlan]:
    """Agents the plan acts on, in plan (name) order."""
    return [a for a in plan.agents if a.action != "no-op"]


def unchanged_agents(plan: Plan) -> list[AgentPlan]:
    """Agents the plan leaves alone, in plan (name) order."""
    return [a for a in plan.agents if a.action == "no-op"]


@dataclass(frozen=True)
class ChangeView:
    """One field change ready to lay out.

    Exactly one of three forms: ``note`` (a sensitive value: ``(sensitive)`` or
    ``(sensitive, changed)``), ``diff`` (unified diff lines for multi-line values), or
    ``before``/``after`` (clipped compact JSON; ``None`` for an absent side).
    """

    path: str
    kind: ChangeKind
    marker: str
    note: str | None = None
    before: str | None = None
    after: str | None = None
    diff: tuple[str, ...] = ()

    @property
    def sign(self) -> str:
        return {"add": "+", "remove": "-", "change": "~"}[self.kind]


def change_kind(change: FieldChange) -> ChangeKind:
    """``add`` (absent before), ``remove`` (absent after) or ``change``."""
    if not change.before_present:
        return "add"
    if not change.after_present:
        return "remove"
    return "change"


def contains_secret_marker(value: Any) -> bool:
    """True when ``value`` holds a redaction marker (``{"$sensitive": ...}``) anywhere."""
    if isinstance(value, dict):
        return _MARKER_KEY in value or any(contains_secret_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret_marker(v) for v in value)
    return False


def is_sensitive(change: FieldChange) -> bool:
    """A change is shown as sensitive if flagged so, or (defensively) if it holds a marker."""
    return (
        change.sensitive
        or contains_secret_marker(change.before)
        or contains_secret_marker(change.after)
    )


def change_view(change: FieldChange, action: str) -> ChangeView:
    """Prepare ``change`` (of an agent whose action is ``action``) for display."""
    kind = change_kind(change)
    # A started agent is started afresh: neither marker applies.
    marker = "" if action == "start" else FORCES_RESTART if change.forces_restart else IN_PLACE
    if change.unknown:
        note = f"(sensitive, unknown: {', '.join(change.unknown)} not set)"
        return ChangeView(path=str(change.path), kind=kind, marker=marker, note=note)
    if is_sensitive(change):
        note = SENSITIVE_CHANGED if kind == "change" else SENSITIVE
        return ChangeView(path=str(change.path), kind=kind, marker=marker, note=note)
    before = change.before if change.before_present else None
    after = change.after if change.after_present else None
    if has_multiline(before) or has_multiline(after):
        diff = line_diff(before, after, change.before_present, change.after_present)
        return ChangeView(path=str(change.path), kind=kind, marker=marker, diff=tuple(diff))
    shown_before, shown_after = clip_pair(
        compact(before) if change.before_present else None,
        compact(after) if change.after_present else None,
    )
    return ChangeView(
        path=str(change.path), kind=kind, marker=marker, before=shown_before, after=shown_after
    )


def agent_change_views(agent: AgentPlan, *, defaults: bool = True) -> Iterator[ChangeView]:
    """What a reviewer sees of ``agent``, ready to lay out: its changes, or every attribute of a
    new agent (listed from its spec, with no :class:`FieldChange` per attribute); without
    ``defaults``, a new agent's attributes that hold the engine's default are left out."""
    if agent.create_spec is None:
        for change in agent.changes:
            yield change_view(change, agent.action)
        return
    hidden = set() if defaults else default_paths(agent)
    for field in created_fields(agent.create_spec):
        if field.text not in hidden:
            yield created_view(field)


def default_paths(agent: AgentPlan) -> set[str]:
    """The attributes of a new agent that hold the value the engine fills in when a manifest
    leaves them out (``properties.enable_string_uid = false``): not what the manifest says."""
    spec = agent.create_spec or {}
    props = spec.get("properties")
    if not isinstance(props, dict):
        return set()
    return {
        f"properties.{key}"
        for key, default in PROPERTY_DEFAULTS.items()
        if key in props and props[key] == default and type(props[key]) is type(default)
    }


def created_view(field: CreatedField) -> ChangeView:
    """One attribute of a new agent as :func:`change_view` shows an added field of a start."""
    if field.unknown:
        note = f"(sensitive, unknown: {', '.join(field.unknown)} not set)"
        return ChangeView(path=field.text, kind="add", marker="", note=note)
    if field.sensitive:
        return ChangeView(path=field.text, kind="add", marker="", note=SENSITIVE)
    if has_multiline(field.value):
        diff = line_diff(None, field.value, False, True)
        return ChangeView(path=field.text, kind="add", marker="", diff=tuple(diff))
    _, after = clip_pair(None, compact(field.value))
    return ChangeView(path=field.text, kind="add", marker="", after=after)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
