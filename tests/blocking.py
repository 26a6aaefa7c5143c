"""Running a call that a regression could make block (a read from a FIFO), so that the test
fails at a deadline instead of hanging the suite, and unblocking such readers afterwards."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
DEADLINE_S = 5.0


def within_deadline(call: Callable[[], T], deadline_s: float = DEADLINE_S) -> T:
    """``call()`` in a thread; the test fails if it has not returned after ``deadline_s``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        pytest.fail(f"still running after {deadline_s} s (blocked on a read?)")
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def unblock_fifos(root: Path) -> None:
    """Open every FIFO under ``root`` for writing once, so that a reader blocked on it returns."""
    for fifo in root.rglob("*"):
        if fifo.is_fifo():
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
