"""kill -9 of a real apply at each kind of Platform call while that call is in flight: a create,
an in-place update, each half of a replacement (the number's delete, then its create) and the
deletes of a saved agent and of a secret set that the manifests dropped.

The sandbox holds the call (a delay rule on its route), the test waits until the request has
reached it, kills the apply, and lets the call finish on the Platform: it took effect, and the
killed run never learnt it. The next apply must settle it from what the Platform holds, with no
duplicate, no orphan and no 412, and the plan after it must be clean.
(tests/e2e/test_e2e_platform_kill.py kills at random moments instead.)"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox
from tests.served import wait_until
from tests.state.pg import pg_url  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

OLD_KEYS = """\
---
kind: SecretSet
name: old_keys
keys:
  openai: ${OPENAI_API_KEY}
"""
SALES = """\
---
kind: SavedAgent
name: sales
spec:
  instructions: You are the sales agent of Acme Cloud.
  llm:
    vendor: openai
    credential: {mode: byok, fields: {api_key: $secrets.llm_keys.primary}}
"""
NEW_NUMBER = "+14155550102"
HELD_MS = 1500.0
"""How long the sandbox holds the call the apply is killed in (the kill comes as soon as the
request is seen; the wait is for the request, never for time to pass)."""


@pytest.fixture(params=["local", "postgresql"])
def project(tmp_path: Path, sandbox: Sandbox, request: pytest.FixtureRequest) -> Project:
    """The example project with its Platform resources and a second secret set, applied; its
    state in a local file or in a throwaway PostgreSQL database."""
    directory = tmp_path / "project"
    directory.mkdir()
    made = Project(directory, sandbox, with_platform=True)
    if request.param == "postgresql":
        made.set_setting("state", request.getfixturevalue("pg_url"))
    path = made.manifest("platform")
    path.write_text(path.read_text(encoding="utf-8") + OLD_KEYS, encoding="utf-8")
    made.apply()
    return made


def every_kind_of_call(project: Project) -> None:
    """A change whose apply makes each kind of call: sales created, the key renamed (and
    rotated: the new key is added before sales is created, the old one removed once support,
    which uses it, is deleted), the number replaced (a new number) and routed to sales, support
    and old_keys deleted."""
    path = project.manifest("platform")
    text = path.read_text(encoding="utf-8")
    text = text.replace(OLD_KEYS, "")
    start = text.index("---\nkind: SavedAgent\nname: support")
    end = text.index("---\nkind: PhoneNumber")
    text = text[:start] + text[end:] + SALES
    text = text.replace("{ref: SavedAgent/support}", "{ref: SavedAgent/sales}")
    text = text.replace('number: "+14155550100"', f'number: "{NEW_NUMBER}"')
    text = text.replace("  openai: ${OPENAI_API_KEY", "  primary: ${OPENAI_API_KEY", 1)
    path.write_text(text, encoding="utf-8")
    project.env["OPENAI_API_KEY"] = "sk-e2e-ROTATED-points-5c1a9e7d"


def recorded_state(project: Project) -> dict[str, Any]:
    """The state as the next process reads it, from whichever backend the project uses."""
    loaded: dict[str, Any] = json.loads(project.ok("state", "pull").stdout)
    return loaded


@pytest.mark.parametrize(
    "route",
    [
        "create-agent",
        "update-secret-set",
        "delete-number",
        "create-number",
        "delete-agent",
        "delete-secret-set",
    ],
)
def test_kill_9_while_a_platform_call_is_in_flight_then_apply_settles_it(
    project: Project, sandbox: Sandbox, route: str
) -> None:
    every_kind_of_call(project)
    sandbox.add_fault(route=route, action="delay", delay_ms=HELD_MS, times=1)
    running = project.popen("apply", "--auto-approve")
    wait_until(route, lambda: bool(sandbox.requests(route)) or running.poll() is not None)
    assert running.poll() is None, running.communicate()
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)
    # The call the run was killed in goes on to take effect on the Platform.
    wait_until(f"{route} finished", lambda: sandbox.requests(route)[-1]["status"] is not None)
    sandbox.control("DELETE", "/faults/rules")

    after = project.run("apply", "--auto-approve")
    assert "Traceback" not in after.stderr, str(after)
    assert "PreconditionFailed" not in after.output, str(after)
    assert after.code == 0, str(after)

    agents = sandbox.platform("agents")
    assert [a["config"]["agent_name"] for a in agents] == ["sales"], agents  # no orphan
    (number,) = sandbox.platform("numbers")  # no duplicate, the old number gone
    assert number["view"]["number"] == NEW_NUMBER
    assert number["view"]["inbound"]["agent"] == agents[0]["id"]
    (keys,) = sandbox.platform("secret_sets")
    assert keys["id"] == "llm_keys"
    assert sorted(keys["keys"]) == ["primary"], keys
    state = recorded_state(project)
    assert not state.get("creating"), state
    assert sorted(state["resources"]) == [
        "PhoneNumber/support-line",
        "SavedAgent/sales",
        "SecretSet/llm_keys",
    ]
    assert not [a for a, r in state["resources"].items() if r.get("updating")]
    assert state["resources"]["SavedAgent/sales"]["id"] == agents[0]["id"]
    assert state["resources"]["PhoneNumber/support-line"]["id"] == number["id"]
    project.ok("plan", "--detailed-exitcode")


def new_number_only(project: Project) -> None:
    """A change of the number alone: a replacement that creates the new number first."""
    path = project.manifest("platform")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('number: "+14155550100"', f'number: "{NEW_NUMBER}"'), "utf-8")


@pytest.mark.parametrize("delete_takes_effect", [True, False])
def test_kill_9_between_the_new_numbers_create_and_the_old_ones_delete_leaves_both_recorded(
    project: Project, sandbox: Sandbox, delete_takes_effect: bool
) -> None:
    """The old number is deleted only once the new one is created and recorded, the old one
    kept in state as a deposed object meanwhile: killed while that delete is in flight (it
    then takes effect, or it does not), the state records both, and the next plan deletes the
    deposed one (gone already or not): never an orphan, never a duplicate."""
    old_id = recorded_state(project)["resources"]["PhoneNumber/support-line"]["id"]
    new_number_only(project)
    plan = project.ok("plan")
    assert "will be replaced (created, then the old one deleted)" in plan.stdout, str(plan)
    action = "delay" if delete_takes_effect else "error"
    sandbox.add_fault(route="delete-number", action=action, delay_ms=HELD_MS, times=1)
    running = project.popen("apply", "--auto-approve")
    route = "delete-number"
    wait_until(route, lambda: bool(sandbox.requests(route)) or running.poll() is not None)
    assert running.poll() is None, running.communicate()
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)
    wait_until(f"{route} finished", lambda: sandbox.requests(route)[-1]["status"] is not None)
    sandbox.control("DELETE", "/faults/rules")

    record = recorded_state(project)["resources"]["PhoneNumber/support-line"]
    assert [d["id"] for d in record["deposed"]] == [old_id], record
    held = {n["id"]: n["view"]["number"] for n in sandbox.platform("numbers")}
    assert held[record["id"]] == NEW_NUMBER
    assert (old_id in held) is not delete_takes_effect

    shown = project.run("plan", "--detailed-exitcode")
    assert shown.code == 2, str(shown)
    assert f"(deposed id {old_id})" in shown.stdout, str(shown)
    after = project.run("apply", "--auto-approve")
    assert "Traceback" not in after.stderr, str(after)
    assert after.code == 0, str(after)
    (number,) = sandbox.platform("numbers")
    assert (number["id"], number["view"]["number"]) == (record["id"], NEW_NUMBER)
    assert "deposed" not in recorded_state(project)["resources"]["PhoneNumber/support-line"]
    project.ok("plan", "--detailed-exitcode")


def test_a_refused_create_of_the_new_number_keeps_the_old_number_live_and_recorded(
    project: Project, sandbox: Sandbox
) -> None:
    before = recorded_state(project)["resources"]["PhoneNumber/support-line"]
    new_number_only(project)
    sandbox.add_fault(route="create-number", action="error", status=409, reason="AlreadyExists")

    failed = project.run("apply", "--auto-approve")

    assert failed.code != 0, str(failed)
    assert "Traceback" not in failed.stderr, str(failed)
    assert "AlreadyExists" in failed.output, str(failed)
    assert not sandbox.requests("delete-number")  # the old line was never touched
    (number,) = sandbox.platform("numbers")
    assert (number["id"], number["view"]["number"]) == (before["id"], "+14155550100")
    state = recorded_state(project)
    assert state["resources"]["PhoneNumber/support-line"] == before
    assert not state.get("creating"), state
