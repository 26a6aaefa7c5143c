"""Notification events (NCS webhooks) of the sandbox: signed as documented, one per lifecycle
change it models, delivered at least once with retries, never in a request's path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from agora_agent.agentkit.token import generate_rtc_token

from reconciler.sandbox import SandboxConfig, create_app
from reconciler.sandbox.ncs import PRODUCT_ID, signature_headers
from tests.sandbox.platform_helpers import papi
from tests.sandbox.sandbox_helpers import (
    APP_ID,
    APP_ID_2,
    BASIC,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    FakeTime,
    api,
    join_body,
)
from tests.sandbox.webhook_sink import WebhookSink

SECRET = "ncs-secret-for-tests"


class Harness:
    """An in-process sandbox driven by a private event loop that keeps running while we wait
    (so the notifier's background task delivers), and a webhook sink."""

    def __init__(self, sink: WebhookSink, **config: Any) -> None:
        self.time = FakeTime()
        values: dict[str, Any] = {
            "customer_id": CUSTOMER_ID,
            "customer_secret": CUSTOMER_SECRET,
            "stop_delay_s": 1.0,
        }
        values.update(config)
        self.app = create_app(SandboxConfig(**values), time_source=self.time)
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox"
        )
        self.sink = sink

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": BASIC}
        call = self.http.request(method, path, headers=headers, **kwargs)
        response: httpx.Response = self.loop.run_until_complete(call)
        return response

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.request(method, "/_sandbox" + path, json=body)

    def start(self, name: str, **properties: Any) -> str:
        response = self.request("POST", api("/join"), json=join_body(name, **properties))
        assert response.status_code == 200, response.text
        agent_id: str = response.json()["agent_id"]
        return agent_id

    def tick(self, seconds: float) -> None:
        """Let sandbox time pass, and nudge the notifier (any request does)."""
        self.time.tick(seconds)
        self.control("GET", "/health")

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async def waiting() -> None:
            deadline = time.monotonic() + timeout
            while not check():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}: {self.sink.events(False)}")
                await asyncio.sleep(0.01)

        self.loop.run_until_complete(waiting())

    def close(self) -> None:
        self.loop.run_until_complete(self.app.state.notifier.aclose())
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()
        self.app.state.sandbox.close()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    receiver = WebhookSink()
    yield receiver
    receiver.close()


@pytest.fixture
def make() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def factory(sink: WebhookSink, **config: Any) -> Harness:
        harness = Harness(sink, **config)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


@pytest.fixture
def sb(make: Callable[..., Harness], sink: WebhookSink) -> Harness:
    """A sandbox whose webhook (added by the control route) is the sink."""
    harness = make(sink)
    response = harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
    assert response.status_code == 200, response.text
    return harness


def _types(sink: WebhookSink, agent_id: str) -> list[int]:
    """The event types delivered about one agent, sorted (delivery order is not guaranteed, as
    with the real service)."""
    return sorted(e["eventType"] for e in sink.events() if e["payload"]["agent_id"] == agent_id)


def test_signature_headers_are_hmac_sha1_and_sha256_hex_of_the_raw_body() -> None:
    body = (
        b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-'
        b'53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
    )
    headers = signature_headers("secret", body)
    assert headers == {
        "Agora-Signature": "033c62f40f687675f17f0f41f91a40c71c0f134c",
        "Agora-Signature-V2": "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99",
    }


def test_every_event_is_signed_over_its_exact_bytes_with_the_webhook_secret(
    sb: Harness, sink: WebhookSink
) -> None:
    agent_id = sb.start("signed")
    sb.wait("the join event", lambda: _types(sink, agent_id) == [101])
    received = sink.received[0]
    key = SECRET.encode()
    assert received.headers["agora-signature"] == hmac.new(key, received.body, "sha1").hexdigest()
    assert (
        received.headers["agora-signature-v2"]
        == hmac.new(key, received.body, hashlib.sha256).hexdigest()
    )
    assert received.headers["content-type"] == "application/json"
    event = received.event
    assert set(event) == {"noticeId", "productId", "eventType", "notifyMs", "sid", "payload"}
    assert (event["productId"], event["sid"]) == (PRODUCT_ID, agent_id)
    assert event["notifyMs"] == int(sb.time.now * 1000)
    assert event["payload"] == {
        "agent_id": agent_id,
        "name": "signed",
        "channel": "room-1",
        "start_ts": int(sb.time.now),
        "status": "RUNNING",
    }


