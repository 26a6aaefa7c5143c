"""End to end against a served sandbox: a Platform that refuses the creates of a secret set and
of a phone number and echoes the secrets it was sent, in several encodings, in its refusal. The
failed applies, the apply that follows and every read-only command after it (plan in every
format, a saved plan, show, status, drift, pull, state show) never show a secret, nor does
anything written to disk."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Project:
    directory = tmp_path / "project"
    directory.mkdir()
    return Project(directory, sandbox, with_platform=True)


def echoes(secret: str) -> str:
    """A refusal's detail that echoes ``secret`` raw, JSON-escaped, base64 and percent-encoded."""
    return (
        f"rejected {secret}; body {json.dumps({'v': secret})}; "
        f"b64 {base64.b64encode(secret.encode()).decode()}; url {quote(secret, safe='')}"
    )


def test_refused_creates_that_echo_their_secrets_never_show_them_anywhere(
    project: Project, sandbox: Sandbox
) -> None:
    p = project
    key, sip = SECRETS["OPENAI_API_KEY"], SECRETS["SIP_PASSWORD"]
    sandbox.add_fault(
        route="create-secret-set", status=400, reason="InvalidRequest", detail=echoes(key), times=1
    )
    refused = p.ok("-v", "apply", "--auto-approve", code=1)
    assert "rejected (sensitive)" in refused.output, str(refused)
    sandbox.add_fault(
        route="create-number", status=400, reason="InvalidRequest", detail=echoes(sip), times=1
    )
    p.ok("-v", "apply", "--auto-approve", "--format", "json", code=1)
    assert sandbox.platform("numbers") == []
    p.ok("apply", "--auto-approve")
    p.ok("plan", "--format", "json")
    p.ok("plan", "--format", "markdown")
    p.ok("plan", "--out", "again.plan")
    p.ok("show", "again.plan", "--format", "json")
    p.ok("status")
    p.ok("status", "--format", "json")
    p.ok("drift")
    p.ok("drift", "--format", "json")
    p.ok("pull")
    p.ok("state", "show")
    texts = [(f"output of {' '.join(r.args)}", r.output) for r in p.results]
    for path in sorted(p.dir.rglob("*")):
        if path.is_file():
            texts.append((str(path.relative_to(p.dir)), path.read_text("utf-8", "replace")))
    assert leaks(texts) == []
