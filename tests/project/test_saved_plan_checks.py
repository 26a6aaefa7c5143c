"""A saved plan file is read back only if unaltered and of a known version, and applied only if
every action fits the state it was made for (without any engine: the file and the state)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import spec_digest
from reconciler.errors import PlanError, StalePlanError, ValidationError
from reconciler.models import AgentPlan, Plan, StateDoc
from reconciler.models.plan import ReasonCode
from reconciler.project.planchecks import check_actions, check_same_state
from reconciler.project.planfile import load_plan_file, plan_digest, save_plan_file
from tests.state.conftest import make_doc

STATE = make_doc("sales-en", "support-en")
SALES = STATE.agents["sales-en"]


def plan_of(*agents: AgentPlan, state: StateDoc = STATE, **fields: Any) -> Plan:
    values: dict[str, Any] = {
        "lineage": state.lineage,
        "serial": state.serial,
        "manifests_digest": "sha256:00",
        "created_at": 1_790_000_000.0,
        "refreshed": True,
        "agents": agents,
    }
    values.update(fields)
    return Plan(**values)


def no_op(name: str = "sales-en", **fields: Any) -> AgentPlan:
    record = STATE.agents[name]
    values: dict[str, Any] = {
        "name": name,
        "action": "no-op",
        "reason": "up to date",
        "reason_code": ReasonCode.UP_TO_DATE,
        "agent_id": record.agent_id,
        "generation": record.generation,
        "desired_digest": "sha256:11",
    }
    values.update(fields)
    return AgentPlan(**values)


def edit_file(path: Path, edit: Any, *, redigest: bool) -> None:
    envelope = json.loads(path.read_text(encoding="utf-8"))
    edit(envelope)
    if redigest:
        envelope["digest"] = plan_digest(envelope)
    path.write_text(json.dumps(envelope), encoding="utf-8")


# -- the file -----------------------------------------------------------------------------------


def test_a_saved_plan_reads_back_equal_with_its_fresh_state(tmp_path: Path) -> None:
    plan = plan_of(no_op())
    path = tmp_path / "p.json"
    fresh = StateDoc(lineage=plan.lineage, serial=0, salt="ab" * 16)

    save_plan_file(plan, path, fresh_state=fresh)
    saved = load_plan_file(path)

    assert saved.plan == plan
    assert saved.fresh_state == fresh
    assert load_plan_file(path).path == path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda e: e["plan"].update(reason="x"), "its content digest does not match"),
        (lambda e: e["plan"]["agents"][0].update(action="stop"), "content digest does not match"),
        (lambda e: e.pop("digest"), "saved plan has no content digest"),
    ],
    ids=["new-key", "action-changed", "no-digest"],
)
def test_a_plan_file_changed_after_saving_is_refused(
    tmp_path: Path, edit: Any, message: str
) -> None:
    path = tmp_path / "p.json"
    save_plan_file(plan_of(no_op()), path)
    edit_file(path, edit, redigest=False)

    with pytest.raises(ValidationError) as caught:
        load_plan_file(path)

    assert caught.value.exit_code == 1
    assert f"{path}: " in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize("version", [99, 0, True, "1", 1.0, None])
def test_a_plan_file_of_another_format_version_is_refused(tmp_path: Path, version: Any) -> None:
    path = tmp_path / "p.json"
    save_plan_file(plan_of(no_op()), path)

    def set_version(envelope: dict[str, Any]) -> None:
        if version is None:
            del envelope["plan"]["format_version"]
        else:
            envelope["plan"]["format_version"] = version

    edit_file(path, set_version, redigest=True)

    with pytest.raises(ValidationError, match="format_version") as caught:
        load_plan_file(path)
    assert "make the plan again" in str(caught.value)


def test_an_unknown_envelope_key_or_a_bad_new_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plan_file(plan_of(no_op()), path)
    edit_file(path, lambda e: e.update(extra=1), redigest=True)
    with pytest.raises(ValidationError, match="unknown key 'extra'"):
        load_plan_file(path)

    save_plan_file(plan_of(no_op(), serial=4), path)
    edit_file(path, lambda e: e.update(new_state={"salt": "ab"}), redigest=True)
    with pytest.raises(ValidationError, match="the plan names a recorded state"):
        load_plan_file(path)


# -- the actions against the state ---------------------------------------------------------------


def new_start(**fields: Any) -> AgentPlan:
    values: dict[str, Any] = {
        "name": "new",
        "action": "start",
        "reason": "new agent",
        "reason_code": ReasonCode.NEW,
        "create_spec": NEW_SPEC,
        "desired_digest": spec_digest(NEW_SPEC),
        "generation": 1,
    }
    values.update(fields)
    return AgentPlan(**values)


NEW_SPEC: dict[str, Any] = {
    "properties": {"channel": "new", "llm": {"api_key": {"$sensitive": "sha256:1"}}}
}


def test_a_plan_made_for_this_state_fits_it() -> None:
    check_same_state(plan_of(no_op(), no_op("support-en")), STATE)
    check_actions(plan_of(no_op(), no_op("support-en"), new_start()), STATE, Path("p.json"))


@pytest.mark.parametrize(
    ("agents", "fields", "message"),
    [
        (
            (no_op(action="stop", agent_id="FOREIGN"),),
            {},
            "stop of sales-en names agent FOREIGN, but the state records ASALESEN",
        ),
        (
            (
                AgentPlan(
                    name="intruder",
                    action="stop",
                    reason="x",
                    reason_code=ReasonCode.REMOVED,
                    agent_id="FOREIGN",
                ),
            ),
            {},
            "stop of intruder: the state records no agent intruder",
        ),
        (
            (
                AgentPlan(
                    name="intruder",
                    action="update",
                    reason="x",
                    reason_code=ReasonCode.UPDATED_IN_PLACE,
                ),
            ),
            {},
            "update of intruder: the state records no agent intruder",
        ),
        (
            (
                AgentPlan(
                    name="new",
                    action="start",
                    reason="x",
                    reason_code=ReasonCode.NEW,
                    agent_id="FOREIGN",
                    generation=1,
                ),
            ),
            {},
            "start of new names agent FOREIGN, which the state does not record",
        ),
        (
            (no_op(action="start", generation=2),),
            {"refreshed": False},
            "a plan made without refreshing cannot have seen that agent gone",
        ),
        (
            (no_op(action="start"),),
            {},
            "start of sales-en is at generation 1; the state implies 2",
        ),
        (
            (no_op(action="restart", generation=7),),
            {},
            "restart of sales-en is at generation 7; the state implies 2",
        ),
        ((no_op(), no_op()), {}, "it lists sales-en twice"),
        (
            (no_op(action="restart", generation=2),),
            {"destroy": True},
            "a destroy plan cannot restart sales-en",
        ),
        (
            (new_start(create_spec={"properties": {"channel": "edited"}}),),
            {},
            "start of new lists a spec that its desired_digest does not name",
        ),
        (
            (no_op(create_spec=NEW_SPEC),),
            {},
            "no-op of sales-en lists the spec of a new agent, which only the start of one does",
        ),
    ],
    ids=[
        "stop-foreign-id",
        "stop-unrecorded-name",
        "update-unrecorded-name",
        "start-with-foreign-id",
        "start-recorded-without-refresh",
        "start-same-generation",
        "restart-wrong-generation",
        "duplicate-name",
        "destroy-restarts",
        "start-listing-another-spec",
        "create-spec-of-a-recorded-agent",
    ],
)
def test_an_action_the_state_does_not_support_is_refused(
    agents: tuple[AgentPlan, ...], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(PlanError) as caught:
        check_actions(plan_of(*agents, **fields), STATE, Path("p.json"))

    text = str(caught.value)
    assert text.startswith("p.json: the saved plan does not fit the state it was made for: ")
    assert message in text
    assert caught.value.exit_code == 1


def test_a_plan_for_another_serial_is_stale_not_edited() -> None:
    moved = STATE.model_copy(update={"serial": STATE.serial + 1})
    with pytest.raises(StalePlanError, match="state has moved on") as caught:
        check_same_state(plan_of(no_op()), moved)
    assert caught.value.exit_code == 3