def test_a_crash_sends_110_and_102_failed_and_a_leave_sends_102_leave_after_the_stop_delay(
    sb: Harness, sink: WebhookSink
) -> None:
    crashed = sb.start("crashed", idle_timeout=0)
    left = sb.start("left", idle_timeout=0, channel="room-2")
    # Deliveries run concurrently: wait for every event expected so far, not for some of them.
    sb.wait("the join of the agent that will leave", lambda: _types(sink, left) == [101])
    sb.control("POST", f"/agents/{crashed}/crash", {"message": "boom"})
    sb.wait("the crash events", lambda: _types(sink, crashed) == [101, 102, 110])
    failed = sink.of_type(102)[0]["payload"]
    assert (failed["status"], failed["reason"], failed["message"]) == ("FAILED", "failed", "boom")
    assert sb.request("POST", api(f"/agents/{left}/leave")).status_code == 200
    sb.tick(0.5)  # half the stop delay, on the sandbox's clock
    assert sb.request("GET", api(f"/agents/{left}")).json()["status"] == "STOPPING"
    assert 102 not in _types(sink, left), "still STOPPING: it has not left yet"
    sb.tick(1.0)
    sb.wait("the leave event", lambda: _types(sink, left) == [101, 102])
    payload = next(e for e in sink.of_type(102) if e["payload"]["agent_id"] == left)["payload"]
    assert (payload["status"], payload["reason"]) == ("STOPPED", "leave")


def test_an_idle_exit_is_noticed_when_the_sandbox_clock_passes_it(
    sb: Harness, sink: WebhookSink
) -> None:
    agent_id = sb.start("idle", idle_timeout=30, labels={"team": "support"})
    sb.wait("the join event", lambda: _types(sink, agent_id) == [101])
    sb.control("POST", "/clock/advance", {"seconds": 40})
    sb.wait("the idle exit", lambda: _types(sink, agent_id) == [101, 102])
    payload = sink.of_type(102)[0]["payload"]
    assert (payload["reason"], payload["labels"]) == ("idle_timeout", {"team": "support"})


def test_a_token_about_to_expire_sends_104_and_its_expiry_102_token_expired(
    sb: Harness, sink: WebhookSink
) -> None:
    token = generate_rtc_token(APP_ID, "f" * 32, "room-1", 1001, expiry_seconds=120)
    agent_id = sb.start("expiring", idle_timeout=0, token=token)
    sb.wait("the join event", lambda: _types(sink, agent_id) == [101])
    sb.tick(100)
    sb.wait("the expiry warning", lambda: _types(sink, agent_id) == [101, 104])
    sb.tick(30)
    sb.wait("the exit", lambda: _types(sink, agent_id) == [101, 102, 104])
    assert sink.of_type(102)[0]["payload"]["reason"] == "token_expired"


def test_a_failed_delivery_is_retried_with_the_same_notice_id_and_a_fresh_signature(
    make: Callable[..., Harness],
) -> None:
    sink = WebhookSink(fail_first=2)
    try:
        harness = make(sink)
        harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
        agent_id = harness.start("retried")
        stats = harness.app.state.notifier.stats
        harness.wait("a delivery after two failures", lambda: stats["delivered"] == 1, 15)
        attempts = sink.received
        assert [r.status for r in attempts] == [500, 500, 200]
        assert {r.event["noticeId"] for r in attempts} == {attempts[0].event["noticeId"]}
        for r in attempts:
            expected = hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
            assert r.headers["agora-signature-v2"] == expected
        view = harness.control("GET", "/webhooks").json()
        assert view["stats"]["delivered"] == 1 and view["stats"]["failed_attempts"] == 2
        assert view["deliveries"][0]["attempts"] == 3
        assert view["deliveries"][0]["payload"]["agent_id"] == agent_id
    finally:
        sink.close()


