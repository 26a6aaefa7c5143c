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

An environment that could not be planned (its engine unreachable, its manifests invalid there
only, ...) is a :class:`FailedEnvironment`: each format shows it as such, with its error, in
its place among the others, which still render. An environment whose plan cannot be applied
(``Plan.errors``) or could not be made is named again above the sections of the comment, which
are collapsed: a reviewer sees it without opening them.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reconciler.models import Plan
from reconciler.render.common import RESOURCE_LABELS, SYMBOLS, plan_summary_line
from reconciler.render.json_format import JSON_FORMAT_VERSION, render_json_chunks
from reconciler.render.jsontext import dumps
from reconciler.render.markdown import (
    DEFAULT_MAX_CHARS,
    MARKER_PREFIX,
    MIN_MAX_CHARS,
    error_block,
    render_markdown,
)
from reconciler.render.text import render_text
from reconciler.render.values import clip


@dataclass(frozen=True)
class FailedEnvironment:
    """An environment that could not be planned, and why (its error as the CLI prints it)."""

    message: str


EnvironmentPlans = Sequence[tuple[str, Plan | FailedEnvironment]]
"""``(environment, plan)`` pairs, in the order the settings file declares the environments; an
environment that could not be planned has a :class:`FailedEnvironment` in place of its plan."""


_COLUMNS = ("start", "update", "restart", "stop", "renew-token", "rename", "forget", "adopt")


def render_text_environments(
    plans: EnvironmentPlans,
    *,
    color: bool = False,
    verbose: bool = False,
    compact: bool | None = None,
) -> str:
    """A section per environment, headed ``== Environment NAME ==`` (each plan rendered as
    :func:`render_text` renders it with ``color``, ``verbose`` and ``compact``)."""
    sections = [
        f"== Environment {name} ==\n\n"
        + (
            f"Error: environment {name} could not be planned:\n{_indented(plan.message)}"
            if isinstance(plan, FailedEnvironment)
            else render_text(plan, color=color, verbose=verbose, compact=compact)
        )
        for name, plan in plans
    ]
    return "\n\n".join(sections)


def _indented(message: str) -> str:
    return "\n".join(f"  {line}" for line in message.splitlines())


def render_json_environments_chunks(plans: EnvironmentPlans) -> Iterator[str]:
    """The JSON document of every environment's plan, in pieces (one per agent); an
    environment that could not be planned has ``error`` (its message) in place of ``plan``."""
    yield '{"format_version":' + _json_string(JSON_FORMAT_VERSION) + ',"environments":['
    for number, (name, plan) in enumerate(plans):
        yield ("," if number else "") + '{"name":' + _json_string(name)
        if isinstance(plan, FailedEnvironment):
            yield ',"error":' + _json_string(plan.message) + "}"
            continue
        yield ',"plan":'
        yield from render_json_chunks(plan)
        yield "}"
    yield "]}"


def environments_marker(names: Sequence[str]) -> str:
    """The hidden first line of the comment of these environments' plans."""
    return f"{MARKER_PREFIX}environments:{','.join(names)} -->"


