"""End to end: SIGTERM during the stop phase of 40 restarts (served sandbox, 200 ms latency)
leaves no agent down, and the summary says what was done and what was left."""

from __future__ import annotations

import re
import shutil
import signal
import time

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, generation, write_numbered_agents

N = 40


def _write_agents(project: Project, vendor: str) -> None:
    write_numbered_agents(project, N, vendor)


@pytest.mark.slow
def test_sigterm_during_restart_stops_leaves_every_agent_running(
    project: Project, sandbox: Sandbox
) -> None:
    shutil.rmtree(project.dir / "agents.d")
    (project.dir / "agents.d").mkdir()
    project.set_setting("max_concurrent_agents", 50)
    _write_agents(project, "microsoft")
    project.apply()
    _write_agents(project, "elevenlabs")  # every agent restarts
    sandbox.http.delete("/_sandbox/requests")
    sandbox.control("POST", "/faults", {"latency_ms": 200})
    proc = project.popen("apply", "--auto-approve")
    deadline = time.monotonic() + 60
    while len(sandbox.requests("leave")) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    sandbox.control("POST", "/faults", {"latency_ms": 0})
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert "stopped for restart, not started" not in out, out
    line = next(line for line in out.splitlines() if line.startswith("Apply interrupted: "))
    summary, took = line.rsplit(" (", 1)
    assert re.fullmatch(r"\d+\.\ds\)", took), line  # the time the run took
    restarted = int(summary.split(": ", 1)[1].split(" restarted")[0])
    assert 3 <= restarted < N, summary
    assert summary == (
        f"Apply interrupted: {restarted} restarted; {N - restarted} not attempted; "
        "run reconciler apply. State is saved."
    )
    running = sandbox.running()
    assert len(running) == N  # nothing left down
    assert sum(generation(name) == 2 for name in running) == restarted
    finished = project.apply()  # the rest is done by the next run
    assert f"Apply complete: {N - restarted} restarted." in finished.stdout
