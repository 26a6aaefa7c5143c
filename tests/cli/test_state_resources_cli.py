"""``state list``, ``state mv`` and ``state rm`` for the Platform's resources (addresses
``KIND/NAME``), and a saved plan refused while a create is unsettled: end to end through the
CLI's real entry point on the in-process sandbox, with a local state file and with PostgreSQL.

The example project's Platform manifests: ``SecretSet/llm_keys``, ``SavedAgent/support`` (which
uses the set) and ``PhoneNumber/support-line`` (answered by the saved agent).
"""

from __future__ import annotations

import json
import shutil

import pytest

from reconciler.errors import EXIT_CONFLICT, EXIT_ERROR
from tests.cli.platform_project import (
    KEYS,
    NUMBER,
    ROOT,
    SAVED,
    Platform,
)
from tests.reliability.inproc import CliResult
from tests.state.conftest import HolderFactory, holder  # noqa: F401  (a fixture)


@pytest.fixture
def fresh(fresh_platform: Platform) -> Platform:
    """The project with a local state file, nothing applied yet."""
    return fresh_platform


@pytest.fixture
def applied(applied_platform: Platform) -> Platform:
    """:func:`fresh`, applied: the three resources are created and recorded."""
    return applied_platform


def _unchanged(project: Platform, *args: str, code: int = EXIT_ERROR) -> CliResult:
    """Run ``args``, which must be refused with ``code`` and leave the state as it was."""
    before = project.state()
    result = project.ok(*args, code=code)
    assert project.state() == before
    return result


# -- state list ---------------------------------------------------------------------------------


def test_state_list_shows_every_resource_by_its_address(applied: Platform) -> None:
    state = applied.state()
    text = applied.ok("state", "list").stdout
    assert text.splitlines()[0].split() == ["ADDRESS", "ID", "CREATED", "NOTE"]
    for address, record in state.resources.items():
        assert any(line.split()[:2] == [address, record.id] for line in text.splitlines())

    listed = json.loads(applied.ok("state", "list", "--format", "json").stdout)
    by_address = {r["address"]: r for r in listed["resources"]}
    assert set(by_address) == {KEYS, SAVED, NUMBER}
    assert by_address[SAVED]["kind"] == "SavedAgent"
    assert by_address[SAVED]["id"] == state.resources[SAVED].id
    assert by_address[NUMBER]["references"] == [SAVED]
    assert "creating" not in listed


def test_state_list_and_show_write_nothing(applied: Platform) -> None:
    state_dir = applied.dir / "state"
    before = {p.name: p.read_bytes() for p in state_dir.iterdir()}
    applied.ok("state", "list")
    applied.ok("state", "list", "--format", "json")
    shown = json.loads(applied.ok("state", "show").stdout)
    assert set(shown["resources"]) == {KEYS, SAVED, NUMBER}
    assert {p.name: p.read_bytes() for p in state_dir.iterdir()} == before


# -- state rm -----------------------------------------------------------------------------------


def test_state_rm_forgets_a_resource_which_stays_on_the_platform_and_is_not_deleted(
    applied: Platform,
) -> None:
    number_id = applied.state().resources[NUMBER].id
    applied.drop_number_manifest()
    assert applied.plan()[NUMBER] == "delete"  # what state rm avoids

    result = applied.ok("state", "rm", NUMBER)
    assert f"Removed {NUMBER} from state; {number_id} stays on the engine" in result.stdout
    assert NUMBER not in applied.state().resources
    assert applied.held("numbers", number_id) == 200
    assert NUMBER not in applied.plan()  # no longer managed: not deleted
    assert set(applied.plan().values()) == {"no-op"}


def test_state_rm_refuses_a_resource_a_manifest_still_declares(applied: Platform) -> None:
    result = _unchanged(applied, "state", "rm", NUMBER)
    assert "agents.d/platform.yaml still declares PhoneNumber/support-line" in result.stderr
    assert "creates a second one" in result.stderr


def test_state_rm_refuses_a_resource_other_records_reference_and_names_them(
    applied: Platform,
) -> None:
    declared = _unchanged(applied, "state", "rm", KEYS)
    assert "still declares SecretSet/llm_keys" in declared.stderr
    assert "SavedAgent/support references it" in declared.stderr

    # the manifests moved the number to a new saved agent; its record still references the old
    applied.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    applied.edit("{ref: SavedAgent/support}", "{ref: SavedAgent/helpdesk}")
    result = _unchanged(applied, "state", "rm", SAVED)
    assert "PhoneNumber/support-line references it" in result.stderr
    assert "still declares" not in result.stderr  # only what is true is said
    assert "--force" in result.stderr


