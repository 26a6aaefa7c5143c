"""A `reconciler watch` run as a real process, with its HTTP endpoint on a port the system
chooses (`--listen 127.0.0.1:0`; the process logs which)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.e2e_helpers import Project, Sandbox, agent_name
from tests.served import watch_port


class WatchProcess:
    """``reconciler -C <project> watch --interval <i> --listen 127.0.0.1:0 *args``."""

    def __init__(self, project: Project, *args: str, interval: str = "1s", log: Path) -> None:
        self.log = log
        self._port: int | None = None
        command = project.command("watch", "--interval", interval, "--listen", "127.0.0.1:0", *args)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=project.dir,
                env=project.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def port(self) -> int | None:
        """The endpoint's port, once the process has logged it (None until then)."""
        if self._port is None:
            self._port = watch_port(self.log)
        return self._port

    @property
    def url(self) -> str:
        """The endpoint's base URL (the port shows as ``?`` until it is logged)."""
        return f"http://127.0.0.1:{self.port if self.port is not None else '?'}"

    def get(self, path: str) -> httpx.Response | None:
        """``GET path`` of the endpoint; None while it does not listen (yet) or does not answer."""
        if self.port is None:
            return None
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=2.0)
        except httpx.TransportError:
            return None

    def metric(self, line_start: str) -> float | None:
        """The value of the first metrics line starting with ``line_start`` (name{labels})."""
        response = self.get("/metrics")
        if response is None:
            return None
        for line in response.text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.split()[-1])
        return None

    def is_leader(self) -> bool:
        return self.metric("reconciler_watch_leader") == 1.0

    def is_ready(self) -> bool:
        response = self.get("/readyz")
        return response is not None and response.status_code == 200

    def signal(self, sig: int) -> None:
        os.kill(self.process.pid, sig)

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(what: str, check: Any, timeout: float, *logs: WatchProcess) -> float:
    """Poll ``check()`` until true; return the seconds it took (fail with the logs)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.05)
    details = "\n".join(f"--- {w.log} ---\n{w.log_text()}" for w in logs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{details}")


def running_names(sandbox: Sandbox) -> dict[str, str]:
    """Agent id by reconciler name (the wire name without its generation) of RUNNING agents."""
    return {agent_name(wire): view["agent_id"] for wire, view in sandbox.running().items()}


def crash(sandbox: Sandbox, agent_id: str) -> None:
    sandbox.control("POST", f"/agents/{agent_id}/crash", {"message": "test crash"})


def join_names(sandbox: Sandbox) -> list[str]:
    """The wire name of every agent the engine started (each once, unless a start was repeated)."""
    return [str(view["name"]) for view in sandbox.agents()]


SIGTERM = signal.SIGTERM
SIGKILL = signal.SIGKILL
