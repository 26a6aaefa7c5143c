"""``watch --heal-only`` brings back an always-on agent that exited while its manifest holds an
unapplied change: one reconcile run starts it again with the spec it was last applied with (its
secrets from the environment), and the change itself stays held for review.

Through the watch controller against the in-process sandbox: the agent is crashed with the
sandbox's control route, the manifest is changed, one run, and the engine runs the agent again.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.project import Project
from reconciler.project.connect import sandbox_transport
from reconciler.watch.controller import Watcher, WatchOptions
from reconciler.watch.metrics import WatchMetrics

ROOT = Path(__file__).resolve().parents[2]
ENV = {"OPENAI_API_KEY": "sk-heal-test-1", "AZURE_TTS_KEY": "azure-heal-test-1"}
OLD_GREETING = "Hi, this is Acme support. How can I help?"
NEW_GREETING = "Hello from Acme support, what can I do for you?"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    shutil.copy(ROOT / "tests" / "single_environment.yaml", tmp_path / "reconciler.yaml")
    return tmp_path


def _watcher(directory: Path, env: dict[str, str], *, heal_only: bool) -> Watcher:
    project = Project.open(directory, None, env)
    options = WatchOptions(directory=directory, config=None, heal_only=heal_only)
    return Watcher(project, options, metrics=WatchMetrics(), jitter=lambda: 0.0)


def _control(directory: Path, method: str, path: str, body: Any = None) -> Any:
    """A call to the sandbox's control routes (``/_sandbox/...``), in process."""
    settings = Project.open(directory, None, ENV).settings
    transport, close = sandbox_transport(settings, read_only=False)

    async def go() -> Any:
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            response = await http.request(method, f"/_sandbox{path}", json=body)
            assert response.status_code == 200, response.text
            return response.json()

    try:
        return asyncio.run(go())
    finally:
        close()


def _engine_agent(directory: Path, agent_id: str) -> dict[str, Any]:
    view: dict[str, Any] = _control(directory, "GET", f"/agents/{agent_id}")
    return view


def _edit(directory: Path, old: str, new: str) -> None:
    manifest = directory / "agents.d" / "support-en.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new), encoding="utf-8")


def _crash_support(directory: Path) -> Any:
    """Start the example, crash support-en on the engine; return its record."""
    asyncio.run(_watcher(directory, ENV, heal_only=False).reconcile())
    record = Project.open(directory, None, ENV).store.load().agents["support-en"]
    _control(directory, "POST", f"/agents/{record.agent_id}/crash", {"message": "test crash"})
    assert _engine_agent(directory, record.agent_id)["status"] == "FAILED"
    return record


def _sample(watcher: Watcher, name: str, **labels: str) -> float:
    value = watcher.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_heal_only_restarts_an_exited_agent_whose_manifest_changed_with_its_recorded_spec(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = _crash_support(directory)
    _edit(directory, OLD_GREETING, NEW_GREETING)

    caplog.set_level(logging.INFO, logger="reconciler.watch")
    watcher = _watcher(directory, ENV, heal_only=True)
    asyncio.run(watcher.reconcile())

    after = watcher.project.store.load().agents["support-en"]
    assert after.agent_id != before.agent_id
    assert after.generation == before.generation + 1
    assert after.spec == before.spec and after.spec_digest == before.spec_digest  # as applied
    running = _engine_agent(directory, after.agent_id)
    assert running["status"] == "RUNNING"
    llm = running["join_body"]["properties"]["llm"]
    assert llm["greeting_message"] == OLD_GREETING  # the unreviewed change is not applied
    assert llm["api_key"] == ENV["OPENAI_API_KEY"]  # the secret itself, from the environment
    assert running["join_body"]["properties"]["tts"]["params"]["key"] == ENV["AZURE_TTS_KEY"]
    start = "reconciler_watch_actions_total"
    assert _sample(watcher, start, action="start", outcome="ok") == 1
    assert any(
        "starting it with the spec it was last applied with" in r.message for r in caplog.records
    )

    # The change is still held: the next run leaves the running agent alone and holds a restart.
    asyncio.run(watcher.reconcile())
    assert watcher.project.store.load().agents["support-en"].agent_id == after.agent_id
    assert _sample(watcher, start, action="restart", outcome="held") == 1
    assert _engine_agent(directory, after.agent_id)["status"] == "RUNNING"


def test_a_secret_rotated_in_the_environment_meanwhile_is_used_as_it_is_now(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = _crash_support(directory)
    _edit(directory, OLD_GREETING, NEW_GREETING)
    rotated = {**ENV, "OPENAI_API_KEY": "sk-heal-test-2"}

    caplog.set_level(logging.INFO, logger="reconciler.watch")
    watcher = _watcher(directory, rotated, heal_only=True)
    asyncio.run(watcher.reconcile())

    after = watcher.project.store.load().agents["support-en"]
    running = _engine_agent(directory, after.agent_id)
    assert running["status"] == "RUNNING"
    llm = running["join_body"]["properties"]["llm"]
    assert (llm["api_key"], llm["greeting_message"]) == ("sk-heal-test-2", OLD_GREETING)
    assert after.spec["properties"]["llm"]["api_key"] != before.spec["properties"]["llm"]["api_key"]
    assert after.spec["properties"]["llm"]["greeting_message"] == OLD_GREETING
    logged = " ".join(r.message for r in caplog.records)
    assert "properties.llm.api_key take their current value" in logged
    assert "sk-heal-test" not in logged


def test_an_agent_whose_recorded_secret_is_gone_from_the_manifest_stays_held_and_says_why(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = _crash_support(directory)
    _edit(directory, "      key: ${AZURE_TTS_KEY:-azure-sandbox-placeholder}\n", "")

    caplog.set_level(logging.INFO, logger="reconciler.watch")
    watcher = _watcher(directory, ENV, heal_only=True)
    asyncio.run(watcher.reconcile())

    assert watcher.project.store.load().agents["support-en"].agent_id == before.agent_id
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="held") == 1
    logged = " ".join(r.message for r in caplog.records)
    assert (
        "start support-en (down; not healed: its recorded properties.tts.params.key has no "
        "value in the manifest now"
    ) in logged