def test_state_rm_with_force_removes_a_referenced_resource_and_warns_which_reference_it(
    applied: Platform,
) -> None:
    saved_id = applied.state().resources[SAVED].id
    result = applied.ok("state", "rm", "--force", SAVED)
    assert "Warning: PhoneNumber/support-line references it" in result.stderr
    state = applied.state()
    assert SAVED not in state.resources
    assert state.resources[NUMBER].references == [SAVED]  # the number's record is untouched
    assert applied.held("agents", saved_id) == 200
    planned = applied.plan()  # the manifest still declares it: a second one is created
    assert planned[SAVED] == "create"


@pytest.mark.parametrize(
    "address",
    ["SavedAgent/nobody", "SecretSet/_spare", "PhoneNumber/support"],
)
def test_state_rm_refuses_an_address_state_does_not_record(applied: Platform, address: str) -> None:
    result = _unchanged(applied, "state", "rm", address)
    assert f"cannot remove {address}: state records no resource '{address}'" in result.stderr
    assert "reconciler state list" in result.stderr


KINDS = "the kinds are Agent, PhoneNumber, SavedAgent, SecretSet"
FORM = "KIND/NAME (NAME: 1 to 64 letters, digits, '_', '.' and '-', not starting with '.' or '-')"


@pytest.mark.parametrize(
    ("args", "param", "expected"),
    [
        (
            ("state", "rm", "Nope/x"),
            "NAME",
            f"'Nope/x' is not an address: unknown kind Nope: {KINDS}",
        ),
        (
            ("state", "rm", "secretset/llm_keys"),
            "NAME",
            "'secretset/llm_keys' is not an address: unknown kind 'secretset' (did you mean "
            f"SecretSet?): {KINDS}",
        ),
        (
            ("state", "unprotect", "Nope/x"),
            "NAME",
            f"'Nope/x' is not an address: unknown kind Nope: {KINDS}",
        ),
        (
            ("state", "mv", "Nope/x", "Nope/y"),
            "OLD",
            f"'Nope/x' is not an address: unknown kind Nope: {KINDS}",
        ),
        (
            ("state", "mv", "--force", NUMBER, "Phonenumber/main-line"),
            "NEW",
            "'Phonenumber/main-line' is not an address: unknown kind Phonenumber (did you mean "
            f"PhoneNumber?): {KINDS}",
        ),
        (
            ("state", "rm", "SavedAgent/"),
            "NAME",
            f"'SavedAgent/' is not an address: it names no SavedAgent: write {FORM}",
        ),
        (
            ("state", "rm", "/support"),
            "NAME",
            f"'/support' is not an address: it names no kind: write {FORM}, KIND one of Agent",
        ),
        (
            ("state", "rm", "SavedAgent/support/x"),
            "NAME",
            f"'SavedAgent/support/x' is not an address: an address has one '/': {FORM}",
        ),
        (
            ("state", "mv", SAVED, "SavedAgent/help desk"),
            "NEW",
            f"'SavedAgent/help desk' is not an address: 'help desk' is not a name: write {FORM}",
        ),
    ],
)
def test_state_rm_mv_unprotect_of_an_unknown_kind_or_a_malformed_address_is_a_usage_error(
    applied: Platform, args: tuple[str, ...], param: str, expected: str
) -> None:
    result = _unchanged(applied, *args)
    assert result.stderr.startswith(f"Usage: reconciler state {args[1]} "), result.stderr
    assert f"Error: Invalid value for '{param}': {expected}" in result.stderr


def test_state_rm_of_a_bare_name_points_at_the_resource_with_that_name(applied: Platform) -> None:
    result = _unchanged(applied, "state", "rm", "support-line")
    assert "state records no agent 'support-line'" in result.stderr
    assert "for a resource, name its address: PhoneNumber/support-line" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("state", "rm", NUMBER), ("state", "mv", "--force", NUMBER, "PhoneNumber/main-line")],
)
def test_state_rm_and_mv_of_a_resource_refuse_while_the_lock_is_held(
    applied: Platform,
    holder: HolderFactory,  # noqa: F811  (the fixture imported above)
    args: tuple[str, ...],
) -> None:
    applied.drop_number_manifest()
    held = holder(applied.dir / "state" / "agents.json")
    try:
        result = _unchanged(applied, *args, code=EXIT_CONFLICT)
    finally:
        held.release()
    assert "lock" in result.stderr.lower()
    applied.ok(*args)


