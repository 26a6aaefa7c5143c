"""Names and paths from the user cannot forge lines or colours in any text output.

A manifest file named ``"x\\n+ forged.yaml"`` printed its name raw, so the text output grew a
line the tool never wrote; an ANSI escape in a name could recolour or clear the terminal. Every
text output shows user text through :func:`reconciler.errors.printable` (escaped: ``\\n``,
``\\x1b``), and the machine formats keep the raw text inside their own encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import Location, Problem, ValidationError, printable
from tests.cli.ops_project import OpsProject

FORGED = "+ start forged-agent"
EVIL = f"evil\n{FORGED}\x1b[2J\x1b[31m"
"""A name with a line break, a forged plan line, and ANSI escapes (clear screen, red)."""
EVIL_SHOWN = "evil\\n+ start forged-agent\\x1b[2J\\x1b[31m"


def assert_clean(output: str) -> None:
    """No line of ``output`` is the forged one, and no escape reached the terminal."""
    assert "\x1b" not in output
    assert not any(line.startswith(FORGED) for line in output.splitlines()), output
    assert EVIL_SHOWN in output, output


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain é ü 中文 and spaces", "plain é ü 中文 and spaces"),
        ("a\nb", "a\\nb"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("line\u2028sep\u2029para", "line\\u2028sep\\u2029para"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("nul\x00", "nul\\x00"),
    ],
)
def test_printable_escapes_every_character_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert "\n" not in printable(text) and "\x1b" not in printable(text)


def test_a_problem_and_its_location_are_written_on_one_line() -> None:
    problem = Problem(Location(f"agents.d/{EVIL}.yaml", 3), f"unknown key '{EVIL}'")
    error = ValidationError([problem], what=f"agents.d/{EVIL}")
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[1] == f"  agents.d/{EVIL_SHOWN}.yaml:3: unknown key '{EVIL_SHOWN}'"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[OpsProject]:
    p = OpsProject(tmp_path / "project")
    yield p
    p.close()


def _evil_manifest(project: OpsProject, *, broken: bool) -> None:
    text = (project.dir / "agents.d" / "support-en.yaml").read_text(encoding="utf-8")
    text = text.replace("name: support-en", "name: support-xx").replace('"1001"', '"1999"')
    text = text.replace("channel: support-en", "channel: support-xx")
    if broken:
        text = text.replace("idle_timeout", "idle_timout") + "  idle_timout: 1\n"
    (project.dir / "agents.d" / f"{EVIL}.yaml").write_text(text, encoding="utf-8")


def test_validate_text_escapes_a_manifest_file_name_in_its_problems(project: OpsProject) -> None:
    _evil_manifest(project, broken=True)
    result = project.run("validate")
    assert result.code == 1, str(result)
    assert_clean(result.output)
    assert f"agents.d/{EVIL_SHOWN}.yaml:" in result.stderr


def test_validate_json_keeps_the_raw_file_name(project: OpsProject) -> None:
    _evil_manifest(project, broken=True)
    result = project.run("validate", "--format", "json")
    assert result.code == 1, str(result)
    assert "\x1b" not in result.stdout
    doc = json.loads(result.stdout)
    assert {p["path"] for p in doc["problems"]} == {f"agents.d/{EVIL}.yaml"}


def test_validate_verbose_listing_escapes_a_manifest_file_name(project: OpsProject) -> None:
    _evil_manifest(project, broken=False)
    result = project.run("-v", "validate")
    assert result.code == 0, str(result)
    assert_clean(result.output)


@pytest.fixture
def evil_record(project: OpsProject) -> OpsProject:
    """The example applied, then state's record of sales-en filed under a hostile name."""
    project.ok("apply", "--auto-approve")
    doc = project.state()
    record = doc["agents"].pop("sales-en")
    record["name"] = EVIL
    doc["agents"][EVIL] = record
    project.state_file.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return project


@pytest.mark.parametrize(
    "command",
    [
        ("state", "list"),
        ("plan", "--no-refresh"),
        ("drift",),
        ("apply", "--auto-approve"),
    ],
)
def test_a_recorded_name_with_control_characters_is_refused_and_shown_escaped(
    evil_record: OpsProject, command: tuple[str, ...]
) -> None:
    """Strict state validation refuses the hostile record; the refusal, which names the
    record, still writes it on one line."""
    before = evil_record.state_file.read_bytes()
    result = evil_record.run(*command)
    assert result.code == 1, str(result)
    assert "not a valid state document" in result.output
    assert "\\n" in result.output  # the line break of the name, shown escaped
    assert_clean(result.output)
    assert evil_record.state_file.read_bytes() == before


@pytest.mark.parametrize(
    "command",
    [
        ("plan", "--no-refresh", "--target", EVIL),
        ("state", "rm", EVIL),
        ("state", "unprotect", EVIL),
    ],
)
def test_an_agent_name_given_on_the_command_line_is_escaped_in_its_error(
    project: OpsProject, command: tuple[str, ...]
) -> None:
    project.ok("apply", "--auto-approve")
    result = project.run(*command)
    assert result.code == 1, str(result)
    assert_clean(result.output)
