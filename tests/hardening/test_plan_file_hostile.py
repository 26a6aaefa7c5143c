"""A saved plan file given to `show` or `apply` is read like every other input of the tool: only
a regular file of bounded size. A FIFO would block the command for ever (opening it waits for a
writer), a device such as /dev/zero would be read until memory runs out; both are refused at
once with the file named, like an oversized file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.project import load_plan_file, planfile
from tests.cli.cli_helpers import example_project, run_main


def test_a_fifo_given_as_a_saved_plan_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match=r"plan.json: cannot read plan file: is a FIFO"):
        load_plan_file(fifo)


def test_a_device_given_as_a_saved_plan_is_refused_not_read_until_memory_runs_out() -> None:
    with pytest.raises(ValidationError, match=r"/dev/zero: cannot read plan file: is a char"):
        load_plan_file(Path("/dev/zero"))


def test_a_saved_plan_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planfile, "MAX_PLAN_BYTES", 1024)
    big = tmp_path / "plan.json"
    big.write_text(" " * 2048, encoding="utf-8")
    with pytest.raises(ValidationError, match=r"cannot read plan file: file too large"):
        load_plan_file(big)


@pytest.mark.parametrize("command", ["show", "apply"])
def test_show_and_apply_refuse_a_device_as_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    directory = example_project(tmp_path / "p")
    code, _, err = run_main(["-C", str(directory), command, "/dev/zero"], capsys)
    assert code == 1
    assert "/dev/zero: cannot read plan file: is a character device" in err
    assert "Traceback" not in err
