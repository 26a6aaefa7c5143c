"""A saved plan's resource actions are checked before apply as its agents' are: an action the
state it was made for cannot hold is refused as an edit (exit 1), and a resource the Platform
changed, deleted or brought back since the plan was made refuses the plan as stale (exit 3,
nothing sent), as a start of a still-running agent does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.project.planfile import plan_digest
from tests.cli.cli_helpers import run_main
from tests.cli.platform_project import console, platform_project, recorded_id

STALE, EDITED = 3, 1


def cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = run_main(["-C", str(project), *args], capsys)
    return code, out + err


def edit_instructions(project: Path) -> None:
    manifest = project / "agents.d" / "platform.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("Answer briefly", "Answer in one sentence"), "utf-8")


@pytest.fixture
def applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    project = platform_project(tmp_path)
    assert cli(project, capsys, "apply", "--auto-approve")[0] == 0
    return project


def save_plan(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    saved = project / "tfplan"
    code, output = cli(project, capsys, "plan", "--out", str(saved))
    assert code == 0, output
    return saved


def test_a_saved_plan_whose_agent_was_edited_in_the_console_is_stale_and_sends_nothing(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_instructions(applied)
    saved = save_plan(applied, capsys)
    agent_id = recorded_id(applied, "SavedAgent/support")
    held = console(applied, "get_agent", agent_id)
    console(
        applied, "update_agent", agent_id, {"greeting": {"text": "From the console"}}, held.etag
    )

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == STALE, output
    assert "stale plan: Platform resources it changes moved since it was made" in output
    assert "SavedAgent/support (changed outside" in output
    after = console(applied, "get_agent", agent_id).body
    assert after["greeting"]["text"] == "From the console"
    assert "Answer briefly" in after["instructions"]  # the plan's update was not sent


def test_a_saved_plan_whose_number_was_deleted_outside_is_stale(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = applied / "agents.d" / "platform.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("1800", "900"), encoding="utf-8"
    )
    saved = save_plan(applied, capsys)
    console(applied, "delete_number", recorded_id(applied, "PhoneNumber/support-line"))

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == STALE, output
    assert "PhoneNumber/support-line (" in output and "was deleted outside)" in output


def test_a_saved_plan_that_recreates_a_missing_resource_is_stale_once_it_is_back(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number_id = recorded_id(applied, "PhoneNumber/support-line")
    held = console(applied, "get_number", number_id)
    console(applied, "delete_number", number_id)
    saved = save_plan(applied, capsys)  # creates the number again
    plan = json.loads(saved.read_text(encoding="utf-8"))["plan"]
    assert [(r["name"], r["action"]) for r in plan["resources"] if r["action"] != "no-op"] == [
        ("support-line", "create")
    ]
    state_path = applied / "state" / "agents.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    body = {k: v for k, v in held.body.items() if k in ("number", "sip_trunk", "inbound")}
    body["sip_trunk"] = {**body["sip_trunk"], "auth": {"username": "acme", "password": "x-y-z"}}
    back = console(applied, "create_number", body)
    state["resources"]["PhoneNumber/support-line"]["id"] = back.body["number_id"]
    state_path.write_text(json.dumps(state), encoding="utf-8")  # as if it had never gone

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == STALE, output
    assert "the plan creates it again, but the Platform holds" in output


def test_a_saved_plan_unchanged_outside_applies(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_instructions(applied)
    saved = save_plan(applied, capsys)

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == 0, output
    agent = console(applied, "get_agent", recorded_id(applied, "SavedAgent/support")).body
    assert "one sentence" in agent["instructions"]


def rewrite(saved: Path, edit: Any) -> None:
    """Edit the saved plan and recompute its digest (as a careful forger would)."""
    envelope = json.loads(saved.read_text(encoding="utf-8"))
    edit(envelope["plan"])
    envelope.pop("digest")
    envelope["digest"] = plan_digest(envelope)
    saved.write_text(json.dumps(envelope), encoding="utf-8")


def _resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = (r for r in plan["resources"] if f"{r['kind']}/{r['name']}" == address)
    return found


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda p: _resource(p, "SavedAgent/support").update(id="not-the-recorded-id"),
            "names id not-the-recorded-id, but the state records",
        ),
        (
            lambda p: p["resources"].append(dict(_resource(p, "SavedAgent/support"))),
            "it lists SavedAgent/support twice",
        ),
        (lambda p: p.update(destroy=True), "a destroy plan cannot update SavedAgent/support"),
        (
            lambda p: _resource(p, "SavedAgent/support").update(
                action="create", id=None, create_spec={"agent_name": "x"}
            ),
            "lists a spec that its desired_digest does not name",
        ),
    ],
    ids=["other-id", "twice", "destroy-updates", "create-spec"],
)
def test_a_saved_plan_whose_resource_actions_were_edited_is_refused(
    applied: Path, capsys: pytest.CaptureFixture[str], edit: Any, problem: str
) -> None:
    edit_instructions(applied)
    saved = save_plan(applied, capsys)
    rewrite(saved, edit)

    code, output = cli(applied, capsys, "apply", str(saved), "--auto-approve")

    assert code == EDITED, output
    assert "the saved plan does not fit the state it was made for" in output
    assert problem in output


def test_a_saved_plan_whose_resource_manifest_was_edited_is_stale_and_says_so(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a Platform resource's manifest changed after the plan was saved: the plan is
    stale, and the message does not blame agents."""
    saved = save_plan(applied, capsys)
    edit_instructions(applied)

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == STALE, output
    assert "stale plan: since it was made, SavedAgent/support (manifest or a secret it " in output
    assert "agents added or edited" not in output


