"""``${VAR}`` interpolation and what is marked sensitive."""

from __future__ import annotations

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests.interpolate import InterpolationError, interpolate_string
from reconciler.models import FieldPath
from tests.manifests.manifest_helpers import Project

ENV = {"HOST": "llm.example", "EMPTY": "", "KEY": "sk-live-123"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", ("plain", False)),
        ("https://${HOST}/v1", ("https://llm.example/v1", True)),
        ("${MISSING:-fallback}", ("fallback", True)),
        ("${EMPTY:-fallback}", ("fallback", True)),
        ("${EMPTY}", ("", True)),
        ("${HOST:-x} and ${HOST}", ("llm.example and llm.example", True)),
        ("$${HOST} stays", ("${HOST} stays", False)),
        ("$$${HOST}", ("$${HOST}", False)),
        ("cost: $5, $HOST", ("cost: $5, $HOST", False)),
        ("${MISSING:-a:-b}", ("a:-b", True)),
    ],
)
def test_interpolation_rules(text: str, expected: tuple[str, bool]) -> None:
    assert interpolate_string(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING}", "environment variable 'MISSING' is not set"),
        ("${HOST", "unterminated '${' (write $${ for a literal ${)"),
        (
            "${not a name}",
            "invalid variable reference: expected ${NAME} or ${NAME:-default}"
            " (write $${ for a literal ${)",
        ),
    ],
)
def test_interpolation_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=None) as caught:
        interpolate_string(text, ENV)
    assert str(caught.value) == message


def test_a_missing_variable_names_file_line_and_variable(project: Project) -> None:
    project.agent("x.yaml", "x", props="asr:\n  params:\n    api_key: ${DEEPGRAM_API_KEY}\n")
    assert project.errors() == [
        "agents.d/x.yaml:14: environment variable 'DEEPGRAM_API_KEY' is not set"
        " (in properties.asr.params.api_key)"
    ]


def test_a_failed_interpolation_does_not_cascade(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        preset: p
        properties:
          channel: c
          agent_rtc_uid: ${AGENT_UID}
          remote_rtc_uids: ["2"]
        """,
    )
    assert project.errors() == [
        "agents.d/x.yaml:5: environment variable 'AGENT_UID' is not set"
        " (in properties.agent_rtc_uid)"
    ]


def test_dollar_dollar_brace_is_a_literal(project: Project) -> None:
    project.agent("x.yaml", "x", props="labels: {template: 'Hello $${user}'}\n")
    agent = project.load().agents["x"]
    assert agent.spec["properties"]["labels"]["template"] == "Hello ${user}"
    assert FieldPath.parse("properties.labels.template") not in agent.sensitive


def test_name_extends_and_strict_are_taken_literally(project: Project) -> None:
    project.agent("x.yaml", "x-${REGION}")
    assert project.errors({"REGION": "eu"}) == [
        "agents.d/x.yaml:1: invalid name 'x-${REGION}': use 1 to 48 lowercase letters, digits"
        " and '-', starting with a letter or digit"
    ]


def test_interpolated_values_are_sensitive_unless_plain_and_real(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: ${CHANNEL}
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm:
            url: https://${HOST}/v1
            system_messages:
              - {role: system, content: "You work for ${COMPANY:-Acme}."}
          tts: {vendor: microsoft, params: {region: eastus}}
        """,
    )
    agent = project.load({"CHANNEL": "room", "HOST": "llm.example"}).agents["x"]
    assert {str(p) for p in agent.sensitive} == {
        "properties.llm.url",
        "properties.llm.system_messages[0].content",
    }
    assert agent.spec["properties"]["llm"]["url"] == "https://llm.example/v1"
    assert agent.spec["properties"]["llm"]["system_messages"][0]["content"] == (
        "You work for Acme."
    )