# -- state mv -----------------------------------------------------------------------------------


def test_state_mv_renames_a_resource_keeping_its_id_and_what_references_it(
    applied: Platform,
) -> None:
    before = applied.state()
    applied.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    applied.edit("{ref: SavedAgent/support}", "{ref: SavedAgent/helpdesk}")
    planned = applied.plan()
    assert (planned[SAVED], planned["SavedAgent/helpdesk"]) == ("delete", "create")

    result = applied.ok("state", "mv", SAVED, "SavedAgent/helpdesk")
    assert f"Moved {SAVED} to SavedAgent/helpdesk" in result.stdout
    assert "the recorded references of PhoneNumber/support-line" in result.stderr
    after = applied.state()
    moved = after.resources["SavedAgent/helpdesk"]
    assert SAVED not in after.resources
    assert (moved.id, moved.name, moved.spec) == (
        before.resources[SAVED].id,
        "helpdesk",
        before.resources[SAVED].spec,
    )
    assert after.resources[NUMBER].references == ["SavedAgent/helpdesk"]

    planned = applied.plan()
    assert SAVED not in planned
    assert planned["SavedAgent/helpdesk"] not in ("create", "delete", "replace")
    assert planned[NUMBER] == "no-op"  # it references the same id as before


def test_state_mv_refuses_a_move_across_kinds(applied: Platform) -> None:
    across = _unchanged(applied, "state", "mv", SAVED, "PhoneNumber/support")
    assert "a move keeps the kind" in across.stderr
    assert "move it to SavedAgent/support" in across.stderr
    to_agent = _unchanged(applied, "state", "mv", SAVED, "helpdesk")
    assert "a resource moves to an address SavedAgent/NAME" in to_agent.stderr
    as_agent = _unchanged(applied, "state", "mv", SAVED, "Agent/helpdesk")
    assert "a move keeps the kind" in as_agent.stderr


def test_state_mv_refuses_an_agent_moved_to_a_resource_address(fresh: Platform) -> None:
    shutil.copytree(ROOT / "agents.d" / "_base", fresh.dir / "agents.d" / "_base")
    shutil.copy(ROOT / "agents.d" / "support-en.yaml", fresh.dir / "agents.d")
    fresh.ok("apply", "--auto-approve")
    assert "support-en" in fresh.state().agents
    result = _unchanged(fresh, "state", "mv", "--force", "support-en", "SavedAgent/bot")
    assert "a move keeps the kind" in result.stderr
    moved = fresh.ok("state", "mv", "--force", "Agent/support-en", "Agent/support-fr")
    assert "Moved support-en to support-fr" in moved.stdout
    assert "support-fr" in fresh.state().agents


def test_state_mv_refuses_what_the_next_plan_would_delete_or_create_again(
    applied: Platform,
) -> None:
    result = _unchanged(applied, "state", "mv", SAVED, "SavedAgent/helpdesk")
    assert "no manifest declares SavedAgent/helpdesk, so the next plan deletes it" in (
        result.stderr
    )
    assert "still declares SavedAgent/support, so the next plan creates a second one" in (
        result.stderr
    )
    forced = applied.ok("state", "mv", "--force", SAVED, "SavedAgent/helpdesk")
    assert "Warning: no manifest declares SavedAgent/helpdesk" in forced.stderr
    assert "SavedAgent/helpdesk" in applied.state().resources


def test_state_mv_refuses_a_secret_set_the_platform_knows_by_its_name(applied: Platform) -> None:
    applied.edit("name: llm_keys", "name: model_keys")
    applied.edit("$secrets.llm_keys.", "$secrets.model_keys.")
    result = _unchanged(applied, "state", "mv", KEYS, "SecretSet/model_keys")
    assert "the engine knows it by its name (llm_keys)" in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (SAVED, SAVED, "cannot move SavedAgent/support to itself"),
        (KEYS, "SecretSet/bad-name", "is not a SecretSet name"),
        (SAVED, "SavedAgent/", "'SavedAgent/' is not an address: it names no SavedAgent"),
        ("SavedAgent/nobody", "SavedAgent/x", "state records no resource 'SavedAgent/nobody'"),
    ],
)
def test_state_mv_refuses_a_destination_that_cannot_hold_the_record(
    applied: Platform, old: str, new: str, said: str
) -> None:
    result = _unchanged(applied, "state", "mv", "--force", old, new)
    assert said in result.stderr


