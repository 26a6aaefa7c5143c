"""Validation errors show the offending line with a caret; JSON and GitHub give the column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main


def _project_with(tmp_path: Path, name: str, text: str) -> Path:
    project = example_project(tmp_path / "proj")
    (project / "agents.d" / name).write_text(text, encoding="utf-8")
    return project


def _typo_project(tmp_path: Path, typo: str = "langauge") -> Path:
    """The example project with a misspelt key in support-en.yaml, on line 21."""
    project = example_project(tmp_path / "proj")
    path = project / "agents.d" / "support-en.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[20] == "    language: en-US"
    path.write_text(text.replace("    language: en-US", f"    {typo}: en-US", 1), encoding="utf-8")
    return project


def test_validate_prints_the_offending_line_with_a_caret_under_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _typo_project(tmp_path)
    code, _, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    lines = err.splitlines()
    at = lines.index("  agents.d/support-en.yaml:21: unknown key 'langauge' in properties.asr, "
                     "did you mean 'language'?")  # fmt: skip
    assert lines[at + 1 : at + 4] == [
        "       |",
        "    21 |     langauge: en-US",
        "       |     ^",
    ]


def test_a_yaml_syntax_error_points_at_its_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project_with(tmp_path, "bad.yaml", "name: bad\nproperties: {channel: x\n  y: 1\n")
    code, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    assert code == 1
    doc = json.loads(out)
    problem = next(p for p in doc["problems"] if p["path"] == "agents.d/bad.yaml")
    assert problem["line"] == 3
    assert problem["column"] == 4


def test_validate_json_and_github_give_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _typo_project(tmp_path)
    _, out, _ = run_main(["-C", str(project), "validate", "--format", "json"], capsys)
    doc = json.loads(out)
    assert doc["format_version"] == "1.2"
    assert doc["problems"] == [
        {
            "path": "agents.d/support-en.yaml",
            "line": 21,
            "column": 5,
            "message": "unknown key 'langauge' in properties.asr, did you mean 'language'?",
        }
    ]
    _, out, _ = run_main(["-C", str(project), "validate", "--format", "github"], capsys)
    assert out.startswith("::error file=")
    assert ",line=21,col=5,title=reconciler validate::" in out


@pytest.mark.parametrize(
    "secret_lines",
    [
        "    api_key: sk-literal-0123456789\n    api_key: again\n",  # the key itself (duplicate)
        "    headers: {x-api-key: sk-literal-0123456789, bad: 1}\n    headers: {}\n",  # flow style
        "    token: |\n      sk-literal-0123456789\n    tokn: 1\n",  # block scalar, problem below
    ],
    ids=["key", "flow-mapping", "under-a-secret-key"],
)
def test_an_excerpt_never_shows_a_secret_written_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret_lines: str
) -> None:
    text = (
        'name: leaky\nproperties:\n  channel: leaky\n  agent_rtc_uid: "8"\n  llm:\n' + secret_lines
    )
    project = _project_with(tmp_path, "leaky.yaml", text)
    code, out, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    assert "sk-literal-0123456789" not in out + err
    assert " | " in err  # an excerpt was shown


def test_an_excerpt_of_a_line_under_a_secret_key_is_hidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        'name: leaky\nproperties:\n  channel: leaky\n  agent_rtc_uid: "8"\n  llm:\n'
        "    credentials:\n      - sk-literal-0123456789\n      - {nested: [oops}\n"
    )
    project = _project_with(tmp_path, "leaky.yaml", text)
    code, _, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    assert "8 |       - <hidden>" in err
    assert "oops" not in err


def test_control_characters_in_an_excerpt_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _typo_project(tmp_path, "lang\x1b[2Jauge")
    code, _, err = run_main(["-C", str(project), "validate"], capsys)
    assert code == 1
    assert "\x1b" not in err.split("|", 1)[1]
