"""--heal-only keeps the actions that put back what the state records, and holds the rest."""

from __future__ import annotations

from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode, ResourcePlan
from reconciler.watch import heal_only
from reconciler.watch.heal import heals_drift

CHANGE = FieldChange(path="properties.llm.greeting_message", before="hi", after="hello")


def _plan(*agents: AgentPlan) -> Plan:
    return Plan(
        lineage="00000000-0000-4000-8000-000000000000",
        serial=3,
        manifests_digest="d",
        created_at=0,
        refreshed=True,
        agents=agents,
    )


_CODES = {
    "start": ReasonCode.FAILED,
    "restart": ReasonCode.SPEC_CHANGED,
    "renew-token": ReasonCode.TOKEN_EXPIRING,
    "adopt": ReasonCode.ADOPTED,
    "stop": ReasonCode.REMOVED,
    "rename": ReasonCode.RENAMED,
    "forget": ReasonCode.FORGOTTEN,
    "no-op": ReasonCode.UP_TO_DATE,
}


def _action(
    action: str,
    *,
    recorded: bool = True,
    changes: bool = False,
    reason: str = "x",
    code: ReasonCode | None = None,
) -> AgentPlan:
    return AgentPlan(
        name=f"{action}-{'rec' if recorded else 'new'}-{'chg' if changes else 'same'}",
        action=action,  # type: ignore[arg-type]
        reason=reason,
        reason_code=code or _CODES.get(action, ReasonCode.UPDATED_IN_PLACE),
        agent_id="A1" if recorded else None,
        changes=(CHANGE,) if changes else (),
    )


def test_start_of_a_recorded_agent_that_exited_heals() -> None:
    assert heals_drift(_action("start", reason="exited (FAILED: crashed)"))


def test_start_of_a_new_agent_is_held() -> None:
    assert not heals_drift(
        _action("start", recorded=False, reason="new agent", code=ReasonCode.NEW)
    )


def test_start_of_an_exited_agent_whose_manifest_changed_is_held() -> None:
    assert not heals_drift(_action("start", changes=True))


def test_restart_for_the_runtime_cap_heals() -> None:
    assert heals_drift(_action("restart", code=ReasonCode.ROTATION))


def test_restart_forced_by_a_spec_change_is_held() -> None:
    assert not heals_drift(_action("restart", changes=True))


def test_token_renewal_heals() -> None:
    assert heals_drift(_action("renew-token"))


def test_adopting_an_agent_an_interrupted_run_started_heals() -> None:
    assert heals_drift(_action("adopt"))


def test_in_place_update_and_removal_are_held() -> None:
    assert not heals_drift(_action("update", changes=True))
    assert not heals_drift(_action("stop"))


def test_rename_forget_and_desired_stopped_are_manifest_changes_and_held() -> None:
    assert not heals_drift(_action("rename"))
    assert not heals_drift(_action("forget"))
    assert not heals_drift(_action("stop", code=ReasonCode.DESIRED_STOPPED))


def test_rotation_before_the_runtime_cap_heals() -> None:
    assert heals_drift(
        _action("restart", reason="rotate (reaches the 72 h cap in 1h)", code=ReasonCode.ROTATION)
    )


def test_heal_only_keeps_healing_actions_and_no_ops_in_order_and_lists_the_held() -> None:
    healing = _action("start")
    noop = _action("no-op")
    new = _action("start", recorded=False, code=ReasonCode.NEW)
    removal = _action("stop")
    renewal = _action("renew-token")
    split = heal_only(_plan(healing, new, noop, removal, renewal))
    assert split.plan.agents == (healing, noop, renewal)
    assert split.held == (new, removal)
    assert split.plan.summary.start == 1 and split.plan.summary.stop == 0


def test_heal_only_of_a_plan_without_changes_holds_nothing() -> None:
    split = heal_only(_plan(_action("no-op")))
    assert split.held == () and not split.plan.has_changes


def test_every_reason_code_is_a_heal_or_held_by_decision() -> None:
    """Adding a reason code means deciding whether --heal-only applies it: the code alone says
    (with "no field changed"), so watch never works it out again from the action."""
    heals = {
        ReasonCode.EXITED,
        ReasonCode.EXITED_IDLE,
        ReasonCode.EXITED_RUNTIME_CAP,
        ReasonCode.EXITED_TOKEN_EXPIRED,
        ReasonCode.FAILED,
        ReasonCode.MISSING,
        ReasonCode.RESTART_UNFINISHED,
        ReasonCode.ROTATION,
        ReasonCode.TOKEN_EXPIRING,
        ReasonCode.ADOPTED,
    }
    for code in ReasonCode:
        assert heals_drift(_action("start", code=code)) == (code in heals), code
        assert not heals_drift(_action("start", code=code, changes=True)), code


def test_a_replacement_requested_by_hand_is_held_even_without_changes() -> None:
    assert not heals_drift(_action("restart", code=ReasonCode.REPLACE_REQUESTED))


def _resource(action: str, name: str) -> ResourcePlan:
    return ResourcePlan(
        kind="PhoneNumber",
        name=name,
        action=action,  # type: ignore[arg-type]
        reason="x",
        id=None if action == "create" else "n-1",
    )


def test_every_change_of_a_platform_resource_is_held_and_its_no_ops_kept() -> None:
    changes = [_resource(a, a) for a in ("create", "update", "replace", "delete")]
    unchanged = _resource("no-op", "same")
    plan = _plan(_action("start")).model_copy(update={"resources": (*changes, unchanged)})
    split = heal_only(plan)
    assert split.plan.resources == (unchanged,)
    assert split.held_resources == tuple(changes)
    assert split.plan.resource_summary.changes == 0
    assert split.plan.agents == (_action("start"),)


def test_a_plan_whose_only_changes_are_resources_has_none_left_to_heal() -> None:
    plan = _plan(_action("no-op")).model_copy(
        update={"resources": (_resource("create", "missing"),)}
    )
    assert plan.has_changes
    assert not heal_only(plan).plan.has_changes
