"""A webhook receiver for the notification tests: a stdlib HTTP server on a free loopback port
that records every POST (headers and raw body) and answers with the statuses it is told to."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class WebhookSink:
    """Records POSTs; `fail_first` answers `fail_status` (500) to that many, `hold` blocks them
    until released."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        self.received: list[Received] = []
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                sink.arrived.set()
                sink.hold.wait(30)
                with sink._lock:
                    status = sink.fail_status if sink.fail_first > 0 else 200
                    sink.fail_first = max(0, sink.fail_first - 1)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    sink.received.append(Received(headers, body, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0" if status == 204 else "2")
                self.end_headers()
                if status != 204:
                    self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/ncs"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def events(self, delivered_only: bool = True) -> list[dict[str, Any]]:
        """The event bodies received (answered 200 only, by default), in arrival order."""
        with self._lock:
            items = list(self.received)
        return [r.event for r in items if r.status == 200 or not delivered_only]

    def of_type(self, event_type: int) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["eventType"] == event_type]

    def close(self) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()
