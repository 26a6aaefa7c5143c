"""End to end, through the CLI and a served sandbox: the guard rails of apply.

Saved plans that went stale are refused, a second apply is refused while the first holds the
state lock, and apply never acts without consent.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from reconciler.state import StateLock
from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks

pytestmark = pytest.mark.slow

EXIT_CONFLICT = 3


def test_a_stale_saved_plan_is_refused_and_a_fresh_one_applies_exactly(
    project: Project, sandbox: Sandbox
) -> None:
    # A manifest edited after the plan was saved.
    project.ok("plan", "--out", "edited.json")
    project.edit("support-en", "Answer briefly", "Answer very briefly")
    refused = project.ok("apply", "edited.json", code=EXIT_CONFLICT)
    assert "stale plan" in refused.stderr
    assert "support-en (manifest or a secret it references changed)" in refused.stderr
    assert sandbox.agents() == []

    # State moved on (another apply ran) after the plan was saved.
    project.ok("plan", "--out", "moved.json")
    project.ok("apply", "--auto-approve", "--target", "concierge")
    refused = project.ok("apply", "moved.json", code=EXIT_CONFLICT)
    assert "stale plan: it was made before any state was recorded" in refused.stderr
    assert sorted(sandbox.running()) == [project.wire("concierge")]

    # A secret the manifests reference has another value now than when the plan was made.
    fresh = project.ok("plan", "--out", "fresh.json")
    assert "Plan: 2 to start; 1 unchanged." in fresh.stdout
    rotated = {**project.env, "OPENAI_API_KEY": "sk-e2e-rotated-key-0000"}
    refused = project.run("apply", "fresh.json", env=rotated)
    assert refused.code == EXIT_CONFLICT, str(refused)
    assert "stale plan" in refused.stderr
    assert "sales-en (manifest or a secret it references changed)" in refused.stderr
    assert "sk-e2e-rotated-key-0000" not in refused.output
    assert sorted(sandbox.running()) == [project.wire("concierge")]

    # The fresh plan, with the environment it was made with, applies exactly.
    applied = project.ok("apply", "fresh.json")
    assert "Apply complete: 2 started." in applied.stdout
    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        project.wire("sales-en"),
        project.wire("support-en"),
    ]
    assert len(sandbox.agents()) == 3
    assert (
        "very briefly"
        in sandbox.running()[project.wire("support-en")]["join_body"]["properties"]["llm"][
            "system_messages"
        ][0]["content"]
    )
    # ... once: the state it was made for is gone now.
    assert "stale plan" in project.ok("apply", "fresh.json", code=EXIT_CONFLICT).stderr
    project.ok("plan", "--detailed-exitcode", code=0)


def test_apply_is_refused_with_exit_3_while_another_process_holds_the_lock(
    project: Project, sandbox: Sandbox
) -> None:
    project.state_file.parent.mkdir(parents=True, exist_ok=True)
    with StateLock(project.state_file, command="apply") as held:
        refused = project.ok("apply", "--auto-approve", code=EXIT_CONFLICT)
        planned = project.ok("plan")  # read-only: it reads state without the lock

    assert f"state is locked by {held.who} (pid {os.getpid()}) running 'apply'" in refused.stderr
    assert f"lock id {held.id}" in refused.stderr
    assert "Plan: 3 to start" in planned.stdout
    assert sandbox.agents() == []
    assert "Apply complete: 3 started." in project.apply().stdout


@pytest.mark.slow
def test_a_second_concurrent_apply_is_refused_while_the_first_runs(
    project: Project, sandbox: Sandbox
) -> None:
    # The first apply holds the lock while its joins wait 15 s: long enough for a second process
    # to start and be refused on a loaded machine (this bounds the test, it times nothing).
    sandbox.add_fault(route="join", action="delay", delay_ms=15000)
    lock_file = project.state_file.with_name("agents.json.lock")
    first = project.popen("apply", "--auto-approve")
    try:
        holder = _wait_for_holder(lock_file, first.pid)
        second = project.ok("apply", "--auto-approve", code=EXIT_CONFLICT)
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()

    assert first.returncode == 0, err
    assert "Apply complete: 3 started." in out
    assert f"(pid {first.pid}) running 'apply'" in second.stderr
    assert f"lock id {holder['id']}" in second.stderr
    assert "Plan:" not in second.stdout  # refused before planning anything
    assert len(sandbox.agents()) == 3
    assert not lock_file.exists()  # released: the run that created it removed it


def _wait_for_request(sandbox: Sandbox, route: str) -> None:
    """Return once the sandbox has received a ``route`` request (logged before any fault)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sandbox.requests(route):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {route} request reached the sandbox")


