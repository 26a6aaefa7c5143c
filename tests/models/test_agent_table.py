"""AgentTable: the agents of a state derived from another's, knowing which names changed, so
that a state write costs O(changed records) and never compares the unchanged ones."""

from __future__ import annotations

import copy
import pickle
import random

import pytest

from reconciler.models.agent_table import ANCESTRY, AgentTable, changed_names
from reconciler.models.state import AgentRecord, StateDoc
from tests.state.conftest import make_doc, make_record


def full_comparison(base: dict[str, AgentRecord], new: dict[str, AgentRecord]) -> list[str]:
    return sorted(
        {name for name in {*base, *new} if base.get(name) != new.get(name)},
    )


def test_a_derived_table_holds_the_records_put_and_not_those_dropped() -> None:
    base = {name: make_record(name) for name in ("a", "b", "c")}
    table = AgentTable.derive(base, put=[make_record("d"), make_record("a", 2)], drop=["b"])
    assert sorted(table) == ["a", "c", "d"]
    assert table["a"].generation == 2
    assert table["c"] is base["c"]
    assert sorted(base) == ["a", "b", "c"]  # the table it came from is left as it was


def test_changed_names_of_a_derived_table_are_its_changes() -> None:
    base = AgentTable.derive({name: make_record(name) for name in ("a", "b", "c")})
    table = AgentTable.derive(base, put=[make_record("d"), make_record("a", 2)], drop=["b", "x"])
    assert changed_names(base, table) == ["a", "b", "d"]


def test_changed_names_of_a_derived_table_look_at_nothing_else() -> None:
    base = AgentTable.derive({f"agent-{i}": make_record(f"agent-{i}") for i in range(100)})
    table = AgentTable.derive(base, put=[make_record("agent-7", 2)])
    # Behind the table's back (no code does this): a record the derivation did not touch.
    dict.__setitem__(base, "agent-50", make_record("agent-50", 9))
    assert changed_names(base, table) == ["agent-7"]


def test_a_record_put_again_unchanged_is_not_a_change() -> None:
    base = AgentTable.derive({"a": make_record("a")})
    assert changed_names(base, AgentTable.derive(base, put=[make_record("a")])) == []


def test_changes_are_known_across_several_derivations() -> None:
    first = AgentTable.derive({"a": make_record("a"), "b": make_record("b")})
    tables = [first]
    for generation in range(2, 2 + ANCESTRY):
        tables.append(AgentTable.derive(tables[-1], put=[make_record("a", generation)]))
    tables.append(AgentTable.derive(tables[-1], drop=["b"]))
    assert changed_names(tables[1], tables[-1]) == ["a", "b"]
    assert changed_names(tables[-2], tables[-1]) == ["b"]
    # Further back than the table remembers: every record is compared, with the same answer.
    assert changed_names(first, tables[-1]) == ["a", "b"]


def test_changed_names_of_unrelated_dicts_compare_every_record() -> None:
    base = {"a": make_record("a"), "b": make_record("b")}
    new = {"a": make_record("a", 2), "c": make_record("c")}
    assert changed_names(base, new) == ["a", "b", "c"]
    assert changed_names(new, new) == []


def test_changed_names_agree_with_a_full_comparison_for_any_run_of_changes() -> None:
    rng = random.Random(27)
    names = [f"agent-{i}" for i in range(30)]
    tables: list[dict[str, AgentRecord]] = [{n: make_record(n) for n in names[:10]}]
    for _ in range(200):
        put = [make_record(rng.choice(names), rng.randint(1, 3)) for _ in range(rng.randint(0, 3))]
        drop = rng.sample(names, rng.randint(0, 2))
        tables.append(AgentTable.derive(tables[-1], put=put, drop=drop))
    for _ in range(300):
        i = rng.randrange(len(tables))
        j = rng.randrange(i, min(len(tables), i + ANCESTRY + 3))
        assert changed_names(tables[i], tables[j]) == full_comparison(tables[i], tables[j])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.__setitem__("z", make_record("z")),
        lambda t: t.__delitem__("a"),
        lambda t: t.pop("a"),
        lambda t: t.popitem(),
        lambda t: t.setdefault("z", make_record("z")),
        lambda t: t.update({"z": make_record("z")}),
        lambda t: t.clear(),
        lambda t: t.__ior__({"z": make_record("z")}),
    ],
)
def test_a_table_is_read_only(mutate: object) -> None:
    table = AgentTable.derive({"a": make_record("a")})
    with pytest.raises(TypeError, match="read-only"):
        mutate(table)  # type: ignore[operator]
    assert list(table) == ["a"]


def test_a_copy_of_a_table_is_a_plain_dict_with_the_same_records() -> None:
    table = AgentTable.derive({"a": make_record("a")}, put=[make_record("b")])
    for copied in (copy.copy(table), copy.deepcopy(table), pickle.loads(pickle.dumps(table))):
        assert type(copied) is dict
        assert copied == table
    copied = copy.copy(table)
    copied["c"] = make_record("c")  # a copy is the caller's to change
    assert "c" not in table


def test_a_state_document_with_a_table_dumps_and_validates_as_with_a_dict() -> None:
    doc = make_doc("a", "b")
    derived = doc.model_copy(update={"agents": AgentTable.derive(doc.agents)})
    assert derived.model_dump_json() == doc.model_dump_json()
    assert StateDoc.model_validate_json(derived.model_dump_json()) == doc


def test_a_table_made_directly_knows_no_ancestor() -> None:
    base = AgentTable.derive({"a": make_record("a")})
    direct = AgentTable({"a": make_record("a", 2)})
    assert direct.since == ()
    assert changed_names(base, direct) == ["a"]
    assert changed_names(direct, AgentTable.derive(direct, drop=["a"])) == ["a"]
