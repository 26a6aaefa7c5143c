"""The terminal rendering of a plan, in the manner of ``terraform plan``.

Layout: the summary line, whether the engine was refreshed, a legend of the symbols used, one
block per agent the plan acts on (no-ops are counted, not shown), and the summary line again::

    Plan: 1 to start, 1 to restart; 2 unchanged.

    Engine status refreshed: live agents were read from the engine before planning.

    Agents are marked with these symbols:
        + start
      -/+ restart (stop, then start again)

      # billing will be restarted (stopped, then started again)
      #   changes force a restart: properties.asr.language
    -/+ billing  agent_id=A1  channel=billing
          ~ properties.asr.language = "en-US" -> "de-DE"  # forces restart

    Plan: 1 to start, 1 to restart; 2 unchanged.

Warnings are not part of it: the CLI prints :func:`render_warnings` to stderr.
"""

from __future__ import annotations

from reconciler.errors import printable
from reconciler.models import AgentPlan, Plan
from reconciler.models.plan import ResourcePlan
from reconciler.render.common import (
    FORCES_RESTART,
    LEGEND,
    SYMBOLS,
    ChangeView,
    agent_change_views,
    changed_agents,
    default_paths,
    details,
    plan_summary_line,
    refresh_note,
    resources_summary_line,
    scope_notes,
    target_line,
    verb,
)
from reconciler.render.resources import (
    DRIFT_TITLE,
    FORCES_REPLACEMENT,
    changed_resources,
    drift_lines,
    resource_change_views,
    resource_details,
    resource_symbol,
    resource_verb,
)

