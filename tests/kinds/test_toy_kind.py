"""A kind that only the tests know (``Widget``, tests/kinds/toy.py) is planned, rendered and
applied by the core as it is, in the order of its references, beside the v2 agents."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyContext, ApplyResult, apply_plan
from reconciler.cli.output import summary_line
from reconciler.engine import mint_agent_token
from reconciler.errors import PlanError, ValidationError
from reconciler.kinds import KNOWN_AFTER_APPLY, KindRegistry, default_registry, read_resources
from reconciler.models import DesiredAgent, DesiredSet, LiveStatus, Plan, StateDoc
from reconciler.models.resources import DesiredResource
from reconciler.plan import PlanOptions, build_plan
from reconciler.render.json_format import render_json, render_json_text
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from reconciler.state import LocalStateStore
from tests.apply.harness import APP_ID, CERT, World, agent, make_world
from tests.kinds.toy import WidgetEngine, WidgetKind, widget


class Toy:
    """The sandbox (for agents), a widget engine and a state store, in one project."""

    def __init__(self, tmp: Path) -> None:
        self.world: World = make_world(tmp)
        self.engine = WidgetEngine()
        self.kinds: KindRegistry = default_registry().with_kind(WidgetKind(self.engine))
        self.parallelism = 10

    def plan(self, want: DesiredSet, **options: Any) -> Plan:
        return self.world.plan(want, kinds=self.kinds, **options)[0]

    def apply(self, want: DesiredSet, **options: Any) -> tuple[Plan, ApplyResult, StateDoc]:
        plan, state = self.world.plan(want, kinds=self.kinds, **options)

        async def go() -> tuple[ApplyResult, StateDoc]:
            async with self.world.client() as client:
                ctx = ApplyContext(
                    client=client,
                    store=self.world.store,
                    mint_token=_mint,
                    poll_interval_s=0.01,
                    kinds=self.kinds,
                    parallelism=self.parallelism,
                )
                return await apply_plan(plan, want, state, ctx)

        result, doc = asyncio.run(go())
        return plan, result, doc

    def reloaded(self) -> StateDoc:
        """The state as another process reads it."""
        return LocalStateStore(self.world.store.path).load()


def _mint(a: DesiredAgent, now: float) -> tuple[str, float]:
    return mint_agent_token(APP_ID, CERT, a.channel, a.agent_rtc_uid, 86400, now, False)


def want(*resources: DesiredResource, agents: tuple[Any, ...] = ()) -> DesiredSet:
    return DesiredSet(
        agents={a.name: a for a in agents}, resources={r.address: r for r in resources}
    )


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


def test_a_kind_declared_in_a_test_module_plans_creates_after_what_it_references(
    toy: Toy,
) -> None:
    plan = toy.plan(want(widget("child", parent="base"), widget("base")))

    assert [(r.address, r.action) for r in plan.resources] == [
        ("Widget/base", "create"),
        ("Widget/child", "create"),
    ]
    assert plan.resources[1].depends_on == ("Widget/base",)
    assert plan.has_changes
    text = render_text(plan)
    assert text.startswith(
        "Plan: no agent changes; 0 agents up to date. Resources: 2 to create; 0 unchanged.\n"
    )
    assert "Resources: 2 to create; 0 unchanged." in text
    assert f"+ parent = {KNOWN_AFTER_APPLY}" in text
    assert "  + Widget/child" in text
    assert f"+ parent = {KNOWN_AFTER_APPLY}" in render_markdown(plan)
    child = render_json(plan)["resources"][1]
    assert child["address"] == "Widget/child"
    assert {"path": "parent", "kind": "add", "before": None, "after": KNOWN_AFTER_APPLY,
            "sensitive": False, "forces_replacement": False} in child["changes"]  # fmt: skip


def test_apply_creates_the_referenced_resource_first_and_sends_its_id(toy: Toy) -> None:
    _, result, _ = toy.apply(want(widget("child", parent="base"), widget("base")))

    assert result.ok, result.failed
    assert toy.engine.calls == [("create", "base"), ("create", "child")]
    base_id = toy.engine.id_of("base")
    assert toy.engine.by_name("child")["parent"] == base_id
    state = toy.reloaded()
    assert sorted(state.resources) == ["Widget/base", "Widget/child"]
    assert state.resources["Widget/child"].spec["parent"] == base_id
    assert state.resources["Widget/child"].references == ["Widget/base"]
    again = toy.plan(want(widget("child", parent="base"), widget("base")))
    assert [r.action for r in again.resources] == ["no-op", "no-op"]
    assert not again.has_changes


def test_independent_creates_are_in_flight_at_once(toy: Toy) -> None:
    toy.engine.gate = 4  # each create waits until four are in flight: one at a time fails

    _, result, _ = toy.apply(want(*(widget(f"w{i}") for i in range(4))))

    assert result.ok, result.failed
    assert toy.engine.peak == 4
    assert sorted(toy.reloaded().resources) == [f"Widget/w{i}" for i in range(4)]


def test_concurrent_creates_still_wait_for_what_they_reference(toy: Toy) -> None:
    toy.engine.gate = 2  # the two parents together, then the two children together
    wanted = want(widget("c1", parent="p1"), widget("c2", parent="p2"), widget("p1"), widget("p2"))

    _, result, _ = toy.apply(wanted)

    assert result.ok, result.failed  # the engine refuses a child whose parent it does not hold
    assert sorted(toy.engine.calls[:2]) == [("create", "p1"), ("create", "p2")]
    assert sorted(toy.engine.calls[2:]) == [("create", "c1"), ("create", "c2")]
    assert toy.engine.by_name("c1")["parent"] == toy.engine.id_of("p1")
    assert toy.reloaded().creating == {}


def test_creates_in_flight_never_exceed_the_parallelism(toy: Toy) -> None:
    toy.parallelism = 2
    toy.engine.gate = 2

    _, result, _ = toy.apply(want(*(widget(f"w{i}") for i in range(7))))

    assert result.ok, result.failed
    assert toy.engine.peak == 2
    assert len(toy.reloaded().resources) == 7


def test_deletes_run_before_what_they_reference(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    toy.engine.calls.clear()

    plan, result, _ = toy.apply(want())

    assert [(r.address, r.action) for r in plan.resources] == [
        ("Widget/base", "delete"),
        ("Widget/child", "delete"),
    ]
    assert result.ok, result.failed
    assert toy.engine.calls == [("delete", "child"), ("delete", "base")]
    assert toy.engine.widgets == {}
    assert toy.reloaded().resources == {}
    assert "resources" not in json.loads(toy.world.store.path.read_text())


def test_an_update_that_drops_a_reference_runs_before_the_delete_of_what_it_referenced(
    toy: Toy,
) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    toy.engine.calls.clear()

    plan, result, _ = toy.apply(want(widget("child")))

    assert {r.address: r.action for r in plan.resources} == {
        "Widget/base": "delete",
        "Widget/child": "update",
    }
    assert result.ok, result.failed
    assert toy.engine.calls == [("update", "child"), ("delete", "base")]


def test_an_update_sends_the_recorded_version_and_records_the_new_one(toy: Toy) -> None:
    toy.apply(want(widget("base")))
    created = toy.reloaded().resources["Widget/base"]
    assert created.version == toy.engine.version(created.id)

    _, result, _ = toy.apply(want(widget("base", color="blue")))

    assert result.ok, result.failed
    updated = toy.reloaded().resources["Widget/base"]
    assert updated.version == toy.engine.version(updated.id) != created.version


def test_an_update_of_a_resource_changed_outside_fails_and_records_nothing(toy: Toy) -> None:
    toy.apply(want(widget("base")))
    base_id = toy.engine.id_of("base")
    toy.engine.widgets[base_id] = {"color": "green", "size": 1}  # edited in a console
    before = toy.reloaded().resources

    _, result, _ = toy.apply(want(widget("base", color="blue")))

    assert [(r.name, r.reason) for r in result.failed] == [("Widget/base", "PreconditionFailed")]
    assert toy.engine.widgets[base_id]["color"] == "green"  # never overwritten blindly
    assert toy.reloaded().resources == before


def test_a_change_that_cannot_be_made_in_place_replaces_the_resource(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    toy.engine.calls.clear()
    old_id = toy.engine.id_of("child")

    plan, result, _ = toy.apply(want(widget("child", parent="base", size=2), widget("base")))

    (child,) = [r for r in plan.resources if r.action != "no-op"]
    assert (child.address, child.action) == ("Widget/child", "replace")
    assert "size = 1 -> 2  # forces replacement" in render_text(plan)
    assert result.ok, result.failed
    assert toy.engine.calls == [("delete", "child"), ("create", "child")]
    assert toy.reloaded().resources["Widget/child"].id != old_id


def test_a_replaced_reference_is_known_after_apply_in_what_references_it(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    base_id = toy.engine.id_of("base")

    plan = toy.plan(want(widget("child", parent="base"), widget("base", size=2)))

    assert [(r.address, r.action) for r in plan.resources] == [
        ("Widget/base", "replace"),
        ("Widget/child", "update"),
    ]
    assert f'parent = "{base_id}" -> {KNOWN_AFTER_APPLY}' in render_text(plan)
    change = render_json(plan)["resources"][1]["changes"][0]
    assert (change["before"], change["after"]) == (base_id, KNOWN_AFTER_APPLY)


def test_a_replace_the_engine_refuses_as_in_use_fails_cleanly_and_skips_what_depends_on_it(
    toy: Toy,
) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base")))
    before = toy.reloaded().resources
    toy.engine.calls.clear()

    _, result, _ = toy.apply(want(widget("child", parent="base"), widget("base", size=2)))

    assert not result.ok
    assert {(r.name, r.reason) for r in result.failed} == {
        ("Widget/base", "InUse"),
        ("Widget/child", "Skipped"),
    }
    assert toy.engine.calls == []
    assert toy.reloaded().resources == before


def test_a_resource_deleted_outside_is_created_again_and_what_references_it_follows(
    toy: Toy,
) -> None:
    desired = want(widget("child", parent="base"), widget("base"), widget("other"))
    toy.apply(desired)
    toy.engine.widgets.pop(toy.engine.id_of("other"))  # deleted behind the tool's back
    state = toy.reloaded()

    live = LiveStatus(
        refreshed=True, resources=asyncio.run(read_resources(toy.kinds, state.resources))
    )
    plan = build_plan(desired, state, live, now=0.0, options=PlanOptions(kinds=toy.kinds))
    stale = build_plan(desired, state, LiveStatus(), now=0.0, options=PlanOptions(kinds=toy.kinds))

    assert live.resources["Widget/other"] is None
    base = live.resources["Widget/base"]
    assert base is not None and base.spec == {"color": "red", "size": 1}
    assert {r.address: r.action for r in plan.resources} == {
        "Widget/base": "no-op",
        "Widget/child": "no-op",
        "Widget/other": "create",
    }
    assert plan.resources[-1].reason.startswith("missing: w-")
    assert plan.resources[-1].reason.endswith(" was deleted outside")
    assert all(r.action == "no-op" for r in stale.resources)  # not refreshed: not noticed


def test_a_reference_cycle_is_a_validation_error_naming_the_resources(toy: Toy) -> None:
    cycle = want(widget("a", parent="b"), widget("b", parent="c"), widget("c", parent="a"))

    with pytest.raises(ValidationError) as caught:
        toy.plan(cycle)

    assert "reference cycle: Widget/a -> Widget/b -> Widget/c -> Widget/a" in str(caught.value)
    assert "agents.d/a.yaml:1" in str(caught.value)
    assert caught.value.exit_code == ValidationError.exit_code


def test_a_resource_that_references_itself_is_a_cycle(toy: Toy) -> None:
    with pytest.raises(ValidationError, match=r"Widget/a -> Widget/a"):
        toy.plan(want(widget("a", parent="a")))


def test_a_reference_to_an_undeclared_resource_is_a_validation_error(toy: Toy) -> None:
    with pytest.raises(ValidationError, match="Widget/child references Widget/gone, which no"):
        toy.plan(want(widget("child", parent="gone")))


def test_target_pulls_in_what_the_target_references(toy: Toy) -> None:
    family = want(
        widget("child", parent="parent"),
        widget("parent", parent="root"),
        widget("root"),
        widget("other"),
    )

    child = toy.plan(family, targets=("Widget/child",))
    parent = toy.plan(family, targets=("Widget/parent",))

    assert [r.address for r in child.resources] == ["Widget/root", "Widget/parent", "Widget/child"]
    assert [r.address for r in parent.resources] == ["Widget/root", "Widget/parent"]


def test_target_of_a_delete_pulls_in_what_references_it_not_what_it_references(
    toy: Toy,
) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base"), widget("other")))

    base = toy.plan(want(widget("other")), targets=("Widget/base",))
    child = toy.plan(want(widget("other")), targets=("Widget/child",))

    assert [(r.address, r.action) for r in base.resources] == [
        ("Widget/base", "delete"),
        ("Widget/child", "delete"),
    ]
    assert [(r.address, r.action) for r in child.resources] == [("Widget/child", "delete")]


def test_exclude_leaves_out_a_resource_and_what_references_it(toy: Toy) -> None:
    family = want(
        widget("child", parent="parent"),
        widget("parent", parent="root"),
        widget("root"),
        widget("other"),
    )

    plan = toy.plan(family, excludes=("Widget/parent",))

    assert [r.address for r in plan.resources] == ["Widget/other", "Widget/root"]
    assert plan.excluded == ("Widget/parent",)


def test_exclude_of_a_delete_keeps_what_it_references(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base"), widget("other")))

    plan = toy.plan(want(widget("other")), excludes=("Widget/child",))

    # child references base: base stays with it, neither is deleted
    assert [(r.address, r.action) for r in plan.resources] == [("Widget/other", "no-op")]


def test_exclude_of_a_name_no_resource_has_is_an_error(toy: Toy) -> None:
    with pytest.raises(PlanError, match="--exclude names no agent or resource"):
        toy.plan(want(widget("other")), excludes=("Widget/nope",))


def test_the_apply_summary_counts_resources_by_what_was_done(toy: Toy) -> None:
    toy.apply(want(widget("child", parent="base"), widget("base"), widget("gone")))

    _, result, _ = toy.apply(
        want(widget("child", parent="base", size=2), widget("base", color="blue"))
    )

    assert summary_line(result, "apply") == "Apply complete: 1 updated, 1 replaced, 1 deleted."


def test_a_pull_request_comment_too_long_for_its_limit_still_names_every_resource(
    toy: Toy,
) -> None:
    many = want(*(widget(f"w{i:03d}", note="x" * 200) for i in range(300)))

    comment = render_markdown(toy.plan(many), max_chars=20_000)

    assert len(comment) <= 20_000
    assert "**`+` create (300):**" in comment
    assert "w000" in comment


def test_agents_are_planned_as_before_beside_resources_of_another_kind(toy: Toy) -> None:
    _, first, _ = toy.apply(want(agents=(agent("support"), agent("sales"))))
    assert first.ok, first.failed
    agents = (agent("support", prompt="You are terse."), agent("sales"), agent("new"))
    alone = toy.plan(want(agents=agents))
    mixed = toy.plan(want(widget("base"), agents=agents))

    assert mixed.agents == alone.agents
    assert render_json(mixed)["agents"] == render_json(alone)["agents"]
    assert "resources" not in render_json(alone)
    assert "resources" not in alone.model_dump(mode="json")
    assert Plan.model_validate(mixed.model_dump(mode="json")) == mixed
    _, result, _ = toy.apply(want(widget("base"), agents=agents))
    assert result.ok, result.failed
    assert set(toy.reloaded().agents) == {"new", "sales", "support"}


def test_a_write_only_value_of_another_kind_is_sent_but_never_recorded_or_shown(
    toy: Toy,
) -> None:
    secret = "hunter2-widget-secret"
    desired = want(widget("vault", password=secret))

    plan, result, _ = toy.apply(desired)

    assert result.ok, result.failed
    assert toy.engine.by_name("vault")["password"] == secret
    shown = [
        render_text(plan),
        render_markdown(plan),
        render_json_text(plan),
        plan.model_dump_json(),
        toy.world.store.path.read_text(),
    ]
    assert not any(secret in text for text in shown)
    assert "password = (sensitive)" in render_text(plan)
    changed = toy.plan(want(widget("vault", password="another-secret-value")))
    assert "password = (sensitive, changed)" in render_text(changed)


def test_an_engine_error_that_echoes_a_write_only_value_is_scrubbed(toy: Toy) -> None:
    secret = "hunter2-widget-secret"
    events: list[Any] = []
    desired = want(widget("vault", password=secret, color="invalid"))
    plan, state = toy.world.plan(desired, kinds=toy.kinds)

    async def go() -> ApplyResult:
        async with toy.world.client() as client:
            ctx = ApplyContext(
                client=client, store=toy.world.store, kinds=toy.kinds, on_event=events.append
            )
            result, _ = await apply_plan(plan, desired, state, ctx)
            return result

    result = asyncio.run(go())

    (failure,) = result.failed
    assert failure.reason == "BadRequest"
    assert "'password': '(sensitive)'" in failure.detail
    assert secret not in failure.detail
    assert not any(secret in e.message for e in events)


def test_resources_survive_the_write_log_of_a_large_state(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "agents.json", log_from_bytes=0)
    toy = Toy(tmp_path / "project")
    toy.world.store = store

    with store.write_log():
        toy.apply(want(widget("child", parent="base"), widget("base")))
        assert store.log.path.exists()
        replayed = LocalStateStore(store.path).load()

    assert sorted(replayed.resources) == ["Widget/base", "Widget/child"]
    assert LocalStateStore(store.path).load().resources == replayed.resources


def test_the_plan_covers_a_kind_only_when_it_is_registered(tmp_path: Path) -> None:
    world = make_world(tmp_path)

    with pytest.raises(PlanError, match=r"unknown kind 'Widget' \(known kinds: Agent\)"):
        world.plan(want(widget("base")))
