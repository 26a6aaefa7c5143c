"""kill -9 at random moments during a mixed apply of the Platform's kinds (creates, updates,
a key rotation and a re-route), 20 trials: the next apply finishes the job (an interrupted
create or update is settled from what the Platform holds, never refused with 412) with no
orphan and no duplicate on the Platform, and the plan after it is clean."""

from __future__ import annotations

import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox
from tests.e2e.e2e_helpers import Project as _Project

pytestmark = pytest.mark.slow

SALES = """\
---
kind: SavedAgent
name: sales
spec:
  instructions: You are the sales agent of Acme Cloud.
  llm:
    vendor: openai
    credential: {mode: byok, fields: {api_key: $secrets.llm_keys.openai}}
"""


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> _Project:
    """The example project with its Platform resources (agents.d/platform.yaml)."""
    directory = tmp_path / "project"
    directory.mkdir()
    return _Project(directory, sandbox, with_platform=True)


def mixed_change(project: Project) -> None:
    """A second saved agent, new instructions, a rotated key and the number re-routed."""
    project.edit("platform", "Answer briefly and in plain words.", "Answer in one sentence.")
    project.edit("platform", "{ref: SavedAgent/support}", "{ref: SavedAgent/sales}")
    path = project.manifest("platform")
    path.write_text(path.read_text(encoding="utf-8") + SALES, encoding="utf-8")
    project.env["OPENAI_API_KEY"] = "sk-e2e-ROTATED-kill-3e9d1c7a"


@pytest.mark.parametrize("trial", range(20))
def test_kill_9_during_a_mixed_apply_leaves_no_orphan_and_no_duplicate(
    project: Project, sandbox: Sandbox, trial: int
) -> None:
    chance = random.Random(trial)
    project.apply()
    mixed_change(project)
    for route in ("create-agent", "update-agent", "update-number", "update-secret-set"):
        sandbox.add_fault(route=route, action="delay", delay_ms=chance.randint(50, 250))
    running = project.popen("apply", "--auto-approve")
    time.sleep(chance.uniform(0.3, 2.5))  # a random moment: what follows holds at any of them
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)
    sandbox.control("DELETE", "/faults/rules")
    after = project.run("apply", "--auto-approve")
    assert "Traceback" not in after.stderr, str(after)
    # An update the kill interrupted (even one the Platform applied before its answer was
    # recorded) is settled from what the Platform holds: never refused with 412.
    assert "PreconditionFailed" not in after.output, str(after)
    assert after.code == 0, str(after)
    agents = sandbox.platform("agents")
    names = sorted(a["config"]["agent_name"] for a in agents)
    assert names == ["sales", "support"], agents  # no duplicate, no orphan
    (number,) = sandbox.platform("numbers")
    by_name = {a["config"]["agent_name"]: a["id"] for a in agents}
    assert number["view"]["inbound"]["agent"] == by_name["sales"]
    assert [s["id"] for s in sandbox.platform("secret_sets")] == ["llm_keys"]
    state = project.state()
    assert not state.get("creating")
    assert not [a for a, r in state["resources"].items() if r.get("updating")]
    assert {r["id"] for a, r in state["resources"].items() if a.startswith("SavedAgent/")} == set(
        by_name.values()
    )
    project.ok("plan", "--detailed-exitcode")
    shutil.rmtree(project.dir / "state")
