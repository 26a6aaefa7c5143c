"""The lifecycle fields of a manifest: ``protect``, ``restart_policy`` and ``desired``."""

from __future__ import annotations

from tests.manifests.manifest_helpers import Project


def test_lifecycle_fields_default_to_today_s_behaviour(project: Project) -> None:
    project.agent("x.yaml", "x")
    agent = project.load().agents["x"]
    assert (agent.protect, agent.restart_policy, agent.desired) == (False, "always", "running")


def test_lifecycle_fields_are_read_from_the_manifest(project: Project) -> None:
    project.agent(
        "x.yaml", "x", extra="protect: true\nrestart_policy: on-failure\ndesired: stopped\n"
    )
    agent = project.load().agents["x"]
    assert (agent.protect, agent.restart_policy, agent.desired) == (True, "on-failure", "stopped")
    assert "protect" not in agent.spec and "restart_policy" not in agent.spec  # never sent


def test_an_unknown_restart_policy_or_desired_state_is_a_located_error(project: Project) -> None:
    project.agent("x.yaml", "x", extra="restart_policy: sometimes\ndesired: off\n")
    errors = project.errors()
    assert any(
        e.startswith("agents.d/x.yaml:")
        and "restart_policy: input should be 'always', 'on-failure' or 'never'" in e
        for e in errors
    ), errors
    assert any("desired: input should be 'running' or 'stopped'" in e for e in errors), errors


def test_two_agents_renamed_from_one_name_is_an_error_at_both(project: Project) -> None:
    # Only one of them can take the old agent's record; the plan took the first by name and
    # started the other as a new agent, without a word.
    project.agent("a.yaml", "first", extra="renamed_from: old\n")
    project.agent("b.yaml", "second", extra="renamed_from: old\n")
    project.agent("c.yaml", "third", extra="renamed_from: other\n")
    message = "renamed_from 'old': two agents cannot take the one agent's record"
    assert project.errors() == [
        f"agents.d/a.yaml:2: {message} (also at agents.d/b.yaml:2)",
        f"agents.d/b.yaml:2: {message} (also at agents.d/a.yaml:2)",
    ]
