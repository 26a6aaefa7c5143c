"""Several environments' plans rendered together (``plan --env all``): one review of a change.

- text: a section per environment, each the plan as :func:`~reconciler.render.render_text`
  shows it (its header names the environment, engine and App ID);
- JSON: one document, ``{"format_version": ..., "environments": [{"name": ..., "plan": {...}}]}``,
  each ``plan`` the single-environment document of ``docs/plan-format.md``;
- markdown (the pull-request comment): a marker, a summary table of environments x actions, then
  a collapsed section per environment holding its comment as :func:`render_markdown` writes it.
  The whole stays within ``max_chars``: each environment's section gets an equal share of the
  room, and a section that needs less leaves the rest to the others (smallest first), so every
  changed agent is still named by each section's index.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Sequence

from reconciler.models import Plan
from reconciler.render.common import SYMBOLS, plan_summary_line
from reconciler.render.json_format import JSON_FORMAT_VERSION, render_json_chunks
from reconciler.render.markdown import (
    DEFAULT_MAX_CHARS,
    MARKER_PREFIX,
    MIN_MAX_CHARS,
    render_markdown,
)
from reconciler.render.text import render_text

EnvironmentPlans = Sequence[tuple[str, Plan]]
"""``(environment, plan)`` pairs, in the order the settings file declares the environments."""

_COLUMNS = ("start", "update", "restart", "stop", "renew-token", "rename", "forget", "adopt")


def render_text_environments(plans: EnvironmentPlans, *, color: bool = False) -> str:
    """A section per environment, headed ``== Environment NAME ==``."""
    sections = [
        f"== Environment {name} ==\n\n{render_text(plan, color=color)}" for name, plan in plans
    ]
    return "\n\n".join(sections)


def render_json_environments_chunks(plans: EnvironmentPlans) -> Iterator[str]:
    """The JSON document of every environment's plan, in pieces (one per agent)."""
    yield '{"format_version":' + _json_string(JSON_FORMAT_VERSION) + ',"environments":['
    for number, (name, plan) in enumerate(plans):
        yield ("," if number else "") + '{"name":' + _json_string(name) + ',"plan":'
        yield from render_json_chunks(plan)
        yield "}"
    yield "]}"


def environments_marker(names: Sequence[str]) -> str:
    """The hidden first line of the comment of these environments' plans."""
    return f"{MARKER_PREFIX}environments:{','.join(names)} -->"


def render_markdown_environments(
    plans: EnvironmentPlans, *, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """The pull-request comment of every environment's plan, at most ``max_chars`` characters."""
    names = [name for name, _ in plans]
    head = "\n\n".join(
        [
            f"{environments_marker(names)}\n### Reconciler plan of {len(plans)} environments",
            _summary_table(plans),
        ]
    )
    room = max_chars - len(head) - 2
    per_section = 40 + sum(len(name) + len(plan_summary_line(plan)) for name, plan in plans)
    if room - per_section < MIN_MAX_CHARS * len(plans):
        raise ValueError(
            f"max_chars must be at least {len(head) + per_section + MIN_MAX_CHARS * len(plans)} "
            f"for {len(plans)} environments"
        )
    sections: dict[str, str] = {}
    waiting = list(plans)
    room -= per_section
    # Smallest first: a section that needs less than its share leaves the rest to the others.
    full = {name: _body(plan, max(room, MIN_MAX_CHARS)) for name, plan in waiting}
    waiting.sort(key=lambda pair: len(full[pair[0]]))
    for index, (name, plan) in enumerate(waiting):
        share = room // (len(waiting) - index)
        body = full[name] if len(full[name]) <= share else _body(plan, max(share, MIN_MAX_CHARS))
        sections[name] = body
        room -= len(body)
    parts = [head]
    for name, plan in plans:
        summary = f"<b>{html.escape(name)}</b>: {html.escape(plan_summary_line(plan))}"
        section = sections[name]
        parts.append(f"<details><summary>{summary}</summary>\n\n{section}\n\n</details>")
    return "\n\n".join(parts)


def _body(plan: Plan, max_chars: int) -> str:
    """The environment's own comment without its marker line (the comment has one marker)."""
    rendered = render_markdown(plan, max_chars=max_chars)
    first, _, rest = rendered.partition("\n")
    return rest if first.startswith(MARKER_PREFIX) else rendered


def _summary_table(plans: EnvironmentPlans) -> str:
    """Environments x actions: how many agents each environment's plan acts on, per action."""
    labels = [f"`{SYMBOLS[action].strip()}` {action}" for action in _COLUMNS]
    others = any(plan.resources for _name, plan in plans)
    extra = ["other resources changed"] if others else []
    header = "| environment | app | " + " | ".join([*labels, "unchanged", *extra]) + " |"
    rows = [header, "| :-- | :-- |" + " --: |" * (len(_COLUMNS) + 1 + len(extra))]
    for name, plan in plans:
        counts = dict.fromkeys([*_COLUMNS, "no-op"], 0)
        for agent in plan.agents:
            counts[agent.action] += 1
        cells = " | ".join(str(counts[action]) for action in [*_COLUMNS, "no-op"])
        if others:
            cells += f" | {sum(1 for r in plan.resources if r.action != 'no-op')}"
        app = html.escape(plan.app_id.replace("|", "")) or "-"
        rows.append(f"| **{html.escape(name)}** | `{app}` | {cells} |")
    return "\n".join(rows)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
