"""The ``restart_policy`` an agent was last applied with is what ``watch --heal-only`` heals by:
a change of it in the manifest is a change like any other, shown by ``plan`` (recorded in state,
no engine call) and held by a heal-only run until someone applies it.

Through the watch controller against the in-process sandbox (the example project's
``support-en``): applied, crashed with the sandbox's control route, the manifest's policy
changed, then one run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.models.plan import ReasonCode
from reconciler.project import Project
from tests.watch.test_heal_recorded_spec import (
    ENV,
    _control,
    _engine_agent,
    _sample,
    _watcher,
    directory,
)

__all__ = ["directory"]


def _set_policy(directory: Path, policy: str) -> None:
    manifest = directory / "agents.d" / "support-en.yaml"
    text = manifest.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("restart_policy:")]
    manifest.write_text("\n".join([*lines, f"restart_policy: {policy}", ""]), encoding="utf-8")


def _apply(directory: Path) -> None:
    asyncio.run(_watcher(directory, ENV, heal_only=False).reconcile())


def _crash(directory: Path) -> str:
    record = Project.open(directory, None, ENV).store.load().agents["support-en"]
    _control(directory, "POST", f"/agents/{record.agent_id}/crash", {"message": "test crash"})
    return record.agent_id


def test_apply_records_the_restart_policy_it_applied(directory: Path) -> None:
    _set_policy(directory, "never")
    _apply(directory)
    assert Project.open(directory, None, ENV).store.load().agents["support-en"].restart_policy == (
        "never"
    )


def test_plan_shows_a_changed_restart_policy_as_recorded_in_state(directory: Path) -> None:
    _set_policy(directory, "never")
    _apply(directory)
    _set_policy(directory, "on-failure")
    plan = asyncio.run(Project.open(directory, None, ENV).plan()).plan
    action = next(a for a in plan.agents if a.name == "support-en")
    assert (action.action, action.reason_code) == ("update", ReasonCode.STATE_ONLY_CHANGE)
    assert [(str(c.path), c.before, c.after) for c in action.changes] == [
        ("restart_policy", "never", "on-failure")
    ]
    _apply(directory)
    record = Project.open(directory, None, ENV).store.load().agents["support-en"]
    assert record.restart_policy == "on-failure"


def test_heal_only_leaves_down_an_agent_its_applied_policy_leaves_stopped(
    directory: Path,
) -> None:
    _set_policy(directory, "never")
    _apply(directory)
    crashed = _crash(directory)
    _set_policy(directory, "always")  # not applied: the heal it asks for waits for review

    watcher = _watcher(directory, ENV, heal_only=True)
    asyncio.run(watcher.reconcile())

    record = watcher.project.store.load().agents["support-en"]
    assert record.agent_id == crashed and record.restart_policy == "never"
    assert _engine_agent(directory, crashed)["status"] == "FAILED"
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="ok") == 0
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="held") == 1

    _apply(directory)  # reviewed: the new policy heals it
    healed = Project.open(directory, None, ENV).store.load().agents["support-en"]
    assert healed.agent_id != crashed and healed.restart_policy == "always"
    assert _engine_agent(directory, healed.agent_id)["status"] == "RUNNING"


def test_heal_only_heals_by_the_applied_policy_when_the_manifest_did_not_change(
    directory: Path,
) -> None:
    _set_policy(directory, "on-failure")
    _apply(directory)
    crashed = _crash(directory)  # a failure: on-failure heals it

    watcher = _watcher(directory, ENV, heal_only=True)
    asyncio.run(watcher.reconcile())

    record = watcher.project.store.load().agents["support-en"]
    assert record.agent_id != crashed
    assert _engine_agent(directory, record.agent_id)["status"] == "RUNNING"
