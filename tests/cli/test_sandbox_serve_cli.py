"""`reconciler sandbox serve` in a project: it reads reconciler.yaml and says how to reach it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli.cli_helpers import example_project
from tests.secret_scan import find_leaks
from tests.served import ServedSandbox

pytestmark = pytest.mark.slow

KEYS = {
    "AGORA_APP_CERTIFICATE": "5a4d1c3b2e6f708192a3b4c5d6e7f809",
    "OPENAI_API_KEY": "sk-test-openai",
    "DEEPGRAM_API_KEY": "dg-test-deepgram",
    "ELEVENLABS_API_KEY": "el-test-eleven",
    "AZURE_TTS_KEY": "az-test-azure",
    "SIP_PASSWORD": "sip-test-password",
}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}


def test_serve_in_a_project_prints_the_exports_that_make_plan_work_against_it(
    tmp_path: Path,
) -> None:
    project = example_project(tmp_path / "proj")
    log = tmp_path / "serve.log"
    served = ServedSandbox(db="", env=_clean_env(), log=log, cwd=project)
    try:
        text = log.read_text()
        assert "token auth: on, certificate from reconciler.yaml" in text
        assert "Read reconciler.yaml" in text
        exports = dict(re.findall(r"^  export (\w+)=(\S+)", text, re.MULTILINE))
        assert exports["RECONCILER_ENGINE"] == served.url
        # a sensitive ${VAR:-default} is a placeholder for engine: sandbox only: the secrets are
        # exported for a served sandbox, as its printed note says
        assert "export the variables your manifests read" in text
        env = {**_clean_env(), **exports, **KEYS}
        plan = subprocess.run(
            [sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert plan.returncode == 2, plan.stderr  # changes: it reached the served engine
        assert served.url in plan.stdout
    finally:
        served.stop()


def test_serve_never_prints_a_customer_secret_taken_from_the_environment(
    tmp_path: Path,
) -> None:
    secret = "s3cr3t-value-never-shown"
    env = {**_clean_env(), "AGORA_CUSTOMER_SECRET": secret}
    log = tmp_path / "serve.log"
    served = ServedSandbox(db="", env=env, log=log, cwd=tmp_path)
    try:
        text = log.read_text()
        assert secret not in text
        assert 'export AGORA_CUSTOMER_SECRET="$AGORA_CUSTOMER_SECRET"' in text
        assert "token auth: off" in text  # outside a project, no certificate without the variable
        assert "Read " not in text
    finally:
        served.stop()


def test_serve_never_prints_the_credentials_of_a_webhook_url(tmp_path: Path) -> None:
    """A webhook URL may carry a password or a token (``https://user:pass@host/ncs?token=``):
    the console names the receiver with them masked. The sandbox still sends to the URL as
    given, and its control route ``/_sandbox/webhooks`` (test inspection, like the join bodies
    of ``/_sandbox/agents``) shows what it holds."""
    password, token = "Hook/Pass-77é", "QueryTok+88="
    url = f"http://hook:{quote(password, safe='')}@127.0.0.1:9/ncs?token={quote(token)}&a=1"
    env = {**_clean_env(), "RECONCILER_NCS_SECRET": "ncs-secret-value"}
    log = tmp_path / "serve.log"
    served = ServedSandbox(db="", env=env, log=log, cwd=tmp_path, args=["--webhook", url])
    try:
        text = log.read_text()
        assert find_leaks([("console", text)], {"password": password, "token": token}, "\0") == []
        assert "Notification events to http://hook:***@127.0.0.1:9/ncs?token=***&a=1" in text
    finally:
        served.stop()


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_serve_stopped_by_sigterm_or_ctrl_c_exits_0_as_its_help_says(
    tmp_path: Path, stop: str
) -> None:
    """`sandbox serve` runs until stopped: SIGTERM (a service manager, a test) and Ctrl-C are how
    it ends, exit 0 ("Exit codes: 0 stopped by Ctrl-C or SIGTERM"), not 143 "Terminated."."""
    import signal

    log = tmp_path / "serve.log"
    served = ServedSandbox(db="", env=_clean_env(), log=log, cwd=tmp_path)
    served.process.send_signal(getattr(signal, stop))
    assert served.process.wait(timeout=60) == 0, log.read_text()
    assert "Terminated." not in log.read_text()
    served.stop()
