"""``apply`` says an agent is up only once the engine reports it RUNNING (read from the list),
fails the action of an agent that fails to start, with the engine's reason; ``--no-wait`` keeps
the join's answer as enough. Against a served sandbox whose agents stay STARTING for a while."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.cli_helpers import example_project
from tests.served import ServedSandbox

pytestmark = pytest.mark.slow

CERTIFICATE = "5a4d1c3b2e6f708192a3b4c5d6e7f809"
OTHER_CERTIFICATE = "0" * 32
"""Not the project's certificate: every token the project mints fails the sandbox's check."""
KEYS = {
    "OPENAI_API_KEY": "sk-test-openai",
    "DEEPGRAM_API_KEY": "dg-test-deepgram",
    "ELEVENLABS_API_KEY": "el-test-eleven",
    "AZURE_TTS_KEY": "az-test-azure",
    "SIP_PASSWORD": "sip-test-password",
}
"""The manifests' keys: a sensitive ${VAR:-default} is a placeholder for engine: sandbox only."""


def _env(served: ServedSandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    return {
        **env,
        **KEYS,
        "AGORA_APP_CERTIFICATE": CERTIFICATE,
        "RECONCILER_ENGINE": served.url,
        "RECONCILER_PLATFORM": served.url,
        "AGORA_CUSTOMER_ID": "sandbox",
        "AGORA_CUSTOMER_SECRET": "sandbox",
    }


def _apply(project: Path, served: ServedSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", *args],
        cwd=project, env=_env(served), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _requests(served: ServedSandbox, route: str) -> int:
    answer = httpx.get(f"{served.url}/_sandbox/requests", params={"route": route}, timeout=10)
    return len(answer.json()["requests"])


def test_apply_waits_until_every_agent_started_is_running_reading_the_list(
    tmp_path: Path,
) -> None:
    project = example_project(tmp_path / "proj")
    served = ServedSandbox(db="", args=["--start-delay", "2"], env=_env_clean(), cwd=project)
    try:
        done = _apply(project, served)
        assert done.returncode == 0, done.stderr
        for name in ("concierge", "sales-en", "support-en"):
            assert f"{name}: RUNNING (waited " in done.stdout
        last = done.stdout.rstrip().splitlines()[-1]
        assert last.startswith("Apply complete: 3 started, 3 created.")
        running = httpx.get(f"{served.url}/_sandbox/agents", timeout=10).json()["agents"]
        assert sorted(a["status"] for a in running) == ["RUNNING"] * 3
        assert _requests(served, "get") == 0  # readiness came from the list, not a GET each
        assert _requests(served, "join") == 3
    finally:
        served.stop()


def test_apply_no_wait_is_done_when_the_engine_answers_the_start(tmp_path: Path) -> None:
    project = example_project(tmp_path / "proj")
    served = ServedSandbox(db="", args=["--start-delay", "30"], env=_env_clean(), cwd=project)
    try:
        done = _apply(project, served, "--no-wait")
        assert done.returncode == 0, done.stderr
        assert "RUNNING" not in done.stdout
        agents = httpx.get(f"{served.url}/_sandbox/agents", timeout=10).json()["agents"]
        assert sorted(a["status"] for a in agents) == ["STARTING"] * 3
    finally:
        served.stop()


def test_an_agent_that_fails_to_start_fails_its_action_with_the_engines_reason(
    tmp_path: Path,
) -> None:
    project = example_project(tmp_path / "proj")
    env = {**_env_clean(), "AGORA_APP_CERTIFICATE": OTHER_CERTIFICATE}
    served = ServedSandbox(db="", args=["--start-delay", "1"], env=env, cwd=project)
    try:
        done = _apply(project, served)
        assert done.returncode == 1
        assert "sales-en: FAILED: the engine reports it FAILED" in done.stdout
        assert "these actions failed:" in done.stderr
    finally:
        served.stop()


def test_a_start_still_starting_at_the_wait_timeout_fails_and_says_so(tmp_path: Path) -> None:
    project = example_project(tmp_path / "proj")
    served = ServedSandbox(db="", args=["--start-delay", "60"], env=_env_clean(), cwd=project)
    try:
        done = _apply(project, served, "--wait-timeout", "2s")
        assert done.returncode == 1
        assert "support-en: FAILED: started, but still STARTING after 2s" in done.stdout
    finally:
        served.stop()


def _env_clean() -> dict[str, str]:
    """The environment of the served sandbox: the project's certificate, no other credential."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    return {**env, "AGORA_APP_CERTIFICATE": CERTIFICATE}
