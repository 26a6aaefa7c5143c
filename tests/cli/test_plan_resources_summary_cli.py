"""A plan that changes Platform resources only (no agent) says so in its summary line, in text,
markdown (the pull-request comment) and JSON, with the resources' counts; it never reads as "No
changes", and `--detailed-exitcode` exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main

SUMMARY = (
    "Plan: no agent changes; 3 agents up to date. Resources: 1 to update in place; 2 unchanged."
)


@pytest.fixture
def greeting_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The example project applied, then only its saved agent's greeting changed."""
    project = example_project(tmp_path / "p")
    code, _, err = run_main(["-C", str(project), "apply", "--auto-approve"], capsys)
    assert code == 0, err
    manifest = project / "agents.d" / "platform.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("How can I help?", "How may I help?"), encoding="utf-8")
    return project


def plan(project: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, str]:
    code, out, err = run_main(["-C", str(project), "plan", "--detailed-exitcode", *more], capsys)
    assert code in (0, 2), err
    return code, out


def test_text_opens_and_closes_with_the_resources_counts(
    greeting_changed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = plan(greeting_changed, capsys)
    lines = out.splitlines()
    assert (code, lines[0], lines[-1]) == (2, SUMMARY, SUMMARY)
    assert "No changes" not in out


def test_the_pull_request_comment_heads_with_the_resources_counts(
    greeting_changed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = plan(greeting_changed, capsys, "--format", "markdown")
    assert code == 2
    assert out.splitlines()[3] == f"**{SUMMARY}**"
    assert "No changes" not in out


def test_json_counts_the_resources_beside_the_agents(
    greeting_changed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = plan(greeting_changed, capsys, "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["has_changes"] is True
    assert document["summary"]["unchanged"] == 3
    assert document["resources_summary"] == {
        "create": 0,
        "update": 1,
        "replace": 0,
        "delete": 0,
        "unchanged": 2,
    }


def test_a_plan_with_no_change_at_all_says_so_and_exits_0(
    greeting_changed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["-C", str(greeting_changed), "apply", "--auto-approve"], capsys)
    assert code == 0, err
    code, out = plan(greeting_changed, capsys)
    assert (code, out.splitlines()[0]) == (0, "No changes. 3 agents up to date.")
    code, out = plan(greeting_changed, capsys, "--format", "json")
    assert json.loads(out)["resources_summary"]["unchanged"] == 3
