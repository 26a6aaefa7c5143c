"""YAML that is valid but unreasonable: numbers too large to read, values an explicit tag cannot
build, alias bombs. Each is a located problem reported with every other problem of the run,
never an internal error and never a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import ValidationError
from reconciler.manifests import load_settings
from reconciler.manifests.yamlfile import parse_yaml
from tests.manifests.manifest_helpers import Project

BIG = "1" * 5000
TOO_LARGE = "integer too large (more than 1000 digits); quote it if it is text"


def test_a_5000_digit_integer_is_located_and_reported_with_the_other_problems(
    project: Project,
) -> None:
    project.agent("a.yaml", "a", props=f"idle_timeout: {BIG}\nidle_timout: 1\n")
    project.agent("b.yaml", "b", props="silence_timeout: -1\n")
    assert project.errors() == [
        f"agents.d/a.yaml:12: properties.idle_timeout: {TOO_LARGE}",
        "agents.d/a.yaml:13: unknown key 'idle_timout' in properties, did you mean 'idle_timeout'?",
        "agents.d/b.yaml:12: properties.silence_timeout: must be >= 0",
    ]


def test_a_5000_digit_integer_in_free_form_params_is_refused(project: Project) -> None:
    project.agent("a.yaml", "a", props=f"asr: {{vendor: x, params: {{n: -{BIG}}}}}\n")
    assert project.errors() == [f"agents.d/a.yaml:12: properties.asr.params.n: {TOO_LARGE}"]


@pytest.mark.parametrize(
    "written",
    ["0x" + "f" * 900, "1" + ":0" * 600, "1_" + "0" * 1000],
    ids=["hexadecimal", "base-60", "underscores"],
)
def test_an_integer_with_a_huge_value_is_refused_however_it_is_written(
    project: Project, written: str
) -> None:
    project.agent("a.yaml", "a", props=f"labels: {{n: {written}}}\n")
    assert project.errors() == [f"agents.d/a.yaml:12: properties.labels.n: {TOO_LARGE}"]


def test_a_long_base_60_integer_is_refused_before_it_is_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its conversion takes time quadratic in its length: it must never begin."""
    converted: list[int] = []
    convert = yaml.constructor.SafeConstructor.construct_yaml_int

    def spy(loader: Any, node: Any) -> Any:
        converted.append(len(str(node.value)))
        return convert(loader, node)

    monkeypatch.setattr(yaml.constructor.SafeConstructor, "construct_yaml_int", spy)
    parsed = parse_yaml("n: 1" + ":0" * 20_000 + "\n", "f.yaml")
    assert converted == []
    assert parsed.problems == []  # reported, with its path, where the value is used
    assert parsed.documents[0].value["n"].problem() == TOO_LARGE


def test_a_huge_integer_key_is_refused(project: Project) -> None:
    project.agent("a.yaml", "a", props=f"labels:\n  ? {BIG}\n  : x\n")  # an explicit key
    (error,) = project.errors()
    assert error == (
        "agents.d/a.yaml:13: key <an integer of 5000 characters> in properties.labels must be a"
        " string (quote it)"
    )


def test_an_infinite_float_is_refused(project: Project) -> None:
    project.agent("a.yaml", "a", props="labels: {x: 1.0e+999}\nvad: {y: .nan}\n")
    assert project.errors() == [
        "agents.d/a.yaml:12: properties.labels.x: not a finite number",
        "agents.d/a.yaml:13: properties.vad.y: not a finite number",
    ]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("!!int ''", "an integer (!!int)"),
        ("!!int abc", "an integer (!!int)"),
        ("!!int [1]", "an integer (!!int)"),
        ("!!float abc", "a number (!!float)"),
        ("!!bool maybe", "true or false (!!bool)"),
    ],
)
def test_an_explicit_tag_on_a_value_it_cannot_build_is_a_located_yaml_error(
    project: Project, value: str, what: str
) -> None:
    project.agent("a.yaml", "a", props=f"labels: {{x: {value}}}\n")
    project.agent("b.yaml", "b", props="idle_timout: 1\n")
    errors = project.errors()
    assert errors[0] == f"agents.d/a.yaml:12: invalid YAML: cannot read the value as {what}"
    assert errors[1].startswith("agents.d/b.yaml:12: unknown key 'idle_timout'")


def test_a_5000_digit_integer_in_reconciler_yaml_is_located(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        f"token_ttl_s: {BIG}\nauht: token\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {})
    assert [str(p) for p in caught.value.problems] == [
        f"reconciler.yaml:1: token_ttl_s: {TOO_LARGE}",
        "reconciler.yaml:2: unknown key 'auht' in settings, did you mean 'auth'?",
    ]


LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_billion_laughs_manifest_is_refused_quickly(project: Project) -> None:
    project.agent(
        "a.yaml",
        "a",
        props="labels:\n" + "\n".join("  " + line for line in LAUGHS.splitlines()) + "\n",
    )
    (error,) = project.errors()  # the budget stops the expansion (unbounded without it)
    assert error == "agents.d/a.yaml:1: document too large (more than 200000 values)"


def _mapping_bomb(levels: int) -> str:
    lines = ["  l0: &l0 {" + ", ".join(f"k{j}: 1" for j in range(9)) + "}"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} {{" + ", ".join(f"k{j}: *l{i - 1}" for j in range(9)) + "}")
    return "labels:\n" + "\n".join(lines) + "\n"


def test_alias_bombs_merged_through_extends_are_refused_quickly(project: Project) -> None:
    bomb = _mapping_bomb(7)  # 9**7 paths: half a minute to merge without the budget
    project.write("agents.d/_base.yaml", "properties:\n" + "  " + bomb.replace("\n  ", "\n    "))
    project.agent("a.yaml", "a", extra="extends: _base.yaml\n", props=bomb)
    (error,) = project.errors()  # the budget stops the merge (half a minute without it)
    assert error == "agents.d/a.yaml:1: document too large with its extends (more than 200000 keys)"


def test_5000_digits_from_the_environment_are_located_problems(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        properties:
          channel: room
          agent_rtc_uid: ${BIG}
          remote_rtc_uids: ["2"]
          idle_timeout: ${BIG}
          llm: {url: https://llm.example}
          tts: {vendor: microsoft}
        """,
    )
    assert project.errors({"BIG": BIG}) == [
        "agents.d/a.yaml:4: agent_rtc_uid must be a numeric uid (digits, at most 4294967295)"
        " unless enable_string_uid is true",
        "agents.d/a.yaml:6: properties.idle_timeout: unable to parse input string as an integer,"
        " exceeded maximum size",
    ]


def test_a_file_of_many_one_line_documents_reports_each_without_hanging(
    project: Project,
) -> None:
    # Each document is a problem; the excerpt of each scanned the file up from its line, so
    # the time grew with the square of the file (500,000 documents did not finish).
    count = 60_000
    project.write("agents.d/a.yaml", "--- x\n" * count)
    problems = project.errors()
    assert len(problems) == count
    assert (
        problems[-1]
        == f"agents.d/a.yaml:{count}: a manifest must be a mapping (name, properties, ...)"
    )
