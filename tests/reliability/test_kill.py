"""Issue 6, item 1: kill ``apply`` at any point, apply again, and nothing is lost or doubled.

A served sandbox with latency, a project of 50 agents, ``reconciler apply --auto-approve`` as a
real process killed at a seeded random moment, then ``apply`` again without a kill. After every
trial the active agents equal the manifests exactly (no duplicate, no orphan, none missing), the
state agrees with the engine and the journal is empty. ``bench/chaos.py`` runs the same
trials by the hundred and prints the figures.
"""

from __future__ import annotations

import queue
import random
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from reconciler.state import StateLock
from tests.reliability.chaos_harness import (
    ChaosProject,
    Engine,
    agent_specs,
    calibrate,
    check_converged,
    run_kill_trials,
)

N_AGENTS = 50
LATENCY_MS = 30


@pytest.fixture
def project(tmp_path: Path, engine: Engine) -> ChaosProject:
    engine.reset(latency_ms=LATENCY_MS)
    project = ChaosProject(tmp_path / "project", engine, parallelism=5)
    project.set_agents(agent_specs(N_AGENTS))
    return project


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_50_agent_apply_then_apply_converges(
    project: ChaosProject,
) -> None:
    window = 0.9 * calibrate(project)
    figures = run_kill_trials(
        project, N_AGENTS, 10, random.Random(20261124), with_changes=False, window_s=window
    )

    print(f"{figures.line()} (window {window:.2f}s)")
    failures = [t.describe() for t in figures.trials if not t.converged]
    assert not failures, "\n\n".join(failures)
    assert figures.orphans == figures.duplicates == figures.missing == 0
    assert figures.interrupted >= 6  # most kills landed while apply ran


@pytest.mark.slow
def test_kill_9_while_apply_writes_through_the_state_write_log_then_apply_converges(
    project: ChaosProject,
) -> None:
    """The same trials with every write of the apply going to the write log (a large state's
    path, forced here for 50 agents): a killed run's log is replayed, never lost."""
    project.env["RECONCILER_STATE_LOG_FROM_BYTES"] = "0"
    window = 0.9 * calibrate(project)
    figures = run_kill_trials(
        project, N_AGENTS, 5, random.Random(20261202), with_changes=False, window_s=window
    )

    failures = [t.describe() for t in figures.trials if not t.converged]
    assert not failures, "\n\n".join(failures)
    assert figures.orphans == figures.duplicates == figures.missing == 0


@pytest.mark.slow
def test_kills_between_random_changes_restarts_updates_and_removals_converge(
    project: ChaosProject,
) -> None:
    """The harder variant: the project carries on from trial to trial, and each trial applies
    a random change set (removals, additions, in-place updates, restarts) under SIGKILL, SIGTERM
    or SIGINT."""
    figures = run_kill_trials(
        project,
        N_AGENTS,
        3,
        random.Random(7),
        with_changes=True,
        window_s=1.0,
        signals=("SIGKILL", "SIGTERM", "SIGINT"),
    )

    failures = [t.describe() for t in figures.trials if not t.converged]
    assert not failures, "\n\n".join(failures)


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)
    out.put("")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_finish_the_calls_in_flight_save_state_and_release_the_lock(
    project: ChaosProject, sig: signal.Signals
) -> None:
    project.write_settings(parallelism=2)
    process = project.popen("apply", "--auto-approve")
    assert process.stdout is not None and process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    stdout: list[str] = []
    while True:  # wait until the apply phase has started agents
        line = lines.get(timeout=30)
        stdout.append(line)
        assert line, "apply ended before any agent started:\n" + "".join(stdout)
        if ": started [" in line:
            break
    process.send_signal(sig)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    reader.join(timeout=5)
    while not lines.empty():
        stdout.append(lines.get())
    stderr = process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    text = "".join(stdout)

    assert code == 130, f"exit {code}\n{text}\n{stderr}"
    assert "Interrupt received: apply finishes the calls in flight and saves state" in stderr
    assert "Apply interrupted: " in text and "State is saved." in text
    started = text.count(": started [")
    assert 0 < started < N_AGENTS, text  # the rest was not attempted
    state = project.state()
    assert state is not None
    assert state["pending"] == []  # every call in flight finished and was recorded
    assert len(state["agents"]) == started
    active = {a["agent_id"] for a in project.engine.agents() if a["status"] == "RUNNING"}
    assert active == {r["agent_id"] for r in state["agents"].values()}  # no orphan
    lock = StateLock(project.state_file)
    lock.acquire(timeout=0)  # released: no wait, no force-unlock
    lock.release()
    assert not project.lock_file.exists()  # each release removed the lock file it created

    finished = project.apply()
    assert finished.code == 0, finished
    assert f"Apply complete: {N_AGENTS - started} started." in finished.stdout
    check = check_converged(project)
    assert check.ok, check.problems