def test_state_mv_refuses_an_address_state_already_records(fresh: Platform) -> None:
    path = fresh.dir / "agents.d" / "platform.yaml"
    with path.open("a", encoding="utf-8") as out:
        out.write("---\nkind: SecretSet\nname: other_keys\n")
        out.write('keys: {a: "${OTHER_KEY:-sandbox-other-placeholder}"}\n')
    fresh.ok("apply", "--auto-approve")
    result = _unchanged(fresh, "state", "mv", "--force", "SecretSet/other_keys", KEYS)
    assert "state already records SecretSet/llm_keys as llm_keys" in result.stderr


# -- interrupted updates and creates --------------------------------------------------------------


def _interrupt_update_of_saved_agent(project: Platform) -> None:
    project.edit("Answer briefly and in plain words.", "Answer in one sentence.")
    project.fault(route="update-agent", status=503)  # every attempt fails: outcome unknown
    project.ok("apply", "--auto-approve", code=EXIT_ERROR)
    project.control("DELETE", "/faults/rules")
    assert project.state().resources[SAVED].updating is not None


def test_state_mv_carries_an_interrupted_update_with_its_record(applied: Platform) -> None:
    _interrupt_update_of_saved_agent(applied)
    entry = applied.state().resources[SAVED].updating
    applied.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    applied.edit("{ref: SavedAgent/support}", "{ref: SavedAgent/helpdesk}")
    result = applied.ok("state", "mv", SAVED, "SavedAgent/helpdesk")
    assert "the interrupted update of SavedAgent/support moved with its record" in result.stderr
    assert applied.state().resources["SavedAgent/helpdesk"].updating == entry
    applied.ok("apply", "--auto-approve")  # settles it under the new address
    assert applied.state().resources["SavedAgent/helpdesk"].updating is None


def test_state_rm_refuses_a_resource_whose_update_is_unsettled_unless_forced(
    applied: Platform,
) -> None:
    _interrupt_update_of_saved_agent(applied)
    applied.drop_number_manifest()
    applied.ok("state", "rm", NUMBER)
    applied.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    result = _unchanged(applied, "state", "rm", SAVED)
    assert "an interrupted update of it is not settled yet" in result.stderr
    forced = applied.ok("state", "rm", "--force", SAVED)
    assert "the interrupted update of SavedAgent/support was dropped" in forced.stderr
    assert SAVED not in applied.state().resources


def _interrupt_create_of_number(project: Platform) -> None:
    project.fault(route="create-number", action="drop_after", times=1)
    project.ok("apply", "--auto-approve", code=EXIT_ERROR)
    project.control("DELETE", "/faults/rules")
    assert set(project.state().creating) == {NUMBER}


def test_state_mv_and_rm_refuse_a_resource_whose_create_is_unsettled(fresh: Platform) -> None:
    _interrupt_create_of_number(fresh)
    listed = json.loads(fresh.ok("state", "list", "--format", "json").stdout)
    assert listed["creating"] == [NUMBER]
    assert "create interrupted" in fresh.ok("state", "list").stdout
    for args in (("state", "rm", NUMBER), ("state", "mv", NUMBER, "PhoneNumber/line")):
        result = _unchanged(fresh, *args)
        assert "its create was interrupted and is not settled yet" in result.stderr
    moved_onto = _unchanged(fresh, "state", "mv", "--force", SAVED, NUMBER)
    assert "a move keeps the kind" in moved_onto.stderr


def test_state_rm_refuses_a_resource_an_unsettled_create_references(fresh: Platform) -> None:
    _interrupt_create_of_number(fresh)
    fresh.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    fresh.edit("{ref: SavedAgent/support}", "{ref: SavedAgent/helpdesk}")
    result = _unchanged(fresh, "state", "rm", SAVED)
    assert "PhoneNumber/support-line references it" in result.stderr


