"""The plan graph and the two forms of reference, as pure functions."""

from __future__ import annotations

import pytest

from reconciler.errors import Location, ValidationError
from reconciler.kinds import (
    closure,
    creation_order,
    deletion_order,
    find_references,
    is_known_after_apply,
    resolve_references,
)


def test_creation_order_puts_what_is_referenced_first_and_breaks_ties_by_address() -> None:
    edges = {"N/phone": ["A/agent"], "A/agent": ["S/keys"], "S/keys": [], "A/other": []}

    assert creation_order(edges) == ["A/other", "S/keys", "A/agent", "N/phone"]
    assert deletion_order(edges) == ["N/phone", "A/agent", "S/keys", "A/other"]


def test_a_reference_outside_the_graph_orders_nothing() -> None:
    assert creation_order({"B/b": ["X/elsewhere"], "A/a": []}) == ["A/a", "B/b"]


def test_a_cycle_names_every_resource_on_it_from_the_first_address() -> None:
    edges = {"W/c": ["W/a"], "W/a": ["W/b"], "W/b": ["W/c"], "W/d": ["W/a"]}
    where = {"W/a": Location("agents.d/a.yaml", 3)}

    with pytest.raises(ValidationError) as caught:
        creation_order(edges, where)

    (problem,) = caught.value.problems
    assert problem.location == Location("agents.d/a.yaml", 3)
    assert problem.message.startswith("reference cycle: W/a -> W/b -> W/c -> W/a")


def test_closure_is_the_targets_and_everything_they_reach() -> None:
    edges = {"A/a": ["A/b"], "A/b": ["A/c"], "A/c": [], "A/d": ["A/a"]}

    assert closure(["A/a"], edges) == {"A/a", "A/b", "A/c"}
    assert closure(["A/c"], edges) == {"A/c"}
    assert closure([], edges) == set()


def test_both_forms_of_reference_are_found_anywhere_in_a_spec() -> None:
    spec = {
        "llm": {"credential": {"fields": {"api_key": "$secrets.llm_keys.openai"}}},
        "inbound": {"agent": {"ref": "SavedAgent/support"}},
        "list": [{"ref": "SecretSet/other"}, "$secrets.llm_keys.azure"],
        "not_a_ref": {"ref": "SavedAgent/support", "extra": 1},
        "text": "see $secrets.llm_keys.openai in the docs",
    }

    assert find_references(spec) == ("SavedAgent/support", "SecretSet/llm_keys", "SecretSet/other")


def test_resolving_references_sends_ids_and_marks_what_is_not_known_yet() -> None:
    spec = {"a": {"ref": "K/known"}, "b": [{"ref": "K/new"}], "c": "$secrets.s.k"}

    resolved = resolve_references(spec, {"K/known": "id-1", "K/new": None})

    assert resolved["a"] == "id-1"
    assert is_known_after_apply(resolved["b"][0])
    assert resolved["c"] == "$secrets.s.k"  # the engine resolves secret references itself
    assert spec["a"] == {"ref": "K/known"}  # the spec is left as it was
