"""The field diff: what changed between two specs, item by item, in path order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.diff import RawChange, field_changes, redact
from reconciler.diff.redact import canonical_json
from reconciler.models import FieldPath


def _spec(**props: Any) -> dict[str, Any]:
    return {"properties": {"channel": "c", "agent_rtc_uid": "1", **props}}


def _shown(changes: list[RawChange]) -> list[tuple[str, Any, Any]]:
    """Each change as (path, before, after), an absent side shown as "-"."""
    return [
        (
            str(c.path),
            c.before if c.before_present else "-",
            c.after if c.after_present else "-",
        )
        for c in changes
    ]


def _messages(*contents: str) -> dict[str, Any]:
    return {"system_messages": [{"role": "system", "content": text} for text in contents]}


def test_a_list_item_added_is_one_added_item() -> None:
    changes = field_changes(
        _spec(remote_rtc_uids=["1", "2"]), _spec(remote_rtc_uids=["1", "2", "3"])
    )
    assert _shown(changes) == [("properties.remote_rtc_uids[2]", "-", "3")]


def test_a_list_item_removed_is_one_removed_item() -> None:
    changes = field_changes(
        _spec(remote_rtc_uids=["1", "2", "3"]), _spec(remote_rtc_uids=["1", "3"])
    )
    assert _shown(changes) == [("properties.remote_rtc_uids[1]", "2", "-")]


def test_a_changed_message_shows_only_the_field_that_changed() -> None:
    before = _spec(llm=_messages("You are helpful.", "Be brief."))
    after = _spec(llm=_messages("You are helpful.", "Be very brief."))
    changes = field_changes(before, after)
    assert _shown(changes) == [
        ("properties.llm.system_messages[1].content", "Be brief.", "Be very brief.")
    ]


def test_a_message_added_to_the_end_is_listed_field_by_field() -> None:
    changes = field_changes(_spec(llm=_messages("a")), _spec(llm=_messages("a", "b")))
    assert _shown(changes) == [
        ("properties.llm.system_messages[1].content", "-", "b"),
        ("properties.llm.system_messages[1].role", "-", "system"),
    ]


def test_an_item_changed_in_a_nested_list_is_that_item() -> None:
    before = {"matrix": [[1, 2], [3]]}
    after = {"matrix": [[1, 2], [4]]}
    assert _shown(field_changes(before, after)) == [("matrix[1][0]", 3, 4)]
    added = field_changes(before, {"matrix": [[1, 2, 5], [3]]})
    assert _shown(added) == [("matrix[0][2]", "-", 5)]


def test_a_type_change_is_one_change_of_the_whole_value() -> None:
    changes = field_changes(_spec(idle_timeout=30), _spec(idle_timeout="30"))
    assert _shown(changes) == [("properties.idle_timeout", 30, "30")]
    replaced = field_changes(_spec(asr={"language": "en"}), _spec(asr=["en"]))
    assert _shown(replaced) == [("properties.asr", {"language": "en"}, ["en"])]


def test_an_integer_that_becomes_a_float_is_a_change() -> None:
    (change,) = field_changes({"x": 1}, {"x": 1.0})
    assert (change.before, change.after) == (1, 1.0)


def test_a_changed_secret_is_one_sensitive_change_at_the_secret_path() -> None:
    paths = [FieldPath.parse("properties.tts.params.key")]
    before = redact(_spec(tts={"params": {"key": "one", "voice": "v"}}), paths, "salt")
    after = redact(_spec(tts={"params": {"key": "two", "voice": "v"}}), paths, "salt")
    (change,) = field_changes(before, after)
    assert change.path == FieldPath.parse("properties.tts.params.key")
    assert change.sensitive
    assert "$sensitive" in change.before and "$sensitive" in change.after


def test_a_secret_that_becomes_a_plain_mapping_is_one_change_at_its_path() -> None:
    paths = [FieldPath.parse("properties.llm.headers")]
    before = redact(_spec(llm={"headers": {"Authorization": "x"}}), paths, "salt")
    changes = field_changes(before, _spec(llm={"headers": {"X-Trace": "t"}}))
    assert [(str(c.path), c.sensitive) for c in changes] == [("properties.llm.headers", True)]


def test_an_added_block_is_listed_leaf_by_leaf_in_path_order() -> None:
    after = _spec(tts={"vendor": "microsoft", "params": {"voice": "v", "region": "eastus"}})
    changes = field_changes(_spec(), after)
    assert _shown(changes) == [
        ("properties.tts.params.region", "-", "eastus"),
        ("properties.tts.params.voice", "-", "v"),
        ("properties.tts.vendor", "-", "microsoft"),
    ]


def test_a_removed_block_is_listed_leaf_by_leaf() -> None:
    changes = field_changes(_spec(asr={"language": "en", "vendor": "ares"}), _spec())
    assert _shown(changes) == [
        ("properties.asr.language", "en", "-"),
        ("properties.asr.vendor", "ares", "-"),
    ]


def test_changes_come_in_path_order_whatever_the_key_order() -> None:
    before = {"b": 1, "a": {"z": 1, "y": [1]}, "c": [1, 2]}
    after = {"c": [1, 2, 3], "a": {"y": [2], "z": 2}, "b": 2}
    assert [str(c.path) for c in field_changes(before, after)] == ["a.y[0]", "a.z", "b", "c[2]"]


def test_keys_that_are_not_plain_keep_their_quoted_path() -> None:
    (change,) = field_changes({"labels": {"team.name": "a"}}, {"labels": {"team.name": "b"}})
    assert str(change.path) == 'labels["team.name"]'


def test_equal_specs_have_no_changes() -> None:
    spec = _spec(llm=_messages("a", "b"), remote_rtc_uids=["1"])
    assert field_changes(spec, _spec(llm=_messages("a", "b"), remote_rtc_uids=["1"])) == []


def test_a_secret_changed_inside_a_list_item_is_one_sensitive_change() -> None:
    paths = [FieldPath.parse("properties.llm.system_messages[0].content")]
    before = redact(_spec(llm=_messages("secret one", "b")), paths, "salt")
    after = redact(_spec(llm=_messages("secret two", "b")), paths, "salt")
    (change,) = field_changes(before, after)
    assert str(change.path) == "properties.llm.system_messages[0].content"
    assert change.sensitive
    assert "secret" not in repr(change)


def test_a_changed_multi_line_string_in_a_list_is_one_change_of_the_whole_string() -> None:
    before = _spec(llm=_messages("line one\nline two\n"))
    after = _spec(llm=_messages("line one\nline 2\n"))
    assert _shown(field_changes(before, after)) == [
        ("properties.llm.system_messages[0].content", "line one\nline two\n", "line one\nline 2\n")
    ]


scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", ""]))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(st.sampled_from("abc"), trees), st.dictionaries(st.sampled_from("abc"), trees)
)
def test_specs_have_changes_exactly_when_they_differ(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    changes = field_changes(before, after)
    assert (changes == []) == (canonical_json(before) == canonical_json(after))
    assert changes == sorted(changes, key=lambda c: [(isinstance(p, int), p) for p in c.path])
    assert len({(c.path, c.before_present, c.after_present) for c in changes}) == len(changes)


markers = st.sampled_from([{"$sensitive": "sha256:1"}, {"$sensitive": "sha256:2"}])
mappings = st.dictionaries(
    st.sampled_from("xyz"), st.one_of(trees, markers, st.floats(-1, 1)), max_size=3
)


@given(st.integers(0, 4).flatmap(lambda n: st.tuples(*[st.tuples(mappings, mappings)] * n)))
def test_lists_of_as_many_mappings_change_as_deepdiff_aligns_them(
    pairs: tuple[tuple[dict[str, Any], dict[str, Any]], ...],
) -> None:
    """Two lists of as many mappings (the messages of a changed prompt) are compared item by
    item without DeepDiff; the changes are exactly those DeepDiff's alignment gives."""
    import pytest

    before = {"messages": [old for old, _ in pairs]}
    after = {"messages": [new for _, new in pairs]}
    direct = field_changes(before, after)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("reconciler.diff.changes._pairwise", lambda old, new: False)
        through_deepdiff = field_changes(before, after)
    assert direct == through_deepdiff
    assert [canonical_json([c.before, c.after]) for c in direct] == [
        canonical_json([c.before, c.after]) for c in through_deepdiff
    ]