def test_a_value_interpolated_into_a_sensitive_field_is_a_secret_of_its_own(
    project: Project,
) -> None:
    """A key inside a URL or a header is scrubbed by itself from any text that could quote it
    (an engine error quotes the URL percent-encoded, so the whole value would not match)."""
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: ${CHANNEL}
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm:
            url: https://llm.example/v1?key=${URL_KEY}
            headers: {Authorization: "Bearer ${BEARER}", X-Org: "${ORG:-acme-org-default}"}
            system_messages: [{role: system, content: "hi"}]
          tts: {vendor: microsoft, params: {region: "${REGION}", key: "k-${TTS:-fallback-key}"}}
        """,
    )
    environ = {"CHANNEL": "room-1", "URL_KEY": "url-KEY-1234", "BEARER": "bear-5678"}
    agent = project.load({**environ, "REGION": "eastus"}).agents["x"]
    assert agent.secrets == {"url-KEY-1234", "bear-5678", "acme-org-default", "fallback-key"}
    # Values interpolated into plain fields (channel, region) are shown, not secrets.
    assert agent.channel == "room-1"


def test_an_interpolated_list_item_is_sensitive_at_its_index_alone(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm:
            url: https://llm.example
            params: {stop: ["literal", "${HOST}", [0, "${HOST}"]], model: "${HOST}"}
          tts: {vendor: microsoft, params: {region: eastus}}
        """,
    )
    agent = project.load({"HOST": "llm.example"}).agents["x"]
    assert {str(p) for p in agent.sensitive} == {
        "properties.llm.params.stop[1]",
        "properties.llm.params.stop[2][1]",
    }


def test_values_under_secret_like_keys_are_sensitive_even_when_literal(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm:
            url: https://llm.example
            api_key: sk-literal
            headers: {Authorization: Bearer abc, X-Trace: abc}
            params: {max_tokens: 10}
          tts: {vendor: elevenlabs, params: {key: el-literal, voice_id: v}}
          avatar: {vendor: heygen, params: {agora_token: t, avatar_id: a}}
          rtc: {encryption_key: k, encryption_salt: s, encryption_mode: 7}
          filler_words:
            content:
              generated_config: {llm_provider: {url: u, api_key: sk-2}}
        """,
    )
    agent = project.load().agents["x"]
    assert {str(p) for p in agent.sensitive} == {
        "properties.llm.api_key",
        "properties.llm.headers.Authorization",
        "properties.tts.params.key",
        "properties.avatar.params.agora_token",
        "properties.rtc.encryption_key",
        "properties.rtc.encryption_salt",
        "properties.filler_words.content.generated_config.llm_provider.api_key",
    }


def test_no_secret_value_ever_appears_in_a_message(project: Project) -> None:
    secret = "sk-VERY-SECRET-VALUE"
    project.write(
        "agents.d/x.yaml",
        f"""\
        name: x
        token: {secret}
        properties:
          channel: ${{SECRET}}
          agent_rtc_uid: ${{SECRET}}
          remote_rtc_uids: ["${{SECRET}}", {secret}]
          idle_timeout: ${{SECRET}}
          enable_string_uid: ${{SECRET}}
          llm:
            url: ${{SECRET}}
            api_key: {{nested: {secret}}}
            max_history: ${{SECRET}}
          tts: ${{SECRET}}
          labels: {{a: [{secret}]}}
          rtc: {{encryption_mode: {secret}}}
          typo_{secret[:2]}: 1
        """,
    )
    with pytest.raises(ValidationError) as caught:
        project.load({"SECRET": secret})
    text = str(caught.value)
    assert len(caught.value.problems) >= 8
    assert secret not in text
    assert "VERY-SECRET" not in text


def test_paths_use_the_one_field_path_grammar(project: Project) -> None:
    project.agent(
        "x.yaml",
        "x",
        props="""\
        labels: {"team.name": a, "with space": b, "ключ": c, plain-key_1: d}
        asr: {vendor: v, params: {"odd key": [{"api.key": "${SET}"}]}}
        """,
    )
    agent = project.load({"SET": "s"}).agents["x"]
    for parts in (
        ("properties", "labels", "team.name"),
        ("properties", "labels", "with space"),
        ("properties", "labels", "ключ"),
        ("properties", "labels", "plain-key_1"),
    ):
        assert FieldPath(parts).format() in agent.lines
    secret = FieldPath(("properties", "asr", "params", "odd key", 0, "api.key"))
    assert agent.sensitive == {secret}
