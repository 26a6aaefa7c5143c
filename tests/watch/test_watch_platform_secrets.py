"""`reconciler watch` on a project with the Platform's kinds, against a served sandbox whose
Platform refuses the first create of the phone number and echoes its SIP password (raw, base64
and percent-encoded): the watch's log lines, metrics and probes never show a secret, and the
next run creates the number."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks
from tests.watch.watch_process import WatchProcess, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Project:
    directory = tmp_path / "project"
    directory.mkdir()
    return Project(directory, sandbox, with_platform=True)


def test_a_refused_number_create_that_echoes_its_password_is_logged_without_it(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    sip = SECRETS["SIP_PASSWORD"]
    echoed = f"auth {sip} / {base64.b64encode(sip.encode()).decode()} / {quote(sip, safe='')}"
    sandbox.add_fault(
        route="create-number", status=400, reason="InvalidRequest", detail=echoed, times=1
    )
    watch = WatchProcess(project, "--log-format", "json", log=tmp_path / "watch.log")
    try:
        wait_for("the number created", lambda: len(sandbox.platform("numbers")) == 1, 30, watch)
        wait_for("readiness", watch.is_ready, 10, watch)
        lines = [json.loads(line) for line in watch.log_text().splitlines() if line.strip()]
        failed = [line for line in lines if line["event"] == "reconcile.failed"]
        assert failed and "PhoneNumber/support-line" in failed[0]["msg"], watch.log_text()
        texts = [(str(watch.log), watch.log_text())]
        for path in ("/metrics", "/readyz", "/healthz"):
            response = watch.get(path)
            assert response is not None
            texts.append((path, response.text))
        assert leaks(texts) == []
    finally:
        watch.stop()
