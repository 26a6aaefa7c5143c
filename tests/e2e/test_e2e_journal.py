"""End to end, through the CLI and a served sandbox: nothing that is not provably ours is
adopted, whether through the journal of an interrupted start or through a 409 on join, and
``plan`` shows what apply will do about the journal without writing anything."""

from __future__ import annotations

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, join_directly

pytestmark = pytest.mark.slow


def crash_sales_en_and_lose_its_restart(project: Project, sandbox: Sandbox) -> str:
    """The agent of sales-en crashes, a stranger joins its channel, the restart's join is lost.

    Returns the stranger's agent id; leaves the journal entry of ``sales-en-2`` in state.
    """
    project.set_setting("max_attempts", 2)
    project.apply()
    crashed = project.state()["agents"]["sales-en"]["agent_id"]
    sandbox.control("POST", f"/agents/{crashed}/crash", {"message": "vendor outage"})
    stranger = join_directly(sandbox, "intruder", "sales-en", "7777")
    sandbox.add_fault(route="join", action="drop", times=2)
    failed = project.ok("apply", "--auto-approve", code=1)
    assert "sales-en: FAILED: join failed: engine unavailable" in failed.stdout
    assert [p["wire_name"] for p in project.state()["pending"]] == [project.wire("sales-en", 2)]
    return stranger


def test_an_interrupted_start_is_not_adopted_from_a_stranger_in_its_channel(
    project: Project, sandbox: Sandbox
) -> None:
    stranger = crash_sales_en_and_lose_its_restart(project, sandbox)
    before = project.state_file.read_bytes()

    planned = project.ok("plan", "--detailed-exitcode", code=2)

    assert "adopted" not in planned.output and stranger not in planned.stdout
    second = project.wire("sales-en", 2)
    assert f"sales-en: an interrupted start of {second} is unresolved; apply will forget it" in (
        planned.stderr
    )
    assert "1 agent there carries other names" in planned.stderr
    assert project.state_file.read_bytes() == before  # plan writes nothing
    project.ok("plan", "--out", "saved.json")
    refused = project.ok("apply", "saved.json", code=3)
    assert "a saved plan cannot settle" in refused.stderr
    assert project.state_file.read_bytes() == before

    applied = project.apply()
    assert f"sales-en: an interrupted start of {second} never took effect; forgotten" in (
        applied.stderr
    )
    assert "Apply complete: 1 started." in applied.stdout
    record = project.state()["agents"]["sales-en"]
    assert record["agent_id"] != stranger and record["wire_name"] == project.wire("sales-en", 2)

    project.ok("destroy", "--auto-approve")
    assert list(sandbox.running()) == ["intruder"]
    assert sandbox.agent(stranger)["status"] == "RUNNING"


def test_an_interrupted_start_without_evidence_is_kept_and_apply_exits_1(
    project: Project, sandbox: Sandbox
) -> None:
    stranger = crash_sales_en_and_lose_its_restart(project, sandbox)
    sandbox.add_fault(route="turns", status=400, reason="InvalidRequest")

    planned = project.ok("plan")
    assert "apply will keep it, start nothing in channel sales-en and fail" in planned.stderr
    assert stranger in planned.stderr and "reconciler state show" in planned.stderr

    refused = project.ok("apply", "--auto-approve", code=1)
    second = project.wire("sales-en", 2)
    assert f"{second} in channel sales-en cannot be settled" in refused.stderr
    assert f"an earlier join in channel sales-en ({second}) has an unknown outcome" in (
        refused.stdout
    )
    assert [p["wire_name"] for p in project.state()["pending"]] == [project.wire("sales-en", 2)]
    assert project.state()["agents"]["sales-en"]["wire_name"] == project.wire(
        "sales-en"
    )  # the crashed one
    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        "intruder",
        project.wire("support-en"),
    ]
    # Even with nothing to do, apply exits 1 while the journal holds an unsettled start.
    untouched = project.ok("apply", "--auto-approve", "--target", "concierge", code=1)
    assert "interrupted start(s) of sales-en could not be settled" in untouched.stderr

    sandbox.control("DELETE", "/faults/rules")  # the engine can tell again: settled
    applied = project.apply()
    assert "never took effect; forgotten" in applied.stderr
    assert project.state()["pending"] == []
    assert project.wire("sales-en", 2) in sandbox.running()


def test_a_copy_of_a_project_without_its_state_adopts_nothing_and_stops_nothing(
    project: Project, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``cp -a A C && rm -rf C/state``: C is another state, so its wire names are its own. It
    never meets A's agents under its names, adopts none of them, and its destroy stops only what
    it started."""
    project.apply()
    owned = {r["agent_id"] for r in project.state()["agents"].values()}
    copy = Project(tmp_path_factory.mktemp("copy"), sandbox)

    applied = copy.ok("apply", "--auto-approve")

    assert "adopt" not in applied.output
    started = {r["agent_id"] for r in copy.state()["agents"].values()}
    assert len(started) == 3 and not started & owned
    assert copy.state()["pending"] == []

    copy.ok("destroy", "--auto-approve")
    assert {a["agent_id"] for a in sandbox.running().values()} == owned
