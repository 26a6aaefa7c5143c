"""An unknown key in a Platform kind's manifest is named as in an agent's: with the place it is
in and the closest known key (``did you mean``), never pydantic's "extra inputs"."""

from __future__ import annotations

from tests.manifests.manifest_helpers import Project

NUMBER = """\
kind: PhoneNumber
name: line
spec:
  number: "+14155550100"
  sip_trunk:
    name: acme
    hostname: sip.example.com
    transprt: tls
  inbound: {agent: null}
"""


def test_an_unknown_key_of_a_phone_number_suggests_the_known_one(project: Project) -> None:
    project.write("agents.d/line.yaml", NUMBER)
    assert project.errors() == [
        "agents.d/line.yaml:8: unknown key 'transprt' in spec.sip_trunk, did you mean 'transport'?"
    ]


def test_an_unknown_top_level_key_of_a_secret_set_names_the_manifest(project: Project) -> None:
    project.write("agents.d/keys.yaml", "kind: SecretSet\nname: keys\nkey: {a: '${A}'}\n")
    assert project.errors({"A": "x"}) == [
        "agents.d/keys.yaml:1: missing required key 'keys' in the SecretSet manifest",
        "agents.d/keys.yaml:3: unknown key 'key' in the SecretSet manifest, did you mean 'keys'?",
    ]


def test_an_unknown_key_of_a_saved_agent_message_is_named_at_its_item(project: Project) -> None:
    project.write(
        "agents.d/agent.yaml",
        """\
        kind: SavedAgent
        name: helper
        spec:
          instructions: hi
          llm: {vendor: openai, model: gpt-4o-mini}
          messages:
            - {role: user, contnet: hello}
        """,
    )
    errors = project.errors()
    assert any(
        e.startswith("agents.d/agent.yaml:7: unknown key 'contnet' in spec.messages[0]")
        and e.endswith("did you mean 'content'?")
        for e in errors
    ), errors
