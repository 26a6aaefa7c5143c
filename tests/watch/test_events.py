"""The event listener of `watch --listen`: signatures checked as documented (vectors computed here
with the hmac module), forged events refused and counted, a replayed noticeId acted on once,
foreign agents and standbys leave an event alone, and the HTTP path that carries them."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
import pytest

from reconciler.watch.endpoint import Endpoint
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.ncs import (
    ACTIONABLE,
    EVENT_TYPES,
    Notice,
    NoticeMemory,
    parse_notice,
    signature_problem,
)
from reconciler.watch.receiver import MAX_BODY_BYTES, EventReceiver, HealTimer
from reconciler.watch.status import WatchStatus
from tests.secret_scan import find_leaks

SECRET = "ncs-secret"
OURS = "OURAGENT0000000000000000000000001"


def event(
    notice_id: str = "n-1", event_type: int = 102, agent_id: str = OURS, product_id: object = 17
) -> bytes:
    body = {
        "noticeId": notice_id,
        "productId": product_id,
        "eventType": event_type,
        "notifyMs": 1_700_000_000_000,
        "sid": agent_id,
        "payload": {"agent_id": agent_id, "status": "FAILED", "reason": "failed"},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    key = secret.encode()
    return {
        "agora-signature": hmac.new(key, body, hashlib.sha1).hexdigest(),
        "agora-signature-v2": hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


class Recorder:
    def __init__(self) -> None:
        self.leader = True
        self.owned = frozenset({OURS})
        self.notices: list[Notice] = []


def receiver(
    recorder: Recorder, metrics: WatchMetrics, secret: str | None = SECRET
) -> EventReceiver:
    return EventReceiver(
        secret=secret,
        metrics=metrics,
        is_leader=lambda: recorder.leader,
        owned=lambda: recorder.owned,
        on_notice=recorder.notices.append,
    )


def metric(metrics: WatchMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- the signature ----------------------------------------------------------------------------


def test_the_documented_vector_verifies_with_either_header() -> None:
    body = (
        b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-'
        b'53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
    )
    v1 = "033c62f40f687675f17f0f41f91a40c71c0f134c"
    v2 = "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99"
    assert hmac.new(b"secret", body, hashlib.sha1).hexdigest() == v1
    assert signature_problem("secret", body, {"agora-signature": v1}) is None
    assert signature_problem("secret", body, {"agora-signature-v2": v2}) is None
    assert signature_problem("secret", body, {"agora-signature-v2": v2.upper()}) is None


def test_a_signature_over_other_bytes_or_with_another_secret_is_bad() -> None:
    body = event()
    assert signature_problem(SECRET, body, signed(body)) is None
    assert signature_problem(SECRET, body + b" ", signed(body)) == "bad_signature"
    assert signature_problem(SECRET, body, signed(body, "other")) == "bad_signature"
    assert signature_problem(SECRET, body, {}) == "missing_signature"
    forged_v2 = {**signed(body), "agora-signature-v2": "00" * 32}
    assert signature_problem(SECRET, body, forged_v2) == "bad_signature", "V2 wins when present"


def test_parse_notice_reads_the_envelope_and_the_agent() -> None:
    notice = parse_notice(event("n-9", 102))
    assert (notice.notice_id, notice.event_type, notice.agent_id) == ("n-9", 102, OURS)
    assert notice.actionable and parse_notice(event(event_type=104)).actionable
    assert not parse_notice(event(event_type=101)).actionable
    assert not parse_notice(event(event_type=110)).actionable, "an error alone ends no agent"
    for bad in (b"[]", b"not json", b'{"eventType": 102}', b'{"noticeId": "x"}'):
        with pytest.raises(ValueError):
            parse_notice(bad)


def test_the_notice_memory_is_bounded() -> None:
    memory = NoticeMemory(size=3)
    assert all(memory.first_time(f"n-{i}") for i in range(5))
    assert len(memory) == 3
    assert not memory.first_time("n-4")
    assert memory.first_time("n-0"), "the oldest were forgotten"


# -- the receiver -------------------------------------------------------------------------------


def test_a_forged_or_unsigned_event_is_refused_401_counted_and_never_acted_on() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    body = event()
    assert events.handle(body, {}).status == 401
    assert events.handle(body, signed(body, "guessed")).status == 401
    assert events.handle(body, {"agora-signature-v2": "zz"}).status == 401
    assert recorder.notices == []
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="missing_signature") == 1
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="bad_signature") == 2
    assert metric(metrics, "reconciler_watch_events_received_total", event_type="102") == 0
    assert events.handle(body, signed(body)).outcome == "acted", "the forgeries did not poison it"


def test_refused_events_are_logged_naming_why_at_most_once_a_minute_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A wrong RECONCILER_NCS_SECRET refuses every event: without a log line the watch would
    # only heal by polling, with nothing but a counter to say why. A flood of forgeries must
    # not flood the log either: one line a minute per reason, with how many came meanwhile.
    caplog.set_level(logging.INFO, logger="reconciler.watch")
    now = [1000.0]
    recorder, metrics = Recorder(), WatchMetrics()
    events = EventReceiver(
        secret=SECRET,
        metrics=metrics,
        is_leader=lambda: True,
        owned=lambda: recorder.owned,
        on_notice=recorder.notices.append,
        clock=lambda: now[0],
    )
    body = event()
    for _ in range(5):
        events.handle(body, signed(body, "another-secret"))
    events.handle(body, {})
    now[0] += 61
    events.handle(body, signed(body, "another-secret"))
    lines = [r for r in caplog.records if getattr(r, "event", "") == "event.refused"]
    assert [r.levelno for r in lines] == [logging.WARNING] * 3
    first, unsigned, later = (r.getMessage() for r in lines)
    assert "401" in first and "RECONCILER_NCS_SECRET" in first
    assert "Agora-Signature" in unsigned
    assert "4 more since" in later, later
    assert SECRET not in caplog.text and "another-secret" not in caplog.text
    for value in signed(body, "another-secret").values():
        assert value not in caplog.text


def test_without_a_secret_every_event_is_refused() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics, secret=None)
    body = event()
    assert events.handle(body, signed(body)).status == 401
    assert recorder.notices == []
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="no_secret") == 1


def test_a_replayed_notice_id_is_acted_on_once() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    first, retry = event("n-1"), event("n-1").replace(b"1700000000000", b"1700000001000")
    replies = [events.handle(first, signed(first)), events.handle(retry, signed(retry))]
    assert [(r.status, r.outcome) for r in replies] == [(200, "acted"), (200, "duplicate")]
    assert [n.notice_id for n in recorder.notices] == ["n-1"]
    assert metric(metrics, "reconciler_watch_events_received_total", event_type="102") == 2
    assert metric(metrics, "reconciler_watch_events_acted_total", event_type="102") == 1
    assert metric(metrics, "reconciler_watch_events_ignored_total", reason="duplicate") == 1


def test_an_event_type_agora_does_not_document_is_counted_as_other_not_by_its_number() -> None:
    # Any integer a signed body carries would otherwise be a series of its own, for ever.
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    undocumented = [0, -1, 7, 105, 99_999, 2**63, 10**30]
    for index, event_type in enumerate(undocumented):
        body = event(f"u-{index}", event_type)
        assert events.handle(body, signed(body)).status == 200
    received = "reconciler_watch_events_received_total"
    assert metric(metrics, received, event_type="other") == len(undocumented)
    labels = {
        sample.labels["event_type"]
        for family in metrics.registry.collect()
        for sample in family.samples
        if "event_type" in sample.labels
    }
    assert labels == {"other"}


def test_a_documented_event_type_is_counted_by_its_number() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    for index, event_type in enumerate((101, 102, 110, 1001, 1201)):
        body = event(f"d-{index}", event_type)
        events.handle(body, signed(body))
    received = "reconciler_watch_events_received_total"
    for event_type in ("101", "102", "110", "1001", "1201"):
        assert metric(metrics, received, event_type=event_type) == 1
    assert metric(metrics, "reconciler_watch_events_acted_total", event_type="102") == 1
    assert metric(metrics, received, event_type="other") == 0


def test_every_event_type_acted_on_is_a_documented_one() -> None:
    assert set(ACTIONABLE) <= set(EVENT_TYPES)


def test_an_event_about_an_agent_that_is_not_ours_is_answered_200_and_ignored() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    body = event(agent_id="SOMEONEELSE")
    assert (events.handle(body, signed(body)).status, recorder.notices) == (200, [])
    assert metric(metrics, "reconciler_watch_events_ignored_total", reason="foreign") == 1


def test_a_standby_answers_503_so_that_ncs_resends_and_acts_on_the_resend_once_it_leads() -> None:
    # NCS resends a notice answered with anything but 200: a standby (one a load balancer still
    # routes to during a hand-over, or one of a round-robin Service) must not swallow the
    # event with a 200, nor remember its noticeId, so that a resend reaching the leader (or
    # this replica once it leads) heals at once instead of at the next interval.
    recorder, metrics = Recorder(), WatchMetrics()
    recorder.leader = False
    events = receiver(recorder, metrics)
    body = event()
    reply = events.handle(body, signed(body))
    assert (reply.status, reply.outcome, recorder.notices) == (503, "standby", [])
    assert metric(metrics, "reconciler_watch_events_ignored_total", reason="standby") == 1
    recorder.leader = True
    resent = event().replace(b"1700000000000", b"1700000009000")
    assert events.handle(resent, signed(resent)).outcome == "acted"
    assert [n.notice_id for n in recorder.notices] == ["n-1"]


def test_an_event_of_another_agora_product_is_never_acted_on_nor_counted_as_an_agent_event() -> (
    None
):
    # A project's NCS also notifies other products with the same envelope, signatures and
    # overlapping numbers: RTC's channel events are productId 1, numbered from 101 up too (a
    # channel destroyed, a user leaving). Only productId 17 is Conversational AI.
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    for index, product in enumerate((1, 3, "17", None, True)):
        for event_type in (102, 104):
            body = event(f"p-{index}-{event_type}", event_type, OURS, product)
            reply = events.handle(body, signed(body))
            assert (reply.status, reply.outcome) == (200, "other_product"), (product, event_type)
    assert recorder.notices == []
    received = "reconciler_watch_events_received_total"
    assert metric(metrics, received, event_type="other") == 10
    assert metric(metrics, received, event_type="102") == 0
    assert metric(metrics, received, event_type="104") == 0
    assert metric(metrics, "reconciler_watch_events_ignored_total", reason="other_product") == 10
    body = event("p-ours", 102, OURS, 17)
    assert events.handle(body, signed(body)).outcome == "acted"


def test_an_event_that_needs_no_healing_is_not_acted_on() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    events = receiver(recorder, metrics)
    body = event(event_type=101)
    assert events.handle(body, signed(body)).outcome == "not_actionable"
    assert recorder.notices == []


def test_a_signed_body_that_is_no_envelope_is_refused_400() -> None:
    recorder, metrics = Recorder(), WatchMetrics()
    body = b'{"hello": "world"}'
    assert receiver(recorder, metrics).handle(body, signed(body)).status == 400
    assert metric(metrics, "reconciler_watch_events_refused_total", reason="malformed") == 1


def test_event_to_healed_time_is_observed_for_runs_that_began_after_the_event() -> None:
    metrics = WatchMetrics()
    timer = HealTimer(metrics)
    timer.event(OURS, at=10.0)
    timer.run_succeeded(began=9.0, ended=10.5)
    assert metric(metrics, "reconciler_watch_event_to_healed_seconds_count") == 0
    timer.run_succeeded(began=10.2, ended=11.0)
    assert metric(metrics, "reconciler_watch_event_to_healed_seconds_count") == 1
    assert metric(metrics, "reconciler_watch_event_to_healed_seconds_sum") == pytest.approx(1.0)


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def served() -> Any:
    recorder, metrics = Recorder(), WatchMetrics()
    endpoint = Endpoint("127.0.0.1", 0, WatchStatus(), metrics, receiver(recorder, metrics))
    endpoint.start()
    host, port = endpoint.address
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            yield http, recorder
    finally:
        endpoint.stop()


def test_events_are_posted_to_the_ncs_path_and_nowhere_else(served: Any) -> None:
    http, recorder = served
    body = event()
    assert http.post("/ncs", content=body, headers=signed(body)).status_code == 200
    assert http.post("/ncs", content=body, headers={"Agora-Signature": "0"}).status_code == 401
    assert http.post("/other", content=body, headers=signed(body)).status_code == 404
    assert [n.notice_id for n in recorder.notices] == ["n-1"]


def test_a_method_a_path_does_not_take_is_answered_405_naming_the_ones_it_does(
    served: Any,
) -> None:
    # A misconfigured sender (or a probe) learns what is wrong: 405 with Allow, not a 404 that
    # says the path does not exist, nor 501 as if the server knew no such method.
    http, recorder = served
    body = event()
    for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH"):
        answer = http.request(method, "/ncs", content=body, headers=signed(body))
        assert (answer.status_code, answer.headers.get("allow")) == (405, "POST"), method
    for path in ("/healthz", "/readyz", "/metrics", "/leaderz"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            answer = http.request(method, path, content=body, headers=signed(body))
            assert (answer.status_code, answer.headers.get("allow")) == (405, "GET, HEAD")
        head, get = http.head(path), http.get(path)
        assert (head.status_code, head.content) == (get.status_code, b"")
        assert head.headers["content-type"] == get.headers["content-type"]
    assert http.put("/other", content=body).status_code == 404
    assert http.head("/other").status_code == 404
    assert recorder.notices == []


def test_the_listener_does_not_name_its_python_version(served: Any) -> None:
    # /ncs faces the internet (NCS posts from outside): the Server header says what answers,
    # not which interpreter (and so which vulnerabilities) runs it.
    http, _ = served
    for answer in (http.get("/healthz"), http.post("/ncs", content=b"{}")):
        server = answer.headers.get("server", "")
        assert "Python" not in server and "BaseHTTP" not in server, server


def test_an_oversized_body_is_refused_413_unread(served: Any) -> None:
    http, recorder = served
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert http.post("/ncs", content=big).status_code == 413
    assert recorder.notices == []


def test_leaderz_answers_200_only_on_the_leader() -> None:
    status, metrics = WatchStatus(), WatchMetrics()
    endpoint = Endpoint("127.0.0.1", 0, status, metrics)
    endpoint.start()
    host, port = endpoint.address
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            status.standing_by(True, "another replica leads")
            assert http.get("/leaderz").status_code == 503
            status.leading(True)
            assert http.get("/leaderz").status_code == 200
            assert http.post("/ncs", content=b"{}").status_code == 404, "no receiver, no path"
    finally:
        endpoint.stop()


def test_no_answer_log_or_metric_of_the_listener_shows_the_secret_or_a_valid_signature(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever is sent (forged, unsigned, malformed, valid, replayed), what the listener gives
    back (answers, metrics, probes, logs) never holds the NCS secret in any encoding, nor the
    signature a forged body should have carried (an oracle for forging)."""
    http, _ = served
    body = event(notice_id="scan")
    expected = signed(body)
    answers = [
        http.post("/ncs", content=body, headers={"Agora-Signature-V2": "0" * 64}),
        http.post("/ncs", content=body, headers={"Agora-Signature": "0" * 40}),
        http.post("/ncs", content=body),
        http.post("/ncs", content=b"{]", headers=signed(b"{]")),
        http.post("/ncs", content=body, headers=expected),
        http.post("/ncs", content=body, headers=expected),
    ]
    texts = [(f"answer {n}", str(a.headers) + a.text) for n, a in enumerate(answers)]
    texts += [(path, http.get(path).text) for path in ("/metrics", "/readyz", "/healthz")]
    texts.append(("log", caplog.text))
    secrets = {"NCS secret": SECRET, **{f"expected {k}": v for k, v in expected.items()}}
    assert find_leaks(texts, secrets, basic_credential=SECRET) == []
