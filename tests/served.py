"""A sandbox engine served as a real process (`reconciler sandbox serve`), for the tests that are
about processes (conformance, end to end, kill -9) and for the benchmarks.

One launcher for all of them: the server binds a port of the system's choosing (`--port 0`)
and names it on stderr, so no other process can take the port between choosing and binding;
credentials come through the environment only, output goes to a log file, and the launcher
waits until `/_sandbox/health` answers.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVE = [sys.executable, "-m", "reconciler", "sandbox", "serve"]
LISTENING = re.compile(rb"Sandbox engine on http://127\.0\.0\.1:(\d+) ")

_REFUSING: list[socket.socket] = []


def refused_port() -> int:
    """A port on 127.0.0.1 that refuses every connection for as long as this test process runs.

    The port is bound by this process and never listened on: a connection to it is refused,
    and no other process can bind it meanwhile (a port chosen, closed and assumed free could be
    taken by then).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _REFUSING.append(sock)
    port: int = sock.getsockname()[1]
    return port


def wait_until(what: str, check: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``timeout`` seconds.

    The timeout is generous on purpose: it bounds a test that went wrong, not the time a
    condition may take on a loaded machine.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


_WATCH_LISTENING = re.compile(rb"endpoint\.listening\b.*?\bport\W+(\d+)")


def watch_port(log: Path, offset: int = 0) -> int | None:
    """The port a `reconciler watch --listen HOST:0` logged it serves on (from byte ``offset`` of
    its ``log``), or None while it has not (yet)."""
    try:
        with log.open("rb") as stream:
            stream.seek(offset)
            found = _WATCH_LISTENING.search(stream.read())
    except FileNotFoundError:
        return None
    return int(found.group(1)) if found else None


class ServedSandbox:
    """`reconciler sandbox serve --port 0 --db <db> *args`, running until :meth:`stop`."""

    def __init__(
        self,
        *,
        db: str,
        args: Sequence[str] = (),
        env: Mapping[str, str],
        log: Path | None = None,
        cwd: Path = ROOT,
        timeout: float = 60.0,
    ) -> None:
        self._own_dir: Path | None = None
        if log is None:  # the port is read from the log: keep one, removed by stop()
            self._own_dir = Path(tempfile.mkdtemp(prefix="served-sandbox-"))
            log = self._own_dir / "sandbox.log"
        self.log = log
        command = [*SERVE, "--port", "0", "--db", db, *args]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.port = self._wait_for_port(timeout)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait(timeout)

    def _wait_for_port(self, timeout: float) -> int:
        """The port the server names on stderr once it listens."""
        deadline = time.monotonic() + timeout
        while True:
            found = LISTENING.search(self.log.read_bytes())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited early:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox did not start listening:\n{self.log_text()}")
            time.sleep(0.02)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"sandbox exited early:\n{self.log_text()}")
                try:
                    if client.get(f"{self.url}/_sandbox/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"sandbox did not answer:\n{self.log_text()}")
                time.sleep(0.05)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
