"""The pull-request comment of several environments, as GitHub shows it (cmark-gfm): a summary
table of environments x actions first, a collapsed section per environment, every changed agent
of every environment named, within GitHub's 65,536 characters."""

from __future__ import annotations

import re

import pytest

from reconciler.models import FieldChange, Plan
from reconciler.render.environments import (
    FailedEnvironment,
    environments_marker,
    render_json_environments_chunks,
    render_markdown_environments,
    render_text_environments,
)
from tests.render.render_plans import make_plan, restart, start, stop, update
from tests.render.test_render_markdown_github import (
    GITHUB_COMMENT_LIMIT,
    _expand,
    github_html,
    tags_of,
)

pytest.importorskip("cmarkgfm", reason="pip install -e '.[test]' installs cmarkgfm")

APPS = {
    "staging": "5aa9e1a9e1a9e1a9e1a9e1a9e1a9e1a9",
    "prod": "9d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d",
    "eu": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
}


def _plan(environment: str, count: int, prompt_lines: int = 30) -> Plan:
    agents = []
    for i in range(count):
        agent = (start, update, restart, stop)[i % 4](f"{environment}-voice-agent-{i:04d}")
        if agent.action in ("update", "restart"):
            old = "\n".join(f"rule {j}: answer politely" for j in range(prompt_lines))
            change = FieldChange(
                path="properties.llm.system_messages[0].content", before=old, after=old + "\nnew"
            )
            agent = agent.model_copy(update={"changes": (*agent.changes, change)})
        agents.append(agent)
    plan = make_plan(*agents, app_id=APPS[environment])
    return plan.model_copy(update={"environment": environment})


def _named(html: str) -> set[str]:
    text = re.sub(r"<[^>]+>", " ", html)
    words = set(text.replace(",", " ").replace(":", " ").split())
    return {name for word in words for name in _expand(word)}


def test_comment_of_3_environments_x_200_changed_agents_fits_and_names_every_agent() -> None:
    plans = [(name, _plan(name, 200)) for name in ("staging", "prod", "eu")]
    markdown = render_markdown_environments(plans)
    assert len(markdown) < GITHUB_COMMENT_LIMIT
    html = github_html(markdown)
    tags = tags_of(html)
    named = _named(html)
    for _name, plan in plans:
        assert {agent.name for agent in plan.agents} <= named
    # one outer section per environment (each holding its own agents' blocks)
    outer = re.findall(r"<summary><b>(\w+)</b>", html)
    assert outer == ["staging", "prod", "eu"]
    assert tags.tags.count("details") == tags.tags.count("summary")
    assert tags.tags.count("pre") == tags.tags.count("details") - 3  # every fence closed


def test_comment_starts_with_one_marker_and_the_table_of_environments_x_actions() -> None:
    plans = [("staging", _plan("staging", 4)), ("prod", _plan("prod", 1))]
    markdown = render_markdown_environments(plans)
    assert markdown.splitlines()[0] == environments_marker(["staging", "prod"])
    assert markdown.count("<!-- reconciler-plan:") == 1
    html = github_html(markdown)
    assert html.index("<table>") < html.index("<details>")
    rows = re.findall(r"<tr>\s*<td[^>]*><strong>(\w+)</strong></td>(.*?)</tr>", html, re.S)
    cells = {name: re.findall(r"<td[^>]*>([^<]*)</td>", rest) for name, rest in rows}
    # staging: 1 start, 1 update, 1 restart, 1 stop; prod: 1 start
    assert cells["staging"][:4] == ["1", "1", "1", "1"]
    assert cells["prod"][:4] == ["1", "0", "0", "0"]
    assert f"<code>{APPS['prod']}</code>" in html


def test_a_small_environment_leaves_its_room_to_a_large_one() -> None:
    small, large = _plan("staging", 1), _plan("prod", 300, prompt_lines=40)
    together = render_markdown_environments([("staging", small), ("prod", large)])
    alone = render_markdown_environments([("prod", large)])
    assert len(together) <= 60_000
    assert together.count("<details><summary><code>") > 0.8 * alone.count(
        "<details><summary><code>"
    )


def test_text_and_json_name_every_environment_and_app() -> None:
    import json

    plans = [("staging", _plan("staging", 2)), ("prod", _plan("prod", 1))]
    text = render_text_environments(plans)
    assert "== Environment staging ==" in text and "== Environment prod ==" in text
    assert f"Environment: prod; engine: (unknown), app {APPS['prod']}" in text
    document = json.loads("".join(render_json_environments_chunks(plans)))
    assert [(e["name"], e["plan"]["environment"], e["plan"]["app_id"]) for e in
            document["environments"]] == [
        ("staging", "staging", APPS["staging"]),
        ("prod", "prod", APPS["prod"]),
    ]  # fmt: skip


