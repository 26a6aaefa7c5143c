"""The pull-request comment as GitHub shows it: rendered by cmark-gfm, GitHub's own renderer.

``cmarkgfm`` binds GitHub's fork of cmark with its extensions (tables, tag filter, ...). The
comment must come out as a real table, one collapsed ``<details>`` per changed agent, every
code fence closed (an unclosed fence would swallow the rest of the comment into one code
block), no raw HTML from plan content, and never more than GitHub's 65,536 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode
from reconciler.render import render_markdown
from tests.render.render_plans import make_plan, one_of_each, restart, start, stop, update

cmarkgfm = pytest.importorskip("cmarkgfm", reason="pip install -e '.[test]' installs cmarkgfm")
from cmarkgfm.cmark import Options  # noqa: E402

GITHUB_COMMENT_LIMIT = 65_536
ALLOWED_TAGS = {
    "blockquote", "code", "details", "h3", "li", "p", "pre", "strong", "sub", "summary", "ul",
    "table", "tbody", "td", "th", "thead", "tr", "em",
}  # fmt: skip


class _Tags(HTMLParser):
    """Every start tag of a document, in order, and the text of each ``<td>``."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in_td = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "td":
            self._in_td += 1
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_td -= 1

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells[-1] += data


def github_html(markdown: str) -> str:
    """The HTML GitHub makes of a comment (raw HTML allowed, then tag-filtered, as on GitHub)."""
    html: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return html


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _prompt_plan(n: int, *, prompt_lines: int) -> Plan:
    """``n`` changed agents, each restart and update carrying a long prompt diff."""
    agents: list[AgentPlan] = []
    for i in range(n):
        agent = (start, update, restart, stop)[i % 4](f"agent-{i:04d}")
        if agent.action in ("update", "restart"):
            old = "\n".join(f"rule {j}: answer politely" for j in range(prompt_lines))
            change = FieldChange(
                path="properties.llm.system_messages[0].content", before=old, after=old + "\nnew"
            )
            agent = agent.model_copy(update={"changes": (*agent.changes, change)})
        agents.append(agent)
    return make_plan(*agents)


def _assert_well_formed(markdown: str, plan: Plan) -> _Tags:
    assert len(markdown) <= GITHUB_COMMENT_LIMIT
    html = github_html(markdown)
    tags = tags_of(html)
    assert set(tags.tags) <= ALLOWED_TAGS, set(tags.tags) - ALLOWED_TAGS
    assert "table" in tags.tags
    assert tags.tags.count("details") == tags.tags.count("summary")
    # every fence is closed: each block is its own <pre>, and the footer after the last
    # block is still markdown (a <sub> and a <strong>), not text inside an open code block
    assert tags.tags.count("pre") == tags.tags.count("details")
    assert html.rstrip().endswith("</strong></p>")
    assert "<sub>lineage" in html
    return tags


def test_github_renders_a_small_plan_as_a_table_and_one_collapsed_block_per_change() -> None:
    plan = one_of_each()
    tags = _assert_well_formed(render_markdown(plan), plan)
    changed = [a for a in plan.agents if a.action != "no-op"]
    assert tags.tags.count("details") == len(changed)
    html = github_html(render_markdown(plan))
    assert re.search(r"<th[^>]*>action</th>\s*<th[^>]*>count</th>", html)
    assert re.search(r"<td[^>]*><code>\+</code> start</td>\s*<td[^>]*>1</td>", html)


def test_github_shows_no_raw_html_from_plan_content() -> None:
    hostile = AgentPlan(
        name="evil",
        action="start",
        reason="new <script>alert(1)</script> <img src=x onerror=alert(1)> </details>",
        reason_code=ReasonCode.NEW,
        changes=(
            FieldChange(path="properties.llm.url", after="</details><h1>pwned</h1>```"),
            FieldChange(path="properties.channel", after="<b>chan</b>"),
        ),
    )
    plan = make_plan(hostile, start("fine"))
    markdown = render_markdown(plan)
    tags = _assert_well_formed(markdown, plan)
    assert "script" not in tags.tags and "img" not in tags.tags and "h1" not in tags.tags
    assert tags.tags.count("details") == 2


