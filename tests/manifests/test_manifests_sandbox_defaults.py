"""A ``${VAR:-default}`` default of a sensitive value reaches the sandbox only.

The example and the scaffold run in the sandbox with placeholder defaults
(``${OPENAI_API_KEY:-sk-sandbox-placeholder}``); against a real engine with the secret unset,
apply restarted a running agent with the placeholder as its key. With any engine but
``sandbox`` such a default is now an error naming the variable at its line (or, for the
commands made to run without secrets, an unknown value), before anything is planned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_settings
from tests.manifests.manifest_helpers import CERTIFICATE, Project

REAL_ENGINES = ["us", "https://engine.example", "http://127.0.0.1:8080"]
KEY = "OPENAI_API_KEY"


def _agent_with_default(project: Project, value: str = "${OPENAI_API_KEY:-sk-placeholder}") -> None:
    project.write(
        "agents.d/a.yaml",
        f"""\
        name: a
        token: auto
        properties:
          channel: room-1
          agent_rtc_uid: "1001"
          remote_rtc_uids: ["*"]
          llm:
            url: https://llm.example/v1/chat/completions
            api_key: {value}
          tts:
            vendor: microsoft
        """,
    )


def _message(variable: str, path: str) -> str:
    return (
        f"environment variable '{variable}' is not set (in {path}): the default of a sensitive "
        "value is a placeholder for engine: sandbox, never sent to another engine; "
        f"set {variable}"
    )


@pytest.mark.parametrize("engine", REAL_ENGINES)
def test_a_default_of_a_secret_is_refused_at_its_line_with_a_real_engine(
    project: Project, engine: str
) -> None:
    _agent_with_default(project)
    assert project.errors(engine=engine) == [
        f"agents.d/a.yaml:9: {_message(KEY, 'properties.llm.api_key')}"
    ]


def test_an_empty_variable_takes_no_placeholder_either(project: Project) -> None:
    _agent_with_default(project)
    assert project.errors({KEY: ""}, engine="us") == [
        f"agents.d/a.yaml:9: {_message(KEY, 'properties.llm.api_key')}"
    ]


def test_the_sandbox_takes_the_default(project: Project) -> None:
    _agent_with_default(project)
    agent = project.load(engine="sandbox", app_certificate=CERTIFICATE).agents["a"]
    assert agent.spec["properties"]["llm"]["api_key"] == "sk-placeholder"


def test_a_set_variable_is_used_with_a_real_engine(project: Project) -> None:
    _agent_with_default(project)
    agent = project.load({KEY: "sk-real"}, engine="us", app_certificate=CERTIFICATE).agents["a"]
    assert agent.spec["properties"]["llm"]["api_key"] == "sk-real"


def test_a_default_inside_a_larger_sensitive_value_is_refused(project: Project) -> None:
    _agent_with_default(project, '"Bearer ${OPENAI_API_KEY:-placeholder}"')
    assert project.errors(engine="us") == [
        f"agents.d/a.yaml:9: {_message(KEY, 'properties.llm.api_key')}"
    ]


def test_a_default_of_an_interpolated_url_is_refused_as_it_may_carry_a_key(
    project: Project,
) -> None:
    _agent_with_default(project, "sk-literal")
    path = project.root / "agents.d" / "a.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "url: https://llm.example/v1/chat/completions",
        "url: ${LLM_URL:-https://llm.example/v1?key=placeholder}",
    )
    path.write_text(text, encoding="utf-8")
    assert project.errors(engine="us") == [
        f"agents.d/a.yaml:8: {_message('LLM_URL', 'properties.llm.url')}"
    ]


def test_a_default_of_a_plain_setting_is_kept_with_a_real_engine(project: Project) -> None:
    _agent_with_default(project, "sk-literal")
    path = project.root / "agents.d" / "a.yaml"
    text = path.read_text(encoding="utf-8").replace("channel: room-1", "channel: ${CH:-room-9}")
    path.write_text(text, encoding="utf-8")
    agent = project.load(engine="us", app_certificate=CERTIFICATE).agents["a"]
    assert agent.channel == "room-9"


def test_a_default_in_a_partial_is_refused_where_it_is_written(project: Project) -> None:
    project.write(
        "agents.d/_base.yaml",
        """\
        properties:
          llm:
            api_key: ${OPENAI_API_KEY:-sk-placeholder}
        """,
    )
    project.agent("a.yaml", "a", extra="extends: _base.yaml\ntoken: auto\n")
    project.agent("b.yaml", "b", extra="extends: _base.yaml\ntoken: auto\n")
    assert project.errors(engine="us") == [
        f"agents.d/_base.yaml:3: {_message(KEY, 'properties.llm.api_key')}"
    ]


def test_without_secrets_on_purpose_the_value_is_unknown_not_the_placeholder(
    project: Project,
) -> None:
    _agent_with_default(project)
    from reconciler.manifests import load_desired

    desired = load_desired(
        project.settings(engine="us", app_certificate=CERTIFICATE), {}, allow_unset=True
    )
    agent = desired.agents["a"]
    unknown = {str(path): names for path, names in agent.unknown.items()}
    assert unknown == {"properties.llm.api_key": (KEY,)}


def test_an_app_certificate_default_is_refused_with_a_real_engine(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "engine: us\napp_certificate: ${AGORA_APP_CERTIFICATE:-5a4d1c3b2e6f708192a3b4c5d6e7f809}\n",
        encoding="utf-8",
    )
    settings = load_settings(tmp_path, None, {})  # validate and plan --no-refresh work
    with pytest.raises(ValidationError) as caught:
        settings.refuse_placeholders()  # what every command that reaches the engine does
    assert [str(p) for p in caught.value.problems] == [
        "reconciler.yaml:2: " + _message("AGORA_APP_CERTIFICATE", "app_certificate")
    ]


def test_an_app_certificate_default_is_refused_when_the_environment_picks_the_engine(
    tmp_path: Path,
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "engine: sandbox\n"
        "app_certificate: ${AGORA_APP_CERTIFICATE:-5a4d1c3b2e6f708192a3b4c5d6e7f809}\n",
        encoding="utf-8",
    )
    load_settings(tmp_path, None, {}).refuse_placeholders()
    with pytest.raises(ValidationError):
        load_settings(tmp_path, None, {"RECONCILER_ENGINE": "eu"}).refuse_placeholders()
    settings = load_settings(
        tmp_path,
        None,
        {"RECONCILER_ENGINE": "eu", "AGORA_APP_CERTIFICATE": "0123456789abcdef0123456789abcdef"},
    )
    settings.refuse_placeholders()
    assert settings.app_certificate is not None
    assert settings.app_certificate.get_secret_value() == "0123456789abcdef0123456789abcdef"


def test_a_default_of_a_setting_that_is_not_secret_is_kept(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "engine: us\nstate: ${STATE_FILE:-state/agents.json}\n", encoding="utf-8"
    )
    assert load_settings(tmp_path, None, {}).state == "state/agents.json"


def test_an_app_certificate_default_is_refused_with_a_real_platform(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "engine: sandbox\nplatform: preview\n"
        "app_certificate: ${AGORA_APP_CERTIFICATE:-5a4d1c3b2e6f708192a3b4c5d6e7f809}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError):
        load_settings(tmp_path, None, {}).refuse_placeholders()