def test_a_saved_plan_whose_resource_manifest_was_removed_is_stale_and_names_it(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = save_plan(applied, capsys)  # no changes: every resource a no-op
    manifest = applied / "agents.d" / "platform.yaml"
    documents = manifest.read_text(encoding="utf-8").split("\n---\n")
    manifest.write_text("\n---\n".join(documents[:-1]) + "\n", "utf-8")  # the number goes

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == STALE, output
    assert "PhoneNumber/support-line (removed from the manifests)" in output


def change_number(project: Path, old: str = "+14155550100", new: str = "+14155550177") -> None:
    manifest = project / "agents.d" / "platform.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(old, new), "utf-8")


def test_a_saved_plan_says_a_new_number_is_created_first_and_applies_in_that_order(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_id = recorded_id(applied, "PhoneNumber/support-line")
    change_number(applied)
    saved = save_plan(applied, capsys)
    plan = json.loads(saved.read_text(encoding="utf-8"))["plan"]
    assert _resource(plan, "PhoneNumber/support-line")["create_before_delete"] is True

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == 0, output
    new_id = recorded_id(applied, "PhoneNumber/support-line")
    assert new_id != old_id
    assert console(applied, "get_number", old_id) is None
    assert console(applied, "get_number", new_id).body["number"] == "+14155550177"


def test_a_saved_plan_deletes_a_deposed_number_beside_an_update_of_its_successor(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run stopped between a replacement's create and the old one's delete leaves the old
    one deposed in the new one's record; a saved plan lists its delete and the successor's own
    action under one address, and applies both."""
    number_id = recorded_id(applied, "PhoneNumber/support-line")
    held = console(applied, "get_number", number_id).body
    body = {k: v for k, v in held.items() if k in ("sip_trunk", "inbound")}
    body["sip_trunk"] = {**body["sip_trunk"], "auth": {"username": "acme", "password": "x-y-z"}}
    old = console(applied, "create_number", {**body, "number": "+14155550199"})
    state_path = applied / "state" / "agents.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    record = state["resources"]["PhoneNumber/support-line"]
    deposed = {**record, "id": old.body["number_id"], "version": old.etag}
    deposed["spec"] = {**record["spec"], "number": "+14155550199"}
    record["deposed"] = [deposed]
    state_path.write_text(json.dumps(state), encoding="utf-8")
    manifest = applied / "agents.d" / "platform.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("1800", "900"), "utf-8")
    saved = save_plan(applied, capsys)
    plan = json.loads(saved.read_text(encoding="utf-8"))["plan"]
    assert sorted(
        (r["action"], r.get("deposed")) for r in plan["resources"] if r["name"] == "support-line"
    ) == [("delete", old.body["number_id"]), ("update", None)]

    code, output = cli(applied, capsys, "apply", str(saved))

    assert code == 0, output
    assert console(applied, "get_number", old.body["number_id"]) is None
    assert console(applied, "get_number", number_id) is not None
    after = json.loads(state_path.read_text(encoding="utf-8"))
    assert "deposed" not in after["resources"]["PhoneNumber/support-line"]
    assert cli(applied, capsys, "plan", "--detailed-exitcode")[0] == 0
