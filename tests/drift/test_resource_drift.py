"""``reconciler drift`` reports the Platform's resources as it reports agents: one recorded but
gone is missing, one changed outside is changed (field by field, secrets never shown), one state
does not record that uses a recorded one is unmanaged in use; all unexpected (exit 2) while the
manifests declare them, expected (exit 0) once their manifest is gone. It writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_helpers import run_main
from tests.cli.platform_project import console, platform_project, recorded_id

CLEAN, DRIFTED = 0, 2


def drift(project: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, str]:
    code, out, err = run_main(["-C", str(project), "drift", *more], capsys)
    assert "Traceback" not in err
    return code, out


def drift_json(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out = drift(project, capsys, "--format", "json")
    return code, json.loads(out)


@pytest.fixture
def applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    project = platform_project(tmp_path)
    code, _, err = run_main(["-C", str(project), "apply", "--auto-approve"], capsys)
    assert code == 0, err
    return project


def test_resources_as_recorded_are_no_drift_and_counted_in_sync(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = drift(applied, capsys)
    _, report = drift_json(applied, capsys)

    assert code == CLEAN
    assert "and Platform sandbox (local emulator)" in text.splitlines()[0]
    assert "3 recorded resources with the Platform" in text
    assert report["resources"]["recorded"] == report["resources"]["in_sync"] == 3
    assert report["resources"]["items"] == [] and report["has_unexpected"] is False


def test_a_resource_changed_outside_is_unexpected_drift_field_by_field(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent_id = recorded_id(applied, "SavedAgent/support")
    held = console(applied, "get_agent", agent_id)
    console(
        applied, "update_agent", agent_id, {"greeting": {"text": "From the console"}}, held.etag
    )

    code, text = drift(applied, capsys)
    _, report = drift_json(applied, capsys)

    assert code == DRIFTED
    assert f"! SavedAgent/support ({agent_id}) [changed]: changed outside: greeting.text" in text
    assert 'greeting.text: "Hi, this is Acme support. How can I help?" -> "From the console"' in (
        text
    )
    (item,) = report["resources"]["items"]
    assert (item["kind"], item["address"], item["expected"]) == (
        "changed",
        "SavedAgent/support",
        False,
    )
    assert item["changes"] == [
        {
            "path": "greeting.text",
            "kind": "change",
            "recorded": "Hi, this is Acme support. How can I help?",
            "outside": "From the console",
            "sensitive": False,
        }
    ]
    assert report["has_unexpected"] is True and report["resources"]["in_sync"] == 2


def test_a_secret_set_with_a_key_added_outside_shows_the_key_never_a_value(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "sk-console-added-7f3e9c1d2b"
    console(applied, "update_secret_set", "llm_keys", {"azure": value})

    code, text = drift(applied, capsys)
    markdown = drift(applied, capsys, "--format", "markdown")[1]
    _, report = drift_json(applied, capsys)

    assert code == DRIFTED
    assert "SecretSet/llm_keys (llm_keys) [changed]: changed outside: keys.azure" in text
    (item,) = report["resources"]["items"]
    assert item["changes"][0]["path"] == "keys.azure"
    for output in (text, markdown, json.dumps(report)):
        assert value not in output


def test_a_resource_deleted_outside_is_missing(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number_id = recorded_id(applied, "PhoneNumber/support-line")
    console(applied, "delete_number", number_id)

    code, text = drift(applied, capsys)

    assert code == DRIFTED
    assert f"! PhoneNumber/support-line ({number_id}) [missing]" in text
    assert "the next apply creates it again" in text


def test_an_unrecorded_number_routed_to_a_managed_agent_is_unmanaged_in_use(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent_id = recorded_id(applied, "SavedAgent/support")
    made = console(
        applied,
        "create_number",
        {
            "number": "+14155550177",
            "sip_trunk": {"hostname": "other.pstn.example.com"},
            "inbound": {"agent": agent_id, "call_policy": {}},
        },
    )
    console(  # routed elsewhere: not ours to judge
        applied,
        "create_number",
        {"number": "+14155550178", "sip_trunk": {"hostname": "other.pstn.example.com"}},
    )

    code, text = drift(applied, capsys)
    _, report = drift_json(applied, capsys)

    assert code == DRIFTED
    number_id = made.body["number_id"]
    assert f"! unmanaged PhoneNumber {number_id} [unmanaged]" in text
    assert "uses SavedAgent/support" in text and "reconciler import" in text
    (item,) = report["resources"]["items"]
    assert (item["kind"], item["id"], item["uses"]) == (
        "unmanaged",
        number_id,
        ["SavedAgent/support"],
    )


def test_drift_of_a_resource_whose_manifest_is_gone_is_expected(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = applied / "agents.d" / "platform.yaml"
    documents = manifest.read_text(encoding="utf-8").split("---\n")
    manifest.write_text("---\n".join(documents[:2]), encoding="utf-8")  # no number any more
    console(applied, "delete_number", recorded_id(applied, "PhoneNumber/support-line"))

    code, text = drift(applied, capsys)

    assert code == CLEAN
    assert "Expected drift (1):" in text and "~ PhoneNumber/support-line" in text
    assert "the next apply deletes it anyway" in text


def test_drift_writes_nothing(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    console(applied, "delete_number", recorded_id(applied, "PhoneNumber/support-line"))
    state = applied / "state" / "agents.json"
    before = state.read_bytes()

    drift(applied, capsys)

    assert state.read_bytes() == before


def test_a_number_an_interrupted_create_may_have_made_is_pending_not_unmanaged(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = applied / "state" / "agents.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    record = state["resources"].pop("PhoneNumber/support-line")  # as if its answer was lost
    state["creating"] = {
        "PhoneNumber/support-line": {
            "kind": "PhoneNumber",
            "name": "support-line",
            "marker": "lineage/PhoneNumber/support-line/nonce",
            "started_at": record["created_at"] - 1,
            "spec": record["spec"],
            "spec_digest": record["spec_digest"],
            "references": record["references"],
        }
    }
    path.write_text(json.dumps(state), encoding="utf-8")

    code, report = drift_json(applied, capsys)

    assert code == CLEAN, report
    assert report["resources"]["items"] == [] and report["summary"]["pending"] == 1
