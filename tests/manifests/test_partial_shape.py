"""A partial's wrong-typed block is an error at the partial's line, whether or not a manifest
extends it (a manifest's mapping would otherwise replace it silently)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import copy_example, run_main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RECONCILER_ENGINE", "AGORA_APP_ID", "AGORA_APP_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)
    return copy_example(tmp_path)


def test_a_wrong_typed_block_in_an_extended_partial_is_an_error_at_its_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project / "agents.d" / "_base" / "openai.yaml"
    assert "extends: _base/openai.yaml" in (project / "agents.d" / "sales-en.yaml").read_text()
    base.write_text("properties: [1]\n")
    code, _, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    assert "agents.d/_base/openai.yaml:1: properties must be a mapping, not a list" in err


def test_an_error_in_a_partial_nothing_extends_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "agents.d" / "_base" / "unused.yaml").write_text(
        "properties:\n  llm:\n    params: {}\n  turn_detection: [1]\n"
    )
    code, _, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    assert "agents.d/_base/unused.yaml:4: properties.turn_detection must be a mapping" in err


def test_a_partial_of_the_right_shape_is_no_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "agents.d" / "_base" / "unused.yaml").write_text(
        "properties:\n  llm:\n    params: {model: x}\n  remote_rtc_uids: ['*']\n"
    )
    code, out, _ = run_main(["-C", str(project), "validate"], capsys)
    assert (code, out) == (0, "3 agents and 3 resources valid\n")