def test_a_saved_plan_is_refused_while_a_create_is_unsettled(fresh: Platform) -> None:
    _interrupt_create_of_number(fresh)
    planfile = fresh.dir / "reviewed.plan"
    fresh.ok("plan", "--out", str(planfile))
    result = _unchanged(fresh, "apply", str(planfile), code=EXIT_CONFLICT)
    assert f"interrupted create(s) ({NUMBER})" in result.stderr
    assert "reviewed without knowing whether they landed" in result.stderr
    assert "then run `reconciler plan` again" in result.stderr

    fresh.ok("apply", "--auto-approve")  # settles the create
    assert not fresh.state().creating
    fresh.ok("plan", "--out", str(planfile))
    fresh.ok("apply", str(planfile))


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_state_rm_and_mv_of_resources_on_postgres_are_durable(on_postgres: Platform) -> None:
    project = on_postgres
    ids = {a: r.id for a, r in project.state().resources.items()}
    listed = json.loads(project.ok("state", "list", "--format", "json").stdout)
    assert {r["address"] for r in listed["resources"]} == {KEYS, SAVED, NUMBER}

    project.edit("kind: SavedAgent\nname: support\n", "kind: SavedAgent\nname: helpdesk\n")
    project.edit("{ref: SavedAgent/support}", "{ref: SavedAgent/helpdesk}")
    project.ok("state", "mv", SAVED, "SavedAgent/helpdesk")
    state = project.state()
    assert state.resources["SavedAgent/helpdesk"].id == ids[SAVED]
    assert state.resources[NUMBER].references == ["SavedAgent/helpdesk"]

    refused = _unchanged(project, "state", "rm", "SavedAgent/helpdesk")
    assert "PhoneNumber/support-line references it" in refused.stderr
    _unchanged(project, "state", "mv", "SavedAgent/helpdesk", "PhoneNumber/x")

    project.drop_number_manifest()
    project.ok("state", "rm", NUMBER)
    assert set(project.state().resources) == {KEYS, "SavedAgent/helpdesk"}
    planned = project.plan()
    assert planned[KEYS] == "no-op"
    assert planned["SavedAgent/helpdesk"] not in ("create", "delete", "replace")
    assert NUMBER not in planned


# -- deposed objects (a replacement that created first, its old resource not deleted) -----------


def _leave_old_number_deposed(project: Platform) -> str:
    old_id = project.state().resources[NUMBER].id
    project.edit('number: "+14155550100"', 'number: "+14155550166"')
    project.fault(route="delete-number", status=409, reason="Conflict")
    project.ok("apply", "--auto-approve", code=EXIT_ERROR)
    project.control("DELETE", "/faults/rules")
    assert [d.id for d in project.state().resources[NUMBER].deposed] == [old_id]
    return old_id


def test_state_list_names_a_deposed_resource_not_deleted_yet(applied: Platform) -> None:
    old_id = _leave_old_number_deposed(applied)
    listed = applied.ok("state", "list")
    assert f"deposed {old_id} not deleted" in listed.stdout
    as_json = json.loads(applied.ok("state", "list", "--format", "json").stdout)
    (number,) = [r for r in as_json["resources"] if r.get("address") == NUMBER]
    assert number["deposed"] == [old_id]


def test_state_rm_refuses_a_resource_with_a_deposed_one_unless_forced(applied: Platform) -> None:
    old_id = _leave_old_number_deposed(applied)
    applied.drop_number_manifest()
    result = _unchanged(applied, "state", "rm", NUMBER)
    assert f"has not deleted yet ({old_id})" in result.stderr
    applied.ok("state", "rm", "--force", NUMBER)
    assert NUMBER not in applied.state().resources


def test_state_mv_carries_the_deposed_resource_and_apply_then_deletes_it(
    applied: Platform,
) -> None:
    old_id = _leave_old_number_deposed(applied)
    applied.edit("kind: PhoneNumber\nname: support-line\n", "kind: PhoneNumber\nname: hotline\n")
    applied.ok("state", "mv", NUMBER, "PhoneNumber/hotline")
    (deposed,) = applied.state().resources["PhoneNumber/hotline"].deposed
    assert (deposed.id, deposed.name) == (old_id, "hotline")
    applied.ok("apply", "--auto-approve")
    assert not applied.state().resources["PhoneNumber/hotline"].deposed
    assert applied.held("numbers", old_id) == 404


def test_pull_counts_a_deposed_number_as_recorded(applied: Platform) -> None:
    _leave_old_number_deposed(applied)
    pulled = applied.ok("pull")
    assert "+14155550100" not in pulled.stdout, pulled  # ours, deposed: not offered as unmanaged