def test_a_receiver_that_never_answers_200_gets_four_attempts_then_the_event_is_dropped(
    make: Callable[..., Harness],
) -> None:
    sink = WebhookSink(fail_first=100)
    try:
        harness = make(sink)
        harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
        harness.start("never")
        stats = harness.app.state.notifier.stats
        harness.wait("the delivery to be dropped", lambda: stats["dropped"] == 1, 20)
        assert len(sink.received) == 4
        assert harness.control("GET", "/webhooks").json()["deliveries"][0]["dropped"] is True
    finally:
        sink.close()


@pytest.mark.parametrize("status", [201, 202, 204])
def test_only_a_200_answer_delivers_a_notice_as_with_the_real_service(
    make: Callable[..., Harness], status: int
) -> None:
    # Agora's NCS takes a notice as received on 200 OK only, and resends it otherwise: a
    # receiver that answers another 2xx must see the retries here too, not only in production.
    sink = WebhookSink(fail_first=1, fail_status=status)
    try:
        harness = make(sink)
        harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
        harness.start("answered")
        stats = harness.app.state.notifier.stats
        harness.wait("the delivery on a 200", lambda: stats["delivered"] == 1, 15)
        assert [r.status for r in sink.received] == [status, 200]
        assert stats["failed_attempts"] == 1
    finally:
        sink.close()


def test_a_webhook_of_one_app_id_gets_only_that_projects_events(
    make: Callable[..., Harness], sink: WebhookSink
) -> None:
    # A real project's webhook URL receives that project's notifications only; one added
    # without an App ID receives every App ID's (the sandbox serves several at once).
    everything = WebhookSink()
    try:
        harness = make(sink)
        added = harness.control(
            "POST", "/webhooks", {"url": sink.url, "secret": SECRET, "app_id": APP_ID}
        )
        assert added.status_code == 200 and added.json()["app_id"] == APP_ID
        harness.control("POST", "/webhooks", {"url": everything.url, "secret": SECRET})
        ours = harness.start("ours")
        response = harness.request("POST", api("/join", APP_ID_2), json=join_body("theirs"))
        assert response.status_code == 200, response.text
        theirs = response.json()["agent_id"]
        harness.wait(
            "both join events at the webhook of every App ID",
            lambda: {*_types(everything, ours), *_types(everything, theirs)} == {101},
        )
        harness.wait("our join event", lambda: _types(sink, ours) == [101])
        assert _types(sink, theirs) == []
        for bad in ("", 7, ["x"]):
            body = {"url": sink.url, "secret": SECRET, "app_id": bad}
            assert harness.control("POST", "/webhooks", body).status_code == 400, bad
    finally:
        everything.close()


def test_the_configured_webhooks_of_one_app_id_get_only_that_projects_events(
    make: Callable[..., Harness], sink: WebhookSink
) -> None:
    harness = make(sink, webhooks=((sink.url, SECRET),), webhook_app_id=APP_ID_2)
    ours = harness.request("POST", api("/join", APP_ID_2), json=join_body("ours")).json()
    theirs = harness.start("theirs")
    harness.wait("our join event", lambda: _types(sink, ours["agent_id"]) == [101])
    assert _types(sink, theirs) == []
    assert harness.control("GET", "/webhooks").json()["webhooks"][0]["app_id"] == APP_ID_2