def render_markdown_environments(
    plans: EnvironmentPlans, *, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """The pull-request comment of every environment's plan, at most ``max_chars`` characters
    (:func:`least_max_chars` at least: ``ValueError`` below it)."""
    head = _head(plans)
    sections = {
        name: _failed_body(plan) for name, plan in plans if isinstance(plan, FailedEnvironment)
    }
    least = least_max_chars(plans)
    if max_chars < least:
        raise ValueError(f"max_chars must be at least {least} for {len(plans)} environments")
    room = max_chars - len(head) - 2 - sum(len(body) + 2 for body in sections.values())
    room -= _per_section(plans)
    waiting = [(name, plan) for name, plan in plans if isinstance(plan, Plan)]
    # Smallest first: a section that needs less than its share leaves the rest to the others.
    full = {name: _body(plan, max(room, MIN_MAX_CHARS)) for name, plan in waiting}
    waiting.sort(key=lambda pair: len(full[pair[0]]))
    for index, (name, plan) in enumerate(waiting):
        share = room // (len(waiting) - index)
        body = full[name] if len(full[name]) <= share else _body(plan, max(share, MIN_MAX_CHARS))
        sections[name] = body
        room -= len(body)
    parts = [head]
    for name, entry in plans:
        summary = _section_summary(name, entry)
        section = sections[name]
        parts.append(f"<details><summary>{summary}</summary>\n\n{section}\n\n</details>")
    return "\n\n".join(parts)


def least_max_chars(plans: EnvironmentPlans) -> int:
    """The smallest ``max_chars`` the comment of ``plans`` fits in: its head, the sections'
    frames, failed environments' errors and the smallest comment of each planned one."""
    failed = sum(
        len(_failed_body(plan)) + 2 for _name, plan in plans if isinstance(plan, FailedEnvironment)
    )
    planned = sum(1 for _name, plan in plans if isinstance(plan, Plan))
    return len(_head(plans)) + 2 + failed + _per_section(plans) + MIN_MAX_CHARS * planned


def _head(plans: EnvironmentPlans) -> str:
    names = [name for name, _ in plans]
    return "\n\n".join(
        [
            f"{environments_marker(names)}\n### Reconciler plan of {len(plans)} environments",
            _summary_table(plans),
            *_blocked(plans),
        ]
    )


def _per_section(plans: EnvironmentPlans) -> int:
    """What each section takes besides its body: ``<details>``, its summary, blank lines."""
    return 40 + sum(len(name) + len(_section_summary(name, plan)) for name, plan in plans)


def _section_summary(name: str, plan: Plan | FailedEnvironment) -> str:
    """What a collapsed section says of its environment: a failure or an unappliable plan
    first, then the plan's summary line."""
    label = f"<b>{html.escape(name)}</b>"
    if isinstance(plan, FailedEnvironment):
        return f"{label}: ⛔ could not be planned"
    blocked = "⛔ cannot be applied · " if plan.errors else ""
    return f"{label}: {blocked}{html.escape(plan_summary_line(plan))}"


def _blocked(plans: EnvironmentPlans) -> list[str]:
    """A caution naming every environment that could not be planned or whose plan cannot be
    applied (nothing when there is none): the sections below are collapsed."""
    lines = []
    for name, plan in plans:
        if isinstance(plan, FailedEnvironment):  # its first line, and what a "...:" announces
            lines_of = plan.message.splitlines() or [""]
            first = " ".join(lines_of[:2] if lines_of[0].endswith(":") else lines_of[:1])
            why = html.escape(clip(" ".join(first.split()), 0, 300))
            lines.append(f"> - **{html.escape(name)}** could not be planned: {why}")
        elif plan.errors:
            why = html.escape(clip(" ".join(plan.errors[0].split()), 0, 300))
            more = f" (and {len(plan.errors) - 1} more)" if len(plan.errors) > 1 else ""
            lines.append(f"> - **{html.escape(name)}**: this plan cannot be applied: {why}{more}")
    if not lines:
        return []
    none = all(isinstance(plan, FailedEnvironment) for _name, plan in plans)
    title = "No environment could be planned" if none else "Not every environment can be applied"
    return [f"> [!CAUTION]\n> **{title}:**\n" + "\n".join(lines)]


def _failed_body(failed: FailedEnvironment) -> str:
    """A failed environment's section: its error in a code block (clipped; the log has it)."""
    return f"**This environment could not be planned:**\n\n{error_block(failed.message)}"


def _body(plan: Plan, max_chars: int) -> str:
    """The environment's own comment without its marker line (the comment has one marker)."""
    rendered = render_markdown(plan, max_chars=max_chars)
    first, _, rest = rendered.partition("\n")
    return rest if first.startswith(MARKER_PREFIX) else rendered


def _summary_table(plans: EnvironmentPlans) -> str:
    """Environments x actions: how many agents each environment's plan acts on, per action, and
    (when any environment has resources of other kinds) their changes per action."""
    labels = [f"`{SYMBOLS[action].strip()}` {action}" for action in _COLUMNS]
    others = any(isinstance(plan, Plan) and plan.resources for _name, plan in plans)
    extra = ["other resources"] if others else []
    header = "| environment | app | " + " | ".join([*labels, "unchanged", *extra]) + " |"
    rows = [header, "| :-- | :-- |" + " --: |" * (len(_COLUMNS) + 1 + len(extra))]
    for name, plan in plans:
        if isinstance(plan, FailedEnvironment):
            empty = " | ".join(["-"] * (len(_COLUMNS) + 1 + len(extra)))
            rows.append(f"| **{html.escape(name)}** | ⛔ could not be planned | {empty} |")
            continue
        counts = dict.fromkeys([*_COLUMNS, "no-op"], 0)
        for agent in plan.agents:
            counts[agent.action] += 1
        cells = " | ".join(str(counts[action]) for action in [*_COLUMNS, "no-op"])
        if others:
            cells += f" | {_resource_counts(plan)}"
        app = html.escape(plan.app_id.replace("|", "")) or "-"
        rows.append(f"| **{html.escape(name)}** | `{app}` | {cells} |")
    return "\n".join(rows)


def _resource_counts(plan: Plan) -> str:
    """``2 to create, 1 to delete`` (actions without resources left out), ``0`` for none."""
    s = plan.resource_summary
    counts = {"create": s.create, "update": s.update, "replace": s.replace, "delete": s.delete}
    parts = [f"{n} to {RESOURCE_LABELS[action]}" for action, n in counts.items() if n]
    return ", ".join(parts) or "0"


def _json_string(text: str) -> str:
    return dumps(text)
