"""`reconciler validate` and `reconciler schema`; the example project; the committed schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli, main
from reconciler.errors import ValidationError
from reconciler.manifests import load_desired, load_settings, manifest_schema

REPO = Path(__file__).resolve().parents[2]
TEN_BAD = Path(__file__).parent / "fixtures" / "ten-bad"
EXAMPLE_VARS = ("OPENAI_API_KEY", "AZURE_TTS_KEY", "DEEPGRAM_API_KEY", "ELEVENLABS_API_KEY")
CLEAN_ENV: dict[str, str | None] = {
    name: None for name in ("RECONCILER_ENGINE", "AGORA_APP_ID", "AGORA_APP_CERTIFICATE")
}


def test_validate_prints_the_number_of_valid_agents() -> None:
    result = CliRunner().invoke(cli, ["-C", str(REPO), "validate"], env=CLEAN_ENV)
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == "3 agents and 3 resources valid in staging\n3 agents and 3 resources valid in prod\n"
    )


def test_validate_fails_with_the_validation_error() -> None:
    result = CliRunner().invoke(cli, ["-C", str(TEN_BAD), "validate"], env=CLEAN_ENV)
    assert result.exit_code == 1
    assert isinstance(result.exception, ValidationError)
    assert len(result.exception.problems) == 10  # an unset variable is no problem here


def test_main_prints_every_problem_on_stderr_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_TTS_KEY", raising=False)
    monkeypatch.delenv("RECONCILER_ENGINE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(TEN_BAD), "validate"])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "Error: " + (TEN_BAD / "expected.txt").read_text(encoding="utf-8")


def test_main_validate_exits_0_on_the_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_ENGINE", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(REPO), "validate"])
    assert exited.value.code == 0
    assert capsys.readouterr() == (
        "3 agents and 3 resources valid in staging\n3 agents and 3 resources valid in prod\n",
        "",
    )


def test_validate_reports_settings_problems_too(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()
    result = CliRunner().invoke(
        cli, ["-C", str(tmp_path), "validate"], env={"RECONCILER_ENGINE": "mars"}
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, ValidationError)
    assert result.exception.what == "settings"


def test_validate_with_a_config_option(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()
    config = tmp_path / "ci.yaml"
    config.write_text("parallelism: 2\n", encoding="utf-8")
    args = ["-C", str(tmp_path), "--config", str(config), "validate"]
    result = CliRunner().invoke(cli, args, env=CLEAN_ENV)
    assert (result.exit_code, result.output) == (0, "0 agents valid\n")


def test_schema_prints_the_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == manifest_schema()
    agent = schema["$defs"]["AgentManifest"]  # a document without a Platform kind
    assert schema["else"] == {"$ref": "#/$defs/AgentManifest"}
    assert agent["required"] == ["name"]  # the rest may come from a partial
    assert agent["additionalProperties"] is False
    assert "idle_timeout" in schema["$defs"]["Properties"]["properties"]


def test_schema_covers_every_kind() -> None:
    import jsonschema

    schema = json.loads(CliRunner().invoke(cli, ["schema"]).output)
    check = jsonschema.Draft202012Validator(schema)
    good = [
        {"kind": "SecretSet", "name": "llm_keys", "keys": {"openai": "${OPENAI_API_KEY}"}},
        {"kind": "SavedAgent", "name": "support", "spec": {"instructions": "Be brief."}},
        {
            "kind": "PhoneNumber",
            "name": "line",
            "spec": {
                "number": "+14155550100",
                "sip_trunk": {"hostname": "pstn.example.com"},
                "inbound": {"agent": {"ref": "SavedAgent/support"}, "call_policy": {}},
            },
        },
        {"name": "plain-agent", "properties": {"channel": "c"}},
    ]
    for document in good:
        assert list(check.iter_errors(document)) == [], document
    bad = [
        {"kind": "SecretSet", "name": "llm-keys", "keys": {"k": "v"}},  # hyphen: refused
        {"kind": "SavedAgent", "name": "support", "spec": {}, "typo": 1},
        {"kind": "PhoneNumber", "name": "line", "spec": {"number": "+1415", "sip_trunk": {}}},
        {
            "kind": "PhoneNumber",
            "name": "line",
            "spec": {
                "number": "+14155550100",
                "sip_trunk": {"hostname": "pstn.example.com"},
                "inbound": {"agent": {"ref": "SavedAgent/support"}},  # no call_policy
            },
        },
    ]
    for document in bad:
        assert list(check.iter_errors(document)) != [], document


NAMES = ["openai", "OPENAI_2", "k" * 64, "k" * 65, "open-ai", "open ai", "a.b", "ключ", ""]
"""Key names and reference parts the Platform takes (the first three) and refuses."""


@pytest.mark.parametrize("name", NAMES)
def test_the_schema_refuses_a_secret_key_name_exactly_when_validate_does(name: str) -> None:
    import jsonschema
    from pydantic import ValidationError as PydanticError

    from reconciler.models.platform import SecretSetManifest

    document = {"kind": "SecretSet", "name": "llm_keys", "keys": {name: "${OPENAI_API_KEY}"}}
    editor = list(jsonschema.Draft202012Validator(manifest_schema()).iter_errors(document))
    try:
        SecretSetManifest.model_validate(document)
        validated = True
    except PydanticError:
        validated = False
    assert validated == (name in NAMES[:3])
    assert (editor == []) == validated, editor


@pytest.mark.parametrize("name", NAMES)
def test_the_schema_refuses_a_credential_reference_exactly_when_validate_does(name: str) -> None:
    import jsonschema

    from reconciler.models.secretref import secret_reference_problem

    reference = f"$secrets.llm_keys.{name}"
    document = {
        "kind": "SavedAgent",
        "name": "support",
        "spec": {"llm": {"credential": {"mode": "byok", "fields": {"api_key": reference}}}},
    }
    editor = list(jsonschema.Draft202012Validator(manifest_schema()).iter_errors(document))
    validated = secret_reference_problem(reference) is None
    assert validated == (name in NAMES[:3])
    assert (editor == []) == validated, editor


def test_schema_of_a_partial_requires_nothing() -> None:
    result = CliRunner().invoke(cli, ["schema", "--partial"])
    assert result.exit_code == 0
    assert "required" not in result.output


def test_the_committed_schemas_are_up_to_date() -> None:
    docs = REPO / "docs"
    committed = json.loads((docs / "manifest.schema.json").read_text(encoding="utf-8"))
    partial = json.loads((docs / "manifest.partial.schema.json").read_text(encoding="utf-8"))
    hint = "regenerate: reconciler schema > docs/manifest.schema.json (and --partial)"
    assert committed == manifest_schema(), hint
    assert partial == manifest_schema(partial=True), hint


def test_every_example_manifest_points_editors_at_the_schema() -> None:
    files = sorted((REPO / "agents.d").rglob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first.startswith(prefix), path
        assert (path.parent / first[len(prefix) :]).resolve().is_file(), path


def test_the_example_project_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in (*EXAMPLE_VARS, *CLEAN_ENV)}
    for environment in ("staging", "prod"):
        assert load_settings(REPO, None, environ, environment).engine == "sandbox"
    settings = load_settings(REPO, None, environ, "staging")
    desired = load_desired(settings, environ)
    assert sorted(desired.agents) == ["concierge", "sales-en", "support-en"]
    assert {a.token_mode for a in desired.agents.values()} == {"auto"}
    concierge = desired.agents["concierge"].spec["properties"]
    assert concierge["mllm"]["enable"] is True and "llm" not in concierge
    support = desired.agents["support-en"]
    assert support.spec["properties"]["llm"]["api_key"] == "sk-sandbox-placeholder"
    assert {"properties.llm.api_key", "properties.tts.params.key"} <= {
        str(p) for p in support.sensitive
    }
    sales = desired.agents["sales-en"]
    assert {"properties.asr.params.api_key", "properties.tts.params.key"} <= {
        str(p) for p in sales.sensitive
    }


def test_the_example_manifests_match_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for path in sorted((REPO / "agents.d").rglob("*.yaml")):
        partial = path.name.startswith("_") or "_base" in path.parts
        schema = manifest_schema(partial=partial)
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            jsonschema.validate(document, schema)
