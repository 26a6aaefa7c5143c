"""A secret set's key renamed together with the saved agent that uses it: the Platform refuses to
remove a key an agent references (`SecretSetInUse`) and to save an agent referencing a key the
set lacks, so one apply adds the new key, updates the agent, and only then removes the old key
(one PATCH of the set before the agent failed every apply, for ever)."""

from __future__ import annotations

from tests.cli.platform_project import KEYS, SAVED, Platform, console


def rename_the_key(platform: Platform) -> None:
    platform.edit("  openai: ${OPENAI_API_KEY", "  primary: ${OPENAI_API_KEY")
    platform.edit("$secrets.llm_keys.openai", "$secrets.llm_keys.primary")


def test_one_apply_renames_a_key_an_agent_uses_and_the_next_plan_is_clean(
    applied_platform: Platform,
) -> None:
    rename_the_key(applied_platform)
    applied_platform.ok("apply", "--auto-approve")
    assert console(applied_platform.dir, "get_secret_set", "llm_keys").body["keys"] == ["primary"]
    state = applied_platform.state().resources
    assert sorted(state[KEYS].spec["keys"]) == ["primary"]
    assert state[SAVED].spec["llm"]["credential"]["fields"]["api_key"] == (
        "$secrets.llm_keys.primary"
    )
    applied_platform.ok("plan", "--detailed-exitcode")


def test_a_failed_agent_update_leaves_the_old_key_and_the_next_apply_finishes(
    applied_platform: Platform,
) -> None:
    rename_the_key(applied_platform)
    applied_platform.fault(route="update-agent", status=400, reason="InvalidRequest", times=1)
    failed = applied_platform.ok("apply", "--auto-approve", code=1)
    assert "SecretSetInUse" not in failed.output, failed
    keys = console(applied_platform.dir, "get_secret_set", "llm_keys").body["keys"]
    assert sorted(keys) == ["openai", "primary"]  # the agent still uses openai
    assert sorted(applied_platform.state().resources[KEYS].spec["keys"]) == ["openai", "primary"]
    applied_platform.ok("apply", "--auto-approve")
    keys = console(applied_platform.dir, "get_secret_set", "llm_keys").body["keys"]
    assert keys == ["primary"]
    applied_platform.ok("plan", "--detailed-exitcode")


def _unclosed_calls(stream: str) -> list[str]:
    """The calls of an ``apply --format json`` stream begun and never ended (each
    ``action_begin`` is closed by ``action_complete`` or ``action_failed``)."""
    import json

    open_calls: list[str] = []
    for line in stream.splitlines():
        event = json.loads(line)
        if event["type"] == "action_begin":
            open_calls.append(event["name"])
        elif event["type"] in ("action_complete", "action_failed"):
            open_calls.remove(event["name"])
    return open_calls


def test_the_event_stream_closes_each_call_of_an_update_whose_removals_are_held(
    applied_platform: Platform,
) -> None:
    rename_the_key(applied_platform)
    done = applied_platform.ok("apply", "--auto-approve", "--format", "json")
    assert _unclosed_calls(done.stdout) == [], done.stdout


def test_the_event_stream_closes_the_first_half_of_a_held_update_whose_removal_is_skipped(
    applied_platform: Platform,
) -> None:
    rename_the_key(applied_platform)
    applied_platform.fault(route="update-agent", status=400, reason="InvalidRequest", times=1)
    failed = applied_platform.ok("apply", "--auto-approve", "--format", "json", code=1)
    assert _unclosed_calls(failed.stdout) == [], failed.stdout
    summary = failed.stdout.splitlines()[-1]
    assert "the rest of the update was sent" in summary, summary
