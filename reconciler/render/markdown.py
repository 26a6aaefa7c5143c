"""The plan as a pull-request comment (GitHub-flavoured markdown).

Layout, top to bottom:

1. a hidden marker line, ``<!-- reconciler-plan:<key> -->``, so a CI job can find and update its
   own comment instead of adding a new one (the key is the app id, else the state lineage);
2. a title, the summary line, whether the engine was refreshed, and a summary table;
3. a ⚠️ line naming the agents that stop or restart (their calls are cut), and the plan's warnings;
4. one collapsed ``<details>`` block per agent the plan acts on, holding a ```` ```diff ```` of its
   field changes (sensitive values never shown, prompts as line diffs);
5. the unchanged agents in one line, a footer (lineage, serial, manifests digest, time), and the
   summary line again.

The comment never exceeds ``max_chars`` (GitHub refuses comments over 65,536 characters). When
the full rendering is longer, an index names every changed agent right after the summary, then
come as many whole agent blocks as fit, in plan order, and a line saying how many were left out
and where the full plan is. The index is the most informative of these that fits:

- a table, one row per changed agent (action, name, reason), if it takes at most half the room;
- else the names grouped per action, one list item per action (``start (503): a, b, ...``): a
  name is at most 48 characters, so a few thousand agents fit;
- else the same with each run of three or more names that differ only by consecutive numbers
  of one width in the same place written as a range, ``tenant-{0001..2999}-eu`` (as a shell
  expands it);
- else (names too many or too long even for that) as many names per action as fit, and a
  warning saying plainly that the comment cannot name them all and where the full list is.

Detail blocks take the room the index leaves.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from reconciler.models import AgentPlan, Plan
from reconciler.models.plan import ReasonCode, ResourcePlan
from reconciler.render.common import (
    RESOURCE_LABELS,
    SYMBOLS,
    ChangeView,
    agent_change_views,
    changed_agents,
    details,
    plan_summary_line,
    refresh_note,
    resources_summary_line,
    scope_notes,
    unchanged_agents,
)
from reconciler.render.resources import (
    DRIFT_TITLE,
    changed_resources,
    drift_lines,
    resource_change_views,
    resource_details,
    resource_label,
    resource_symbol,
)
from reconciler.render.resources import SYMBOLS as RESOURCE_SYMBOLS
from reconciler.render.values import clip

DEFAULT_MAX_CHARS = 60_000
"""Default size limit: under GitHub's 65,536-character comment limit, with room to spare."""
MIN_MAX_CHARS = 2_000
"""Smallest ``max_chars`` accepted: the summary, table and end must fit."""
MARKER_PREFIX = "<!-- reconciler-plan:"

_ACTION_LABELS: dict[str, str] = {
    "start": "start",
    "update": "update in place",
    "restart": "restart",
    "stop": "stop",
    "renew-token": "renew token",
    "rename": "rename",
    "forget": "forget",
    "adopt": "adopt",
    "no-op": "unchanged",
}
_TABLE_ORDER = (
    "start", "update", "restart", "stop", "renew-token", "rename", "forget", "adopt", "no-op"
)  # fmt: skip
_MAX_WARNINGS = 20
_MAX_LISTED = 200
"""Most unchanged agents named in the comment."""
_MAX_INTERRUPTED = 20
"""Most agents named per kind (stop, restart) in the ⚠️ line."""
_BACKTICKS = re.compile(r"`+")
_RESOURCE = "resource:"
"""Prefix of a resource's action in :class:`_Block` (its actions are not the agents')."""


def plan_marker(plan: Plan) -> str:
    """The hidden first line that identifies this project's plan comment."""
    return marker_of(plan.environment, plan.app_id or plan.lineage)


def marker_of(environment: str | None, key: str) -> str:
    """The marker line of the comment of ``environment``'s plan for ``key`` (its App ID)."""
    if environment:
        key = f"{environment}:{key}"
    return f"{MARKER_PREFIX}{_one_line(key)} -->"


_FAILED_ROOM = 4_000
"""Most characters of an error in a comment (the job log has it all)."""


