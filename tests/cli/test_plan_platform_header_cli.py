"""A plan with Platform resources names the Platform beside the engine, in every format; a plan
of agents only is as before; a saved plan made for another Platform is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main

APP = "0123456789abcdef0123456789abcdef"
SANDBOX = "sandbox (local emulator)"


def project_with(tmp_path: Path, *, platform: bool, agents: bool) -> Path:
    project = example_project(tmp_path / "p")
    for manifest in (project / "agents.d").glob("*.yaml"):
        is_platform = manifest.name == "platform.yaml"
        if (is_platform and not platform) or (not is_platform and not agents):
            manifest.unlink()
    return project


def plan(project: Path, capsys: pytest.CaptureFixture[str], *more: str) -> str:
    code, out, err = run_main(["-C", str(project), "plan", *more], capsys)
    assert code == 0, err
    return out


@pytest.mark.parametrize("agents", [True, False], ids=["with-agents", "resources-only"])
def test_a_plan_with_resources_names_the_platform_in_text_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], agents: bool
) -> None:
    project = project_with(tmp_path, platform=True, agents=agents)

    text = plan(project, capsys)
    markdown = plan(project, capsys, "--format", "markdown")
    document = json.loads(plan(project, capsys, "--format", "json"))

    assert f"Engine: {SANDBOX}, app {APP}, platform {SANDBOX}" in text.splitlines()
    assert f"on {SANDBOX} and Platform {SANDBOX}" in markdown
    assert (document["engine"], document["platform"]) == (SANDBOX, SANDBOX)


def test_a_plan_of_agents_only_names_no_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, platform=False, agents=True)

    text = plan(project, capsys)
    document = json.loads(plan(project, capsys, "--format", "json"))

    assert f"Engine: {SANDBOX}, app {APP}" in text.splitlines()
    assert "platform" not in text.lower() and "platform" not in document


def test_a_saved_plan_made_for_another_platform_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", "5a4d1c3b2e6f708192a3b4c5d6e7f809")
    monkeypatch.setenv("AGORA_CUSTOMER_ID", "id-for-the-test")
    monkeypatch.setenv("AGORA_CUSTOMER_SECRET", "secret-for-the-test")
    project = project_with(tmp_path, platform=True, agents=False)
    saved = tmp_path / "plan.json"
    plan(project, capsys, "--out", str(saved))
    assert json.loads(saved.read_text(encoding="utf-8"))["plan"]["platform"] == SANDBOX
    settings = project / "reconciler.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + "platform: http://127.0.0.1:9\n", encoding="utf-8"
    )

    code, _, err = run_main(["-C", str(project), "apply", str(saved)], capsys)

    assert code == 1
    assert (
        f"the plan was made for the Platform {SANDBOX}, this project uses http://127.0.0.1:9" in err
    )
