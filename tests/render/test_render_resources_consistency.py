"""One plan, three renderers: what JSON says of a resource of another kind (its drift, with
state's value and the Platform's, and its protection), text and the pull-request comment say
too. A renderer that drops what another shows leaves a reviewer of that format blind to it."""

from __future__ import annotations

import json

from reconciler.models import FieldChange
from reconciler.models.plan import ResourcePlan, ResourceSummary
from reconciler.render import render_json_text, render_markdown, render_text
from tests.render.render_plans import make_plan, start


def _drifted_protected_plan():  # type: ignore[no-untyped-def]
    drift = (
        FieldChange(path="description", before="Support line", after="Edited in the console"),
        FieldChange(path="sip_trunk.auth.password", before=None, after=None, sensitive=True),
    )
    number = ResourcePlan(
        kind="PhoneNumber",
        name="support-line",
        action="update",
        reason="changed outside: description, sip_trunk.auth.password; in-place update of "
        "description, sip_trunk.auth.password",
        changes=(
            FieldChange(path="description", before="Edited in the console", after="Support line"),
        ),
        id="pn-1",
        drift=drift,
        protect=True,
    )
    plan = make_plan(start("support-en"))
    return plan.model_copy(
        update={
            "resources": (number,),
            "resource_summary": ResourceSummary(update=1),
            "platform": "sandbox (local emulator)",
        }
    )


def test_every_format_shows_what_was_changed_outside_and_that_the_resource_is_protected() -> None:
    plan = _drifted_protected_plan()
    (entry,) = json.loads(render_json_text(plan))["resources"]
    assert entry["protect"] is True
    assert entry["drift"][0]["recorded"] == "Support line"
    assert entry["drift"][0]["outside"] == "Edited in the console"
    for rendered in (render_text(plan), render_markdown(plan)):
        assert 'description: "Support line" -> "Edited in the console"' in rendered
        assert "sip_trunk.auth.password: (sensitive) changed" in rendered
        assert "protected" in rendered


def test_a_comment_over_its_limit_names_its_resources_as_resources_not_as_agents() -> None:
    numbers = tuple(
        ResourcePlan(
            kind="PhoneNumber",
            name=f"line-{i:03d}",
            action="update",
            reason="in-place update of description",
            changes=(FieldChange(path="description", before="x" * 300, after="y" * 300),),
            id=f"pn-{i}",
        )
        for i in range(40)
    )
    plan = make_plan(*(start(f"agent-{i:03d}") for i in range(40))).model_copy(
        update={"resources": numbers, "resource_summary": ResourceSummary(update=40)}
    )
    markdown = render_markdown(plan, max_chars=6_000)
    assert "**Changed agents and resources**" in markdown
    assert "PhoneNumber/line\\-039" in markdown or "`PhoneNumber/line-039`" in markdown
    assert "of 80 changed agents and resources omitted" in markdown
