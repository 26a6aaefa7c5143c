"""Ctrl-C at any moment of an ``apply --format json`` whose stream has begun: the stream still
ends with its ``summary`` (``interrupted: true``), exit 130, no new action begins once the
interrupt is handled (the one the loop was already beginning finishes) and the state says what
was done."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import click
import pytest

from tests.cli.cli_helpers import example_project, run_main


def test_ctrl_c_right_after_the_stream_begins_still_ends_it_with_an_interrupted_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = example_project(tmp_path / "p")
    echo = click.echo

    def interrupt_after_apply_start(message: Any = None, *args: Any, **kwargs: Any) -> None:
        echo(message, *args, **kwargs)
        if isinstance(message, str) and message.startswith('{"type":"apply_start"'):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C the moment the stream has begun

    monkeypatch.setattr(click, "echo", interrupt_after_apply_start)
    code, out, err = run_main(
        ["-C", str(project), "apply", "--auto-approve", "--format", "json"], capsys
    )
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 130, err
    assert [events[0]["type"], events[-1]["type"]] == ["apply_start", "summary"], out
    assert events[-1]["interrupted"] is True
    summary = events[-1]
    assert summary["interrupted"] is True and summary["not_attempted"]  # the rest never began
    completed = {e["name"] for e in events if e["type"] == "action_complete"}
    state = json.loads((project / "state" / "agents.json").read_text()) if completed else {}
    recorded = set(state.get("agents", {})) | set(state.get("resources", {}))
    assert recorded == completed  # the state says what was done, nothing more
