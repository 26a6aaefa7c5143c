"""`reconciler init`: a new project that validates, plans and applies as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.manifests import manifest_schema

REPO = Path(__file__).resolve().parents[2]


def _reconciler(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_init_in_an_empty_directory_gives_a_project_that_plans_and_applies_unedited(
    tmp_path: Path,
) -> None:
    created = _reconciler("init", "agents-repo", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "agents-repo"
    for path in (
        "reconciler.yaml",
        "agents.d/assistant.yaml",
        "agents.d/manifest.schema.json",
        ".gitignore",
        ".github/workflows/reconciler-plan.yml",
        ".github/workflows/reconciler-apply.yml",
        ".github/workflows/reconciler-drift.yml",
    ):
        assert (project / path).is_file(), path
        assert f"created  {path}" in created.stdout

    assert _reconciler("validate", cwd=project).stdout == "1 agent valid\n"
    plan = _reconciler("plan", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 2, plan.stderr
    assert "Plan: 1 to start; 0 unchanged." in plan.stdout
    applied = _reconciler("apply", "--auto-approve", cwd=project)
    assert applied.returncode == 0, applied.stderr
    assert _reconciler("plan", "--detailed-exitcode", cwd=project).returncode == 0


def test_init_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()
    mine = tmp_path / "reconciler.yaml"
    mine.write_text("engine: us\n")
    result = _reconciler("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mine.read_text() == "engine: us\n"
    assert "kept     reconciler.yaml (exists, not changed)" in result.stdout
    assert (tmp_path / "agents.d" / "assistant.yaml").is_file()
    again = _reconciler("init", cwd=tmp_path)
    assert again.returncode == 0
    assert "created" not in again.stdout


def test_init_refuses_a_target_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    result = _reconciler("init", "x", cwd=tmp_path)
    assert result.returncode == 1
    assert "exists and is not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_writes_the_schema_the_example_manifest_points_at(tmp_path: Path) -> None:
    from reconciler.project.scaffold import scaffold

    scaffold(tmp_path)
    manifest = (tmp_path / "agents.d" / "assistant.yaml").read_text()
    assert manifest.splitlines()[0] == "# yaml-language-server: $schema=manifest.schema.json"
    schema = json.loads((tmp_path / "agents.d" / "manifest.schema.json").read_text())
    assert schema == manifest_schema()
    assert schema["$id"] == "urn:reconciler:schema:manifest:1"


def test_example_workflows_are_the_ones_init_writes() -> None:
    for example in (REPO / "examples" / "github").glob("*.yml"):
        template = REPO / "reconciler" / "project" / "templates" / "github" / example.name
        assert example.read_text() == template.read_text()