_RESET = "\x1b[0m"
_COLORS: dict[str, str] = {
    "green": "\x1b[32m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "magenta": "\x1b[35m",
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
}
_SIGN_COLORS: dict[str, str] = {"+": "green", "-": "red", "~": "yellow", "-/+": "magenta"}
_FIELD_INDENT = " " * 6
_DIFF_INDENT = " " * 10


class _Painter:
    """Wraps text in ANSI colour codes, or leaves it alone when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str) -> str:
        if not self.enabled or not text:
            return text
        return f"{_COLORS[color]}{text}{_RESET}"

    def sign(self, sign: str) -> str:
        color = _SIGN_COLORS.get(sign)
        return self(sign, color) if color else sign


COMPACT_FROM = 20
"""Plans acting on more agents than this are summarised (one line an agent) unless verbose."""


def render_text(
    plan: Plan, *, color: bool = False, verbose: bool = False, compact: bool | None = None
) -> str:
    """The plan as terminal text, without a trailing newline. ANSI colour only when ``color``.

    By default a new agent lists what its manifest sets (the attributes that hold the engine's
    default are left out), and a plan acting on more than :data:`COMPACT_FROM` agents (or any
    plan with ``compact``) shows one line an agent: its action, name, channel and reason.
    ``verbose`` shows everything, every agent in full.
    """
    paint = _Painter(color)
    summary = paint(plan_summary_line(plan), "bold")
    lines = [*_error_banner(plan, paint), summary, "", *target_line(plan), refresh_note(plan)]
    lines.extend(scope_notes(plan))
    agents = changed_agents(plan)
    short = not verbose and (compact if compact is not None else len(agents) > COMPACT_FROM)
    if agents:
        lines.extend(["", *_legend(agents, paint)])
    if short and agents:
        lines.append("")
        lines.extend(_agent_line(agent, paint) for agent in agents)
        lines.extend(["", f"({len(agents)} agents summarised: reconciler plan -v shows each "
                          "change in full)"])  # fmt: skip
    else:
        hidden = 0
        for agent in agents:
            lines.append("")
            lines.extend(_agent_block(agent, paint, defaults=verbose))
            hidden += 0 if verbose else len(default_paths(agent))
        if hidden:
            lines.extend(["", "(new agents list what their manifests set; -v also lists the "
                              "engine's defaults)"])  # fmt: skip
    if plan.resources:
        lines.extend(["", paint(resources_summary_line(plan), "bold")])
    for resource in changed_resources(plan):
        lines.append("")
        lines.extend(_resource_block(resource, paint))
    lines.extend(["", summary])
    return "\n".join(lines)


def _agent_line(agent: AgentPlan, paint: _Painter) -> str:
    """One line of a summarised plan: symbol, name, details, reason."""
    symbol = SYMBOLS[agent.action]
    pad = " " * (3 - len(symbol))
    extra = printable(details(agent))
    reason = paint(f"# {printable(agent.reason)}", "dim")
    name = printable(agent.name)
    return "  ".join(part for part in (f"{pad}{paint.sign(symbol)} {name}", extra, reason) if part)


def _error_banner(plan: Plan, paint: _Painter) -> list[str]:
    """``Error: this plan cannot be applied`` and why, above everything else (or nothing)."""
    if not plan.errors:
        return []
    return [
        paint("Error: this plan cannot be applied:", "red"),
        *(f"  - {printable(error)}" for error in plan.errors),
        "",
    ]


def render_warnings(plan: Plan) -> list[str]:
    """The plan's warnings as lines for stderr (``Warning: …``), in plan order."""
    return [f"Warning: {printable(warning)}" for warning in plan.warnings]


def _legend(agents: list[AgentPlan], paint: _Painter) -> list[str]:
    used = {a.action for a in agents}
    out = ["Agents are marked with these symbols:"]
    for action, label in LEGEND:
        if action in used:
            symbol = SYMBOLS[action]
            out.append(f"  {' ' * (3 - len(symbol))}{paint.sign(symbol)} {label}")
    return out


def _agent_block(agent: AgentPlan, paint: _Painter, *, defaults: bool = True) -> list[str]:
    symbol = SYMBOLS[agent.action]
    pad = " " * (3 - len(symbol))
    name = printable(agent.name)
    header = f"{pad}{paint.sign(symbol)} {paint(name, 'bold')}"
    extra = details(agent)
    if extra:
        header += "  " + printable(extra)
    out = [
        paint(f"  # {name} {verb(agent)}", "dim"),
        paint(f"  #   {printable(agent.reason)}", "dim"),
        header,
    ]
    for view in agent_change_views(agent, defaults=defaults):
        out.extend(_change_lines(view, paint))
    return out


def _resource_block(resource: ResourcePlan, paint: _Painter) -> list[str]:
    symbol = resource_symbol(resource)
    pad = " " * (3 - len(symbol))
    address = printable(resource.address)
    header = f"{pad}{paint.sign(symbol)} {paint(address, 'bold')}"
    extra = resource_details(resource)
    if extra:
        header += f"  {printable(extra)}"
    out = [
        paint(f"  # {address} {resource_verb(resource)}", "dim"),
        paint(f"  #   {printable(resource.reason)}", "dim"),
    ]
    if resource.drift:
        out.append(paint(f"  #   {DRIFT_TITLE}", "dim"))
        out.extend(
            paint(f"  #     {printable(line)}", "dim") for line in drift_lines(resource.drift)
        )
    out.append(header)
    for view in resource_change_views(resource):
        out.extend(_change_lines(view, paint))
    return out


def _change_lines(view: ChangeView, paint: _Painter) -> list[str]:
    marker = view.marker
    if marker in (FORCES_RESTART, FORCES_REPLACEMENT):
        marker = paint(marker, "magenta")
    head = f"{_FIELD_INDENT}{paint.sign(view.sign)} {printable(view.path)}"
    if view.diff:
        return [_join(head, marker), *(_diff_line(line, paint) for line in view.diff)]
    if view.note is not None:
        value = view.note
    elif view.kind == "add":
        value = str(view.after)
    elif view.kind == "remove":
        value = str(view.before)
    else:
        value = f"{view.before} -> {view.after}"
    return [_join(f"{head} = {printable(value)}", marker)]


def _diff_line(line: str, paint: _Painter) -> str:
    color = {"+": "green", "-": "red", "@": "dim", "\\": "dim"}.get(line[:1])
    line = printable(line)
    return _DIFF_INDENT + (paint(line, color) if color else line)


def _join(text: str, marker: str) -> str:
    return f"{text}  {marker}" if marker else text
