"""``reconciler drift`` end to end against the in-process sandbox: exit codes, formats, and
the promise that it reads only."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.ops_project import OpsProject
from tests.reliability.inproc import CliResult, run_cli
from tests.served import refused_port
from tests.state.conftest import HolderFactory, holder  # noqa: F401  (a fixture)


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``directory`` but the sandbox engine's own database."""
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in directory.rglob("*")
        if ".sandbox" not in p.relative_to(directory).parts
    }


def test_drift_exits_0_when_every_recorded_agent_runs(applied: OpsProject) -> None:
    result = applied.ok("drift")
    assert (
        "No drift: 3 recorded agents in sync with the engine, 3 recorded resources with the "
        "Platform." in result.stdout
    )


def test_drift_exits_2_and_names_a_crashed_agent_with_the_engines_message(
    applied: OpsProject,
) -> None:
    crashed = applied.agent_id("sales-en")
    applied.crash(crashed, "agent exits with reason: LLM request error")
    result = applied.ok("drift", code=2)
    assert (
        f"! sales-en ({crashed}) [failed]: failed: agent exits with reason: LLM request error"
        in result.stdout
    )
    assert (
        "Drift: 1 unexpected, 0 expected; 2 of 3 recorded agents in sync, 3 of 3 recorded "
        "resources with the Platform." in result.stdout
    )


def test_drift_reports_an_idle_timeout_exit_as_unexpected(project: OpsProject) -> None:
    # The example's agents are always-on (idle_timeout: 0); give this one a timeout. Its
    # channel is empty (the sandbox's default), so the countdown runs from the join.
    manifest = project.dir / "agents.d" / "support-en.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("  channel: support-en\n", "  channel: support-en\n  idle_timeout: 120\n"),
        encoding="utf-8",
    )
    applied = project
    applied.ok("apply", "--auto-approve")
    applied.engine.control("POST", "/_sandbox/clock/advance", {"seconds": 125})
    report = json.loads(applied.ok("drift", "--format", "json", code=2).stdout)
    support = [i for i in report["items"] if i["name"] == "support-en"]
    assert [(i["kind"], i["cause"], i["expected"]) for i in support] == [
        ("exited", "idle-timeout", False)
    ]
    assert report["format_version"] == "1.0" and report["has_unexpected"] is True


def test_drift_of_an_agent_whose_manifest_is_gone_is_expected_and_exits_0(
    applied: OpsProject,
) -> None:
    applied.crash(applied.agent_id("concierge"), "agent exits with reason: crashed")
    (applied.dir / "agents.d" / "concierge.yaml").unlink()
    result = applied.ok("drift", "--format", "markdown")
    assert result.stdout.startswith("## No unexpected drift in app ")
    assert "### Expected (1)" in result.stdout
    assert "| concierge |" in result.stdout


def test_drift_reports_an_unrecorded_agent_in_a_managed_channel(applied: OpsProject) -> None:
    stray = applied.engine.start_directly("stray-1", channel="support-en", uid="4242")
    result = applied.ok("drift", code=2)
    assert f"unmanaged agent {stray} [unmanaged]: RUNNING in managed channel support-en" in (
        result.stdout
    )


def test_drift_exits_1_when_the_engine_cannot_be_reached(project: OpsProject) -> None:
    settings = project.dir / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8").replace(
        "engine: sandbox", f"engine: http://127.0.0.1:{refused_port()}"
    )
    settings.write_text(text + "max_attempts: 1\nrequest_timeout_s: 2\n", encoding="utf-8")
    result = run_with_credentials(project, "drift")
    assert result.code == 1, str(result)
    assert "Error:" in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_drift_without_engine_credentials_is_an_error(project: OpsProject) -> None:
    settings = project.dir / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8").replace(
        "engine: sandbox", f"engine: http://127.0.0.1:{refused_port()}"
    )
    settings.write_text(text, encoding="utf-8")
    result = project.run("drift")
    assert result.code == 1, str(result)
    assert "drift (comparing the state with the engine) needs the credentials of the engine" in (
        result.stderr
    )
    assert "AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET not set" in result.stderr


def test_drift_writes_no_file_takes_no_lock_and_resolves_no_journal(applied: OpsProject) -> None:
    applied.crash(applied.agent_id("sales-en"), "agent exits with reason: crashed")
    doc = applied.state()
    doc["pending"] = [
        {
            "id": "interrupted-join",
            "op": "join",
            "name": "support-en",
            "wire_name": "support-en-2",
            "generation": 2,
            "channel": "support-en",
            "created_at": 1.0,
        }
    ]
    applied.state_file.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    before = _files(applied.dir)
    state_bytes = applied.state_file.read_bytes()
    for fmt in ("text", "markdown", "json"):
        result = applied.ok("drift", "--format", fmt, code=2)
        assert "Traceback" not in result.output
    assert _files(applied.dir) == before  # the lock file left by apply included
    assert applied.state_file.read_bytes() == state_bytes  # the journal entry is still there


def test_drift_runs_while_another_process_holds_the_state_lock(
    applied: OpsProject,
    holder: HolderFactory,  # noqa: F811  (the fixture imported above)
) -> None:
    held = holder(applied.state_file)
    try:
        assert "No drift" in applied.ok("drift").stdout
    finally:
        held.release()


def test_drift_in_a_project_never_applied_creates_no_state(project: OpsProject) -> None:
    result = project.ok("drift")
    assert "No drift: 0 recorded agents" in result.stdout
    assert not (project.dir / "state").exists()


def run_with_credentials(project: OpsProject, *args: str) -> CliResult:
    return run_cli(
        "-C",
        str(project.dir),
        *args,
        env={"AGORA_CUSTOMER_ID": "ops-customer", "AGORA_CUSTOMER_SECRET": "ops-secret-value"},
    )
