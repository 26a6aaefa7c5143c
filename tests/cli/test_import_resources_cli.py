"""``reconciler import KIND/NAME ID`` records only a resource its manifest can describe: a secret
set's id is its name, so a set is imported only under a manifest of that name (another set would
be written to, and referenced by, a name the Platform does not hold)."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform, console

CONSOLE = "SavedAgent/console-made"


def test_import_refuses_a_secret_set_under_a_manifest_of_another_name(
    applied_platform: Platform,
) -> None:
    applied_platform.ok("state", "rm", "--force", KEYS)
    applied_platform.edit("name: llm_keys", "name: other_keys")
    applied_platform.edit("$secrets.llm_keys.openai", "$secrets.other_keys.openai")
    before = applied_platform.state()
    result = applied_platform.ok("import", "SecretSet/other_keys", "llm_keys", code=EXIT_ERROR)
    assert "SecretSet/other_keys" in result.stderr and "llm_keys" in result.stderr, result
    assert "its name" in result.stderr, result
    assert applied_platform.state() == before  # nothing recorded


def test_import_records_a_secret_set_under_the_manifest_of_its_name(
    applied_platform: Platform,
) -> None:
    applied_platform.ok("state", "rm", "--force", KEYS)
    applied_platform.ok("import", KEYS, "llm_keys")
    assert applied_platform.state().resources[KEYS].id == "llm_keys"


OTHER_LINEAGE = "7d2b9c41-5e6f-4a3b-8c9d-0e1f2a3b4c5d"


def test_pull_leaves_out_a_saved_agent_another_state_created(applied_platform: Platform) -> None:
    """A saved agent carrying the create marker of another state (another project on this App
    ID) is that project's: pull neither writes a manifest for it nor records it."""
    theirs = console(
        applied_platform.dir,
        "create_agent",
        {
            "agent_name": "support",
            "instructions": "Another project's agent.",
            "metadata": {"reconciler": f"{OTHER_LINEAGE}:SavedAgent/support:0123456789abcdef"},
        },
    ).body["agent_id"]
    mine = console(applied_platform.dir, "create_agent", {"agent_name": "console-made"}).body[
        "agent_id"
    ]
    result = applied_platform.ok("pull", "--record", "--auto-approve")
    assert "Another project's agent" not in result.stdout
    assert "name: console-made" in result.stdout
    assert theirs in result.stderr and "another reconciler state" in result.stderr, result
    recorded = {r.id for r in applied_platform.state().resources.values()}
    assert mine in recorded and theirs not in recorded


def test_pull_out_never_replaces_a_file_the_manifests_of_an_earlier_pull_are_in(
    applied_platform: Platform,
) -> None:
    """Run twice as documented (``pull --out agents.d/pulled.yaml``), the second pull finds
    nothing new: it must not empty the first pull's file, whose resources state now records
    (the next plan would delete them)."""
    console(applied_platform.dir, "create_agent", {"agent_name": "console-made"})
    out = applied_platform.dir / "agents.d" / "pulled.yaml"
    applied_platform.ok("pull", "--out", str(out), "--record", "--auto-approve")
    first = out.read_text(encoding="utf-8")
    assert "name: console-made" in first
    before = applied_platform.state()
    again = applied_platform.ok("pull", "--out", str(out), "--record", "--auto-approve", code=1)
    assert f"{out} exists" in again.stderr, again
    assert out.read_text(encoding="utf-8") == first
    assert applied_platform.state() == before  # refused before anything is recorded
    assert applied_platform.plan() == {
        KEYS: "no-op",
        SAVED: "no-op",
        NUMBER: "no-op",
        CONSOLE: "no-op",
    }
