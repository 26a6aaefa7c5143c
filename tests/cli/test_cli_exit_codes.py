"""Usage errors exit 1 like any other error; only ``plan --detailed-exitcode`` gives 2.

Regression: click's usage errors exit 2, which CI reads as "changes present".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project
from tests.reliability.inproc import run_cli

USAGE_ERRORS = [
    ("plan", "--bogus"),
    ("plan", "--format", "yaml"),
    ("show",),  # missing argument PLANFILE
    ("apply", "--parallelism", "0"),
    ("destroy", "--replace", "concierge"),
    ("state", "bogus"),
    ("state", "list", "--bogus"),
    ("force-unlock",),
    ("schema", "--format", "json"),
    ("sandbox", "serve", "--port", "not-a-port"),
    ("plna",),
    ("--bogus", "plan"),
    (),  # no command at all
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_a_usage_error_exits_1_with_its_usage_message(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = example_project(tmp_path / "project")

    result = run_cli("-C", str(project), *args)

    assert result.code == 1, result
    assert "Usage: reconciler" in result.stderr, result
    assert "Traceback" not in result.output


def test_detailed_exitcode_gives_2_for_changes_and_0_without(tmp_path: Path) -> None:
    project = example_project(tmp_path / "project")
    assert run_cli("-C", str(project), "plan", "--detailed-exitcode").code == 2
    assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
    assert run_cli("-C", str(project), "plan", "--detailed-exitcode").code == 0
