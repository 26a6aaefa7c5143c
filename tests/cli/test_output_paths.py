"""Where commands write files (`pull --out`, `plan --out`, `init DIR`): a path that cannot be
written is a clean error naming it (exit 1), never an internal error nor a hang.

`pull --out` is checked before anything is pulled or recorded, and written whole: a FIFO would
block the command for ever, a path under a file ended in an internal error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main
from tests.cli.platform_project import console


def test_pull_refuses_a_fifo_as_out_before_pulling_without_waiting_for_a_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    fifo = tmp_path / "pulled.yaml"
    os.mkfifo(fifo)
    code, _, err = run_main(["-C", str(directory), "pull", "--out", str(fifo)], capsys)
    assert code == 1
    assert f"--out {fifo}: is a FIFO (named pipe), not a regular file" in err
    assert "Pulled" not in err and "Traceback" not in err


def test_pull_refuses_an_out_path_under_a_file_as_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = tmp_path / "afile" / "pulled.yaml"
    code, _, err = run_main(["-C", str(directory), "pull", "--out", str(out)], capsys)
    assert code == 1
    assert f"--out {out}: cannot write there" in err
    assert "Internal error" not in err and "Traceback" not in err


def test_pull_writes_out_into_a_new_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    console(directory, "create_agent", {"agent_name": "console-made"})  # something to pull
    out = tmp_path / "new" / "pulled.yaml"
    code, _, err = run_main(["-C", str(directory), "pull", "--out", str(out)], capsys)
    assert (code, out.is_file()) == (0, True), err


def test_plan_out_under_a_file_is_a_clean_error_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = tmp_path / "afile" / "x.plan"
    code, _, err = run_main(["-C", str(directory), "plan", "--out", str(out)], capsys)
    assert code == 1
    assert f"Error: --out {out}: cannot write there (Not a directory)" in err
    assert "Internal error" not in err and "Traceback" not in err


def test_init_where_agents_d_is_a_file_is_a_clean_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "agents.d").write_text("x", encoding="utf-8")
    code, _, err = run_main(["init", str(tmp_path)], capsys)
    assert code == 1
    assert f"Error: cannot use {tmp_path / 'agents.d'}: File exists" in err
    assert "Internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("out", ["", ".", "state"], ids=["empty", "dot", "a-directory"])
def test_plan_out_naming_a_directory_is_refused_naming_the_option_before_planning(
    out: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    code, stdout, err = run_main(["-C", str(directory), "plan", "--out", out], capsys)
    assert code == 1
    assert err.startswith(f"Error: --out {out or '.'}: is a directory, not a file"), err
    assert stdout == ""  # refused before planning
    assert sorted(p.name for p in directory.iterdir()) == ["agents.d", "reconciler.yaml", "state"]


def test_state_pull_out_naming_a_directory_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    assert run_main(["-C", str(directory), "apply", "--auto-approve"], capsys)[0] == 0
    code, _, err = run_main(["-C", str(directory), "state", "pull", "--out", "agents.d"], capsys)
    assert code == 1
    assert "--out agents.d: is a directory, not a file" in err, err
