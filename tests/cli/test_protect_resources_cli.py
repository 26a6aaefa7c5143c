"""``protect: true`` on the Platform's resources: turned on or off for a recorded resource, it is
a state-only update (no Platform call); a protected resource whose manifest is removed is never
deleted; ``state unprotect KIND/NAME`` clears the protection. End to end through the CLI on the
in-process sandbox, with the example project's Platform manifests."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import NUMBER, SAVED, Platform

NUMBER_HEAD = "kind: PhoneNumber\nname: support-line\n"


@pytest.fixture
def protected(applied_platform: Platform) -> Platform:
    """:func:`applied_platform`, then ``protect: true`` added to the phone number and applied."""
    applied_platform.edit(NUMBER_HEAD, NUMBER_HEAD + "protect: true\n")
    applied_platform.ok("apply", "--auto-approve")
    return applied_platform


def _resources(project: Platform) -> dict[str, dict[str, object]]:
    plan = json.loads(project.ok("plan", "--format", "json").stdout)
    return {r["address"]: r for r in plan.get("resources", [])}


def test_protect_added_to_a_recorded_resource_is_a_state_only_update(
    applied_platform: Platform,
) -> None:
    before = applied_platform.state().resources[NUMBER]
    applied_platform.edit(NUMBER_HEAD, NUMBER_HEAD + "protect: true\n")
    number = _resources(applied_platform)[NUMBER]
    assert number["action"] == "update"
    assert number["reason"] == "protect: true recorded in state (no engine call)"
    assert [(c["path"], c["before"], c["after"]) for c in number["changes"]] == [  # type: ignore[attr-defined]
        ("protect", False, True)
    ]
    applied_platform.control("DELETE", "/requests")
    applied_platform.ok("apply", "--auto-approve")
    after = applied_platform.state().resources[NUMBER]
    assert after.protect is True
    assert (after.id, after.version, after.spec) == (before.id, before.version, before.spec)
    assert applied_platform.control("GET", "/requests?route=update-number")["requests"] == []
    assert _resources(applied_platform)[NUMBER]["action"] == "no-op"


def test_a_resource_protected_after_its_create_is_not_deleted_when_its_manifest_goes(
    protected: Platform,
) -> None:
    number_id = protected.state().resources[NUMBER].id
    protected.drop_number_manifest()
    result = protected.ok("plan", code=EXIT_ERROR)
    assert f"{NUMBER} is protected (protect: true) and the plan would delete it" in result.stderr
    result = protected.ok("apply", "--auto-approve", code=EXIT_ERROR)
    assert protected.held("numbers", number_id) == 200
    assert NUMBER in protected.state().resources


def test_protect_removed_from_a_manifest_is_a_state_only_update_too(protected: Platform) -> None:
    protected.edit(NUMBER_HEAD + "protect: true\n", NUMBER_HEAD)
    number = _resources(protected)[NUMBER]
    assert number["action"] == "update"
    assert number["reason"] == "protect: false recorded in state (no engine call)"
    protected.ok("apply", "--auto-approve")
    assert protected.state().resources[NUMBER].protect is False


def test_state_unprotect_lets_the_next_plan_delete_a_removed_resource(protected: Platform) -> None:
    number_id = protected.state().resources[NUMBER].id
    protected.drop_number_manifest()
    result = protected.ok("state", "unprotect", NUMBER)
    assert f"Unprotected {NUMBER} ({number_id}); a plan may now delete it" in result.stdout
    assert protected.state().resources[NUMBER].protect is False
    assert protected.held("numbers", number_id) == 200  # the edit touched state only
    assert _resources(protected)[NUMBER]["action"] == "delete"
    protected.ok("apply", "--auto-approve")
    assert protected.held("numbers", number_id) == 404


def test_state_unprotect_warns_when_the_manifest_still_protects_the_resource(
    protected: Platform,
) -> None:
    result = protected.ok("state", "unprotect", NUMBER)
    assert "agents.d/platform.yaml still says protect: true" in result.stderr


@pytest.mark.parametrize("address", [SAVED, "PhoneNumber/nope"])
def test_state_unprotect_refuses_a_resource_that_is_not_recorded_as_protected(
    protected: Platform, address: str
) -> None:
    before = protected.state()
    result = protected.ok("state", "unprotect", address, code=EXIT_ERROR)
    assert f"cannot unprotect {address}:" in result.stderr
    assert protected.state() == before
