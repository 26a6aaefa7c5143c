"""A real pseudo-terminal for the tests about what a terminal shows: a command in a private tmux
server, its screen captured as a person would see it (``tmux capture-pane``), not its byte
stream. Used for the progress bar and ``status --watch``.

The server has its own socket (``tmux -L``), so the tests never touch another tmux; :meth:`close`
ends that server only. The command is followed by ``[exit N]`` and a pause, so the screen stays
readable after it ends.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

EXITED = "[exit "


def need_tmux() -> None:
    """Skip the test when tmux is not installed."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")


class Terminal:
    """``command`` running in a ``width`` x ``height`` terminal."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        width: int = 120,
        height: int = 40,
    ) -> None:
        need_tmux()
        self.socket = f"reconciler-test-{uuid.uuid4().hex[:12]}"
        self.env = dict(env)
        line = " ".join(shlex.quote(part) for part in command)
        # ``trap : INT``: Ctrl-C ends the command, not the shell that reports its exit (a
        # caught signal, unlike an ignored one, is reset to the default in the command).
        script = f'trap : INT; {line}; echo "{EXITED}$?]"; sleep 600'
        self.pane = self._tmux(
            "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", "t", "-x", str(width),
            "-y", str(height), "-c", str(cwd), "sh", "-c", script,
        ).strip()  # fmt: skip

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env, capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        """What the terminal shows now, one line a row, trailing blanks removed."""
        text = self._tmux("capture-pane", "-p", "-t", self.pane)
        return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")

    def history(self) -> str:
        """The screen and everything scrolled off it."""
        text = self._tmux("capture-pane", "-p", "-S", "-", "-t", self.pane)
        return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")

    def wait_for(self, ready: Callable[[str], bool], timeout: float = 120.0) -> str:
        """The first screen for which ``ready`` holds (polls; fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if ready(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed what was awaited:\n{shown}")
            time.sleep(0.1)

    def send(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names: ``C-c``, ``Enter``)."""
        self._tmux("send-keys", "-t", self.pane, *keys)

    def close(self) -> None:
        """End this test's tmux server (and the command in it)."""
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            env=self.env, capture_output=True, check=False, timeout=30,
        )  # fmt: skip
