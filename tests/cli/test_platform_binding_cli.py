"""A state's Platform resources belong to the Platform they were made on: with another
``platform:`` (a served sandbox, ``preview``) every command refuses the state, as it refuses one
of another App ID or engine.

Another Platform does not hold the recorded ids: a plan would create every resource again there
and orphan these, and a secret set (addressed by its name) of another project on that Platform
would be written to in place. The refusal comes before any Platform call (the other Platform is
an address nobody listens on here).
"""

from __future__ import annotations

import json

import pytest

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform
from tests.reliability.inproc import run_cli

ELSEWHERE = "http://127.0.0.1:9"
"""Another Platform: the refusal must come before anything asks it."""

OTHER_PLATFORM = {
    "RECONCILER_PLATFORM": ELSEWHERE,
    "AGORA_CUSTOMER_ID": "someone",
    "AGORA_CUSTOMER_SECRET": "s3cret-value-1234",
    "AGORA_APP_CERTIFICATE": "5a4d1c3b2e6f708192a3b4c5d6e7f809",
    "OPENAI_API_KEY": "sk-s3cret-openai",
    "SIP_PASSWORD": "s3cret-sip",
}


def test_apply_records_the_platform_with_each_resource(applied_platform: Platform) -> None:
    resources = applied_platform.state().resources
    assert {resources[a].platform for a in (KEYS, SAVED, NUMBER)} == {"sandbox"}


@pytest.mark.parametrize(
    "command",
    [
        ("plan",),
        ("plan", "--no-refresh"),
        ("apply", "--auto-approve"),
        ("destroy", "--auto-approve"),
        ("drift",),
        ("status",),
        ("pull",),
        ("import", SAVED, "3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10"),
        ("state", "list"),
        ("state", "rm", "--force", NUMBER),
    ],
    ids=lambda c: " ".join(c),
)
def test_every_command_refuses_the_state_of_another_platform(
    applied_platform: Platform, command: tuple[str, ...]
) -> None:
    state_file = applied_platform.dir / "state" / "agents.json"
    before = state_file.read_bytes()
    result = run_cli("-C", str(applied_platform.dir), *command, env=OTHER_PLATFORM)
    assert result.code == EXIT_ERROR, result
    assert "Traceback" not in result.output
    assert "platform sandbox" in result.stderr and f"platform {ELSEWHERE}" in result.stderr, result
    assert "reconciler state rebind" in result.stderr, result
    assert "s3cret" not in result.output
    assert state_file.read_bytes() == before  # nothing written
    assert applied_platform.held("agents", applied_platform.state().resources[SAVED].id) == 200


def test_state_rebind_moves_the_resources_to_the_platform_of_the_settings(
    applied_platform: Platform,
) -> None:
    result = run_cli("-C", str(applied_platform.dir), "state", "rebind", env=OTHER_PLATFORM)
    assert result.code == 0, result
    state = json.loads((applied_platform.dir / "state" / "agents.json").read_text("utf-8"))
    assert {r["platform"] for r in state["resources"].values()} == {ELSEWHERE}


def test_a_database_state_of_another_platform_is_refused_too(on_postgres: Platform) -> None:
    before = on_postgres.state()
    assert {r.platform for r in before.resources.values()} == {"sandbox"}
    result = run_cli("-C", str(on_postgres.dir), "plan", env=OTHER_PLATFORM)
    assert result.code == EXIT_ERROR, result
    assert f"platform {ELSEWHERE}" in result.stderr, result
    assert on_postgres.state() == before