def _wait_for_holder(lock_file: Path, pid: int) -> dict[str, object]:
    """The holder info of ``lock_file`` once process ``pid`` holds it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            info = json.loads(lock_file.read_text())
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) and info.get("pid") == pid:
            return info
        time.sleep(0.02)
    raise AssertionError("the first apply never took the lock")


def test_apply_without_auto_approve_and_without_a_tty_refuses(
    project: Project, sandbox: Sandbox
) -> None:
    refused = project.ok("apply", code=1)

    assert "Plan: 3 to start" in refused.stdout  # the plan is shown, then refused
    assert "refusing to apply without confirmation: stdin is not a terminal" in refused.stderr
    assert "--auto-approve" in refused.stderr
    assert sandbox.agents() == []
    assert sandbox.requests("join") == []

    project.apply()
    refused = project.ok("destroy", code=1)
    assert "refusing to destroy without confirmation" in refused.stderr
    assert len(sandbox.running()) == 3


def test_no_secret_reaches_output_state_lock_or_saved_plans(
    project: Project, sandbox: Sandbox
) -> None:
    p = project
    p.ok("validate")
    p.ok("plan", "--format", "json")
    p.ok("plan", "--format", "markdown")
    p.ok("plan", "--out", "start.json")
    p.ok("-v", "apply", "start.json")
    p.ok("state", "show")
    # An update (prompt), a restart (vendor) and a rotated secret.
    p.edit("support-en", "Answer briefly", "Answer very briefly")
    p.edit("sales-en", "vendor: elevenlabs", "vendor: cartesia")
    rotated = "sk-e2e-ROTATED-openai-5e6f7a8b"
    p.env["OPENAI_API_KEY"] = rotated
    secrets = {**SECRETS, "OPENAI_API_KEY (rotated)": rotated}
    changed = p.ok("plan", "--detailed-exitcode", "--out", "change.json", code=2)
    assert "(sensitive, changed)" in changed.stdout
    p.ok("show", "change.json", "--format", "json")
    p.ok("show", "change.json", "--format", "markdown")
    # Hold the lock file open mid-apply (slow join: a generous window) to read the holder info.
    sandbox.add_fault(route="join", action="delay", delay_ms=3000)
    running = p.popen("-v", "apply", "change.json")
    lock_text = json.dumps(
        _wait_for_holder(p.state_file.with_name("agents.json.lock"), running.pid)
    )
    out, err = running.communicate(timeout=30)
    assert running.returncode == 0, err
    sandbox.control("DELETE", "/faults/rules")
    # A failed update whose engine text quotes secrets sent at join (not in the update body).
    p.edit("support-en", "Answer very briefly", "Answer briefly")
    sandbox.add_fault(
        route="update",
        status=400,
        reason="InvalidRequestBody",
        detail=f"token or key rejected: {rotated} / {SECRETS['AZURE_TTS_KEY']}",
    )
    failed = p.ok("-v", "apply", "--auto-approve", code=1)
    assert (
        "support-en: FAILED: update failed: InvalidRequestBody token or key rejected: "
        "(sensitive) / (sensitive)" in failed.stdout
    )
    sandbox.control("DELETE", "/faults/rules")
    p.ok("destroy", "--auto-approve")

    # The secrets did reach the engine (so the test means something) ...
    bodies = [a["join_body"]["properties"] for a in sandbox.agents()]
    assert any(b["llm"]["api_key"] == rotated for b in bodies if "llm" in b)
    assert any(b["tts"]["params"]["key"] == SECRETS["AZURE_TTS_KEY"] for b in bodies if "tts" in b)
    # ... and nowhere else.
    texts = [(f"stdout of {r.args}", r.stdout) for r in p.results]
    texts += [(f"stderr of {r.args}", r.stderr) for r in p.results]
    texts += [("stdout of the concurrent apply", out), ("stderr of it", err)]
    texts += [("the lock file while held", lock_text)]
    files = [
        p.state_file,
        p.state_file.with_name("agents.json.backup"),
        p.dir / "start.json",
        p.dir / "change.json",
    ]
    for path in files:
        assert path.is_file(), path
        texts.append((str(path.relative_to(p.dir)), path.read_text(encoding="utf-8")))
    found = leaks(texts, secrets)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("command", "sig", "code", "message"),
    [
        (("plan",), signal.SIGTERM, 143, "Terminated."),
        # Regression: click turns Ctrl-C outside apply's own handler into ``Abort``, which
        # printed "Aborted." and exited 1, as if the user had declined the plan.
        (("apply", "--auto-approve"), signal.SIGINT, 130, "Interrupted."),
    ],
    ids=["sigterm-plan", "ctrl-c-apply"],
)
def test_a_signal_while_planning_exits_at_once_and_leaves_no_lock_held(
    project: Project,
    sandbox: Sandbox,
    command: tuple[str, ...],
    sig: signal.Signals,
    code: int,
    message: str,
) -> None:
    sandbox.add_fault(route="list", action="delay", delay_ms=3000)
    lock_file = project.state_file.with_name("agents.json.lock")
    planning = project.popen(*command)
    try:
        if command[0] == "plan":  # read-only: it takes no lock; signal it while it refreshes
            _wait_for_request(sandbox, "list")
        else:
            _wait_for_holder(lock_file, planning.pid)
        planning.send_signal(sig)
        out, err = planning.communicate(timeout=30)
    finally:
        if planning.poll() is None:
            planning.kill()
            planning.communicate()
    assert planning.returncode == code, err
    assert message in err and "Aborted." not in err
    assert "Traceback" not in err
    assert out == ""  # nothing was planned, nothing started
    assert not lock_file.exists()  # plan takes no lock; apply's release removes the file it made
    sandbox.reset()
    assert "Apply complete: 3 started." in project.apply().stdout


KEYED_MANIFEST = """\
name: keyed
token: auto
properties:
  channel: keyed
  agent_rtc_uid: "1001"
  remote_rtc_uids: ["*"]
  idle_timeout: 0
  llm:
    url: https://llm.example/v1/chat?key=${URL_KEY}
    headers: {Authorization: "Bearer ${BEARER_TOKEN}"}
    system_messages: [{role: system, content: You are helpful.}]
  tts:
    vendor: microsoft
    params: {key: "${AZURE_TTS_KEY}", region: eastus}
