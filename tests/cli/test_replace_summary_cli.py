"""A replacement that deletes the old resource first, then creates the new one: when the create
fails, the apply's summary says the resource was deleted and not created again (never "nothing
changed" alone), as it says of a restart whose start failed. A replacement that creates first
(a number's new ``number``) leaves the old one in place when its create fails."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import NUMBER, Platform


def test_a_replace_whose_create_fails_says_the_resource_was_deleted(
    applied_platform: Platform,
) -> None:
    # --replace keeps the number: the old one must go before the same number is created again
    applied_platform.fault(route="create-number", status=400, times=1)
    result = applied_platform.ok("apply", "--auto-approve", "--replace", NUMBER, code=EXIT_ERROR)
    assert f"1 deleted for replacement, not created again: {NUMBER}" in result.output, result
    assert NUMBER not in applied_platform.state().resources
    applied_platform.ok("apply", "--auto-approve")  # the next apply creates it
    assert NUMBER in applied_platform.state().resources


def test_a_new_number_whose_create_fails_leaves_the_old_number_recorded(
    applied_platform: Platform,
) -> None:
    before = applied_platform.state().resources[NUMBER]
    applied_platform.edit("+14155550100", "+14155550199")
    applied_platform.fault(route="create-number", status=400, times=1)
    result = applied_platform.ok("apply", "--auto-approve", code=EXIT_ERROR)
    assert "deleted for replacement" not in result.output, result
    assert f"{NUMBER} replace (InvalidRequestBody): create:" in result.output, result
    assert applied_platform.state().resources[NUMBER] == before
    applied_platform.ok("apply", "--auto-approve")  # the next apply replaces it
    assert applied_platform.state().resources[NUMBER].spec["number"] == "+14155550199"
