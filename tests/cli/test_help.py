"""Help that teaches, typos that get a suggestion, global options anywhere, colour conventions."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cli.output import use_color

REPO = Path(__file__).resolve().parents[2]


def _leaf_commands() -> list[list[str]]:
    ctx = click.Context(cli)
    out: list[list[str]] = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            sub = click.Context(command, parent=ctx)
            out.extend([name, s] for s in command.list_commands(sub))
        else:
            out.append([name])
    return out


@pytest.mark.parametrize("path", _leaf_commands(), ids=lambda p: " ".join(p))
def test_every_command_help_has_examples_exit_codes_and_the_environment(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "Exit codes:" in result.output
    for variable in ("RECONCILER_DEBUG", "NO_COLOR", "reconciler help environment"):
        assert variable in result.output
    for option in ("-C, --directory", "-v, --verbose", "--no-color"):
        assert option in result.output


def test_top_level_help_never_cuts_a_summary_mid_word() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    commands = result.output.split("Commands:")[1].split("Environment:")[0]
    assert "..." not in commands
    assert "Make the engine match the manifests (or apply exactly a saved" in commands


@pytest.mark.parametrize(
    ("typed", "meant"), [(["plna"], "plan"), (["aply"], "apply"), (["state", "lst"], "list")]
)
def test_a_mistyped_command_suggests_the_nearest(typed: list[str], meant: str) -> None:
    result = CliRunner().invoke(cli, typed)
    assert result.exit_code != 0
    assert f"No such command '{typed[-1]}'. Did you mean '{meant}'?" in result.output


def test_global_options_are_accepted_after_the_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    before = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(REPO), "-v", "validate"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    after = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "-C", str(REPO), "-v"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert "support-en  agents.d/support-en.yaml" in after.stdout  # -v lists the agents


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
        ({"FORCE_COLOR": "0"}, False, False),
    ],
)
def test_colour_follows_no_color_force_color_and_the_terminal(
    env: dict[str, str], tty: bool, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stream = _Tty() if tty else io.StringIO()
    assert use_color(stream) is expected


def test_no_color_flag_wins_over_force_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    seen: list[bool] = []

    @click.command()
    def probe() -> None:
        seen.append(use_color(_Tty()))

    root = click.Context(cli, obj={"no_color": True})
    with root:
        probe.main([], standalone_mode=False, parent=root)  # type: ignore[call-arg]
    assert seen == [False]


@pytest.mark.parametrize("option", ["--target", "--replace"])
def test_target_and_replace_complete_agent_names_from_the_manifests(
    option: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "COMP_WORDS": f"reconciler -C {REPO} apply {option} s",
        "COMP_CWORD": "5",
        "_RECONCILER_COMPLETE": "bash_complete",
    }
    result = subprocess.run(
        [sys.executable, "-m", "reconciler"], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["plain,sales-en", "plain,support-en"]


def test_target_completes_the_addresses_of_platform_resources() -> None:
    env = {
        **os.environ,
        "COMP_WORDS": f"reconciler -C {REPO} apply --target S",
        "COMP_CWORD": "5",
        "_RECONCILER_COMPLETE": "bash_complete",
    }
    result = subprocess.run(
        [sys.executable, "-m", "reconciler"], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["plain,SavedAgent/support", "plain,SecretSet/llm_keys"]


@pytest.mark.parametrize(
    ("path", "reads", "does_not_read"),
    [
        (["plan"], ["AGORA_CUSTOMER_SECRET", "RECONCILER_LOG", "RECONCILER_TIMEOUT"], []),
        (["state", "list"], ["RECONCILER_ENGINE"], ["AGORA_CUSTOMER_SECRET", "RECONCILER_LOG"]),
        (["validate"], ["RECONCILER_WORKERS"], ["AGORA_CUSTOMER_SECRET", "RECONCILER_TIMEOUT"]),
        (["schema"], [], ["RECONCILER_ENGINE", "AGORA_APP_ID", "RECONCILER_WORKERS"]),
        (["pull"], ["AGORA_CUSTOMER_SECRET", "RECONCILER_PLATFORM", "HTTPS_PROXY"], []),
        (["state", "rebind"], ["AGORA_APP_ID", "RECONCILER_ENGINE", "PGPASSWORD"], []),
        (["state", "where"], ["RECONCILER_ENV", "PGHOST"], []),
        (["apply"], ["SSL_CERT_FILE", "HTTPS_PROXY"], []),
        (["status"], ["AGORA_CUSTOMER_SECRET"], []),
    ],
)
def test_a_command_help_lists_only_the_environment_it_reads(
    path: list[str], reads: list[str], does_not_read: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    environment = result.output.split("Environment:")[1]
    for variable in reads:
        assert variable in environment
    for variable in does_not_read:
        assert variable not in environment


@pytest.mark.parametrize("path", _leaf_commands(), ids=lambda p: " ".join(p))
def test_a_command_lists_the_deadline_variable_and_exit_124_exactly_when_it_takes_timeout(
    path: list[str],
) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    options, environment = result.output.split("Environment:")
    assert ("--timeout DURATION" in options) == ("RECONCILER_TIMEOUT" in environment)
    exit_codes = " ".join(options.split("Exit codes:")[1].split("Options:")[0].split())
    assert ("--timeout DURATION" in options) == ("124" in exit_codes), exit_codes


def test_help_environment_lists_every_variable_the_tool_reads() -> None:
    result = CliRunner().invoke(cli, ["help", "environment"])
    assert result.exit_code == 0
    source = "\n".join(p.read_text() for p in (REPO / "reconciler").rglob("*.py"))
    # RECONCILER_ACTION_REF is a placeholder `reconciler init` fills in a workflow, not a variable
    not_variables = {"AGORA_API", "RECONCILER_ACTION_REF"}
    read = set(re.findall(r'"((?:RECONCILER|AGORA)_[A-Z_]+)"', source)) - not_variables
    # and whatever else is read by name: environ.get("SSL_CERT_FILE"), environ["PGHOST"], ...
    read |= set(re.findall(r'environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"', source))
    read |= set(re.findall(r'"([A-Z]+_PROXY)"', source))
    assert read, "the scan found no variable"
    for variable in sorted(read):
        assert variable in result.output


def test_help_of_a_command_is_its_own_help() -> None:
    assert (
        CliRunner().invoke(cli, ["help", "validate"]).output.splitlines()[2:]
        == CliRunner().invoke(cli, ["validate", "--help"]).output.splitlines()[2:]
    )


@pytest.mark.parametrize(
    ("env", "args", "coloured"),
    [
        ({"FORCE_COLOR": "1"}, [], True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
        ({"FORCE_COLOR": "1"}, ["--no-color"], False),
        ({}, [], False),
    ],
    ids=["force", "no-color-wins", "flag-wins", "not-a-terminal"],
)
def test_a_plan_piped_out_is_coloured_only_when_forced(
    env: dict[str, str],
    args: list[str],
    coloured: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``FORCE_COLOR=1`` colours output that is not a terminal (a CI log): the colour the
    renderer paints reaches stdout, not stripped on the way; ``NO_COLOR`` and ``--no-color``
    win over it."""
    from tests.cli.cli_helpers import example_project, run_main

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    project = example_project(tmp_path / "p")
    code, out, err = run_main(["-C", str(project), "plan", *args], capsys)
    assert code == 0, err
    assert ("\x1b[" in out) is coloured


@pytest.mark.parametrize("path", _leaf_commands(), ids=lambda p: " ".join(p))
def test_a_command_that_waits_on_the_engine_lists_exit_130_for_ctrl_c(path: list[str]) -> None:
    """Ctrl-C ends every such command with 130 (docs: README "Exit codes"): its help says so."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    options = result.output.split("Environment:")[0]
    exit_codes = " ".join(options.split("Exit codes:")[1].split("Options:")[0].split())
    if "--timeout DURATION" in options:
        assert "130 interrupted" in exit_codes, exit_codes
