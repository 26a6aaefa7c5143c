"""The pull-request comment: marker, summary table, warning line, details, size limit."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode
from reconciler.render import plan_summary_line, render_markdown
from tests.render.render_plans import (
    LINEAGE,
    make_plan,
    noop,
    one_of_each,
    renew,
    restart,
    start,
    stop,
    update,
)

SUMMARY = (
    "Plan: 1 to start, 1 to update in place, 1 to restart, 1 to stop, 1 token renewal; 1 unchanged."
)


def _block(markdown: str, name: str) -> str:
    """The ``<details>`` block of agent ``name``."""
    match = re.search(
        rf"<details><summary><code>[^<]* {re.escape(name)}</code>.*?</details>", markdown, re.S
    )
    assert match, f"no block for {name}"
    return match.group(0)


def _big_plan(n: int, *, prompt_lines: int = 3) -> Plan:
    """``n`` agents cycling through every action, each change carrying a prompt diff."""
    makers = (start, update, restart, stop, renew, noop)
    agents = []
    for i in range(n):
        agent = makers[i % len(makers)](f"agent-{i:05d}")
        if agent.action in ("update", "restart"):
            old = "\n".join(f"rule {j} of agent {i}" for j in range(prompt_lines))
            agent = agent.model_copy(
                update={
                    "changes": (
                        *agent.changes,
                        FieldChange(
                            path="properties.llm.system_messages[1].content",
                            before=old,
                            after=old + "\nnew rule",
                        ),
                    )
                }
            )
        agents.append(agent)
    return make_plan(*agents)


def test_markdown_starts_with_a_hidden_marker_naming_the_app() -> None:
    first = render_markdown(one_of_each()).splitlines()[0]
    assert first == "<!-- reconciler-plan:0123456789abcdef0123456789abcdef -->"


def test_markdown_marker_falls_back_to_the_lineage_without_an_app_id() -> None:
    plan = make_plan(start(), app_id="")
    assert render_markdown(plan).startswith(f"<!-- reconciler-plan:{LINEAGE} -->\n")


def test_markdown_has_a_title_the_summary_and_a_table_of_the_counts_it_has() -> None:
    markdown = render_markdown(make_plan(start("a"), start("b"), restart("c"), noop("d")))
    assert "### Reconciler plan for app `0123456789abcdef0123456789abcdef`" in markdown
    assert "**Plan: 2 to start, 1 to restart; 1 unchanged.**" in markdown
    assert "| action | count |" in markdown
    assert "| `+` start | 2 |" in markdown
    assert "| `-/+` restart | 1 |" in markdown
    assert "| unchanged | 1 |" in markdown
    # no row for an action the plan does not have: no column of zeros to read past
    assert "update in place" not in markdown
    assert "| 0 |" not in markdown


def test_markdown_ends_with_the_summary_line() -> None:
    assert render_markdown(one_of_each()).endswith(f"**{SUMMARY}**")


def test_markdown_warns_naming_the_agents_that_stop_or_restart() -> None:
    markdown = render_markdown(one_of_each())
    warning = next(line for line in markdown.splitlines() if line.startswith("⚠️"))
    assert "1 agent will stop (`legacy-fr`)" in warning
    assert "1 agent will restart (`billing`)" in warning


def test_markdown_has_no_warning_line_when_nothing_stops_or_restarts() -> None:
    markdown = render_markdown(make_plan(start(), update(), renew(), noop()))
    assert "⚠️" not in markdown


def test_markdown_includes_the_plan_warnings_escaped() -> None:
    plan = make_plan(start(), warnings=("unmanaged agent <Z9> is RUNNING",))
    markdown = render_markdown(plan)
    assert "**Warnings**" in markdown
    assert "- ⚠️ unmanaged agent &lt;Z9&gt; is RUNNING" in markdown


def test_markdown_has_a_details_block_with_a_diff_per_changed_agent() -> None:
    markdown = render_markdown(one_of_each())
    assert markdown.count("<details>") == 5
    block = _block(markdown, "billing")
    assert block.startswith(
        "<details><summary><code>-/+ billing</code> restart: "
        "changes force a restart: properties.asr.language</summary>\n\n```diff\n"
    )
    assert '- properties.asr.language = "en-US"\n' in block
    assert '+ properties.asr.language = "de-DE"  # forces restart\n' in block
    assert block.endswith("```\n\n</details>")


def test_markdown_shows_prompt_changes_as_line_diffs() -> None:
    block = _block(render_markdown(one_of_each()), "sales-de")
    assert "~ properties.llm.system_messages[0].content  (in place)\n@@ -1,3 +1,3 @@\n" in block
    assert "\n-    Be terse.\n+    Be warm and helpful.\n" in block


def test_markdown_never_shows_a_sensitive_value() -> None:
    marker = {"$sensitive": "sha256:" + "cd" * 32}
    agent = AgentPlan(
        name="a",
        action="update",
        reason="in-place update",
        reason_code=ReasonCode.UPDATED_IN_PLACE,
        changes=(
            FieldChange(path="properties.llm.api_key", sensitive=True),
            FieldChange(path="properties.tts.params.key", before=marker, after="sk-live-123"),
        ),
    )
    block = _block(render_markdown(make_plan(agent)), "a")
    assert "~ properties.llm.api_key = (sensitive, changed)  (in place)" in block
    assert "~ properties.tts.params.key = (sensitive, changed)  (in place)" in block
    assert "sk-live-123" not in block
    assert "cdcd" not in block


def test_markdown_lists_unchanged_agents_compactly() -> None:
    markdown = render_markdown(make_plan(start(), noop("kiosk"), noop("lobby")))
    assert "**Unchanged (2):** `kiosk`, `lobby`" in markdown
    assert "<code>  kiosk" not in markdown


def test_markdown_fence_outgrows_backticks_inside_values() -> None:
    agent = AgentPlan(
        name="a",
        action="update",
        reason="r",
        reason_code=ReasonCode.UPDATED_IN_PLACE,
        changes=(FieldChange(path="p", before="use ```code```", after="use ````code````"),),
    )
    block = _block(render_markdown(make_plan(agent)), "a")
    assert "\n`````diff\n" in block
    assert block.endswith("\n`````\n\n</details>")


def test_markdown_escapes_html_in_reasons() -> None:
    agent = AgentPlan(
        name="a",
        action="start",
        reason="failed: <b>boom</b>",
        reason_code=ReasonCode.FAILED,
        agent_id="X",
    )
    assert "failed: &lt;b&gt;boom&lt;/b&gt;</summary>" in render_markdown(make_plan(agent))


def test_markdown_of_a_small_plan_is_not_truncated() -> None:
    assert "omitted" not in render_markdown(one_of_each())


def index_of(markdown: str) -> str:
    """The index of changed agents: from its title to the first details block or note."""
    start = markdown.index("**Changed agents**")
    ends = [markdown.find(mark, start) for mark in ("<details>", "> … details of")]
    return markdown[start : min(end for end in ends if end >= 0)]


_GROUP = re.compile(r"^- \*\*`[^`]*` ([a-z -]+) \(([\d,]+)\):\*\* (.*)$", re.M)
_ROW = re.compile(r"^\| `[^`]*` ([a-z -]+) \| `([^`]+)` \|", re.M)


def grouped_names(markdown: str) -> dict[str, list[str]]:
    """The index's names per action label (``start``, ``update in place``, ...), whether it
    is a table or names grouped per action."""
    index = index_of(markdown)
    groups: dict[str, list[str]] = {}
    for label, name in _ROW.findall(index):
        groups.setdefault(label, []).append(name)
    for label, _, names in _GROUP.findall(index):
        groups.setdefault(label, []).extend(n for item in names.split(", ") for n in expand(item))
    return groups


def expand(item: str) -> list[str]:
    """``t-{0008..0010}`` as the shell expands it (``t-0008 t-0009 t-0010``); a name as is."""
    match = re.fullmatch(r"(.*)\{(\d+)\.\.(\d+)\}", item)
    if match is None:
        return [item]
    prefix, first, last = match.groups()
    width = len(first) if first.startswith("0") else 0
    return [f"{prefix}{n:0{width}d}" for n in range(int(first), int(last) + 1)]


def test_markdown_over_the_limit_names_changed_agents_first_then_the_details_that_fit() -> None:
    plan = _big_plan(2000)
    markdown = render_markdown(plan)
    assert len(markdown) <= 60_000
    lines = markdown.splitlines()
    assert lines[0].startswith("<!-- reconciler-plan:")
    assert f"**{plan_summary_line(plan)}**" == lines[-1]
    assert "| action | count |" in markdown
    assert "⚠️ **Running agents will be interrupted:**" in markdown
    changed = [a.name for a in plan.agents if a.action != "no-op"]
    # A table of 1,667 rows would take most of the room: the names are grouped per action.
    groups = grouped_names(markdown)
    assert list(groups) == ["start", "update in place", "restart", "stop", "renew token"]
    assert sorted(name for names in groups.values() for name in names) == changed
    assert groups["stop"] == [a.name for a in plan.agents if a.action == "stop"]
    assert "Not every changed agent is named" not in markdown
    kept = re.findall(r"<summary><code>\S+ (agent-\d+)</code>", markdown)
    assert kept == changed[: len(kept)]
    omitted = len(changed) - len(kept)
    assert omitted > 0
    assert (
        f"> … details of {omitted:,} of {len(changed):,} changed agents omitted to stay under "
        "GitHub's comment limit. The full plan is in the job log (`reconciler plan`) and in the "
        "saved plan artifact (`reconciler show FILE`)."
    ) in markdown
    assert markdown.index("**Changed agents**") < markdown.index("<details>")


def new_agent(name: str) -> AgentPlan:
    """A new agent with the attributes a start shows (about 120 characters of details)."""
    changes = (
        FieldChange(path="properties.channel", after=name),
        FieldChange(path="properties.llm.params.model", after="gpt-4o-mini"),
        FieldChange(path="properties.tts.vendor", after="microsoft"),
    )
    return start(name).model_copy(update={"changes": changes})


@pytest.mark.parametrize("count", [503, 3_000])
def test_markdown_names_every_one_of_thousands_of_new_agents_before_any_detail(
    count: int,
) -> None:
    """Regression: with 503 new agents the index ended "… 94 more" while 30 detail blocks were
    kept; every name comes first, the details take the room left."""
    plan = make_plan(*(new_agent(f"voice-support-agent-europe-{i:04d}") for i in range(count)))
    assert len(render_markdown(plan, max_chars=10_000_000)) > 60_000  # over the limit
    markdown = render_markdown(plan)
    assert len(markdown) <= 60_000
    assert grouped_names(markdown) == {"start": [a.name for a in plan.agents]}
    assert "more" not in index_of(markdown)
    assert "<details>" in markdown  # the room left still holds details


def test_markdown_writes_numbered_runs_of_names_as_ranges_when_that_makes_them_fit() -> None:
    names = [f"eu-customer-support-agent-{i:04d}" for i in range(2_990)]
    names += ["eu-customer-support-agent-3000", "lonely", "tenant-7", "tenant-8"]
    plan = make_plan(*(start(name) for name in names))
    markdown = render_markdown(plan)
    assert len(markdown) <= 60_000
    index = index_of(markdown)
    assert "`name-{0001..0500}` stands for every number of the range" in index
    assert "eu-customer-support-agent-{0000..2989}, eu-customer-support-agent-3000" in index
    assert grouped_names(markdown) == {"start": sorted(names)}


def test_markdown_says_so_when_not_even_the_names_fit() -> None:
    # 48 characters each, no numbered runs
    names = [f"{hashlib.sha256(str(i).encode()).hexdigest()[:40]}-support" for i in range(3_000)]
    names.sort()
    plan = make_plan(*(start(name) for name in names))
    markdown = render_markdown(plan)
    assert len(markdown) <= 60_000
    index = index_of(markdown)
    assert "> ⚠️ **Not every changed agent is named here:** the names of all 3,000 do not fit" in (
        index
    )
    (shown,) = grouped_names(markdown).values()
    assert shown[:-1] == names[: len(shown) - 1]
    assert shown[-1] == f"{names[len(shown) - 1]} and {3_000 - len(shown):,} more"


def test_markdown_over_the_limit_still_names_every_agent_of_a_300_agent_plan() -> None:
    plan = _big_plan(360, prompt_lines=30)
    markdown = render_markdown(plan)
    assert len(markdown) <= 60_000
    assert "omitted" in markdown
    changed = [a.name for a in plan.agents if a.action != "no-op"]
    assert len(changed) == 300
    indexed = re.findall(r"^\| `[^`]*` [^|]+ \| `(agent-\d+)` \|", markdown, re.M)
    assert indexed == changed


def test_markdown_cuts_a_single_huge_block_inside_its_fence() -> None:
    before = "\n".join(f"old rule {i} " + "x" * 100 for i in range(5000))
    after = "\n".join(f"new rule {i} " + "x" * 100 for i in range(5000))
    agent = AgentPlan(
        name="a",
        action="update",
        reason="r",
        reason_code=ReasonCode.UPDATED_IN_PLACE,
        changes=(
            FieldChange(
                path="properties.llm.system_messages[0].content", before=before, after=after
            ),
        ),
    )
    markdown = render_markdown(make_plan(agent), max_chars=20_000)
    assert len(markdown) <= 20_000
    block = _block(markdown, "a")
    assert re.search(r"\n# … [\d,]+ more lines: run `reconciler plan`\n```\n\n</details>$", block)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(min_value=0, max_value=300),
    max_chars=st.integers(min_value=2_000, max_value=70_000),
    prompt_lines=st.integers(min_value=1, max_value=40),
)
def test_markdown_never_exceeds_max_chars_and_keeps_both_ends(
    n: int, max_chars: int, prompt_lines: int
) -> None:
    plan = _big_plan(n, prompt_lines=prompt_lines)
    markdown = render_markdown(plan, max_chars=max_chars)
    assert len(markdown) <= max_chars
    assert markdown.startswith("<!-- reconciler-plan:")
    assert markdown.endswith(f"**{plan_summary_line(plan)}**")


def test_markdown_refuses_a_limit_too_small_for_its_summary() -> None:
    with pytest.raises(ValueError, match="at least"):
        render_markdown(one_of_each(), max_chars=500)


def test_markdown_is_deterministic() -> None:
    assert render_markdown(one_of_each()).encode() == render_markdown(one_of_each()).encode()
    big = _big_plan(500)
    assert render_markdown(big) == render_markdown(big)


def test_markdown_title_names_the_engine_the_plan_targets() -> None:
    plan = one_of_each().model_copy(update={"engine": "sandbox (local emulator)"})
    title = render_markdown(plan).splitlines()[1]
    assert title == (
        "### Reconciler plan for app `0123456789abcdef0123456789abcdef` on sandbox (local emulator)"
    )