def _blocked_plans() -> list[tuple[str, Plan | FailedEnvironment]]:
    """staging planned; prod planned but refused (a protected resource it would delete); eu
    not planned at all (its engine did not answer)."""
    prod = _plan("prod", 3)
    prod = prod.model_copy(
        update={"errors": ("PhoneNumber/line is protected (protect: true) and the plan would "
                           "delete it; remove protect: true from its manifest first",)}
    )  # fmt: skip
    failure = FailedEnvironment(
        "engine unavailable: list of agents failed after 6 attempts (connection error)\n"
        "```\n</details><b>not markup</b>"
    )
    return [("staging", _plan("staging", 4)), ("prod", prod), ("eu", failure)]


def test_comment_names_environments_that_cannot_be_applied_above_the_collapsed_sections() -> None:
    plans = _blocked_plans()
    markdown = render_markdown_environments(plans)
    html = github_html(markdown)
    first_section = html.index("<details>")
    caution = html[:first_section]
    assert "<strong>prod</strong>: this plan cannot be applied: PhoneNumber/line" in caution
    assert "<strong>eu</strong> could not be planned: engine unavailable" in caution
    summaries = re.findall(r"<summary><b>(\w+)</b>: ([^<]*)</summary>", html)
    assert summaries[0][0] == "staging" and "⛔" not in summaries[0][1]
    assert summaries[1][0] == "prod" and summaries[1][1].startswith("⛔ cannot be applied")
    assert summaries[2] == ("eu", "⛔ could not be planned")
    # the failed environment's row has a cell for every column, and the others still render
    tags = tags_of(html)
    rows = re.findall(r"<tr>(.*?)</tr>", html[: html.index("</table>")], re.S)
    assert len(rows) == 4 and len({row.count("<t") for row in rows}) == 1
    assert {agent.name for agent in plans[0][1].agents} <= _named(html)  # type: ignore[union-attr]
    # the error is shown as text, never as markup, and its fence closes before </details>
    assert "<b>not markup</b>" not in html and "&lt;b&gt;not markup&lt;/b&gt;" in html
    assert tags.tags.count("details") == tags.tags.count("summary")
    assert html.rstrip().endswith("</details>")


def test_text_and_json_show_an_environment_that_could_not_be_planned_in_its_place() -> None:
    import json

    plans = _blocked_plans()
    text = render_text_environments(plans)
    sections = text.split("== Environment ")
    assert [s.split(" ==")[0] for s in sections[1:]] == ["staging", "prod", "eu"]
    assert sections[3].startswith("eu ==\n\nError: environment eu could not be planned:\n")
    assert "  engine unavailable: list of agents failed" in sections[3]
    assert "Error: this plan cannot be applied:" in sections[2]
    document = json.loads("".join(render_json_environments_chunks(plans)))
    entries = document["environments"]
    assert [sorted(e) for e in entries] == [["name", "plan"], ["name", "plan"], ["error", "name"]]
    assert entries[2]["error"].startswith("engine unavailable: list of agents failed")
    assert entries[1]["plan"]["errors"] == list(plans[1][1].errors)  # type: ignore[union-attr]


def test_the_table_of_environments_counts_resources_per_action() -> None:
    """A reviewer reads from the table alone that prod deletes a phone number while staging
    only updates one: a bare count of changed resources would not say so."""
    from reconciler.models.plan import ResourcePlan, ResourceSummary

    def with_resources(plan: Plan, *actions: str) -> Plan:
        resources = tuple(
            ResourcePlan(kind="PhoneNumber", name=f"line-{i}", action=action, reason="r")
            for i, action in enumerate(actions)
        )
        counts = {a: actions.count(a) for a in ("create", "update", "replace", "delete")}
        summary = ResourceSummary(**counts, unchanged=actions.count("no-op"))
        return plan.model_copy(update={"resources": resources, "resource_summary": summary})

    plans = [
        ("staging", with_resources(_plan("staging", 1), "update", "no-op")),
        ("prod", with_resources(_plan("prod", 1), "delete", "create", "create")),
    ]
    html = github_html(render_markdown_environments(plans))
    table = html[: html.index("</table>")]
    rows = re.findall(r"<tr>\s*<td[^>]*><strong>(\w+)</strong></td>(.*?)</tr>", table, re.S)
    last = {name: re.findall(r"<td[^>]*>([^<]*)</td>", rest)[-1] for name, rest in rows}
    assert last == {"staging": "1 to update in place", "prod": "2 to create, 1 to delete"}
