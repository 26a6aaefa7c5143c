"""A phone number's inbound route, checked as the Platform checks it (docs/platform-api.md,
"Phone numbers"): ``validate`` refuses what apply would be refused, at the field's line."""

from __future__ import annotations

import json

import pytest

from reconciler.cli import main
from tests.manifests.manifest_helpers import Project

AGENT = "kind: SavedAgent\nname: support\nspec: {instructions: Be brief.}\n---\n"


def number(inbound: str) -> str:
    return (
        AGENT + "kind: PhoneNumber\nname: line\nspec:\n  number: '+14155550100'\n"
        "  sip_trunk: {hostname: pstn.example.com}\n" + inbound
    )


def test_a_routed_number_without_call_policy_is_refused_at_its_inbound_line(
    project: Project,
) -> None:
    project.write("agents.d/p.yaml", number("  inbound:\n    agent: {ref: SavedAgent/support}\n"))
    (problem,) = project.errors()
    assert problem.startswith("agents.d/p.yaml:10: spec.inbound: call_policy is required when ")
    assert "call_policy: {}" in problem


def test_a_routed_number_with_an_empty_call_policy_is_valid(project: Project) -> None:
    inbound = "  inbound:\n    agent: {ref: SavedAgent/support}\n    call_policy: {}\n"
    project.write("agents.d/p.yaml", number(inbound))
    assert set(project.load().resources) == {"SavedAgent/support", "PhoneNumber/line"}


def test_a_number_that_rejects_calls_needs_no_call_policy(project: Project) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: {agent: null}\n").replace(AGENT, "").replace("line", "l2")
    project.write("agents.d/q.yaml", other.replace("0100", "0101"))
    assert {"PhoneNumber/line", "PhoneNumber/l2"} <= set(project.load().resources)


def test_a_call_policy_limit_that_is_not_a_positive_whole_number_is_refused(
    project: Project,
) -> None:
    inbound = (
        "  inbound:\n    agent: {ref: SavedAgent/support}\n"
        "    call_policy: {max_call_duration_seconds: 0, ring_timeout_ms: 1.5, note: 0}\n"
    )
    project.write("agents.d/p.yaml", number(inbound))
    problems = project.errors()
    assert len(problems) == 1 and problems[0].startswith("agents.d/p.yaml:12: ")
    assert "max_call_duration_seconds must be a positive whole number" in problems[0]


def test_validate_reports_the_missing_call_policy_with_file_line_and_field(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_ENGINE", raising=False)
    project.write("agents.d/p.yaml", number("  inbound:\n    agent: {ref: SavedAgent/support}\n"))
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project.root), "validate", "--format", "json"])
    assert exited.value.code == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert (problem["path"], problem["line"]) == ("agents.d/p.yaml", 10)
    assert problem["message"].startswith("spec.inbound: call_policy is required")


def test_two_numbers_declaring_one_e164_number_are_refused_at_each_manifest(
    project: Project,
) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: null\n").replace(AGENT, "").replace("name: line", "name: l2")
    project.write("agents.d/q.yaml", other)
    problems = project.errors()
    assert problems == [
        "agents.d/p.yaml:5: PhoneNumber/line: number '+14155550100' is declared by "
        "PhoneNumber/l2 (agents.d/q.yaml:1) too; the Platform holds one PhoneNumber of each "
        "number in a project",
        "agents.d/q.yaml:1: PhoneNumber/l2: number '+14155550100' is declared by "
        "PhoneNumber/line (agents.d/p.yaml:5) too; the Platform holds one PhoneNumber of each "
        "number in a project",
    ]


def test_two_numbers_with_different_e164_numbers_are_valid(project: Project) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: null\n").replace(AGENT, "").replace("name: line", "name: l2")
    project.write("agents.d/q.yaml", other.replace("0100", "0199"))
    assert {"PhoneNumber/line", "PhoneNumber/l2"} <= set(project.load().resources)
