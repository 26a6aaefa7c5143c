"""With a real engine and no credentials, nothing silently plans blind or fails halfway."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import copy_example, run_main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def us_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AGORA_CUSTOMER_ID", "AGORA_CUSTOMER_SECRET", "RECONCILER_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    # The manifests' secrets are set: their sandbox placeholders never go to a real engine.
    for name in ("OPENAI_API_KEY", "AZURE_TTS_KEY", "DEEPGRAM_API_KEY", "ELEVENLABS_API_KEY"):
        monkeypatch.setenv(name, f"{name.lower()}-for-the-test")
    copy_example(tmp_path)
    settings = tmp_path / "reconciler.yaml"
    settings.write_text(settings.read_text().replace("engine: sandbox", "engine: us"))
    return tmp_path


def test_a_refreshing_plan_without_credentials_fails_and_says_how_to_plan_without(
    us_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["-C", str(us_project), "plan"], capsys)
    assert code == 1
    assert out == ""
    assert "needs the credentials of the engine us" in err
    assert "AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET not set" in err
    assert "--no-refresh" in err


def test_plan_no_refresh_works_without_credentials(
    us_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["-C", str(us_project), "plan", "--no-refresh"], capsys)
    assert code == 0
    assert out.startswith("Plan: 3 to start; 0 unchanged.")
    assert "Engine: us, app " in out


@pytest.mark.parametrize("command", [["apply", "--auto-approve"], ["destroy", "--auto-approve"]])
def test_apply_and_destroy_without_credentials_fail_before_planning(
    command: list[str], us_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["-C", str(us_project), *command, "--no-refresh"], capsys)
    assert code == 1
    assert out == ""  # no plan was made or shown
    assert f"{command[0]} needs the credentials of the engine us" in err
    assert not (us_project / "state").exists()
