"""What apply reports while it runs: JSON events in the order things happen, and the progress
bar's figures (its unit is the action; calls in flight, retries waiting, elapsed, ETA)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from reconciler.apply import ApplyEvent
from reconciler.cli.progress import TextProgress
from reconciler.engine import RetryEvent
from tests.cli.cli_helpers import run_main
from tests.cli.many_agents import many_agents_project


def test_json_events_let_a_reader_count_the_calls_in_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = many_agents_project(tmp_path / "p", 12)
    code, out, err = run_main(
        ["-C", str(project), "apply", "--auto-approve", "--format", "json", "--parallelism", "3"],
        capsys,
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    in_flight, most, answered = set(), 0, set()
    waited = set()
    for event in events:
        key = (event.get("name"), event.get("phase"))
        if event.get("phase") == "wait":  # the wait until RUNNING: not a call (list pages)
            waited.add((key, event["type"]))
            continue
        if event["type"] == "action_begin":
            in_flight.add(key)
        elif event["type"] in ("action_answered", "action_failed"):
            answered.add(key)
            in_flight.discard(key)
        elif event["type"] == "action_complete":
            assert key in answered  # answered, then recorded: never complete before answered
        most = max(most, len(in_flight))
    assert most == 3  # --parallelism 3, counted from the events alone
    assert len(answered) == 12
    assert {kind for _, kind in waited} == {"action_begin", "action_complete"}


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event(name: str, action: str, phase: str, status: str) -> ApplyEvent:
    return ApplyEvent(name, action, phase, status)  # type: ignore[arg-type]


def test_the_bar_counts_a_restart_as_one_action_and_shows_elapsed_and_eta(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = _Clock()
    bar = TextProgress(2, color=False, bar=False, clock=clock)
    bar(_event("a", "restart", "stop", "begin"))
    bar(_event("a", "restart", "stop", "done"))
    assert bar.status_line().startswith("[------------------------] 0/2 actions")
    bar(_event("a", "restart", "start", "begin"))
    clock.now += 10
    bar(_event("a", "restart", "start", "answered"))
    bar(_event("a", "restart", "start", "done"))
    assert bar.status_line() == "[############------------] 1/2 actions  elapsed 0:10  ETA 0:10"
    capsys.readouterr()


def test_the_bar_shows_the_calls_waiting_to_retry_while_they_wait(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = _Clock()
    bar = TextProgress(3, color=False, bar=False, clock=clock)
    for name in ("a", "b", "c"):
        bar(_event(name, "start", "start", "begin"))
    retry = RetryEvent("join", 1, 6, 2.0, "HTTP 503 ServiceUnavailable", 503)
    bar.retry(retry, lambda _e: None)
    bar.retry(retry, lambda _e: None)
    assert "3 in flight  2 retrying: HTTP 503  elapsed 0:00" in bar.status_line()
    clock.now += 2.5  # the waits are over: the calls were sent again
    assert "retrying" not in bar.status_line()
    capsys.readouterr()


def test_lines_to_a_log_go_out_together_at_the_end_of_the_loop_turn_in_their_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = TextProgress(2, color=False, bar=False, clock=_Clock(), buffered=True)

    async def run() -> None:
        progress(_event("a", "start", "start", "begin"))
        progress(_event("b", "start", "start", "begin"))
        assert capsys.readouterr().out == ""  # held back: not a write per line
        await asyncio.sleep(0)  # the turn that printed them is over
        assert capsys.readouterr().out == "a: starting...\nb: starting...\n"
        progress(_event("a", "start", "start", "failed"))
        progress.flush()  # what the CLI does however the run ends
        assert capsys.readouterr().out == "a: FAILED: \n"
        await asyncio.sleep(0)
        assert capsys.readouterr().out == ""  # written once

    asyncio.run(run())


def test_outside_an_event_loop_a_buffered_line_is_written_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = TextProgress(1, color=False, bar=False, clock=_Clock(), buffered=True)
    progress(_event("a", "start", "start", "begin"))
    assert capsys.readouterr().out == "a: starting...\n"


def test_a_retry_note_comes_after_the_lines_before_it(capsys: pytest.CaptureFixture[str]) -> None:
    progress = TextProgress(1, color=False, bar=False, clock=_Clock(), buffered=True)

    async def run() -> None:
        progress(_event("a", "start", "start", "begin"))
        retry = RetryEvent("join", 1, 6, 2.0, "HTTP 503 ServiceUnavailable", 503)
        progress.retry(retry, lambda _e: print("retrying join"))
        assert capsys.readouterr().out == "a: starting...\nretrying join\n"

    asyncio.run(run())
