"""A fork's pull request has no secrets: validate and plan --no-refresh still work, and say so.

Unset ``${VAR}``s are no problem for ``validate`` and ``plan --no-refresh``: their values are
unknown, shown as such, and assumed unchanged from the recorded state. Such a plan cannot be
saved or applied, and ``apply`` still needs every variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_without_secrets, run_main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_without_secrets(tmp_path, monkeypatch)


def test_validate_accepts_an_unset_variable_and_notes_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["-C", str(project), "validate"], capsys)
    assert (code, out) == (0, "3 agents and 3 resources valid\n")
    assert "1 variable not set (MY_OPENAI_KEY in agents.d/sales-en.yaml, " in err
    code, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    assert json.loads(out)["unset_variables"] == ["MY_OPENAI_KEY"]


def test_plan_no_refresh_shows_an_unset_secret_as_unknown_and_warns(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["-C", str(project), "plan", "--no-refresh"], capsys)
    assert code == 0
    assert "+ properties.llm.api_key = (sensitive, unknown: MY_OPENAI_KEY not set)" in out
    assert "1 variable not set (MY_OPENAI_KEY)" in err
    assert "a change of them cannot be detected" in err
    code, out, _ = run_main(
        ["-C", str(project), "plan", "--no-refresh", "--format", "json"], capsys
    )
    doc = json.loads(out)
    assert doc["unknown_variables"] == ["MY_OPENAI_KEY"]
    key = next(
        c
        for a in doc["agents"]
        for c in a["changes"]
        if c["path"] == "properties.llm.api_key" and c["unknown"]
    )
    assert key == {
        "path": "properties.llm.api_key",
        "kind": "add",
        "before": None,
        "after": None,
        "sensitive": True,
        "forces_restart": False,
        "unknown": ["MY_OPENAI_KEY"],
    }


def test_a_plan_with_unknown_values_cannot_be_saved(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "fork.plan"
    code, _, err = run_main(
        ["-C", str(project), "plan", "--no-refresh", "--out", str(saved)], capsys
    )
    assert code == 1
    assert "without the variables MY_OPENAI_KEY; it cannot be saved or applied" in err
    assert not saved.exists()


def test_apply_still_needs_every_variable(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["-C", str(project), "apply", "--auto-approve"], capsys)
    assert code == 1
    assert "environment variable 'MY_OPENAI_KEY' is not set" in err
    code, _, err = run_main(["-C", str(project), "apply", "--auto-approve", "--no-refresh"], capsys)
    assert code == 1
    assert "environment variable 'MY_OPENAI_KEY' is not set" in err


def test_an_unknown_secret_of_a_recorded_agent_is_assumed_unchanged(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-real-secret-value-0001")
    code, _, err = run_main(["-C", str(project), "apply", "--auto-approve"], capsys)
    assert code == 0, err
    monkeypatch.delenv("MY_OPENAI_KEY")
    code, out, err = run_main(
        ["-C", str(project), "plan", "--no-refresh", "--detailed-exitcode"], capsys
    )
    assert code == 0, out + err
    assert out.startswith("No changes.")
    assert "MY_OPENAI_KEY" in err  # the warning says a change could not be detected
