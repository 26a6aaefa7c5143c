"""A manifest's ``kind:`` line: ``Agent`` is the default, so today's manifests stay valid."""

from __future__ import annotations

from tests.manifests.manifest_helpers import Project


def test_a_manifest_without_a_kind_line_declares_an_agent(project: Project) -> None:
    project.agent("x.yaml", "x")
    assert set(project.load().agents) == {"x"}


def test_kind_agent_written_out_declares_the_same_agent_as_no_kind_line(project: Project) -> None:
    project.agent("x.yaml", "x")
    implicit = project.load().agents["x"]
    project.agent("x.yaml", "x", extra="kind: Agent\n")
    explicit = project.load().agents["x"]
    moved = {"lines", "line"}  # one line more above properties
    assert explicit.model_dump(exclude=moved) == implicit.model_dump(exclude=moved)
    assert "kind" not in explicit.spec


def test_an_unknown_kind_is_a_located_error_naming_it(project: Project) -> None:
    project.agent("x.yaml", "x", extra="kind: SavedAgnet\n")
    errors = project.errors()
    assert errors == [
        "agents.d/x.yaml:2: unknown kind 'SavedAgnet': agents.d declares kinds Agent, "
        "SecretSet, SavedAgent, PhoneNumber (did you mean SavedAgent?)"
    ], errors


def test_a_kind_that_is_not_text_is_a_located_error(project: Project) -> None:
    project.agent("x.yaml", "x", extra="kind: [Agent]\n")
    assert project.errors() == [
        "agents.d/x.yaml:2: kind: must be the name of a kind (Agent, SecretSet, SavedAgent, "
        "PhoneNumber), not a list"
    ]
