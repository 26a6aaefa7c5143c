"""Create-before-delete replacement (Terraform's ``create_before_destroy``), with the toy kind:
a kind that says the engine takes the old and the new resource at once has the new one created
and recorded first, the old one kept in state as a *deposed* object until it is deleted, and
whatever references it pointed at the new one in between."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.creates import CreateSettlement, settle_creates
from reconciler.kinds import Created, default_registry
from reconciler.models.resources import PendingCreate
from reconciler.render.json_format import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from tests.kinds.test_toy_kind import Toy, want
from tests.kinds.toy import WidgetKind, widget


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    made = Toy(tmp_path)
    made.kinds = default_registry().with_kind(WidgetKind(made.engine, creates_first=True))
    return made


def test_a_replace_of_a_kind_that_creates_first_creates_then_deletes_the_old_one(
    toy: Toy,
) -> None:
    toy.apply(want(widget("lone")))
    old_id = toy.engine.id_of("lone")
    toy.engine.calls.clear()

    plan, result, _ = toy.apply(want(widget("lone", size=2)))

    (lone,) = plan.resources
    assert (lone.action, lone.create_before_delete) == ("replace", True)
    text = render_text(plan)
    assert "Widget/lone will be replaced (created, then the old one deleted)" in text
    assert "+/- Widget/lone" in text  # Terraform's symbol (-/+: deleted first)
    assert "<code>+/- Widget/lone</code> replace (create first)" in render_markdown(plan)
    assert render_json(plan)["resources"][0]["create_before_delete"] is True
    assert result.ok, result.failed
    assert toy.engine.calls == [("create", "lone"), ("delete", "lone")]
    assert [(r.name, r.action) for r in result.results] == [("Widget/lone", "replace")]
    record = toy.reloaded().resources["Widget/lone"]
    assert record.id != old_id and not record.deposed
    assert old_id not in toy.engine.widgets


def test_a_kind_that_cannot_create_first_still_deletes_first(tmp_path: Path) -> None:
    toy = Toy(tmp_path)  # the toy kind's default: delete, then create
    toy.apply(want(widget("lone")))
    toy.engine.calls.clear()

    plan, result, _ = toy.apply(want(widget("lone", size=2)))

    assert not plan.resources[0].create_before_delete
    assert "will be replaced (deleted, then created again)" in render_text(plan)
    assert "-/+ Widget/lone" in render_text(plan)
    assert "create_before_delete" not in render_json(plan)["resources"][0]
    assert "create_before_delete" not in plan.model_dump_json()  # saved plans as before
    assert toy.engine.calls == [("delete", "lone"), ("create", "lone")]
    assert result.ok


def test_a_refused_create_leaves_the_old_resource_in_place_and_recorded(toy: Toy) -> None:
    toy.apply(want(widget("lone")))
    before = toy.reloaded().resources

    _, result, _ = toy.apply(want(widget("lone", size=2, color="invalid")))

    assert not result.ok
    (failed,) = result.failed
    assert (failed.name, failed.action) == ("Widget/lone", "replace")
    assert toy.reloaded().resources == before
    assert not toy.reloaded().creating
    assert before["Widget/lone"].id in toy.engine.widgets


def test_what_references_a_replaced_resource_is_pointed_at_the_new_one_before_the_old_goes(
    toy: Toy,
) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    old_base = toy.engine.id_of("base")
    toy.engine.calls.clear()

    plan, result, _ = toy.apply(want(widget("child", parent="base"), widget("base", size=2)))

    assert not plan.errors  # the referrer is updated: the old one is free when deleted
    assert result.ok, result.failed
    assert toy.engine.calls == [("create", "base"), ("update", "child"), ("delete", "base")]
    new_base = toy.engine.id_of("base")
    assert toy.engine.by_name("child")["parent"] == new_base != old_base
    assert toy.reloaded().resources["Widget/child"].spec["parent"] == new_base


def test_a_replace_whose_referrer_the_plan_leaves_alone_is_refused(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))

    plan = toy.plan(
        want(widget("child", parent="base"), widget("base", size=2)), targets=("Widget/base",)
    )

    assert any("Widget/base cannot be replaced while Widget/child" in e for e in plan.errors)


def test_both_replaced_the_old_referrer_is_deleted_before_the_old_referenced(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    toy.engine.calls.clear()

    _, result, _ = toy.apply(want(widget("child", parent="base", size=2), widget("base", size=2)))

    assert result.ok, result.failed
    assert toy.engine.calls == [
        ("create", "base"),
        ("create", "child"),
        ("delete", "child"),
        ("delete", "base"),
    ]
    assert len(toy.engine.widgets) == 2


def test_a_failed_delete_of_the_old_one_leaves_it_deposed_and_the_next_plan_deletes_it(
    toy: Toy,
) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    old_base = toy.engine.id_of("base")
    old_delete = toy.engine.delete
    refused: list[str] = []

    async def refuse_once(widget_id: str) -> None:
        if not refused:
            refused.append(widget_id)
            raise RuntimeError("the engine is gone")  # stands for a run killed here
        await old_delete(widget_id)

    toy.engine.delete = refuse_once  # type: ignore[method-assign]
    _, result, _ = toy.apply(want(widget("child", parent="base"), widget("base", size=2)))

    assert not result.ok and refused == [old_base]
    record = toy.reloaded().resources["Widget/base"]
    assert [d.id for d in record.deposed] == [old_base]  # both recorded: never an orphan
    assert record.id in toy.engine.widgets and record.id != old_base
    assert toy.engine.by_name("child")["parent"] == record.id

    plan, result, _ = toy.apply(want(widget("child", parent="base"), widget("base", size=2)))

    assert [(r.address, r.action, r.deposed) for r in plan.resources if r.action != "no-op"] == [
        ("Widget/base", "delete", old_base)
    ]
    text = render_text(plan)
    assert "Widget/base will be deleted (deposed: the old one of a replacement)" in text
    assert f"(deposed id {old_base})" in text
    assert render_json(plan)["resources"][0]["deposed"] == old_base
    assert "delete deposed" in render_markdown(plan)
    assert result.ok, result.failed
    assert old_base not in toy.engine.widgets
    assert not toy.reloaded().resources["Widget/base"].deposed
    assert not toy.plan(want(widget("child", parent="base"), widget("base", size=2))).has_changes


def test_destroy_deletes_the_deposed_object_before_the_resource_it_is_recorded_with(
    toy: Toy,
) -> None:
    toy.apply(want(widget("lone")))
    old_delete = toy.engine.delete

    async def refuse(widget_id: str) -> None:
        raise RuntimeError("refused")

    toy.engine.delete = refuse  # type: ignore[method-assign]
    toy.apply(want(widget("lone", size=2)))
    toy.engine.delete = old_delete  # type: ignore[method-assign]
    assert toy.reloaded().resources["Widget/lone"].deposed

    plan, result, _ = toy.apply(want(), destroy=True)

    assert sorted((r.action, bool(r.deposed)) for r in plan.resources) == [
        ("delete", False),
        ("delete", True),
    ]
    assert result.ok, result.failed
    assert toy.engine.widgets == {}
    assert not toy.reloaded().resources


def test_a_create_that_took_effect_unrecorded_is_adopted_with_the_old_one_deposed(
    toy: Toy,
) -> None:
    toy.apply(want(widget("lone")))
    state = toy.reloaded()
    old = state.resources["Widget/lone"]
    entry = PendingCreate(
        kind="Widget",
        name="lone",
        marker="m",
        started_at=1.0,
        spec={"color": "red", "size": 2},
        spec_digest="d",
        replacing=old.id,
    )
    found = Created("w-9", '"v"')

    settled = settle_creates(
        state.model_copy(update={"creating": {"Widget/lone": entry}}),
        [CreateSettlement(entry, (found,))],
    )

    record = settled.resources["Widget/lone"]
    assert (record.id, [d.id for d in record.deposed]) == ("w-9", [old.id])
    assert not settled.creating
    plain = entry.model_copy(update={"replacing": None})
    assert "replacing" not in plain.model_dump()  # an entry of any other create: as before


def test_a_state_whose_deposed_resource_is_not_an_old_copy_of_its_record_is_refused(
    toy: Toy,
) -> None:
    toy.apply(want(widget("lone"), widget("other")))
    state = toy.reloaded()
    lone, other = state.resources["Widget/lone"], state.resources["Widget/other"]
    for bad, problem in [
        (other, "is Widget/other"),
        (lone, "has its id"),
        (
            lone.model_copy(
                update={"id": "w-9", "deposed": [lone.model_copy(update={"id": "w-8"})]}
            ),
            "holds deposed ones",
        ),
    ]:
        with pytest.raises(ValueError, match=problem):
            type(lone).model_validate({**lone.model_dump(), "deposed": [bad.model_dump()]})
