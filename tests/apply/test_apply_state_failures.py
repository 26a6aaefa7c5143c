"""The state cannot be written mid-apply (disk full): no exception escapes, no task is left
unawaited, no further action begins, the result says what reached the engine, and the journal
on disk still covers every agent the engine runs."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import threading
from typing import Any

import pytest

from reconciler.apply import ApplyContext
from reconciler.apply.run import Run
from reconciler.cli.output import summary_line
from reconciler.errors import StateError
from reconciler.models import StateDoc
from reconciler.state import LocalStateStore
from tests.apply.harness import World, agent, desired, make_world


class FillingDisk:
    """The real store, on a disk that fills up after ``writes_left`` more writes (ENOSPC)."""

    def __init__(self, store: LocalStateStore, writes_left: int) -> None:
        self.store = store
        self.writes_left = writes_left

    def write(self, doc: StateDoc) -> StateDoc:
        if self.writes_left <= 0:
            self.store._replace = self._full  # type: ignore[method-assign]
        self.writes_left -= 1
        return self.store.write(doc)

    @staticmethod
    def _full(data: bytes) -> os.stat_result:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def world(tmp_path: Any) -> World:
    return make_world(tmp_path)


@pytest.fixture
def asyncio_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors asyncio logs (``Task exception was never retrieved``, ...), after a collection."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    return caplog.records


def _journal_covers_every_running_agent(world: World) -> None:
    on_disk = world.store.load()
    recorded = {r.agent_id for r in on_disk.agents.values()}
    journaled = {p.wire_name for p in on_disk.journal if p.op == "join"}
    for running in world.agents("RUNNING"):
        assert running["agent_id"] in recorded or running["name"] in journaled, running


@pytest.mark.parametrize("writes_left", [0, 1, 2, 3])
def test_a_disk_that_fills_up_during_starts_ends_the_apply_with_an_account(
    world: World, asyncio_errors: list[logging.LogRecord], writes_left: int
) -> None:
    # Two in flight: the group commit writes the changes of all agents that are ready at once,
    # so with more in flight eight agents can take fewer writes than the disk has left.
    want = desired(*(agent(f"a{i}") for i in range(8)))
    disk = FillingDisk(world.store, writes_left)
    _, result, _ = world.apply(want, store=disk, parallelism=2)
    gc.collect()
    assert [r.getMessage() for r in asyncio_errors] == []
    assert "No space left on device" in result.aborted and not result.ok
    assert result.count("start") + len(result.failed) + len(result.not_attempted) == 8
    for failure in result.failed:
        assert failure.reason == "StateWriteFailed", failure
    engine_ids = {a["agent_id"] for a in world.agents("RUNNING")}
    reported = {r.agent_id for r in result.results if r.ok or r.reached_engine}
    assert engine_ids == reported  # every agent that reached the engine is accounted for
    _journal_covers_every_running_agent(world)
    assert summary_line(result, "apply").startswith("Apply stopped early: ")


def test_a_disk_full_before_any_write_sends_nothing_to_the_engine(world: World) -> None:
    _, result, _ = world.apply(desired(agent("a"), agent("b")), store=FillingDisk(world.store, 0))
    assert world.agents() == []
    assert result.unrecorded == [] and result.count("start") == 0
    assert summary_line(result, "apply") == (
        "Apply stopped early: nothing changed; 2 failed. cannot write "
        f"{world.store.path}: No space left on device; the previous state is intact. "
        "Run reconciler apply again once that is fixed."
    )


def test_a_disk_that_fills_up_during_restarts_names_the_agents_left_stopped(
    world: World, asyncio_errors: list[logging.LogRecord]
) -> None:
    world.apply(desired(*(agent(f"a{i}") for i in range(6))))
    changed = desired(*(agent(f"a{i}", tts_vendor="elevenlabs") for i in range(6)))
    # one wave of six (max_unavailable), so that several old agents are down when it fills up
    _, result, _ = world.apply(changed, store=FillingDisk(world.store, 4), max_unavailable=6)
    gc.collect()
    assert [r.getMessage() for r in asyncio_errors] == []
    assert result.aborted
    down = set(result.left_stopped)
    assert down  # some old agents were stopped before the disk filled up...
    running = {a["name"].rsplit("-", 1)[0] for a in world.agents("RUNNING")}
    assert running.isdisjoint(down)  # ...and those, exactly, are the ones reported down
    assert running | down | set(result.not_attempted) == {f"a{i}" for i in range(6)}
    _journal_covers_every_running_agent(world)
    assert "stopped for restart, not started: " + ", ".join(result.left_stopped) in (
        summary_line(result, "apply")
    )


def test_a_defect_inside_an_action_becomes_a_typed_failure_and_halts_the_run(
    world: World, asyncio_errors: list[logging.LogRecord]
) -> None:
    class Broken:
        def write(self, doc: StateDoc) -> StateDoc:
            raise ZeroDivisionError("a bug")

    _, result, _ = world.apply(desired(agent("a"), agent("b")), store=Broken())
    gc.collect()
    assert [r.getMessage() for r in asyncio_errors] == []
    assert result.aborted == "internal error (ZeroDivisionError); please report it"
    assert {r.reason for r in result.failed} == {"ApplyError"}
    assert world.agents() == []


def test_a_change_cancelled_during_a_failing_write_leaves_the_others_their_own_error(
    world: World,
) -> None:
    """The group commit hands each waiter its own outcome; one whose waiter was cancelled while
    the write failed must not turn the others' error into an ``InvalidStateError``."""

    writing, fail_now = threading.Event(), threading.Event()

    class SlowFullDisk:
        def write(self, doc: StateDoc) -> StateDoc:
            writing.set()
            assert fail_now.wait(timeout=60), "the test never let the write fail"
            raise StateError("cannot write state: No space left on device")

    plan, state = world.plan(desired())
    run = Run(
        plan=plan,
        desired=desired(),
        ctx=ApplyContext(client=world.client(), store=SlowFullDisk()),
        doc=state,
    )

    async def go() -> list[BaseException | None]:
        first = asyncio.ensure_future(run.save(lambda d: d))
        second = asyncio.ensure_future(run.save(lambda d: d))
        # Both are in the batch once it is being written.
        assert await asyncio.to_thread(writing.wait, 60), "the batch was never written"
        second.cancel()
        fail_now.set()
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    first, second = asyncio.run(go())
    assert isinstance(first, StateError), first
    assert isinstance(second, asyncio.CancelledError)
