"""The sensitivity rule end to end: what a manifest interpolates or writes under a secret-like
key, and what every command then shows or writes.

Identifiers and plain settings are shown everywhere (plan header, diff, JSON, saved plan, state
and its backup, ``state list``) even when interpolated; interpolated values under other keys and
values under secret-like keys are hidden everywhere, literal or not. Every output and every file
of the project (the in-process engine's own database aside) is scanned for the secrets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.inproc import CliResult, run_cli
from tests.secret_scan import find_leaks

APP_ID = "0123456789abcdef0123456789abcdef"
LITERAL_KEY = "sk-literal-LLM-key-0123456789"
SECRETS = {
    "TTS_KEY": "tts-SECRET-value-998877",
    "PROMPT": "prompt-SECRET-value-123456",
    "literal llm.api_key": LITERAL_KEY,
}
ENV = {
    "CHAN": "room-visible-42",
    "RTC_UID": "4242",
    "MODEL": "gpt-4o-visible",
    "TTS_KEY": SECRETS["TTS_KEY"],
    "PROMPT": SECRETS["PROMPT"],
}
MANIFEST = f"""\
name: support
properties:
  channel: ${{CHAN}}
  agent_rtc_uid: "${{RTC_UID}}"
  remote_rtc_uids: ["${{REMOTE:-*}}"]
  idle_timeout: 0
  llm:
    url: https://api.openai.com/v1/chat/completions
    api_key: {LITERAL_KEY}
    system_messages: [{{role: system, content: "${{PROMPT}}"}}]
    params: {{model: "${{MODEL:-gpt-4o}}"}}
  tts:
    vendor: microsoft
    params: {{key: "${{TTS_KEY}}", region: eastus, voice_name: "${{VOICE:-en-US-AriaNeural}}"}}
"""
SHOWN = {
    "properties.channel": "room-visible-42",
    "properties.agent_rtc_uid": "4242",
    "properties.remote_rtc_uids": ["*"],
    "properties.llm.params.model": "gpt-4o-visible",
    "properties.tts.params.voice_name": "en-US-AriaNeural",
    "properties.tts.params.region": "eastus",
}
HIDDEN = {"properties.llm.api_key", "properties.llm.system_messages", "properties.tts.params.key"}


class Run:
    """The CLI on one project, every output kept for the final scan."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.outputs: list[tuple[str, str]] = []

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> CliResult:
        result = run_cli("-C", str(self.dir), *args, env={**ENV, **(env or {})})
        assert result.code == code, result
        self.outputs.append((f"reconciler {' '.join(args)}", result.output))
        return result

    def files(self) -> list[tuple[str, str]]:
        """Every file the commands wrote (not the inputs, nor the engine's own database)."""
        inputs = (self.dir / ".sandbox", self.dir / "agents.d")
        return [
            (str(path.relative_to(self.dir)), path.read_text(encoding="utf-8", errors="replace"))
            for path in sorted(self.dir.rglob("*"))
            if path.is_file() and not any(d in path.parents for d in inputs)
        ]


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    (tmp_path / "reconciler.yaml").write_text(f"engine: sandbox\napp_id: {APP_ID}\n")
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "agents.d" / "support.yaml").write_text(MANIFEST)
    return Run(tmp_path)


def changes_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (agent,) = plan["agents"]
    return {change["path"]: change for change in agent["changes"]}


def test_identifiers_and_plain_settings_are_shown_and_secrets_hidden_in_every_output(
    cli: Run,
) -> None:
    cli("validate")
    planned = json.loads(cli("plan", "--format", "json", code=0).stdout)
    assert planned["agents"][0]["channel"] == "room-visible-42"
    changes = changes_of(planned)
    for path, value in SHOWN.items():
        assert (changes[path]["sensitive"], changes[path]["after"]) == (False, value), path
    for path in HIDDEN:
        assert (changes[path]["sensitive"], changes[path]["after"]) == (True, None), path

    text = cli("plan").stdout
    assert "+ support  channel=room-visible-42" in text
    assert '+ properties.channel = "room-visible-42"' in text
    assert '+ properties.llm.params.model = "gpt-4o-visible"' in text
    assert "+ properties.tts.params.key = (sensitive)" in text
    assert "+ properties.llm.system_messages = (sensitive)" in text
    cli("plan", "--format", "markdown")
    saved = cli.dir / "saved.plan"
    cli("plan", "--out", str(saved))
    assert "room-visible-42" in saved.read_text()
    cli("apply", "--auto-approve", str(saved))

    state = json.loads((cli.dir / "state" / "agents.json").read_text())
    record = state["agents"]["support"]
    assert record["channel"] == "room-visible-42"
    applied = record["spec"]["properties"]
    assert applied["channel"] == "room-visible-42"
    assert applied["llm"]["params"]["model"] == "gpt-4o-visible"
    assert set(applied["llm"]["api_key"]) == {"$sensitive"}
    assert set(applied["tts"]["params"]["key"]) == {"$sensitive"}
    assert "room-visible-42" in cli("state", "list").stdout
    cli("state", "show")

    # A change of an interpolated model is reviewable; a rotated secret is only "changed".
    rotated = {"MODEL": "gpt-4.1-visible", "TTS_KEY": "tts-ROTATED-value-554433"}
    changed = json.loads(cli("plan", "--format", "json", env=rotated).stdout)
    model = changes_of(changed)["properties.llm.params.model"]
    assert (model["before"], model["after"]) == ("gpt-4o-visible", "gpt-4.1-visible")
    key = changes_of(changed)["properties.tts.params.key"]
    assert (key["sensitive"], key["before"], key["after"]) == (True, None, None)
    text = cli("plan", env=rotated).stdout
    assert '"gpt-4o-visible" -> "gpt-4.1-visible"' in text
    cli("apply", "--auto-approve", env=rotated)
    assert (cli.dir / "state" / "agents.json.backup").is_file()

    secrets = {**SECRETS, "rotated TTS_KEY": rotated["TTS_KEY"]}
    assert find_leaks([*cli.outputs, *cli.files()], secrets, "no Basic credential here") == []
