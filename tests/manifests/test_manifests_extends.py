"""``extends``: partials, deep merge, chains, cycles."""

from __future__ import annotations

from reconciler.models import FieldPath
from tests.manifests.manifest_helpers import CERTIFICATE, Project

BASE = """\
token: auto
properties:
  remote_rtc_uids: ["*"]
  idle_timeout: 120
  llm:
    url: https://api.openai.com/v1/chat/completions
    api_key: ${OPENAI_API_KEY:-sk-placeholder}
    system_messages: [{role: system, content: base prompt}]
    params: {model: gpt-4o-mini, max_tokens: 512}
  tts: {vendor: microsoft, params: {region: eastus}}
"""


def test_extends_deep_merges_maps_and_replaces_lists_and_scalars(project: Project) -> None:
    project.write("agents.d/_base/openai.yaml", BASE)
    project.write(
        "agents.d/support.yaml",
        """\
        name: support
        extends: _base/openai.yaml
        properties:
          channel: support
          agent_rtc_uid: "1001"
          remote_rtc_uids: ["1002"]
          llm:
            system_messages: [{role: system, content: own prompt}]
            params: {max_tokens: 256}
        """,
    )
    agent = project.load(app_certificate=CERTIFICATE).agents["support"]
    props = agent.spec["properties"]
    assert agent.token_mode == "auto"
    assert props["remote_rtc_uids"] == ["1002"]
    assert props["idle_timeout"] == 120
    assert props["llm"]["url"] == "https://api.openai.com/v1/chat/completions"
    assert props["llm"]["system_messages"] == [{"role": "system", "content": "own prompt"}]
    assert props["llm"]["params"] == {"model": "gpt-4o-mini", "max_tokens": 256}
    assert FieldPath.parse("properties.llm.api_key") in agent.sensitive
    # lines are the agent file's own; keys that came from the partial have none
    assert agent.lines["properties.llm.params.max_tokens"] == 9
    assert "properties.idle_timeout" not in agent.lines


def test_a_null_removes_an_inherited_key(project: Project) -> None:
    project.write("agents.d/_base/openai.yaml", BASE)
    project.agent("x.yaml", "x", extra="extends: _base/openai.yaml\n", props="idle_timeout: null\n")
    assert (
        project.load(app_certificate=CERTIFICATE).agents["x"].spec["properties"]["idle_timeout"]
        is None
    )


def test_partials_chain(project: Project) -> None:
    project.write("agents.d/_base/openai.yaml", BASE)
    project.write(
        "agents.d/_base/support.yaml",
        "extends: _base/openai.yaml\nproperties:\n  labels: {team: support}\n",
    )
    project.write(
        "agents.d/a.yaml",
        "name: a\nextends: _base/support.yaml\n"
        "properties: {channel: a, agent_rtc_uid: '1', remote_rtc_uids: ['2']}\n",
    )
    props = project.load(app_certificate=CERTIFICATE).agents["a"].spec["properties"]
    assert (props["labels"], props["idle_timeout"]) == ({"team": "support"}, 120)


def test_a_problem_in_a_partial_is_reported_at_the_partial_once(project: Project) -> None:
    project.write("agents.d/_base/openai.yaml", BASE.replace("idle_timeout", "idle_timout"))
    for name in ("a", "b"):
        project.write(
            f"agents.d/{name}.yaml",
            f"name: {name}\nextends: _base/openai.yaml\n"
            f"properties: {{channel: {name}, agent_rtc_uid: '1', remote_rtc_uids: ['2']}}\n",
        )
    assert project.errors() == [
        "agents.d/_base/openai.yaml:4: unknown key 'idle_timout' in properties,"
        " did you mean 'idle_timeout'?"
    ]


def test_an_extends_cycle_is_an_error(project: Project) -> None:
    project.write("agents.d/_base/a.yaml", "extends: _base/b.yaml\n")
    project.write("agents.d/_base/b.yaml", "properties: {}\nextends: _base/a.yaml\n")
    project.agent("x.yaml", "x", extra="extends: _base/a.yaml\n")
    assert project.errors() == [
        "agents.d/_base/b.yaml:2: extends cycle: _base/a.yaml -> _base/b.yaml -> _base/a.yaml"
    ]


def test_a_partial_extending_itself_is_a_cycle(project: Project) -> None:
    project.write("agents.d/_self.yaml", "extends: _self.yaml\n")
    project.agent("x.yaml", "x", extra="extends: _self.yaml\n")
    assert project.errors() == ["agents.d/_self.yaml:1: extends cycle: _self.yaml -> _self.yaml"]


def test_extends_must_name_an_existing_partial_inside_agents_d(project: Project) -> None:
    project.agent("other.yaml", "other")
    project.agent("a.yaml", "a", extra="extends: _base/missing.yaml\n")
    project.agent("b.yaml", "b", extra="extends: other.yaml\n")
    project.agent("c.yaml", "c", extra="extends: ../secrets.yaml\n")
    project.agent("d.yaml", "d", extra="extends: [a, b]\n")
    assert project.errors() == [
        "agents.d/a.yaml:2: extends '_base/missing.yaml': no such file in agents.d",
        "agents.d/b.yaml:2: extends 'other.yaml' is not a partial (a partial's file name,"
        " or one of its directories, starts with '_')",
        "agents.d/c.yaml:2: extends '../secrets.yaml' must be a path inside agents.d",
        "agents.d/d.yaml:2: extends must be the path of a partial in agents.d",
    ]


def test_partials_are_never_agents_and_hold_one_mapping_without_a_name(project: Project) -> None:
    project.write("agents.d/_one.yaml", "name: sneaky\nproperties: {}\n")
    project.write("agents.d/_two.yaml", "a: 1\n---\nb: 2\n")
    project.write("agents.d/_lib/three.yaml", "- not a mapping\n")
    assert project.errors() == [
        "agents.d/_lib/three.yaml:1: a partial must hold exactly one YAML document, a mapping",
        "agents.d/_one.yaml:1: a partial must not set 'name'",
        "agents.d/_two.yaml:3: a partial must hold exactly one YAML document, a mapping",
    ]


def test_an_unused_partial_is_still_read(project: Project) -> None:
    project.write("agents.d/_base/unused.yaml", BASE)
    project.agent("x.yaml", "x")
    desired = project.load()
    assert list(desired.agents) == ["x"]
    assert desired.files == ("agents.d/_base/unused.yaml", "agents.d/x.yaml")


def test_a_very_long_extends_path_is_cut_in_the_message(project: Project) -> None:
    # The message named the whole value: 40,000 characters on one line of output.
    project.agent("a.yaml", "a", extra="extends: " + "_x" * 20_000 + "\n")
    [problem] = project.errors()
    assert problem == "agents.d/a.yaml:2: extends '" + "_x" * 28 + "_...': no such file in agents.d"
