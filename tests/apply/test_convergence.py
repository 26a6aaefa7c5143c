"""Convergence: for every golden scenario, apply the 'before' manifests, then the current ones,
against the sandbox; planning again must show no changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.manifests import load_desired
from tests.apply.harness import make_world
from tests.golden import Case, all_cases, settings_for

_WIRE_SUFFIX = re.compile(r"-[0-9]+(-[0-9a-f]{8})?$")
"""The generation and lineage tag of a wire name (or the generation of an older one)."""

CASES = [
    c
    for c in all_cases()
    if not c.meta.get("expect_error")
    and not c.meta.get("unapplicable")
    and not (c.path / "expected_error.txt").exists()
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scenario_converges_after_apply(case: Case, tmp_path: Path) -> None:
    # Lenient tokens: scenarios with literal tokens use placeholders, not AccessTokens valid for
    # their channel (convergence is about the plan, not the token); `token: auto` ones are
    # minted correctly either way.
    world = make_world(tmp_path, pcu_limit=100, token_check="lenient")
    options = {
        "targets": tuple(case.meta.get("targets", [])),
        "replace": tuple(case.meta.get("replace", [])),
        "destroy": bool(case.meta.get("destroy", False)),
    }
    if "max_unavailable" in case.meta:
        options["max_unavailable"] = case.meta["max_unavailable"]
    if (case.path / "before").exists():
        before = load_desired(settings_for(case.path, "before"), case.env_before)
        _, result, state = world.apply(before)
        assert result.ok, result.failed
        # Reproduce the scenario's drift on the engine: crash what it says exited or failed.
        records = case.meta.get("records") or {}
        live = case.meta.get("live") or {}
        for name, info in records.items():
            wanted = live.get(info.get("agent_id"), {}) or {}
            if wanted.get("status") in ("STOPPED", "FAILED", "GONE") and name in state.agents:
                world.control("POST", f"/_sandbox/agents/{state.agents[name].agent_id}/crash", {})
    after = (
        load_desired(settings_for(case.path), case.env)
        if (case.path / "agents.d").exists()
        else before
    )
    _, result, _ = world.apply(after, **options)
    assert result.ok, result.failed
    replan_options = {k: v for k, v in options.items() if k != "replace"}
    plan, _ = world.plan(after, **replan_options)
    assert not plan.has_changes, [(a.name, a.action, a.reason) for a in plan.agents]
    if not options["destroy"]:
        running = sorted(_WIRE_SUFFIX.sub("", a["name"]) for a in world.agents("RUNNING"))
        left_down = set(case.meta.get("left_down", []))  # by its restart_policy
        running_as = case.meta.get("running_as") or {}  # renamed: the wire name keeps the old
        expected = sorted(
            [
                running_as.get(n, n)
                for n, a in after.agents.items()
                if (not options["targets"] or n in options["targets"])
                and a.desired == "running"
                and n not in left_down
            ]
            + list(case.meta.get("left_running", []))  # forgotten, still running
        )
        if options["targets"]:  # agents outside the targets may be in any state
            assert set(expected) <= set(running), (expected, running)
        else:
            assert running == expected
    else:
        assert world.agents("RUNNING") == []