def test_a_webhook_that_hangs_never_holds_up_engine_requests(
    sb: Harness, sink: WebhookSink
) -> None:
    sink.hold.clear()
    first = sb.start("first")
    sb.wait("the first delivery to be held by the receiver", sink.arrived.is_set)
    second = sb.start("second", channel="room-2")
    assert sb.request("GET", api(f"/agents/{second}")).json()["status"] == "RUNNING"
    sink.hold.set()
    sb.wait("both join events", lambda: {*_types(sink, first), *_types(sink, second)} == {101})


def test_the_webhooks_route_validates_its_input_and_never_shows_a_secret(
    sb: Harness, sink: WebhookSink
) -> None:
    for body in ({"url": "ftp://x/ncs", "secret": "s"}, {"url": sink.url}, {"secret": "s"}):
        response = sb.control("POST", "/webhooks", body)
        assert response.status_code == 400, body
    view = sb.control("GET", "/webhooks")
    assert view.status_code == 200
    assert SECRET not in view.text
    assert [hook["url"] for hook in view.json()["webhooks"]] == [sink.url]


def test_reset_forgets_the_webhooks_added_at_run_time_but_keeps_the_configured_ones(
    make: Callable[..., Harness], sink: WebhookSink
) -> None:
    other = WebhookSink()
    try:
        harness = make(sink, webhooks=((other.url, SECRET),))
        harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
        harness.control("POST", "/reset")
        agent_id = harness.start("after-reset")
        harness.wait("the configured webhook's event", lambda: len(other.events()) == 1)
        assert other.events()[0]["payload"]["agent_id"] == agent_id
        assert [h["url"] for h in harness.control("GET", "/webhooks").json()["webhooks"]] == [
            other.url
        ]
        assert sink.events() == []
    finally:
        other.close()


def test_without_a_webhook_nothing_is_sent_and_a_new_webhook_gets_no_past_events(
    make: Callable[..., Harness], sink: WebhookSink
) -> None:
    harness = make(sink)
    before = harness.start("before")
    harness.control("POST", f"/agents/{before}/crash")
    harness.tick(1)
    harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
    after = harness.start("after", channel="room-2")
    harness.wait("the new agent's event", lambda: _types(sink, after) == [101])
    assert _types(sink, before) == []


def test_a_webhook_added_right_after_a_reset_is_kept(
    make: Callable[..., Harness], sink: WebhookSink
) -> None:
    harness = make(sink)
    harness.control("POST", "/reset")
    harness.control("POST", "/webhooks", {"url": sink.url, "secret": SECRET})
    agent_id = harness.start("after-reset")
    harness.wait("its event", lambda: _types(sink, agent_id) == [101])


def test_platform_sessions_send_1001_on_each_state_and_1003_when_they_fail(
    sb: Harness, sink: WebhookSink
) -> None:
    agent = {
        "instructions": "Test",
        "llm": {"credential": {"mode": "byok", "fields": {"api_key": "sk-inline"}}},
    }
    body = {"agent": agent, "transport": {"type": "rtc", "channel": "room-9", "uid": 1001}}
    started = sb.request("POST", papi("/sessions/ephemeral"), json=body)
    assert started.status_code == 200, started.text
    failing = sb.request("POST", papi("/sessions/ephemeral"), json=body).json()["agent_session_id"]
    stopped = started.json()["agent_session_id"]

    def of(session_id: str) -> list[tuple[int, str | None]]:
        return sorted(
            (e["eventType"], e["payload"].get("status"))
            for e in sink.events()
            if e["payload"].get("agent_session_id") == session_id
        )

    sb.wait("both running", lambda: of(stopped) == of(failing) == [(1001, "RUNNING")])
    sb.control("POST", f"/platform/sessions/{failing}/fail", {"message": "boom"})
    assert sb.request("POST", papi(f"/sessions/{stopped}/stop")).status_code == 200
    sb.tick(1.5)
    sb.wait(
        "the end of both",
        lambda: (
            of(failing) == [(1001, "FAILED"), (1001, "RUNNING"), (1003, None)]
            and of(stopped) == [(1001, "RUNNING"), (1001, "STOPPED")]
        ),
    )
