"""`reconciler validate --format json|github`: machine-readable validation for CI and editors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.cli.cli_helpers import run_main

REPO = Path(__file__).resolve().parents[2]
TEN_BAD = REPO / "tests" / "manifests" / "fixtures" / "ten-bad"
SCHEMA = json.loads((REPO / "docs" / "validate-format.schema.json").read_text())


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECONCILER_ENGINE", "AGORA_APP_ID", "AGORA_APP_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)


def test_validate_json_lists_the_agents_of_a_valid_project(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_main(["-C", str(REPO), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 0
    assert doc["valid"] is True
    assert [a["name"] for a in doc["agents"]] == ["concierge", "sales-en", "support-en"]
    assert doc["agents"][0]["path"] == "agents.d/concierge.yaml"
    assert doc["problems"] == []


def test_validate_json_reports_every_problem_with_its_file_and_line_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(["-C", str(TEN_BAD), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 1
    assert doc["valid"] is False
    assert len(doc["problems"]) == 10
    assert all(p["path"].startswith("agents.d/") and p["line"] for p in doc["problems"])
    assert err == ""


def test_validate_github_prints_one_error_annotation_per_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "repo" / "agents"
    shutil.copytree(TEN_BAD, project)
    monkeypatch.chdir(tmp_path / "repo")
    code, out, _ = run_main(["-C", "agents", "validate", "--format", "github"], capsys)
    lines = out.splitlines()
    assert code == 1
    assert len(lines) == 10
    assert all(line.startswith("::error file=agents/agents.d/") for line in lines)
    assert all(",line=" in line and "::" in line[8:] for line in lines)


def test_validate_github_escapes_newlines_and_separators_in_annotations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from reconciler.errors import Location, Problem
    from reconciler.render.problems import github_annotations

    text = github_annotations([Problem(Location("a,b:c.yaml", 3), "one\ntwo 100%")])
    assert text == "::error file=a%2Cb%3Ac.yaml,line=3,title=reconciler validate::one%0Atwo 100%25"
