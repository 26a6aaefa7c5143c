"""In-process helpers: the CLI through its real entry point, and an ASGI app served by uvicorn
on a loopback port from a background thread (so a test can change its behaviour directly)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from click.testing import CliRunner

from reconciler.cli import main

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"


def run_cli(*args: str, env: Mapping[str, str | None] | None = None) -> CliResult:
    """``reconciler ARGS`` through :func:`reconciler.cli.main`, output captured.

    Any exception other than ``SystemExit`` escapes (a traceback is a failure of the test).
    """
    runner = CliRunner()
    environ: dict[str, str | None] = {"RECONCILER_DEBUG": None, "NO_COLOR": "1"}
    environ.update(env or {})
    with runner.isolation(env=environ) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return CliResult(code, stdout, stderr)


class ThreadServer:
    """``app`` served by uvicorn on 127.0.0.1 from a daemon thread."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.port = 0
        """The port the server listens on: chosen by the system when it binds (0 until then)."""
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.server.config.ssl_certfile else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(timeout=5)


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect to report while the app runs
        return {"type": "http.disconnect"}

    return receive


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{url}/_sandbox{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()
