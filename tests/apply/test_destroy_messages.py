"""Every message after a destroy speaks of destroy: its summary (complete, failed, interrupted,
stopped early), its advice and the errors of its actions. Advising ``reconciler apply`` after an
interrupted destroy would have the user start again the agents destroy had just stopped."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest

from reconciler.apply import ActionResult, ApplyResult
from reconciler.cli.output import summary_line
from reconciler.models import StateDoc
from reconciler.state import LocalStateStore
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Any) -> World:
    return make_world(tmp_path)


def _says_apply(text: str) -> bool:
    return "apply" in text.lower()


def test_a_destroy_interrupted_midway_says_so_and_advises_destroy(world: World) -> None:
    want = desired(*(agent(f"a{i}") for i in range(6)))
    world.apply(want)
    world.events.clear()

    def stopped_two() -> bool:
        return sum(1 for e in world.events if e.status == "done") >= 2

    plan, result, _ = world.apply(want, destroy=True, should_stop=stopped_two, parallelism=1)

    assert plan.operation == "destroy"
    assert result.interrupted
    line = summary_line(result, plan.operation)
    assert line == (
        "Destroy interrupted: 2 stopped; 4 not attempted; run reconciler destroy. State is saved."
    )
    assert not _says_apply(line)


class _FullAfter:
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


def test_a_destroy_whose_state_cannot_be_written_advises_destroy_in_every_message(
    world: World,
) -> None:
    want = desired(*(agent(f"a{i}") for i in range(4)))
    world.apply(want)
    world.events.clear()

    plan, result, _ = world.apply(
        want, destroy=True, store=_FullAfter(world.store, 1), parallelism=1
    )

    assert result.aborted
    line = summary_line(result, plan.operation)
    assert line.startswith("Destroy stopped early: ")
    assert line.endswith("Run reconciler destroy again once that is fixed.")
    assert result.unrecorded  # the first stop reached the engine; its record could not be written
    details = [r.detail for r in result.failed] + [e.message for e in world.events]
    assert any("run reconciler destroy again" in d for d in details), details
    for text in [line, *details]:
        assert not _says_apply(text), text


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            ApplyResult(results=[ActionResult("a", "stop", True)]),
            "Destroy complete: 1 stopped.",
        ),
        (
            ApplyResult(
                results=[ActionResult("a", "stop", True), ActionResult("b", "stop", False)]
            ),
            "Destroy failed: 1 stopped; 1 failed.",
        ),
        (
            ApplyResult(results=[ActionResult("a", "stop", True)], interrupted=True),
            "Destroy interrupted: 1 stopped. State is saved.",
        ),
        (
            ApplyResult(interrupted=True, not_attempted=["b"]),
            "Destroy interrupted: nothing changed; 1 not attempted; run reconciler destroy. "
            "State is saved.",
        ),
        (
            ApplyResult(aborted="cannot write state", not_attempted=["b"]),
            "Destroy stopped early: nothing changed; 1 not attempted. cannot write state. "
            "Run reconciler destroy again once that is fixed.",
        ),
    ],
)
def test_every_summary_of_a_destroy_names_destroy(result: ApplyResult, expected: str) -> None:
    assert summary_line(result, "destroy") == expected
