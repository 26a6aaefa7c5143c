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
