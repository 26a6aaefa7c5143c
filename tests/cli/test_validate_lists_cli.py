"""What `reconciler validate` lists besides problems: every variable not set (the settings' too,
with the file that reads it), the Platform resources, and file names that are not UTF-8 as
valid JSON."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.cli.cli_helpers import example_without_secrets, run_main

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "validate-format.schema.json").read_text())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    example_without_secrets(tmp_path, monkeypatch)
    settings = tmp_path / "reconciler.yaml"
    text = settings.read_text()
    assert "${AGORA_APP_CERTIFICATE:-" in text
    lines = [
        "app_certificate: ${AGORA_APP_CERTIFICATE}" if line.startswith("app_certificate:") else line
        for line in text.splitlines()
    ]
    settings.write_text("\n".join(lines).replace("engine: sandbox", "engine: us") + "\n")
    return tmp_path


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_validate_lists_an_unset_variable_of_the_settings_with_its_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["-C", str(project), "validate"], capsys)
    assert (code, out) == (0, "3 agents and 3 resources valid\n")
    assert "variables not set (AGORA_APP_CERTIFICATE in reconciler.yaml; " in err
    assert "; MY_OPENAI_KEY in agents.d/" in err
    code, out, err = run_main(["-C", str(project), "validate", "--format", "github"], capsys)
    assert code == 0
    assert "AGORA_APP_CERTIFICATE in reconciler.yaml" in err
    code, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 0
    assert {"AGORA_APP_CERTIFICATE", "MY_OPENAI_KEY"} <= set(doc["unset_variables"])
    files = {(u["name"], u["path"]) for u in doc["unset_variable_files"]}
    assert ("AGORA_APP_CERTIFICATE", "reconciler.yaml") in files
    assert {n for n, _ in files} == set(doc["unset_variables"])
    assert all(p.startswith("agents.d/") for n, p in files if n == "MY_OPENAI_KEY")


def test_plan_still_needs_the_variables_of_the_settings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["-C", str(project), "plan", "--no-refresh"], capsys)
    assert code != 0
    assert "AGORA_APP_CERTIFICATE" in err


def test_validate_json_lists_the_platform_resources(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert code == 0
    kinds = {r["kind"] for r in doc["resources"]}
    assert kinds == {"SecretSet", "SavedAgent", "PhoneNumber"}
    assert all(r["path"] == "agents.d/platform.yaml" and r["line"] >= 1 for r in doc["resources"])
    assert len({(r["kind"], r["name"]) for r in doc["resources"]}) == 3


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses names that are not UTF-8")
def test_validate_json_writes_a_file_name_that_is_not_utf8_as_valid_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = os.fsencode(project / "agents.d") + b"/x\xff.yaml"
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write("name: Bad Name\n")
    code, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    assert code == 1
    out.encode("utf-8")  # strict: no lone surrogate written raw
    doc = json.loads(out)
    for text in _strings(doc):
        text.encode("utf-8")  # strict: no lone surrogate escaped either
    assert "agents.d/x\\xff.yaml" in {p["path"] for p in doc["problems"]}


def test_plan_json_with_an_invalid_manifest_prints_no_document_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-test")
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", "0" * 32)
    (project / "agents.d" / "bad.yaml").write_text("name: Bad Name\n")
    code, out, err = run_main(
        ["-C", str(project), "plan", "--no-refresh", "--format", "json"], capsys
    )
    assert (code, out) == (1, "")
    assert "agents.d/bad.yaml:1: invalid name 'Bad Name'" in err


def test_validate_names_the_variable_an_environment_reads_in_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RECONCILER_ENV", "AGORA_APP_CERTIFICATE", "PROD_AGORA_APP_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO / "agents.d", tmp_path / "agents.d")
    text = (REPO / "reconciler.yaml").read_text().replace("engine: sandbox", "engine: us")
    lines = [
        "app_certificate: ${AGORA_APP_CERTIFICATE}" if line.startswith("app_certificate:") else line
        for line in text.splitlines()
    ]
    (tmp_path / "reconciler.yaml").write_text("\n".join(lines) + "\n")
    code, out, _ = run_main(["-C", str(tmp_path), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 0
    files = {(u["name"], u["path"]) for u in doc["unset_variable_files"]}
    assert {
        ("AGORA_APP_CERTIFICATE", "reconciler.yaml"),
        ("PROD_AGORA_APP_CERTIFICATE", "reconciler.yaml"),
    } <= files
