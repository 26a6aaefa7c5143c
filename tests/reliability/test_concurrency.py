"""Issue 6, item 3: several applies on one project at once. One holds the state lock, the others
exit 3 naming the holder (or wait with ``--lock-timeout``); the state is never corrupted; and
after a ``kill -9`` of the holder the next apply proceeds without any manual unlock.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.state import LocalStateStore
from tests.reliability.chaos_harness import (
    ChaosProject,
    Engine,
    agent_specs,
    check_converged,
)

N_AGENTS = 10


@pytest.fixture
def project(tmp_path: Path, engine: Engine) -> ChaosProject:
    project = ChaosProject(tmp_path / "project", engine)
    project.set_agents(agent_specs(N_AGENTS))
    # The holder's apply lasts at least 2.5 s: one join is held back by the engine.
    name = project.wire("agent-000")
    engine.add_rule(route="join", name=name, action="delay", delay_ms=2500, times=1)
    return project


def wait_for_holder(project: ChaosProject, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = project.lock_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        if text.strip():
            info: dict[str, object] = json.loads(text)
            return info
        time.sleep(0.02)
    raise AssertionError("no process took the state lock")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def state_is_sound(project: ChaosProject) -> None:
    store = LocalStateStore(project.state_file)
    doc = store.load()  # raises on a corrupt file
    backup = LocalStateStore(project.backup_file).load()
    assert backup.lineage == doc.lineage and backup.serial < doc.serial
    assert doc.journal == []


@pytest.mark.slow
def test_applies_started_at_once_one_holds_the_lock_the_others_exit_3(
    project: ChaosProject,
) -> None:
    processes = [project.popen("apply", "--auto-approve") for _ in range(4)]
    results = [finish(p) for p in processes]

    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3, 3, 3], results
    for code, out, err in results:
        assert "Traceback" not in err and "Internal error" not in err
        if code == 3:
            assert "Error: state is locked by " in err
            assert "running 'apply' since " in err
            assert "wait with --lock-timeout" in err
            assert out == ""  # refused before planning anything
        else:
            assert f"Apply complete: {N_AGENTS} started." in out
    state_is_sound(project)
    check = check_converged(project)
    assert check.ok, check.problems


@pytest.mark.slow
def test_lock_timeout_waits_for_the_holder_then_plans_against_the_new_state(
    project: ChaosProject,
) -> None:
    holder = project.popen("apply", "--auto-approve")
    info = wait_for_holder(project)
    assert info["command"] == "apply"
    waiter = project.popen("apply", "--auto-approve", "--lock-timeout", "60")
    planned = project.run("plan", "--no-refresh")  # read-only: takes no lock

    held_code, held_out, _ = finish(holder)
    wait_code, wait_out, wait_err = finish(waiter)

    assert held_code == 0 and f"Apply complete: {N_AGENTS} started." in held_out
    assert planned.code == 0, planned  # a consistent snapshot of state, while apply runs
    assert wait_code == 0, wait_err
    assert "No changes." in wait_out  # planned after the holder finished: nothing left to do
    state_is_sound(project)
    check = check_converged(project)
    assert check.ok, check.problems


@pytest.mark.slow
def test_after_kill_9_of_the_holder_the_next_apply_proceeds_without_unlocking(
    project: ChaosProject,
) -> None:
    holder = project.popen("apply", "--auto-approve")
    info = wait_for_holder(project)
    deadline = time.monotonic() + 30
    while not (project.state() or {}).get("agents"):  # some agents started
        assert time.monotonic() < deadline, "the holder never started an agent"
        time.sleep(0.02)
    holder.kill()
    finish(holder)
    # The dead holder's info is still in the lock file, but the kernel released its lock.
    assert json.loads(project.lock_file.read_text(encoding="utf-8"))["id"] == info["id"]

    after = project.apply()

    assert after.code == 0, after
    assert "force-unlock" not in after.output
    state_is_sound(project)
    check = check_converged(project)
    assert check.ok, check.problems
    assert project.lock_file.read_text(encoding="utf-8") == ""


def test_regression_garbage_in_a_held_lock_file_still_names_the_lock_as_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: holder info nested too deeply made the refusal crash (RecursionError) instead of
    exiting 3 with "state is locked"."""
    import os

    from reconciler.state import StateLock
    from tests.reliability.inproc import run_cli

    monkeypatch.setattr("reconciler.state.lockwait.HOLDER_WRITE_GRACE_S", 0.1)
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "reconciler.yaml").write_text("engine: sandbox\n", encoding="utf-8")
    lock = StateLock(tmp_path / "state" / "agents.json")
    lock.acquire()
    try:
        assert lock._fd is not None
        os.ftruncate(lock._fd, 0)
        os.pwrite(lock._fd, b"[" * 100_000, 0)
        refused = run_cli("-C", str(tmp_path), "apply", "--auto-approve", "--no-refresh")
    finally:
        lock.release()
    assert refused.code == 3, refused
    assert "state is locked by another process (no holder recorded yet" in refused.stderr
