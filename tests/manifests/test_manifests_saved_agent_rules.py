"""A saved agent's body, checked as the Platform checks it (docs/platform-api.md, "Agents"):
``validate`` refuses, at the field's line, what the Platform would refuse at apply."""

from __future__ import annotations

import pytest

from tests.manifests.manifest_helpers import Project

VARIABLE = "[a-z][a-z0-9_]{0,63}"
KEYS = "kind: SecretSet\nname: llm_keys\nkeys: {openai: '${OPENAI_API_KEY:-x}'}\n---\n"


def agent(spec: str) -> str:
    return KEYS + "kind: SavedAgent\nname: support\nspec:\n" + spec


@pytest.mark.parametrize(
    ("spec", "field", "why"),
    [
        ("  variables: {Bad-Name: {}}\n", "spec.variables", VARIABLE),
        ("  variables: {ok_name: {}, 9lives: {}}\n", "spec.variables.9lives", VARIABLE),
        ("  agent_id: 3f6c2a9e\n", "spec.agent_id", "read-only"),
        ("  create_ts: 1700000000\n", "spec.create_ts", "read-only"),
        ("  llm: {vendor: ''}\n", "spec.llm.vendor", ""),
        ("  tts: {model: ''}\n", "spec.tts.model", ""),
        (
            "  llm: {credential: {mode: managed, fields: {api_key: $secrets.llm_keys.openai}}}\n",
            "spec.llm.credential",
            "managed",
        ),
    ],
)
def test_a_saved_agent_field_the_platform_refuses_is_refused_at_its_line(
    project: Project, spec: str, field: str, why: str
) -> None:
    project.write("agents.d/p.yaml", agent(spec))
    (problem,) = project.errors()
    assert problem.startswith(f"agents.d/p.yaml:8: {field}"), problem
    assert why in problem, problem


def test_a_saved_agent_the_platform_takes_is_valid(project: Project) -> None:
    spec = (
        "  variables: {customer_name: {}, tier2: {options: [a, b]}}\n"
        "  llm: {vendor: openai, credential:\n"
        "    {mode: byok, fields: {api_key: $secrets.llm_keys.openai}}}\n"
        "  tts: {credential: {mode: managed}}\n"
    )
    project.write("agents.d/p.yaml", agent(spec))
    assert "SavedAgent/support" in project.load().resources
