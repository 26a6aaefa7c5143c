"""Hostile requests to the event listener of `watch --listen` (POST /ncs): a body that never
arrives, a client that leaves before its answer, a signed body nested too deeply to decode.
None holds a thread for ever, none writes a traceback into the watch's logs (stderr), and every
one leaves the listener answering."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from reconciler.watch import endpoint as endpoint_module
from reconciler.watch.endpoint import Endpoint
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.status import WatchStatus
from tests.watch.test_events import Recorder, event, metric, receiver, signed

Served = tuple[tuple[str, int], Recorder, WatchMetrics]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr(endpoint_module._Handler, "timeout", 0.3)
    recorder, metrics = Recorder(), WatchMetrics()
    endpoint = Endpoint("127.0.0.1", 0, WatchStatus(), metrics, receiver(recorder, metrics))
    endpoint.start()
    try:
        yield endpoint.address, recorder, metrics
    finally:
        endpoint.stop()


def exchange(address: tuple[str, int], request: bytes) -> bytes:
    """Send ``request`` on a new connection and read until the listener closes it."""
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post(body: bytes, headers: dict[str, str], length: int | None = None) -> bytes:
    lines = [
        "POST /ncs HTTP/1.1",
        "Host: watch",
        "Connection: close",
        f"Content-Length: {len(body) if length is None else length}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_the_listener_reads_every_connection_under_a_finite_timeout() -> None:
    assert 0 < endpoint_module._Handler.timeout == endpoint_module.READ_TIMEOUT_S <= 60


def test_a_body_shorter_than_its_length_is_dropped_after_the_read_timeout(
    served: Served, capfd: pytest.CaptureFixture[str]
) -> None:
    address, recorder, _ = served  # the fixture shortens the timeout to 0.3 s
    body = event()
    answer = exchange(address, post(body[:10], signed(body), length=len(body)))
    assert answer == b"", "no answer to a request that never arrived whole"
    assert b"200 OK" in exchange(address, post(body, signed(body)))
    assert [n.notice_id for n in recorder.notices] == ["n-1"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_that_leaves_before_its_answer_leaves_no_traceback(
    served: Served, capfd: pytest.CaptureFixture[str]
) -> None:
    address = served[0]
    for n in range(20):
        body = event(notice_id=f"gone-{n}")
        with socket.create_connection(address, timeout=10) as conn:
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            conn.sendall(post(body, signed(body)))
    assert b"200 OK" in exchange(address, post(event("last"), signed(event("last"))))
    assert "Traceback" not in capfd.readouterr().err


def test_a_signed_body_nested_too_deeply_is_refused_400_as_malformed(
    served: Served, capfd: pytest.CaptureFixture[str]
) -> None:
    address, recorder, metrics = served
    nested = b'{"noticeId":"deep","eventType":102,"payload":' + b"[" * 100_000
    body = nested + b"]" * 100_000 + b"}"
    answer = exchange(address, post(body, signed(body)))
    assert answer.startswith(b"HTTP/1.0 400")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"outcome": "refused"}
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="malformed") == 1
    assert recorder.notices == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_trickled_in_past_the_read_timeout_in_all_is_dropped_unanswered(
    served: Served, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A client that sends a byte now and then never waits 10 s between two, yet must not
    hold a thread for ever: the whole body has the read timeout in all. The listener's clock
    moves an hour per reading here, so the first part of the body is already too late."""
    address, recorder, _ = served
    monkeypatch.setattr(endpoint_module._Handler, "timeout", 60.0)  # no single read times out
    readings = iter(range(0, 10**9, 3600))
    monkeypatch.setattr(endpoint_module, "monotonic", lambda: float(next(readings)))
    body = event()
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(post(body[:10], signed(body), length=len(body)))
        assert conn.recv(65536) == b"", "closed unanswered, while the client could go on"
    assert recorder.notices == []
    monkeypatch.setattr(endpoint_module, "monotonic", time.monotonic)
    assert b"200 OK" in exchange(address, post(body, signed(body)))
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "12, 12", ""])
def test_a_content_length_that_is_no_length_is_refused_400_as_malformed_not_as_too_large(
    served: Served, length: str
) -> None:
    # A Content-Length that is not a non-negative integer is a broken request (400): not a body
    # over the limit (413) nor a missing length (411, which a sender fixes by sending one).
    address, recorder, metrics = served
    lines = ["POST /ncs HTTP/1.1", "Host: watch", "Connection: close", f"Content-Length: {length}"]
    answer = exchange(address, ("\r\n".join(lines) + "\r\n\r\n").encode() + b"{}")
    assert answer.startswith(b"HTTP/1.0 400 "), answer
    assert recorder.notices == []
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="too_large") == 0
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="malformed") == 1


@pytest.mark.parametrize("length", [str(1 << 21), "9" * 5000])
def test_a_content_length_over_the_limit_however_written_is_refused_413_unread(
    served: Served, length: str
) -> None:
    address, _, metrics = served
    lines = ["POST /ncs HTTP/1.1", "Host: watch", "Connection: close", f"Content-Length: {length}"]
    answer = exchange(address, ("\r\n".join(lines) + "\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.0 413 "), answer
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="too_large") == 1


def test_a_post_without_content_length_is_answered_411(served: Served) -> None:
    address, recorder, _ = served
    lines = ["POST /ncs HTTP/1.1", "Host: watch", "Connection: close"]
    answer = exchange(address, ("\r\n".join(lines) + "\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.0 411 "), answer
    assert recorder.notices == []
