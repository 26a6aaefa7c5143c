"""A replace deletes the resource before it creates it again, and the Platform refuses to delete
a resource in use (a number routes to the agent, an agent uses the set): the plan refuses such a
replace, naming what still references it, instead of showing a plan whose apply must fail.
Replacing the referrers along with it works: they are deleted first and created after it."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform


def test_plan_refuses_to_replace_a_saved_agent_a_number_still_routes_to(
    applied_platform: Platform,
) -> None:
    before = applied_platform.state()
    for command in (("plan",), ("apply", "--auto-approve")):
        result = applied_platform.ok(*command, "--replace", SAVED, code=EXIT_ERROR)
        assert f"{SAVED} cannot be replaced while {NUMBER} references it" in result.output, result
    assert applied_platform.state().resources == before.resources  # nothing deleted


def test_plan_refuses_to_replace_a_secret_set_an_agent_still_uses(
    applied_platform: Platform,
) -> None:
    result = applied_platform.ok("plan", "--replace", KEYS, code=EXIT_ERROR)
    assert f"{KEYS} cannot be replaced while {SAVED} references it" in result.output, result


def test_replacing_a_saved_agent_with_what_references_it_applies_and_converges(
    applied_platform: Platform,
) -> None:
    old = applied_platform.state().resources
    applied_platform.ok("apply", "--replace", SAVED, "--replace", NUMBER, "--auto-approve")
    new = applied_platform.state().resources
    assert new[SAVED].id != old[SAVED].id and new[NUMBER].id != old[NUMBER].id
    assert new[NUMBER].spec["inbound"]["agent"] == new[SAVED].id
    applied_platform.ok("plan", "--detailed-exitcode")
