"""Every option a command's ``--help`` lists is one the command accepts.

Regression: ``destroy --help`` listed ``--replace`` (from options shared by plan, apply and
destroy) and destroy then refused it. Here every command of the tree is run once per option it
shows, with a plausible value, on a fresh copy of the example project (embedded sandbox), and
must succeed (or, for a command that cannot succeed here, be refused exactly as without it).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler.cli import cli
from tests.cli.cli_helpers import commands, example_project
from tests.reliability.inproc import CliResult, run_cli

AGENT = "concierge"
BASE_ARGS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("apply",): ("--auto-approve",),
    ("destroy",): ("--auto-approve",),
}
"""Arguments a command needs to run unattended at all."""
APPLIED_FIRST = {("destroy",), ("state", "show")}
"""Commands that need agents in state to have anything to act on."""
NAME_VALUES = {
    "--target": AGENT,
    "--exclude": AGENT,
    "--replace": AGENT,
    "--listen": "127.0.0.1:0",
    "--webhook": "http://127.0.0.1:9108/ncs",
    "--action": "example-org/reconciler@v0.1.0",
    "--env": "staging",
}
ROOT = Path(__file__).resolve().parents[2]
REFUSES_HERE = {
    ("state", "where", "--require-database"): "the state is a local file",
    ("pull", "--record"): "--record needs --out FILE in agents.d/",
}
"""Options that make a command refuse, by design, on the example project (local state): the
option is accepted, and the refusal is the one it exists for."""


def _cases() -> list[Any]:
    cases = []
    for path, command in commands():
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                if opt in ("-h", "--help"):
                    continue
                cases.append(pytest.param(path, opt, id=" ".join([*path, opt])))
    return cases


def _value(command: click.Command, opt: str, tmp: Path, project: Path) -> list[str]:
    """``[opt]`` for a flag, else ``[opt, value]`` with a value the option accepts."""
    param = next(p for p in command.params if opt in [*p.opts, *p.secondary_opts])
    assert isinstance(param, click.Option)
    if param.is_flag or param.count:
        return [opt]
    kind = param.type
    paths = {"-C": project, "--directory": project, "--config": project / "reconciler.yaml"}
    if opt in NAME_VALUES:
        value = NAME_VALUES[opt]
    elif opt in paths:
        value = str(paths[opt])
    elif isinstance(kind, click.Choice):
        value = str(kind.choices[-1])
    elif isinstance(kind, (click.IntRange, click.FloatRange)):
        value = str(kind.min if kind.min is not None else 1)
    elif isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        value = "1"
    elif isinstance(kind, click.Path):
        value = str(tmp / f"value-of{opt}")
    elif isinstance(param.default, str) and param.default:
        value = param.default
    else:
        value = "value"
    return [opt, value]


def _required_args(path: tuple[str, ...], command: click.Command, project: Path) -> list[str]:
    """Values for the command's required arguments (a saved plan for ``show``)."""
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument) and param.required:
            if param.name == "planfile":
                plan = project.parent / "saved.plan"
                assert run_cli("-C", str(project), "plan", "--out", str(plan)).code == 0
                args.append(str(plan))
            else:
                args.append("value")
    return args


def test_every_command_is_covered() -> None:
    paths = {path for path, _ in commands()}
    assert {("plan",), ("apply",), ("destroy",), ("show",), ("sandbox", "serve")} <= paths
    assert any(case.values[1] == "--replace" for case in _cases())


@pytest.mark.parametrize(("path", "opt"), _cases())
def test_every_option_shown_in_help_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...], opt: str
) -> None:
    served: list[object] = []
    monkeypatch.setenv("RECONCILER_NCS_SECRET", "cli-options-test")  # what --webhook signs with
    # `sandbox serve` serves until interrupted: record what it would serve instead.
    monkeypatch.setattr("reconciler.cli.sandbox.serve", lambda *a, **k: served.append(a))
    # `watch` runs until stopped: its loop only records that it was reached.

    async def one_watch(watcher: object) -> None:
        served.append(watcher)

    monkeypatch.setattr("reconciler.watch.controller.Watcher.run_with_signals", one_watch)

    # `status --watch` refreshes until Ctrl-C: the first pause is interrupted.
    def interrupted(_seconds: float) -> None:
        served.append("status")
        raise KeyboardInterrupt

    monkeypatch.setattr("reconciler.cli.status.pause", interrupted)
    project = example_project(tmp_path / "project")
    if opt == "--env":  # the example's own settings, which declare staging and prod; the
        # runs without the option choose the same environment by RECONCILER_ENV
        shutil.copy(ROOT / "reconciler.yaml", project / "reconciler.yaml")
        monkeypatch.setenv("RECONCILER_ENV", "staging")
    monkeypatch.chdir(project)
    command = dict(commands())[path]
    if path in APPLIED_FIRST:
        assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0

    shown = run_cli(*path, "--help")
    assert shown.code == 0 and opt in shown.stdout, shown

    base = [*path, *BASE_ARGS.get(path, ()), *_required_args(path, command, project)]
    args = [*base, *_value(command, opt, tmp_path, project)]
    result: CliResult = run_cli("-C", str(project), *args)
    if (*path, opt) in REFUSES_HERE:
        assert result.code == 1 and REFUSES_HERE[(*path, opt)] in result.stderr, result
        return
    accepted_codes = (0, 2) if opt == "--detailed-exitcode" else (0,)
    if result.code not in accepted_codes:
        # Refused: only acceptable if the command refuses the same way without the option
        # (force-unlock of an id no lock has).
        without = run_cli("-C", str(project), *base)
        assert without.code != 0, f"reconciler {' '.join(args)}\n{result}"
        assert (result.code, result.stderr) == (without.code, without.stderr), result
    else:
        assert "Error" not in result.stderr, result
    assert path not in (("sandbox", "serve"), ("watch",)) or served
    assert (path, opt) != (("status",), "--watch") or served


def test_destroy_shows_no_replace_option() -> None:
    destroy = cli.get_command(click.Context(cli), "destroy")
    assert destroy is not None
    assert "--replace" not in [o for p in destroy.params for o in p.opts]
