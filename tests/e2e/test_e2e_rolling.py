"""End to end: 12 agents restarted with ``max_unavailable: 3`` against a served sandbox with
latency, sampling the engine while apply runs: never more than 3 managed agents are down, and
every one is restarted."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, agent_name, write_numbered_agents

N = 12


def _managed_down(sandbox: Sandbox, names: list[str]) -> int:
    """How many of ``names`` have no RUNNING agent on the engine right now."""
    up = {agent_name(wire) for wire in sandbox.running()}
    return sum(name not in up for name in names)


@pytest.mark.slow
def test_twelve_restarts_roll_three_at_a_time_and_all_are_restarted(
    project: Project, sandbox: Sandbox
) -> None:
    shutil.rmtree(project.dir / "agents.d")
    (project.dir / "agents.d").mkdir()
    project.set_setting("parallelism", 12)
    project.set_setting("max_unavailable", 3)
    names = write_numbered_agents(project, N, "microsoft")
    project.apply()
    write_numbered_agents(project, N, "elevenlabs")  # every agent restarts
    plan = project.ok("plan")
    assert "Restarts roll 3 at a time" in plan.stdout
    sandbox.control("POST", "/faults", {"latency_ms": 50})
    proc = project.popen("apply", "--auto-approve")
    samples: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None:
            assert time.monotonic() < deadline, "apply did not finish"
            samples.append(_managed_down(sandbox, names))
        out, err = proc.communicate(timeout=30)
    finally:
        sandbox.control("POST", "/faults", {"latency_ms": 0})
    assert proc.returncode == 0, out + err
    assert 2 <= max(samples) <= 3, samples  # never more than three down; waves are used
    assert len(samples) > 20  # the engine was sampled all along the rollout
    assert f"Apply complete: {N} restarted." in out
    running = sandbox.running()
    assert sorted(running) == sorted(project.wire(name, 2) for name in names)
