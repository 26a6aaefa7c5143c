"""FieldPath: the one way a path into a spec is written, read, compared and followed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from reconciler.models import ABSENT, FieldPath


def test_plain_keys_are_joined_with_dots_and_indexes_bracketed() -> None:
    path = FieldPath(("properties", "llm", "system_messages", 0, "content"))
    assert path.format() == "properties.llm.system_messages[0].content"
    assert str(path) == "properties.llm.system_messages[0].content"


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (("labels", "team.name"), 'labels["team.name"]'),
        (("labels", "with space"), 'labels["with space"]'),
        (("labels", 'say "hi"'), 'labels["say \\"hi\\""]'),
        (("labels", "ключ"), 'labels["\\u043a\\u043b\\u044e\\u0447"]'),
        (("labels", ""), 'labels[""]'),
        (("labels", "a\n"), 'labels["a\\n"]'),
        (("plain-key_1", "$ref"), "plain-key_1.$ref"),
        (("matrix", 0, 1), "matrix[0][1]"),
        ((), ""),
    ],
)
def test_keys_that_are_not_plain_are_quoted_and_read_back(
    parts: tuple[str | int, ...], text: str
) -> None:
    assert FieldPath(parts).format() == text
    assert FieldPath.parse(text) == parts


@pytest.mark.parametrize("text", [".a", "a..b", "a.", "a[x]", "a b", "a[0]b", 'a["x"', "[-1]"])
def test_text_that_is_not_a_path_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        FieldPath.parse(text)


keys = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
parts = st.lists(st.one_of(keys, st.integers(min_value=0, max_value=10**6)), max_size=6)


@given(parts)
def test_every_path_survives_its_text_form(items: list[str | int]) -> None:
    path = FieldPath(items)
    assert FieldPath.parse(path.format()) == path


def test_a_path_is_within_itself_and_its_parents_only() -> None:
    path = FieldPath.parse("a.b[0].c")
    assert path.is_within(FieldPath.parse("a.b[0].c"))
    assert path.is_within(FieldPath.parse("a.b"))
    assert path.is_within(FieldPath())
    assert not FieldPath.parse("a.bc").is_within(FieldPath.parse("a.b"))
    assert not FieldPath.parse("a.b").is_within(FieldPath.parse("a.b.c"))
    assert not FieldPath.parse("a[1]").is_within(FieldPath.parse("a[10]"))
    assert not FieldPath.parse('a["b.c"]').is_within(FieldPath.parse("a.b"))


def test_child_extends_a_path_without_changing_it() -> None:
    root = FieldPath.parse("properties")
    assert root.child("labels").child("a.b") == FieldPath(("properties", "labels", "a.b"))
    assert root.child(3).format() == "properties[3]"
    assert root == ("properties",)


def test_get_in_follows_keys_and_indexes_and_reports_absence() -> None:
    tree = {"a": {"b": [None, {"c": 2}]}}
    assert FieldPath.parse("a.b[1].c").get_in(tree) == 2
    assert FieldPath.parse("a.b[0]").get_in(tree) is None
    assert FieldPath().get_in(tree) is tree
    for missing in ("a.x", "a.b[2]", "a.b[0].c", "a.b.c", "a[0]"):
        assert FieldPath.parse(missing).get_in(tree) is ABSENT


def test_set_in_needs_the_parent_to_exist() -> None:
    tree: dict[str, object] = {"a": {"b": [1, 2]}}
    assert FieldPath.parse("a.c").set_in(tree, "new")
    assert FieldPath.parse("a.b[1]").set_in(tree, 3)
    assert not FieldPath.parse("a.b[2]").set_in(tree, 4)
    assert not FieldPath.parse("x.y").set_in(tree, 5)
    assert not FieldPath().set_in(tree, 6)
    assert tree == {"a": {"b": [1, 3], "c": "new"}}


class _Holder(BaseModel):
    path: FieldPath


def test_a_model_field_is_written_and_read_as_the_text_form() -> None:
    holder = _Holder(path=FieldPath(("labels", "team.name")))
    text = holder.model_dump_json()
    assert json.loads(text) == {"path": 'labels["team.name"]'}
    assert _Holder.model_validate_json(text).path == FieldPath(("labels", "team.name"))
    assert _Holder.model_validate({"path": "a[0]"}).path == ("a", 0)
    assert _Holder.model_json_schema()["properties"]["path"]["type"] == "string"
