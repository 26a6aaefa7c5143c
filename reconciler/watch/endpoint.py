"""The HTTP endpoint of a watch process: ``/healthz``, ``/readyz`` and ``/metrics``.

A standard-library ``ThreadingHTTPServer`` on a daemon thread: it answers while the controller's
event loop is busy (a plan of thousands of agents), and needs no second web framework.

* ``/healthz``: 200 while the process runs.
* ``/readyz``: 200 for a leader whose last reconcile succeeded (so the database and the engine
  answered) or a standby that reaches the database; 503 otherwise, with the role and a short
  reason (never an error message).
* ``/metrics``: the Prometheus text format (:class:`~reconciler.watch.metrics.WatchMetrics`).
* ``/leaderz``: 200 on the leader, 503 otherwise (a load balancer's health check that sends
  notification events to the leader only).
* ``POST /ncs`` (the path is configurable): notification events, handed to the
  :class:`~reconciler.watch.receiver.EventReceiver` when one is given.
* ``HEAD`` answers as ``GET`` without the body; any other method on one of these paths is
  answered 405 with ``Allow`` naming the methods it takes, and on any other path 404.

A client that stops sending (a body shorter than its ``Content-Length``) is dropped after
:data:`READ_TIMEOUT_S`, and so is one whose body takes longer than that in all (a byte now and
then); one that goes away before its answer is simply gone: none holds a thread for ever nor
writes a traceback into the watch's logs (``socketserver`` prints one for any error of a request
unless told otherwise).
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import monotonic
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.watch.metrics import CONTENT_TYPE, WatchMetrics
from reconciler.watch.receiver import MAX_BODY_BYTES, EventReceiver
from reconciler.watch.status import WatchStatus

__all__ = ["PATHS", "Endpoint"]

PATHS = ("/healthz", "/readyz", "/metrics", "/leaderz")
_DIGITS = re.compile(r"[0-9]+")
"""A ``Content-Length`` (RFC 9110: one or more digits; anything else is a broken request)."""
READ_TIMEOUT_S = 10.0
"""How long a connection may take to send its next request line, header or body."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        status: WatchStatus,
        metrics: WatchMetrics,
        receiver: EventReceiver | None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.status = status
        self.metrics = metrics
        self.receiver = receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection error (reset, broken pipe, read timeout) ends that request quietly;
        anything else is a bug and is reported as ``socketserver`` does."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_TIMEOUT_S

    def version_string(self) -> str:
        """The ``Server`` header: the tool, not the interpreter's version (``/ncs`` faces the
        internet)."""
        return "reconciler-watch"

    def _ncs_path(self) -> str | None:
        receiver = self.server.receiver
        return None if receiver is None else receiver.path

    def _wrong_method(self, path: str) -> bool:
        """Answer 405 naming the methods ``path`` takes, when it is one of ours (True then)."""
        if path in PATHS:
            allow = "GET, HEAD"
        elif path == self._ncs_path():
            allow = "POST"
        else:
            return False
        self.close_connection = True  # a body, if any, is not read
        self._send(405, f"method not allowed; {path} takes {allow}\n".encode(), allow=allow)
        return True

    def do_HEAD(self) -> None:  # the name http.server calls
        self.do_GET()

    def do_PUT(self) -> None:  # the name http.server calls
        path = self.path.split("?", 1)[0]
        if not self._wrong_method(path):
            self.close_connection = True
            self._send(404, b"not found\n")

    do_DELETE = do_PATCH = do_PUT

    def do_GET(self) -> None:  # the name http.server calls (HEAD too: the same without a body)
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/readyz":
            readiness = self.server.status.readiness()
            self.server.metrics.ready.set(1 if readiness.ready else 0)
            text = f"{'ready' if readiness.ready else 'not ready'}: {readiness.role}"
            if readiness.reason:
                text += f" ({readiness.reason})"
            self._send(200 if readiness.ready else 503, (text + "\n").encode())
        elif path == "/metrics":
            self._send(200, self.server.metrics.exposition(), CONTENT_TYPE)
        elif path == "/leaderz":
            leader = self.server.status.is_leader
            self._send(200 if leader else 503, b"leader\n" if leader else b"not leader\n")
        elif not self._wrong_method(path):
            self._send(404, b"not found; try /healthz, /readyz or /metrics\n")

    def do_POST(self) -> None:  # the name http.server calls
        receiver = self.server.receiver
        path = self.path.split("?", 1)[0]
        if receiver is None or path != receiver.path:
            if not self._wrong_method(path):
                self._send(404, b"not found\n")
            return
        declared = self.headers.get("Content-Length")
        if declared is None:  # chunked, or no body at all: not read
            self.close_connection = True
            self._send(411, b"length required\n")
            return
        if not _DIGITS.fullmatch(declared.strip()):
            self.close_connection = True  # no length to read a body by
            reply = receiver.refuse_malformed()
        elif len(declared.strip().lstrip("0")) > 18 or int(declared) > MAX_BODY_BYTES:
            # (int() of thousands of digits raises: a length that long is over it anyway)
            self.close_connection = True  # the body is not read
            reply = receiver.refuse_oversized()
        else:
            body = self._read_body(int(declared))
            if body is None:  # too slow in all, or closed: dropped unanswered
                self.close_connection = True
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = receiver.handle(body, headers)
        self._send(reply.status, reply.body, "application/json")

    def _read_body(self, length: int) -> bytes | None:
        """The body, if it arrives whole within :data:`READ_TIMEOUT_S` in all (each read also
        waits at most that long): a client trickling a byte now and then holds no thread."""
        deadline = monotonic() + READ_TIMEOUT_S
        chunks: list[bytes] = []
        left = length
        while left > 0:
            chunk = self.rfile.read1(min(left, 1 << 16))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
            if left > 0 and monotonic() > deadline:
                return None
        return b"".join(chunks)

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        allow: str | None = None,
    ) -> None:
        """Answer ``code`` with ``body`` (its headers only to a HEAD request)."""
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if allow is not None:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not worth a log line."""


class Endpoint:
    """The server, started on :meth:`start` and stopped on :meth:`stop`."""

    def __init__(
        self,
        host: str,
        port: int,
        status: WatchStatus,
        metrics: WatchMetrics,
        receiver: EventReceiver | None = None,
    ) -> None:
        try:
            self._server = _Server((host, port), status, metrics, receiver)
        except OSError as exc:
            raise ReconcilerError(
                f"--listen {host}:{port}: cannot listen there ({exc.strerror or exc})"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="watch-endpoint", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (``shutdown`` waits for ``serve_forever``, so only if it was started)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
