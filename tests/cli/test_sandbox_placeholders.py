"""The example's and the scaffold's placeholder secrets never reach an engine but the sandbox.

Against the embedded sandbox they run unedited (``test_init_in_an_empty_directory_gives_a_
project_that_plans_and_applies_unedited`` and the example's own tests). Against any other
engine (here: a sandbox served over HTTP, which the tool treats as a real engine) a secret left
unset is refused before any call that could change the engine (or carry a manifest value),
naming the variable at its line, where apply once restarted the running agents with
``sk-sandbox-placeholder`` as their key.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxConfig, create_app
from tests.reliability.inproc import ThreadServer, run_cli

REPO = Path(__file__).resolve().parents[2]
CERTIFICATE = "0123456789abcdef0123456789abcdef"
SECRETS = {
    "OPENAI_API_KEY": "sk-real-openai-key",
    "AZURE_TTS_KEY": "azure-real-key",
    "SIP_PASSWORD": "sip-real-password",
    "DEEPGRAM_API_KEY": "dg-real-key",
    "ELEVENLABS_API_KEY": "el-real-key",
}


class Counting:
    """An ASGI app that counts the engine requests it passes on that could change anything.

    A read-only refresh (``GET``) may run beside the manifest load, before its problems are
    known; it sends no manifest value. Every other call (join, leave, update) is counted.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] != "GET"
            and not scope["path"].startswith("/_sandbox")
        ):
            self.requests += 1
        await self.app(scope, receive, send)


@pytest.fixture
def engine() -> Iterator[tuple[ThreadServer, Counting]]:
    app = create_app(SandboxConfig(app_certificate=CERTIFICATE, stop_delay_s=0.0))
    counting = Counting(app)
    with ThreadServer(counting) as served:
        yield served, counting
    app.state.sandbox.close()


def _environment(url: str, **changes: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "RECONCILER_ENGINE": url,
        "AGORA_CUSTOMER_ID": "sandbox",
        "AGORA_CUSTOMER_SECRET": "sandbox",
        "AGORA_APP_CERTIFICATE": CERTIFICATE,
        **SECRETS,
    }
    env.update(changes)
    return env


def _example(directory: Path) -> Path:
    directory.mkdir()
    shutil.copy(REPO / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
    shutil.copytree(REPO / "agents.d", directory / "agents.d")
    return directory


def _scaffold(directory: Path) -> Path:
    result = run_cli("init", str(directory))
    assert result.code == 0, str(result)
    return directory


def test_an_unset_secret_never_restarts_a_running_agent_with_its_placeholder(
    tmp_path: Path, engine: tuple[ThreadServer, Counting]
) -> None:
    served, counting = engine
    project = _example(tmp_path / "project")
    applied = run_cli("-C", str(project), "apply", "--auto-approve", env=_environment(served.url))
    assert applied.code == 0, str(applied)
    state = (project / "state" / "agents.json").read_bytes()
    before = counting.requests

    env = _environment(served.url, OPENAI_API_KEY=None)
    for command in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        result = run_cli("-C", str(project), *command, env=env)
        assert result.code == 1, str(result)
        assert (
            "agents.d/_base/openai.yaml:13: environment variable 'OPENAI_API_KEY' is not set "
            "(in properties.llm.api_key)" in result.stderr
        ), str(result)
        assert "sk-sandbox-placeholder" not in result.output
    assert counting.requests == before, "a call reached the engine"
    assert (project / "state" / "agents.json").read_bytes() == state


def test_validate_without_secrets_shows_the_value_as_unknown_not_the_placeholder(
    tmp_path: Path, engine: tuple[ThreadServer, Counting]
) -> None:
    served, counting = engine
    project = _example(tmp_path / "project")
    env = _environment(served.url, OPENAI_API_KEY=None)
    result = run_cli("-C", str(project), "validate", env=env)
    assert result.code == 0, str(result)
    assert "OPENAI_API_KEY" in result.stderr  # noted as not set: plan and apply need it
    assert counting.requests == 0


@pytest.mark.parametrize("missing", ["OPENAI_API_KEY", "AZURE_TTS_KEY", "AGORA_APP_CERTIFICATE"])
def test_the_scaffold_against_a_real_engine_names_each_unset_secret_before_any_call(
    tmp_path: Path, engine: tuple[ThreadServer, Counting], missing: str
) -> None:
    served, counting = engine
    project = _scaffold(tmp_path / "project")
    env = _environment(served.url, **{missing: None})
    result = run_cli("-C", str(project), "--env", "staging", "apply", "--auto-approve", env=env)
    assert result.code == 1, str(result)
    assert f"environment variable '{missing}' is not set" in result.stderr, str(result)
    file = "reconciler.yaml:" if missing == "AGORA_APP_CERTIFICATE" else "agents.d/assistant.yaml:"
    assert file in result.stderr
    assert counting.requests == 0
    assert not (project / "state" / "staging.json").exists()


def test_the_scaffold_against_a_real_engine_works_with_its_secrets_set(
    tmp_path: Path, engine: tuple[ThreadServer, Counting]
) -> None:
    served, _ = engine
    project = _scaffold(tmp_path / "project")
    env = _environment(served.url)
    result = run_cli("-C", str(project), "--env", "staging", "apply", "--auto-approve", env=env)
    assert result.code == 0, str(result)
    assert "1 started" in result.stdout
