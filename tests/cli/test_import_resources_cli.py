"""``reconciler import KIND/NAME ID`` records only a resource its manifest can describe: a secret
set's id is its name, so a set is imported only under a manifest of that name (another set would
be written to, and referenced by, a name the Platform does not hold)."""

from __future__ import annotations

import pytest

from reconciler.errors import EXIT_ERROR
from reconciler.kinds.platform_api import UNVERIFIED
from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform, console
from tests.secret_scan import find_leaks

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
    out = applied_platform.dir / "agents.d" / "pulled.yaml"
    result = applied_platform.ok("pull", "--out", str(out), "--record", "--auto-approve")
    written = out.read_text(encoding="utf-8")
    assert "Another project's agent" not in written
    assert "name: console-made" in written
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


LITERAL_KEY = "console-LITERAL-key-4d7a2c"
"""A key someone typed into a saved agent in the console, outside ``credential.fields``."""


def console_agent_with_a_key(project: Platform) -> str:
    """A saved agent made in the console whose TTS stage holds a key the Platform returns."""
    config = {
        "agent_name": "console-made",
        "tts": {"vendor": "microsoft", "params": {"key": LITERAL_KEY, "region": "eastus"}},
    }
    return str(console(project.dir, "create_agent", config).body["agent_id"])


def test_pull_never_writes_nor_records_a_key_the_platform_returns(
    applied_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest reads such a value from a variable (as a secret set's keys), the note says
    which to export, and state records it as not verified (the next apply writes it)."""
    console_agent_with_a_key(applied_platform)
    out = applied_platform.dir / "agents.d" / "pulled.yaml"
    result = applied_platform.ok("pull", "--out", str(out), "--record", "--auto-approve")
    written = out.read_text(encoding="utf-8")
    state = (applied_platform.dir / "state" / "agents.json").read_text(encoding="utf-8")
    texts = [("output", result.output), ("manifest", written), ("state", state)]
    assert find_leaks(texts, {"the key": LITERAL_KEY}, "\0") == []
    assert "key: ${CONSOLE_MADE_TTS_PARAMS_KEY}" in written
    assert "export CONSOLE_MADE_TTS_PARAMS_KEY" in result.stderr, result
    assert "region: eastus" in written
    recorded = applied_platform.state().resources[CONSOLE].spec
    assert recorded["tts"]["params"]["key"] == UNVERIFIED
    monkeypatch.setenv("CONSOLE_MADE_TTS_PARAMS_KEY", LITERAL_KEY)
    assert applied_platform.plan()[CONSOLE] == "update"  # not verified: written once
    applied_platform.ok("apply", "--auto-approve")
    assert applied_platform.plan()[CONSOLE] == "no-op"


def test_import_never_records_a_key_the_platform_returns(
    applied_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSOLE_KEY", "the-key-the-manifest-reads-1f")
    agent_id = console_agent_with_a_key(applied_platform)
    manifest = applied_platform.dir / "agents.d" / "console.yaml"
    manifest.write_text(
        "kind: SavedAgent\nname: console-made\nspec:\n  tts:\n    vendor: microsoft\n"
        "    params: {key: '${CONSOLE_KEY}', region: eastus}\n",
        encoding="utf-8",
    )
    applied_platform.ok("import", CONSOLE, agent_id)
    state = (applied_platform.dir / "state" / "agents.json").read_text(encoding="utf-8")
    assert find_leaks([("state", state)], {"the key": LITERAL_KEY}, "\0") == []
    assert applied_platform.state().resources[CONSOLE].spec["tts"]["params"]["key"] == UNVERIFIED


def test_pull_leaves_out_a_number_routed_to_an_agent_another_state_created(
    applied_platform: Platform,
) -> None:
    """A number whose calls go to another project's saved agent is that project's line: pull
    neither writes nor records it (recorded here, a destroy would delete the other project's
    number)."""
    theirs = console(
        applied_platform.dir,
        "create_agent",
        {
            "agent_name": "theirs",
            "metadata": {"reconciler": f"{OTHER_LINEAGE}:SavedAgent/theirs:0123456789abcdef"},
        },
    ).body["agent_id"]
    line = console(
        applied_platform.dir,
        "create_number",
        {
            "number": "+14155550199",
            "description": "their line",
            "sip_trunk": {"name": "theirs", "hostname": "theirs.example.com"},
            "inbound": {"agent": theirs, "call_policy": {}},
        },
    ).body["number_id"]
    out = applied_platform.dir / "agents.d" / "pulled.yaml"
    result = applied_platform.ok("pull", "--out", str(out), "--record", "--auto-approve")
    assert "+14155550199" not in out.read_text(encoding="utf-8")
    assert line in result.stderr and "another reconciler state" in result.stderr, result
    assert line not in {r.id for r in applied_platform.state().resources.values()}
    assert applied_platform.plan() == {KEYS: "no-op", SAVED: "no-op", NUMBER: "no-op"}


@pytest.mark.parametrize(
    "out",
    [None, "pulled.yaml", "agents.d/pulled.txt", "agents.d/_pulled.yaml", "agents.d/.pulled.yaml"],
)
def test_pull_record_refuses_to_record_unless_the_manifests_go_to_agents_d(
    applied_platform: Platform, out: str | None
) -> None:
    """Recorded in state without their manifests in agents.d (stdout, a file elsewhere, a
    partial, a hidden or non-YAML file), the pulled resources would all be deleted by the next
    plan: refused before anything is written or recorded."""
    console(applied_platform.dir, "create_agent", {"agent_name": "console-made"})
    before = applied_platform.state()
    args = [] if out is None else ["--out", str(applied_platform.dir / out)]
    result = applied_platform.ok("pull", *args, "--record", "--auto-approve", code=EXIT_ERROR)
    assert "--record" in result.stderr and "delete" in result.stderr, result
    assert "Traceback" not in result.output
    assert applied_platform.state() == before
    assert out is None or not (applied_platform.dir / out).exists()
    assert CONSOLE not in applied_platform.plan()
