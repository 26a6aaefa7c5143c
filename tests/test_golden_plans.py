"""Every golden scenario in tests/cases/ plans exactly as recorded, and leaks no secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.plan import build_plan
from reconciler.render import render_json_text, render_markdown, render_text
from reconciler.state import dump_state
from tests.golden import NOW, Case, all_cases, desired_for, live_for, recorded_for

CASES = all_cases()
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _check(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


def _plan_outputs(case: Case) -> tuple[str, str, str, str]:
    state = recorded_for(case)
    plan = build_plan(
        desired_for(case), state, live_for(case, state), now=NOW, options=case.options()
    )
    text = render_text(plan) + "\n"
    as_json = render_json_text(plan, indent=2) + "\n"
    return text, as_json, render_markdown(plan), dump_state(state)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_plan(case: Case) -> None:
    error_file = case.path / "expected_error.txt"
    if error_file.exists() or case.meta.get("expect_error"):
        with pytest.raises(ReconcilerError) as info:
            _plan_outputs(case)
        _check(error_file, str(info.value) + "\n")
        return
    text, as_json, _, _ = _plan_outputs(case)
    _check(case.path / "expected.txt", text)
    _check(case.path / "expected.json", as_json)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verbose_text_lists_every_attribute_of_a_new_agent_as_before(case: Case) -> None:
    """``-v``: the full plan, defaults included (``expected-verbose.txt``, where it differs)."""
    verbose = case.path / "expected-verbose.txt"
    if not verbose.exists():
        return
    state = recorded_for(case)
    plan = build_plan(
        desired_for(case), state, live_for(case, state), now=NOW, options=case.options()
    )
    _check(verbose, render_text(plan, verbose=True) + "\n")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_outputs_hold_no_secret(case: Case) -> None:
    if (case.path / "expected_error.txt").exists():
        return
    outputs = _plan_outputs(case)
    secrets = case.secrets + [v for v in case.env.values() if len(v) >= 8]
    for secret in secrets:
        for output in outputs:
            assert secret not in output


def test_there_are_at_least_twenty_scenarios() -> None:
    assert len(CASES) >= 20
