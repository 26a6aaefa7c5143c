"""A sandbox engine served as a real process (`reconciler sandbox serve`), for the tests that are
about processes (conformance, end to end, kill -9) and for the benchmarks.

One launcher for all of them: a free loopback port, credentials through the environment only,
output to a log file, and a wait until `/_sandbox/health` answers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVE = [sys.executable, "-m", "reconciler", "sandbox", "serve"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServedSandbox:
    """`reconciler sandbox serve --port <free> --db <db> *args`, running until :meth:`stop`."""

    def __init__(
        self,
        *,
        db: str,
        args: Sequence[str] = (),
        env: Mapping[str, str],
        log: Path | None = None,
        cwd: Path = ROOT,
        timeout: float = 30.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [*SERVE, "--port", str(self.port), "--db", db, *args]
        out = log.open("wb") if log is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if log is not None:
                out.close()  # type: ignore[union-attr]
        self._wait(timeout)

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
        return self.log.read_text(errors="replace") if self.log is not None else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