def test_github_renders_a_300_agent_plan_over_the_limit_naming_every_agent() -> None:
    plan = _prompt_plan(300, prompt_lines=40)
    markdown = render_markdown(plan)
    assert "omitted" in markdown  # the details do not all fit
    tags = _assert_well_formed(markdown, plan)
    named = {cell.strip() for cell in tags.cells}
    assert {a.name for a in plan.agents} <= named
    assert 0 < tags.tags.count("details") < 300


@pytest.mark.parametrize("max_chars", [2_000, 10_000, 65_536])
def test_github_rendering_holds_at_every_budget(max_chars: int) -> None:
    plan = _prompt_plan(120, prompt_lines=25)
    markdown = render_markdown(plan, max_chars=max_chars)
    assert len(markdown) <= max_chars
    _assert_well_formed(markdown, plan)


def test_github_renders_an_over_cap_plan_with_its_error_above_the_summary() -> None:
    error = "3 agents would run; the cap for app X is 2 (max_concurrent_agents in reconciler.yaml)"
    plan = make_plan(start("a"), start("b"), start("c")).model_copy(update={"errors": (error,)})
    markdown = render_markdown(plan)
    html = github_html(markdown)
    _assert_well_formed(markdown, plan)
    caution = re.search(r"<blockquote>(.*?)</blockquote>", html, re.S)
    assert caution is not None
    assert "This plan cannot be applied:" in caution.group(1)
    assert f"<li>{error}</li>" in caution.group(1)
    assert html.index("<blockquote>") < html.index("<strong>Plan: 3 to start")


def _new_agent(name: str) -> AgentPlan:
    changes = (
        FieldChange(path="properties.channel", after=name),
        FieldChange(path="properties.llm.params.model", after="gpt-4o-mini"),
    )
    return start(name).model_copy(update={"changes": changes})


def _index_text(html: str) -> str:
    """The rendered text of the index of changed agents (up to the first details block)."""
    begin = html.index("<strong>Changed agents</strong>")
    return re.sub(r"<[^>]+>", "", html[begin : html.find("<details>", begin) % len(html)])


def _expand(item: str) -> list[str]:
    """``t-{0008..0010}-eu`` as a shell expands it; any other word as is."""
    match = re.fullmatch(r"(.*)\{(\d+)\.\.(\d+)\}(.*)", item)
    if match is None:
        return [item]
    prefix, first, last, suffix = match.groups()
    width = len(first)
    return [f"{prefix}{n:0{width}d}{suffix}" for n in range(int(first), int(last) + 1)]


def _short_name(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("count", "name_of"),
    [
        (503, lambda i: f"voice-support-agent-europe-{i:04d}"),
        (3_000, _short_name),
        (3_000, lambda i: f"tenant-{i:04d}-voice-support-agent-for-europe"),
    ],
    ids=["503-new-agents", "3000-short-names", "3000-numbered-long-names"],
)
def test_github_shows_the_name_of_every_changed_agent_before_the_details(
    count: int, name_of: Callable[[int], str]
) -> None:
    plan = make_plan(*(_new_agent(name_of(i)) for i in range(count)))
    markdown = render_markdown(plan)
    assert "omitted" in markdown  # the details do not all fit
    tags = _assert_well_formed(markdown, plan)
    html = github_html(markdown)
    index = _index_text(html)
    shown = set(index.replace(",", " ").split())
    named = {name for item in shown for name in _expand(item)}
    assert {agent.name for agent in plan.agents} <= named
    assert "Not every changed agent is named" not in index
    assert tags.tags.count("details") > 0


def test_github_shows_the_warning_when_not_even_the_names_fit() -> None:
    digests = (hashlib.sha256(str(i).encode()).hexdigest() for i in range(3_000))
    names = sorted(f"{digest[:40]}-support" for digest in digests)  # 48 characters, no runs
    plan = make_plan(*(start(name) for name in names))
    markdown = render_markdown(plan)
    _assert_well_formed(markdown, plan)
    html = github_html(markdown)
    assert "<strong>Not every changed agent is named here:</strong> the names of all 3,000" in html