def error_block(message: str) -> str:
    """An error as the CLI prints it, in a code block of a comment (clipped; never breaks out
    of its fence)."""
    if len(message) > _FAILED_ROOM:
        message = message[:_FAILED_ROOM] + "\n… (the rest is in the job log)"
    longest = max((len(m) for m in _BACKTICKS.findall(message)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{message}\n{fence}"


def render_markdown_failure(environment: str | None, app_id: str, message: str) -> str:
    """The comment of a plan that could not be made, and why (``message``: the error as the CLI
    prints it, which holds no secret); its marker is the one the plan's comment would have, so
    a CI job updates the same comment."""
    title = "### Reconciler plan"
    if environment:
        title += f" of environment `{_one_line(environment)}`"
    if app_id:
        title += f" for app `{_one_line(app_id)}`"
    return (
        f"{marker_of(environment, app_id)}\n{title}\n\n"
        f"> [!CAUTION]\n> **The plan could not be made:**\n\n{error_block(message)}"
    )


def render_markdown(plan: Plan, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The plan as a PR comment of at most ``max_chars`` characters (no trailing newline)."""
    if max_chars < MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_MAX_CHARS}, not {max_chars}")
    budget = max_chars // 10  # for each list of names and for the warnings
    head = _head(plan, budget)
    tail = _tail(plan, budget)
    block_cap = max(1_000, max_chars // 4)
    blocks = [
        _Block(_agent_block(agent, block_cap), _index_row(agent), agent.action, agent.name)
        for agent in changed_agents(plan)
    ]
    if plan.resources:
        head.append(f"**{resources_summary_line(plan)}**")
        blocks.extend(
            _Block(_resource_block(r, block_cap), _resource_row(r), _RESOURCE + r.action, r.address)
            for r in changed_resources(plan)
        )
    return _fit(head, blocks, tail, max_chars)


@dataclass(frozen=True)
class _Block:
    """One changed agent: its collapsed details block, its row in the index table, and its
    action and name (for the index of names grouped per action)."""

    text: str
    row: str
    action: str
    name: str


def _index_row(agent: AgentPlan) -> str:
    symbol = SYMBOLS[agent.action].strip()
    reason = html.escape(clip(_one_line(agent.reason), 0, 120)).replace("|", "\\|")
    name = _one_line(agent.name).replace("|", "\\|")
    return f"| `{symbol}` {_label(agent)} | `{name}` | {reason} |"


def _label(agent: AgentPlan) -> str:
    """The action as the comment names it (an ``import:`` entry's adopt: ``import``)."""
    return "import" if agent.reason_code == ReasonCode.IMPORTED else _ACTION_LABELS[agent.action]


def _head(plan: Plan, budget: int) -> list[str]:
    title = "### Reconciler plan"
    if plan.environment:
        title += f" of environment `{_one_line(plan.environment)}`"
    if plan.app_id:
        title += f" for app `{_one_line(plan.app_id)}`"
    if plan.engine:
        title += f" on {html.escape(_one_line(plan.engine))}"
    if plan.platform:  # the plan has resources: where they are
        title += f" and Platform {html.escape(_one_line(plan.platform))}"
    parts = [f"{plan_marker(plan)}\n{title}"]
    if plan.errors:
        parts.append(
            "> [!CAUTION]\n> **This plan cannot be applied:**\n"
            + "\n".join(f"> - {html.escape(_one_line(e))}" for e in plan.errors)
        )
    parts += [
        f"**{plan_summary_line(plan)}**",
        " ".join([refresh_note(plan), *scope_notes(plan)]),
        _table(plan),
    ]
    interrupted = _interruption_line(plan, budget)
    if interrupted:
        parts.append(interrupted)
    if plan.warnings:
        parts.append(_warnings(plan.warnings, budget))
    return parts


def _table(plan: Plan) -> str:
    counts: dict[tuple[str, str], int] = {}
    for agent in plan.agents:
        key = (agent.action, _label(agent))
        counts[key] = counts.get(key, 0) + 1
    rows = ["| action | count |", "| :-- | --: |"]
    # A row per action the plan has (no column of zeros to read past); imports beside adopts.
    for (action, name), count in sorted(counts.items(), key=lambda i: _TABLE_ORDER.index(i[0][0])):
        symbol = SYMBOLS[action].strip()
        label = f"`{symbol}` {name}" if symbol else name
        rows.append(f"| {label} | {count} |")
    return "\n".join(rows) if len(rows) > 2 else "_No agents declared or recorded._"


def _interruption_line(plan: Plan, budget: int) -> str:
    """The ⚠️ line naming the agents whose calls are cut (stops and restarts), or ''."""
    stops = [a.name for a in plan.agents if a.action == "stop"]
    restarts = [a.name for a in plan.agents if a.action == "restart"]
    if not stops and not restarts:
        return ""
    parts = []
    if stops:
        parts.append(
            f"{_count(len(stops), 'agent')} will stop "
            f"({_names(stops, budget // 2, _MAX_INTERRUPTED)})"
        )
    if restarts:
        parts.append(
            f"{_count(len(restarts), 'agent')} will restart "
            f"({_names(restarts, budget // 2, _MAX_INTERRUPTED)})"
        )
    return "⚠️ **Running agents will be interrupted:** " + "; ".join(parts) + "."


def _warnings(warnings: Sequence[str], budget: int) -> str:
    lines = ["**Warnings**", ""]
    used = 0
    shown = 0
    for warning in warnings[:_MAX_WARNINGS]:
        line = f"- ⚠️ {html.escape(_one_line(warning))}"
        if used + len(line) > budget and shown:
            break
        lines.append(line[: max(budget, 200)])
        used += len(line)
        shown += 1
    if shown < len(warnings):
        lines.append(f"- … {len(warnings) - shown} more (see the CI log)")
    return "\n".join(lines)


def _agent_block(agent: AgentPlan, cap: int) -> str:
    symbol = SYMBOLS[agent.action]
    summary = (
        f"<code>{symbol} {html.escape(agent.name)}</code> "
        f"{_label(agent)}: {html.escape(clip(_one_line(agent.reason), 0, 300))}"
    )
    header = f"{symbol} {agent.name}"
    extra = details(agent)
    lines = [f"{header}  {extra}" if extra else header]
    for view in agent_change_views(agent):
        lines.extend(_change_lines(view))
    return _fenced(summary, _cap_lines(lines, cap - len(summary) - 60))


def _fenced(summary: str, lines: list[str]) -> str:
    """A collapsed details block: ``summary``, then ``lines`` as a diff code block."""
    fence = "`" * max(3, 1 + max((len(m) for m in _BACKTICKS.findall("\n".join(lines))), default=0))
    body = "\n".join(lines)
    return f"<details><summary>{summary}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>"


def _resource_row(resource: ResourcePlan) -> str:
    symbol = resource_symbol(resource).strip()
    reason = html.escape(clip(_one_line(resource.reason), 0, 120)).replace("|", "\\|")
    address = _one_line(resource.address).replace("|", "\\|")
    return f"| `{symbol}` {resource_label(resource)} | `{address}` | {reason} |"


def _resource_block(resource: ResourcePlan, cap: int) -> str:
    symbol = resource_symbol(resource)
    summary = (
        f"<code>{symbol} {html.escape(resource.address)}</code> "
        f"{resource_label(resource)}: "
        f"{html.escape(clip(_one_line(resource.reason), 0, 300))}"
    )
    header = f"{symbol} {resource.address}"
    extra = resource_details(resource)
    lines = [f"{header}  {extra}" if extra else header]
    if resource.drift:
        lines.append(f"# {DRIFT_TITLE}")
        lines.extend(f"#   {_one_line(line)}" for line in drift_lines(resource.drift))
    for view in resource_change_views(resource):
        lines.extend(_change_lines(view))
    return _fenced(summary, _cap_lines(lines, cap - len(summary) - 60))


def _change_lines(view: ChangeView) -> list[str]:
    marker = f"  {view.marker}" if view.marker else ""
    if view.diff:
        return [f"{view.sign} {view.path}{marker}", *(_hunk_line(line) for line in view.diff)]
    if view.note is not None:
        return [f"{view.sign} {view.path} = {view.note}{marker}"]
    if view.kind == "add":
        return [f"+ {view.path} = {view.after}{marker}"]
    if view.kind == "remove":
        return [f"- {view.path} = {view.before}{marker}"]
    return [f"- {view.path} = {view.before}", f"+ {view.path} = {view.after}{marker}"]


def _hunk_line(line: str) -> str:
    """A unified-diff line indented under its field, keeping its sign in column 0."""
    sign, text = line[:1], line[1:]
    if sign == "@":
        return line
    if sign == "\\":
        return "#    " + text.lstrip()
    return f"{sign}    {text}"


def _cap_lines(lines: list[str], cap: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > cap and kept:
            rest = len(lines) - index
            kept.append(f"# … {rest:,} more line{'s' if rest != 1 else ''}: run `reconciler plan`")
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def _tail(plan: Plan, budget: int) -> list[str]:
    parts = []
    unchanged = [a.name for a in unchanged_agents(plan)]
    if unchanged:
        parts.append(f"**Unchanged ({len(unchanged):,}):** {_names(unchanged, budget)}")
    created = datetime.fromtimestamp(plan.created_at, tz=timezone.utc)
    footer = (
        f"<sub>lineage `{plan.lineage}` · serial {plan.serial} · "
        f"manifests `{plan.manifests_digest}` · planned {created:%Y-%m-%d %H:%M:%S} UTC</sub>"
    )
    parts.append(footer)
    parts.append(f"**{plan_summary_line(plan)}**")
    return parts


def _fit(head: list[str], blocks: list[_Block], tail: list[str], max_chars: int) -> str:
    """Join the parts; if too long, name every changed agent first, then the blocks that fit.

    The index (see the module docstring) comes right after the summary, so a reviewer always
    sees which agents a plan touches even when their details do not fit; the detail blocks
    follow in plan order while they fit, then a note says how many were left out and where the
    full plan is.
    """
    full = _join([*head, *(b.text for b in blocks), *tail])
    if len(full) <= max_chars:
        return full
    noun = _noun(blocks)
    fixed = len(_join([*head, *tail])) + len(_omitted_note(len(blocks), len(blocks), noun)) + 8
    index = _index(blocks, max(0, max_chars - fixed))
    used = fixed + len(index) + 2
    kept: list[str] = []
    for block in blocks:
        if used + len(block.text) + 2 > max_chars:
            break
        kept.append(block.text)
        used += len(block.text) + 2
    note = _omitted_note(len(blocks) - len(kept), len(blocks), noun)
    out = _join([*head, *([index] if index else []), *kept, note, *tail])
    if len(out) > max_chars:  # only with absurd inputs: never exceed the limit
        cut = "\n\n… cut to stay under the comment limit; run `reconciler plan`"
        out = out[: max_chars - len(cut)] + cut
    return out


def _noun(blocks: list[_Block]) -> tuple[str, str]:
    """What the blocks are, singular and plural: agents, or agents and resources of other
    kinds (named by address) when there are any."""
    if any(block.action.startswith(_RESOURCE) for block in blocks):
        return "agent or resource", "agents and resources"
    return "agent", "agents"


def _index(blocks: list[_Block], room: int) -> str:
    """Every changed agent named in at most ``room`` characters: a table if it takes at most
    half of it, else the names grouped per action, else as many names as fit and a warning
    that says so ('' if not even that fits)."""
    one, many = _noun(blocks)
    title = f"**Changed {many}**"
    table = "\n".join(
        [title, "", f"| action | {one} | reason |", "| :-- | :-- | :-- |"]
        + [block.row for block in blocks]
    )
    if len(table) <= room // 2:
        return table
    groups: dict[str, list[str]] = {}
    for block in blocks:
        groups.setdefault(block.action, []).append(_plain(block.name))
    actions = [action for action in _TABLE_ORDER if action in groups]
    actions += [action for action in groups if action.startswith(_RESOURCE)]
    labels = {action: _group_label(action, len(groups[action])) for action in actions}
    grouped = "\n".join([title, ""] + [f"- {labels[a]} {', '.join(groups[a])}" for a in actions])
    if len(grouped) <= room:
        return grouped
    ranges = {action: _ranges(groups[action]) for action in actions}
    if any(len(ranges[a]) < len(groups[a]) for a in actions):
        collapsed = "\n".join(
            [title, "", _RANGE_NOTE, ""]
            + [f"- {labels[a]} {', '.join(ranges[a])}" for a in actions]
        )
        if len(collapsed) <= room:
            return collapsed
    warning = (
        f"> ⚠️ **Not every changed {one} is named here:** the names of all {len(blocks):,} do "
        "not fit in one comment (GitHub's limit is 65,536 characters). The full list is in the "
        "job log (`reconciler plan`) and in the saved plan artifact (`reconciler show FILE`)."
    )
    lines = [title, "", warning, ""]
    left = room - sum(len(line) + 1 for line in lines)
    for position, action in enumerate(actions):
        share = left // (len(actions) - position)  # an equal share of what is left
        line = _group_line(labels[action], groups[action], share)
        if len(line) + 1 > left:
            break
        lines.append(line)
        left -= len(line) + 1
    if len(lines) == 4:
        return ""
    return "\n".join(lines)


def _group_label(action: str, count: int) -> str:
    if action.startswith(_RESOURCE):
        resource_action = action.removeprefix(_RESOURCE)
        symbol = RESOURCE_SYMBOLS[resource_action].strip()
        return f"**`{symbol}` {RESOURCE_LABELS[resource_action]} ({count:,}):**"
    symbol = SYMBOLS[action].strip()
    return f"**`{symbol}` {_ACTION_LABELS[action]} ({count:,}):**"


def _group_line(label: str, names: list[str], budget: int) -> str:
    """``- label a, b and 12 more``: as many names as fit in ``budget`` characters."""
    shown: list[str] = []
    used = len(label) + 3
    for index, name in enumerate(names):
        last = index == len(names) - 1
        more = 0 if last else len(f" and {len(names) - index:,} more")
        if used + len(name) + 2 + more > budget:
            break
        shown.append(name)
        used += len(name) + 2
    rest = len(names) - len(shown)
    if not shown:
        return f"- {label} (no room for the names)"
    text = ", ".join(shown)
    return f"- {label} {text} and {rest:,} more" if rest else f"- {label} {text}"


_RANGE_NOTE = "<sub>`name-{0001..0500}` stands for every number of the range.</sub>"
_NUMBERED = re.compile(r"(.*[^0-9]|)([0-9]+)([^0-9]*)")
"""A name with its last number: ``tenant-`` ``0007`` ``-eu``."""


def _ranges(names: list[str]) -> list[str]:
    """``names`` (in plan order) with each run of three or more that differ only by
    consecutive numbers of one width in the same place (``t-0007-eu, t-0008-eu, t-0009-eu``)
    written as a range (``t-{0007..0009}-eu``)."""
    out: list[str] = []
    run: list[str] = []
    key: tuple[str, int, str] = ("", 0, "")
    last = -2

    def flush() -> None:
        if len(run) >= 3:
            prefix, width, suffix = key
            first = run[0][len(prefix) : len(prefix) + width]
            final = run[-1][len(prefix) : len(prefix) + width]
            out.append(f"{prefix}{{{first}..{final}}}{suffix}")
        else:
            out.extend(run)
        run.clear()

    for name in names:
        match = _NUMBERED.fullmatch(name)
        if match is None:
            flush()
            out.append(name)
            continue
        prefix, digits, suffix = match.groups()
        number = int(digits)
        if run and (prefix, len(digits), suffix) == key and number == last + 1:
            run.append(name)
        else:
            flush()
            run.append(name)
            key = (prefix, len(digits), suffix)
        last = number
    flush()
    return out


_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _plain(name: str) -> str:
    """A name as plain markdown text: as is when it is a valid agent name, else escaped."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(_one_line(name)))


def _omitted_note(count: int, total: int, noun: tuple[str, str]) -> str:
    return (
        f"> … details of {count:,} of {total:,} changed {noun[0] if total == 1 else noun[1]} "
        "omitted to stay under GitHub's comment limit. The full plan is in the job log "
        "(`reconciler plan`) and in the saved plan artifact (`reconciler show FILE`)."
    )


def _join(parts: list[str]) -> str:
    return "\n\n".join(parts)


def _names(names: list[str], budget: int, limit: int = _MAX_LISTED) -> str:
    """```a`, `b` and 12 more``: at most ``limit`` names, as many as fit in ``budget`` chars."""
    shown: list[str] = []
    used = 0
    for name in names:
        item = f"`{_one_line(name)}`"
        if shown and (used + len(item) + 2 > budget or len(shown) >= limit):
            break
        shown.append(item)
        used += len(item) + 2
    rest = len(names) - len(shown)
    text = ", ".join(shown)
    return f"{text} and {rest:,} more" if rest else text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
