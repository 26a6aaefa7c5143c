"""YAML reading: located syntax errors, repeated keys, several documents, no surprises."""

from __future__ import annotations

from reconciler.errors import Location, Problem
from reconciler.manifests.yamlfile import LineDict, LineList, parse_yaml
from tests.manifests.manifest_helpers import Project


def test_a_duplicate_key_is_an_error_at_its_second_line(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        preset: p
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          channel: d
        """,
    )
    assert project.errors() == ["agents.d/x.yaml:7: duplicate key 'channel' (first at line 4)"]


def test_a_duplicate_key_in_a_flow_mapping_is_found_too() -> None:
    parsed = parse_yaml("a: {b: 1, b: 2}\n", "f.yaml")
    assert parsed.problems == [
        Problem(Location("f.yaml", 1, 11), "duplicate key 'b' (first at line 1)")
    ]


def test_a_merge_key_may_override_without_being_a_duplicate() -> None:
    parsed = parse_yaml("base: &b {k: 1, j: 2}\nuse:\n  <<: *b\n  k: 3\n", "f.yaml")
    assert parsed.problems == []
    assert parsed.documents[0].value["use"] == {"k": 3, "j": 2}


def test_a_syntax_error_is_located(project: Project) -> None:
    project.write("agents.d/x.yaml", "name: x\nproperties:\n  channel: [unclosed\n")
    assert project.errors() == [
        "agents.d/x.yaml:4: invalid YAML: did not find expected ',' or ']'"
        " (while parsing a flow sequence)"
    ]


def test_an_unquoted_variable_inside_braces_gets_the_hint_to_quote_it() -> None:
    """``{key: ${KEY}}`` is not YAML (a plain value in a flow mapping cannot hold ``{``): the
    error says to quote it, as ``key: "${KEY}"``."""
    parsed = parse_yaml("tts:\n  params: {key: ${AZURE_TTS_KEY}, region: eastus}\n", "f.yaml")
    [problem] = parsed.problems
    assert problem.location.line == 2
    assert problem.message.startswith("invalid YAML: did not find expected ',' or '}'")
    assert 'quote a ${VAR} written inside {...} or [...]: "${VAR}"' in problem.message


def test_a_flow_syntax_error_without_a_variable_gets_no_hint() -> None:
    [problem] = parse_yaml("a: {b: [1, 2}\n", "f.yaml").problems
    assert "quote" not in problem.message


def test_bad_indentation_is_located(project: Project) -> None:
    project.write("agents.d/x.yaml", "name: x\nproperties:\n  channel: c\n bad: 1\n")
    assert project.errors() == [
        "agents.d/x.yaml:4: invalid YAML: did not find expected key (while parsing a block mapping)"
    ]


def test_documents_before_a_syntax_error_are_kept() -> None:
    parsed = parse_yaml("a: 1\n---\nb: 2\n---\nc: [\n", "f.yaml")
    assert [d.value for d in parsed.documents] == [{"a": 1}, {"b": 2}]
    assert [d.line for d in parsed.documents] == [1, 3]
    assert [p.location.line for p in parsed.problems] == [6]


def test_lines_are_recorded_for_keys_and_items() -> None:
    parsed = parse_yaml("top:\n  list:\n    - one\n    - two: 2\n", "f.yaml")
    top = parsed.documents[0].value
    assert isinstance(top, LineDict) and isinstance(top["top"]["list"], LineList)
    assert top["top"].lines == {"list": 2}
    assert top["top"]["list"].lines == [3, 4]
    assert top["top"]["list"][1].key_location("two") == Location("f.yaml", 4)


def test_dates_stay_strings_and_empty_documents_are_skipped() -> None:
    parsed = parse_yaml("---\n---\nwhen: 2024-01-31\n---\n", "f.yaml")
    assert [d.value for d in parsed.documents] == [{"when": "2024-01-31"}]


def test_unsupported_tags_are_errors_not_exceptions(project: Project) -> None:
    project.write("agents.d/x.yaml", "name: !!python/object:os.system x\n")
    (message,) = project.errors()
    assert message.startswith("agents.d/x.yaml:1: invalid YAML: could not determine a constructor")


def test_a_non_string_key_is_an_error(project: Project) -> None:
    project.agent("x.yaml", "x", props="labels: {1: one}\n")
    assert project.errors() == [
        "agents.d/x.yaml:12: key 1 in properties.labels must be a string (quote it)"
    ]


def test_a_file_that_is_not_utf8_is_an_error(project: Project) -> None:
    (project.root / "agents.d" / "x.yaml").write_bytes(b"name: x\nchannel: \xff\n")
    assert project.errors() == ["agents.d/x.yaml:2: not valid UTF-8 text"]


def test_a_recursive_alias_is_an_error(project: Project) -> None:
    project.write("agents.d/x.yaml", "name: x\nproperties: &p\n  self: *p\n")
    assert "agents.d/x.yaml:3: properties.self: recursive YAML alias" in project.errors()


def test_a_tab_that_indents_a_line_is_named_as_such() -> None:
    """PyYAML says "found character that cannot start any token" for a tab at the start of a
    line; the message says it is a tab and what to use instead, at the tab's line."""
    for text in (
        "environments:\n  staging:\n\tstate: a.json\n",
        "environments:\n  staging:\n    state: a.json\n\tapp_id: x\n",
        "name: x\n  \tproperties: {}\n",
    ):
        parsed = parse_yaml(text, "f.yaml")
        [problem] = parsed.problems
        line = next(i for i, t in enumerate(text.splitlines(), 1) if "\t" in t)
        assert problem.location.line == line, (text, problem)
        assert "a tab indents this line: YAML indents with spaces only" in problem.message


def test_a_tab_inside_a_value_gets_no_tab_hint() -> None:
    parsed = parse_yaml("a: [unclosed\tx\n", "f.yaml")
    assert parsed.problems and "tab" not in parsed.problems[0].message
