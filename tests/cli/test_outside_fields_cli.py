"""A field added outside (in the console) under an object the manifest does not declare at all:
one apply removes the whole object, so the plan after it is clean (a merge patch that nulls only
the leaf left an empty object behind, seen as drift by every later plan)."""

from __future__ import annotations

from tests.cli.platform_project import SAVED, Platform, console, recorded_id


def test_one_apply_removes_an_object_added_outside_and_the_next_plan_is_clean(
    applied_platform: Platform,
) -> None:
    agent_id = recorded_id(applied_platform.dir, SAVED)
    live = console(applied_platform.dir, "get_agent", agent_id)
    console(
        applied_platform.dir,
        "update_agent",
        agent_id,
        {"greeting": {"text": "set in the console"}, "asr": {"vendor": "deepgram"}},
        live.etag,
    )
    assert applied_platform.plan()[SAVED] == "update"
    applied_platform.ok("apply", "--auto-approve")
    body = console(applied_platform.dir, "get_agent", agent_id).body
    assert "asr" not in body, body
    assert applied_platform.plan().get(SAVED, "no-op") == "no-op"
    applied_platform.ok("plan", "--detailed-exitcode")
