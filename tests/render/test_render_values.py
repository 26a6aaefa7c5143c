"""How single values are shown: compact JSON, clipping, YAML-like lines, line diffs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.render.values import (
    MAX_DIFF_LINES,
    block_lines,
    clip,
    clip_pair,
    compact,
    has_multiline,
    line_diff,
)


def test_compact_is_one_line_json_with_sorted_keys() -> None:
    assert compact({"b": [1, 2], "a": "x"}) == '{"a": "x", "b": [1, 2]}'
    assert compact("héllo") == '"héllo"'
    assert compact(None) == "null"


def test_clip_leaves_short_text_alone_and_marks_cuts_with_the_length() -> None:
    assert clip("short") == "short"
    clipped = clip("a" * 1000)
    assert clipped.endswith("… (1,000 chars)")
    assert len(clipped) < 150


def test_clip_pair_keeps_the_first_difference_visible() -> None:
    before, after = clip_pair('"' + "x" * 800 + "OLD" + '"', '"' + "x" * 800 + "NEW" + '"')
    assert before is not None and "OLD" in before
    assert after is not None and "NEW" in after
    assert before.startswith("…")


@settings(derandomize=True)
@given(st.text(max_size=600), st.text(max_size=600))
def test_clip_pair_never_returns_more_than_a_bounded_length(a: str, b: str) -> None:
    for shown in clip_pair(a, b):
        assert shown is not None
        assert len(shown) <= 120 + 2 + len(" (999,999 chars)")


def test_has_multiline_looks_inside_structures() -> None:
    assert has_multiline("a\nb")
    assert has_multiline([{"content": "a\nb"}])
    assert not has_multiline({"a": "b", "c": [1, "d"]})


def test_block_lines_render_structures_yaml_like() -> None:
    value = [{"role": "system", "content": "Line one.\nLine two."}, "plain", 3]
    assert block_lines(value) == [
        "- content: |",
        "    Line one.",
        "    Line two.",
        '  role: "system"',
        '- "plain"',
        "- 3",
    ]
    assert block_lines({"team.name": {}}) == ['"team.name": {}']


def test_line_diff_shows_hunks_without_file_headers() -> None:
    diff = line_diff("a\nb\nc", "a\nB\nc", True, True)
    assert diff == ["@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]


def test_line_diff_keeps_lines_that_start_with_dashes() -> None:
    diff = line_diff("--- rules\nx", "--- rules\ny", True, True)
    assert " --- rules" in diff


def test_line_diff_notes_a_difference_in_the_final_line_break() -> None:
    assert line_diff("a\nb\n", "a\nb", True, True) == [
        "\\ the values differ in their final line break"
    ]


def test_line_diff_of_an_added_value_is_all_additions() -> None:
    assert line_diff(None, "one\ntwo", False, True) == ["@@ -0,0 +1,2 @@", "+one", "+two"]


def test_line_diff_is_cut_after_a_bounded_number_of_lines() -> None:
    old = "\n".join(f"old {i}" for i in range(1000))
    new = "\n".join(f"new {i}" for i in range(1000))
    diff = line_diff(old, new, True, True)
    assert len(diff) == MAX_DIFF_LINES + 1
    assert diff[-1].startswith("\\ … 1,801 more diff lines")
