"""A replacement deletes the old resource, then creates the new one: when the create fails, the
apply's summary says the resource was deleted and not created again (never "nothing changed"
alone), as it says of a restart whose start failed."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import NUMBER, Platform


def test_a_replace_whose_create_fails_says_the_resource_was_deleted(
    applied_platform: Platform,
) -> None:
    applied_platform.edit("+14155550100", "+14155550199")
    applied_platform.fault(route="create-number", status=400, times=1)
    result = applied_platform.ok("apply", "--auto-approve", code=EXIT_ERROR)
    assert f"1 deleted for replacement, not created again: {NUMBER}" in result.output, result
    assert NUMBER not in applied_platform.state().resources
    applied_platform.ok("apply", "--auto-approve")  # the next apply creates it
    assert NUMBER in applied_platform.state().resources