"""


def test_a_secret_inside_a_larger_value_is_scrubbed_from_engine_errors_in_any_encoding(
    project: Project, sandbox: Sandbox
) -> None:
    """Regression: a key inside a URL (or a Bearer header) was printed when the engine's error
    quoted the URL percent-encoded: the whole value was scrubbed, not the key inside it."""
    p = project
    url_key = "uk/LIVE+key=42 ab"  # percent-encoding changes '/', '+', '=' and the space
    bearer = "bearer-LIVE-token-7788"
    p.env.update(URL_KEY=url_key, BEARER_TOKEN=bearer)
    p.manifest("keyed").write_text(KEYED_MANIFEST, encoding="utf-8")
    url = f"https://llm.example/v1/chat?key={url_key}"
    echo = " ".join(
        [
            quote(url, safe=""),
            quote_plus(url),
            url.replace("/", "%2F"),  # encoded in part
            quote(f"Bearer {bearer}"),
            bearer.encode().hex().upper(),
            SECRETS["AGORA_CUSTOMER_SECRET"].encode().hex(),
        ]
    )
    sandbox.add_fault(
        route="join", name=p.wire("keyed"), status=400, reason="InvalidRequestBody", detail=echo
    )
    failed = p.ok("apply", "--auto-approve", "--format", "json", code=1)
    assert "InvalidRequestBody" in failed.stdout
    p.ok("-v", "apply", "--auto-approve", code=1)
    p.ok("plan", "--format", "json", code=0)
    logs = watch_until(p, "reconcile.failed")  # the watch loop's JSON logs
    sandbox.control("DELETE", "/faults/rules")
    p.ok("apply", "--auto-approve")
    (keyed,) = [a for a in sandbox.agents(status="RUNNING") if a["name"].startswith("keyed")]
    assert keyed["join_body"]["properties"]["llm"]["url"] == url  # the key reached the engine

    texts = [(f"output of {r.args}", r.output) for r in p.results]
    texts += [("watch --log-format json", logs)]
    state_files = sorted(p.state_file.parent.iterdir())
    texts += [(path.name, path.read_text(encoding="utf-8")) for path in state_files]
    secrets = {**SECRETS, "URL_KEY": url_key, "BEARER_TOKEN": bearer}
    found = leaks(texts, secrets)
    assert found == [], "\n".join(found)


def watch_until(project: Project, needle: str, timeout: float = 60.0) -> str:
    """Run ``watch --log-format json`` until a log line holds ``needle``; its whole output."""
    proc = project.popen("watch", "--interval", "1s", "--log-format", "json")
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stderr:
            lines.append(line)
            if needle in line or time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert any(needle in line for line in lines), "".join(lines)
    return "".join(lines) + err + out
