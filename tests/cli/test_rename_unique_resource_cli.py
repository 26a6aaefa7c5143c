"""A phone number's manifest renamed (`name: support-line` -> `name: main-line`, the same
number): the plan would create the number under the new name before it deletes the old record's,
and the Platform holds a number once, so the create was refused and the old number then deleted
anyway (the line lost). The plan refuses it, naming both and the state move that renames it."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import NUMBER, Platform, recorded_id

RENAMED = "PhoneNumber/main-line"


def test_plan_refuses_to_create_a_number_another_record_holds_and_names_the_move(
    applied_platform: Platform,
) -> None:
    line = recorded_id(applied_platform.dir, NUMBER)
    applied_platform.edit("name: support-line", "name: main-line")
    for command in (("plan",), ("apply", "--auto-approve")):
        result = applied_platform.ok(*command, code=EXIT_ERROR)
        assert f"{RENAMED} declares number '+14155550100', which {NUMBER}" in result.output, result
        assert f"reconciler state mv {NUMBER} {RENAMED}" in result.output, result
    assert applied_platform.held("numbers", line) == 200  # never deleted
    applied_platform.ok("state", "mv", NUMBER, RENAMED)
    applied_platform.ok("plan", "--detailed-exitcode")
