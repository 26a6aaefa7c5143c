"""Helpers for tests about processes (forked children, killed parents, piped children).

Every child a test opens with pipes goes through :func:`opened`; the suite's autouse fixture
(``tests/conftest.py``) calls :func:`reap_opened` after each test, so a child a test forgot to
wait for is killed and its pipes are closed there, not by the garbage collector in whatever
test runs next (which, with warnings as errors, failed that other test on a ResourceWarning).
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

_OPENED: list[subprocess.Popen[Any]] = []


def opened(process: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
    """Track ``process`` so that the end of the current test reaps it."""
    _OPENED.append(process)
    return process


def reap_opened() -> None:
    """Kill every tracked child still running, wait for it and close its pipes."""
    while _OPENED:
        process = _OPENED.pop()
        if process.poll() is None:
            process.kill()
        try:
            process.communicate(timeout=30)
        except (ValueError, OSError):  # pipes a test already closed or read to the end
            process.wait(timeout=30)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def wait_gone(pid: int, within: float) -> bool:
    """Whether process ``pid`` no longer exists within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
