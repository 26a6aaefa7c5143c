"""Notification events (NCS webhooks) of the sandbox engine: what Agora's notification service
would POST to a project's webhook URL when an agent's lifecycle changes.

docs/engine-api.md ("Notification events") states the format. In short: a JSON body
`{noticeId, productId, eventType, notifyMs, sid, payload}` POSTed with the headers
`Agora-Signature` (HMAC-SHA1 of the raw body with the webhook's secret, lower-case hex) and
`Agora-Signature-V2` (HMAC-SHA256, lower-case hex).

Events the sandbox models (v2 engine):

| type | when |
|---|---|
| 101 agent joined | the agent is RUNNING (at its `running_at`) |
| 102 agent left | the agent is STOPPED or FAILED; `reason` says why (see `_exit_reason`) |
| 104 agent expire | `token_warning_s` (30 s) before the agent's token expires |
| 110 agent error | the agent FAILED (crash control route, bad token), just before its 102 |

Nothing runs in the request path: a request only *nudges* the notifier. Its background task
then sweeps the store for lifecycle instants between the last sweep and now (on the sandbox
clock, so advancing the clock makes an idle exit or a token expiry happen, and the sweep notices
it), emits one event per instant, and delivers each to every webhook. The task also wakes every
`SWEEP_TICK_S` to notice what time alone changed. An instant is keyed by agent, kind and time,
so overlapping sweeps never emit it twice.

Delivery is at-least-once: an answer other than 200 (or none within `ATTEMPT_TIMEOUT_S`) is
retried, at once and then after `RETRY_DELAYS_S`, with the same `noticeId` (a receiver
deduplicates on it) and a fresh `notifyMs`, hence a fresh signature, as the real service does.
After the last attempt the delivery is dropped and counted. Webhooks given at start-up
(`SandboxConfig.webhooks`) survive `/_sandbox/reset`; those added by the control route do not.

The Platform sandbox's sessions (`platform/sessions.py`) are swept the same way: 1001 session
state changed (RUNNING, STOPPED, FAILED, with `status`) and 1003 session error (with a FAILED
1001). 1101 (RTC token expiring) is not sent: the Platform sandbox does not model a session
token's expiry. Other code may call :meth:`Notifier.emit` with any event type and payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .core import Sandbox
from .lifecycle import (
    MSG_IDLE,
    MSG_LEAVE,
    MSG_MAX_RUNTIME,
    MSG_TOKEN,
    TERMINAL,
    exit_event,
    view,
)
from .platform.store import PlatformStore
from .store import AgentRecord

#: `productId` of the Conversational AI Engine's notifications.
PRODUCT_ID = 17
EVENT_JOINED = 101
EVENT_LEFT = 102
EVENT_EXPIRE = 104
EVENT_ERROR = 110
EVENT_SESSION_STATE = 1001
EVENT_SESSION_ERROR = 1003
#: How long before a token expires the agent raises 104.
TOKEN_WARNING_S = 30.0
#: Retries after the first attempt: at once, then after these many seconds (4 attempts in all).
RETRY_DELAYS_S = (0.0, 1.0, 3.0)
#: How long one attempt waits for the receiver's answer.
ATTEMPT_TIMEOUT_S = 10.0
#: The background task sweeps at least this often (real seconds) while a webhook is configured.
SWEEP_TICK_S = 0.2
#: Sweeps look this far (sandbox seconds) behind the last one, to catch an instant written by
#: a request that raced it; the keys of emitted instants make that harmless.
SWEEP_SLACK_S = 5.0
#: Deliveries in flight at once.
MAX_IN_FLIGHT = 32
#: Deliveries remembered for `GET /_sandbox/webhooks`.
DELIVERY_LOG_SIZE = 1000


def signature_headers(secret: str, body: bytes) -> dict[str, str]:
    """The two signature headers of a notification body (HMAC of the raw bytes, hex)."""
    key = secret.encode("utf-8")
    return {
        "Agora-Signature": hmac.new(key, body, hashlib.sha1).hexdigest(),
        "Agora-Signature-V2": hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def check_app_id(app_id: Any) -> str | None:
    """Validate a webhook's App ID (absent: every App ID's events; else a non-empty string)."""
    if app_id is None:
        return None
    if not isinstance(app_id, str) or not app_id:
        raise ValueError("app_id must be a non-empty string (or absent: every App ID)")
    return app_id


def check_webhook(url: Any, secret: Any) -> tuple[str, str]:
    """Validate a webhook's URL (http or https, with a host) and secret (a non-empty string)."""
    if not isinstance(url, str) or not url:
        raise ValueError("url must be a non-empty string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http:// or https:// URL with a host")
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty string")
    return url, secret


@dataclass(frozen=True)
class Webhook:
    """A receiver of notifications; `fixed` ones came with the start-up configuration.

    A real webhook is a project's: it receives the events of one App ID. One with `app_id`
    None receives those of every App ID the sandbox serves."""

    id: int
    url: str
    secret: str = field(repr=False)
    fixed: bool = False
    app_id: str | None = None

    def wants(self, app_id: str) -> bool:
        """Whether the events of `app_id` go to this webhook."""
        return self.app_id is None or self.app_id == app_id

    def public(self) -> dict[str, Any]:
        """What the control route shows (never the secret)."""
        return {"id": self.id, "url": self.url, "fixed": self.fixed, "app_id": self.app_id}


@dataclass
class Delivery:
    """One event on its way to one webhook."""

    webhook: Webhook
    envelope: dict[str, Any]
    attempts: int = 0
    due: float = 0.0
    last_status: int | str | None = None
    delivered: bool = False
    dropped: bool = False

    def public(self) -> dict[str, Any]:
        """The delivery log entry."""
        return {
            "webhook": self.webhook.id,
            "url": self.webhook.url,
            "noticeId": self.envelope["noticeId"],
            "eventType": self.envelope["eventType"],
            "payload": self.envelope["payload"],
            "attempts": self.attempts,
            "last_status": self.last_status,
            "delivered": self.delivered,
            "dropped": self.dropped,
        }


def _exit_reason(record: AgentRecord, status: str) -> str:
    """A stable code for why an agent ended (102's `reason`)."""
    if status == "FAILED":
        return "failed"
    message = exit_event(record).message
    if message == MSG_LEAVE:
        return "leave"
    if message == MSG_TOKEN:
        return "token_expired"
    if message == MSG_IDLE.format(secs=record.idle_timeout):
        return "idle_timeout"
    if message == MSG_MAX_RUNTIME.format(hours=record.max_runtime_s / 3600):
        return "max_runtime"
    return "stopped"


class Notifier:
    """Detects lifecycle changes of a sandbox and delivers them to its webhooks."""

    def __init__(
        self,
        sb: Sandbox,
        webhooks: tuple[tuple[str, str], ...] = (),
        webhooks_app_id: str | None = None,
    ) -> None:
        self.sb = sb
        self._next_id = 0
        self.webhooks: list[Webhook] = []
        self._epoch = sb.epoch
        self._watermark = sb.now()
        self._floor = self._watermark
        """Instants at or before this are never sent (before the first webhook, or a reset)."""
        self._emitted: dict[tuple[str, int, float], float] = {}
        self._queue: deque[Delivery] = deque()
        self.log: deque[Delivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        self.stats = {"emitted": 0, "delivered": 0, "failed_attempts": 0, "dropped": 0}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._closing = False
        for url, secret in webhooks:
            self.add(url, secret, fixed=True, app_id=webhooks_app_id)

    # -- configuration -------------------------------------------------------------------------

    def _sync_epoch(self) -> bool:
        """After `/_sandbox/reset`: a new world, nothing of the old one is sent (True then)."""
        if self.sb.epoch == self._epoch:
            return False
        self._epoch = self.sb.epoch
        self._emitted.clear()
        self.remove_added()
        self._queue.clear()
        self._watermark = self._floor = self.sb.now()
        return True

    def add(
        self, url: str, secret: str, *, fixed: bool = False, app_id: str | None = None
    ) -> Webhook:
        """Deliver every later event (of `app_id` only, when given) to `url` too, signed with
        `secret`."""
        url, secret = check_webhook(url, secret)
        app_id = check_app_id(app_id)
        self._sync_epoch()
        if not self.webhooks:  # nothing from before the first webhook is sent
            self._watermark = self._floor = self.sb.now()
        self._next_id += 1
        hook = Webhook(self._next_id, url, secret, fixed, app_id)
        self.webhooks.append(hook)
        return hook

    def remove_added(self) -> None:
        """Forget the webhooks added at run time and what is queued for them."""
        self.webhooks = [hook for hook in self.webhooks if hook.fixed]
        self._queue = deque(d for d in self._queue if d.webhook.fixed)

    def view(self) -> dict[str, Any]:
        """Webhooks (without secrets), counters and the recent deliveries."""
        return {
            "webhooks": [hook.public() for hook in self.webhooks],
            "stats": dict(self.stats, queued=len(self._queue)),
            "deliveries": [d.public() for d in self.log],
        }

    # -- events --------------------------------------------------------------------------------

    def emit(
        self, event_type: int, payload: dict[str, Any], *, sid: str = "", app_id: str | None = None
    ) -> str | None:
        """Queue one event for every webhook of `app_id` (None: for every webhook); returns its
        noticeId (None when no webhook wants it)."""
        hooks = [h for h in self.webhooks if app_id is None or h.wants(app_id)]
        if not hooks:
            return None
        notice_id = f"{uuid.uuid4()}"
        envelope = {
            "noticeId": notice_id,
            "productId": PRODUCT_ID,
            "eventType": event_type,
            "notifyMs": 0,
            "sid": sid,
            "payload": payload,
        }
        self.stats["emitted"] += 1
        for hook in hooks:
            delivery = Delivery(hook, envelope)
            self._queue.append(delivery)
            self.log.append(delivery)
        self.nudge()
        return notice_id

    def sweep(self) -> None:
        """Emit the lifecycle instants between the last sweep and now (see the module doc)."""
        sb = self.sb
        sb.clock.refresh()
        now = sb.now()
        if self._sync_epoch():
            return
        if not self.webhooks:
            self._watermark = self._floor = now
            return
        low = max(min(self._watermark, now) - SWEEP_SLACK_S, self._floor - 1.0)

        def due(instant: float) -> bool:
            return low < instant <= now and instant >= self._floor

        found: list[tuple[float, int, AgentRecord]] = []
        for app_id, agent_id, running_at, terminal_at, token_at in sb.store.lifecycle_between(
            low, now, TOKEN_WARNING_S
        ):
            # the slack reads instants of earlier sweeps again: skip an agent whose instants
            # in range were all sent, without reading its record
            ident = f"{app_id}/{agent_id}"
            pending = [
                (ident, kind, at)
                for kind, at in (
                    (EVENT_JOINED, running_at),
                    (EVENT_LEFT, terminal_at),
                    (EVENT_EXPIRE, None if token_at is None else token_at - TOKEN_WARNING_S),
                )
                if at is not None and due(at)
            ]
            if all(key in self._emitted for key in pending):
                continue
            record = sb.store.get(app_id, agent_id)
            if record is None:
                continue
            if due(record.running_at) and view(record, record.running_at).active:
                found.append((record.running_at, EVENT_JOINED, record))
            if due(record.terminal_at):
                if view(record, record.terminal_at).status == "FAILED":
                    found.append((record.terminal_at, EVENT_ERROR, record))
                found.append((record.terminal_at, EVENT_LEFT, record))
            if record.token_expires_at is not None:
                warn_at = record.token_expires_at - TOKEN_WARNING_S
                if due(warn_at) and view(record, warn_at).status not in (
                    *TERMINAL,
                    "STOPPING",
                ):
                    found.append((warn_at, EVENT_EXPIRE, record))
        found.sort(key=lambda item: (item[0], item[1]))
        events = [
            (at, kind, f"{r.app_id}/{r.agent_id}", r.agent_id, self._payload(kind, r, at))
            for at, kind, r in found
            if (f"{r.app_id}/{r.agent_id}", kind, at) not in self._emitted
        ]
        events += self._session_events(due)
        for at, kind, ident, sid, payload in sorted(events, key=lambda e: (e[0], e[1])):
            if (ident, kind, at) in self._emitted:
                continue
            self._emitted[(ident, kind, at)] = at
            app_id = ident.split("/", 1)[0]  # every key starts with its App ID
            self.emit(kind, payload, sid=sid, app_id=app_id)
        self._watermark = max(self._watermark, now)
        horizon = self._watermark - 2 * SWEEP_SLACK_S
        for key in [k for k, at in self._emitted.items() if at < horizon]:
            del self._emitted[key]

    def _session_events(
        self, due: Callable[[float], bool]
    ) -> list[tuple[float, int, str, str, dict[str, Any]]]:
        """The Platform sessions' 1001 (state changed: RUNNING, STOPPED, FAILED) and 1003
        (session error, with 1001 FAILED) due now."""
        settings = self.sb.settings
        events: list[tuple[float, int, str, str, dict[str, Any]]] = []
        for resource in PlatformStore(self.sb.store).scan(None, "session"):
            body = resource.body
            failed_at, stop = body.get("failed_at"), body.get("stop_requested_at")
            running_at = resource.create_ts + settings.start_delay_s
            ended: list[tuple[float, str]] = []
            if failed_at is not None:
                ended.append((float(failed_at), "FAILED"))
            if stop is not None:
                ended.append((float(stop) + settings.stop_delay_s, "STOPPED"))
            end = min(ended) if ended else None
            base = {
                "agent_session_id": resource.id,
                "agent_id": body.get("agent_id"),
                "agent_name": body.get("agent_name"),
                "start_ts": int(resource.create_ts),
            }
            ident = f"{resource.app_id}/session/{resource.id}"
            if due(running_at) and (end is None or end[0] >= running_at):
                payload = dict(base, status="RUNNING")
                key = f"{ident}/RUNNING"  # a state per key: a start and a failure may coincide
                events.append((running_at, EVENT_SESSION_STATE, key, resource.id, payload))
            if end is not None and due(end[0]):
                at, status = end
                payload = dict(base, status=status, stop_ts=int(at), message=body.get("message"))
                events.append((at, EVENT_SESSION_STATE, f"{ident}/{status}", resource.id, payload))
                if status == "FAILED":
                    error = dict(base, message=body.get("message"))
                    events.append((at, EVENT_SESSION_ERROR, ident, resource.id, error))
        return events

    def _payload(self, kind: int, record: AgentRecord, at: float) -> dict[str, Any]:
        props = record.properties_obj()
        payload: dict[str, Any] = {
            "agent_id": record.agent_id,
            "name": record.name,
            "channel": record.channel,
            "start_ts": int(record.created_at),
        }
        if kind == EVENT_JOINED:
            payload["status"] = "RUNNING"
        elif kind == EVENT_LEFT:
            state = view(record, at)
            payload.update(
                stop_ts=int(at),
                status=state.status,
                reason=_exit_reason(record, state.status),
                message=state.message,
            )
        elif kind == EVENT_ERROR:
            state = view(record, at)
            payload.update(module="agent", message=state.message, send_ts=int(at))
        elif kind == EVENT_EXPIRE:
            payload["expire_ts"] = int(record.token_expires_at or at)
        labels = props.get("labels")
        if isinstance(labels, dict) and labels:
            payload["labels"] = labels
        return payload

    # -- the background task -------------------------------------------------------------------

    def nudge(self) -> None:
        """Something may have changed: sweep and deliver soon (never in the caller's path)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._closing:
            return
        if self._task is None or self._task.done() or self._loop is not loop:
            if not self.webhooks and not self._queue:
                self._watermark = self._floor = self.sb.now()
                return
            self._loop = loop
            self._wake = asyncio.Event()
            self._client = None
            self._task = loop.create_task(self._run(), name="sandbox-ncs")
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        self._client = httpx.AsyncClient(timeout=ATTEMPT_TIMEOUT_S)
        try:
            while not self._closing:
                wake.clear()
                # a failed sweep (e.g. a store locked by another process) must not end delivery
                with contextlib.suppress(Exception):
                    self.sweep()
                wait = SWEEP_TICK_S if self.webhooks else None
                now = time.monotonic()
                for delivery in list(self._queue):
                    if len(self._in_flight) >= MAX_IN_FLIGHT:
                        break
                    if delivery.due <= now:
                        self._queue.remove(delivery)
                        task = asyncio.create_task(self._attempt(delivery))
                        self._in_flight.add(task)
                        task.add_done_callback(self._in_flight.discard)
                    else:
                        left = delivery.due - now
                        wait = left if wait is None else min(wait, left)
                if wait is None and not self._in_flight:
                    await wake.wait()
                    continue
                waiter = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait({waiter}, timeout=wait)
                finally:
                    waiter.cancel()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()

    async def _attempt(self, delivery: Delivery) -> None:
        client = self._client
        if client is None:
            self._queue.append(delivery)
            return
        delivery.attempts += 1
        envelope = dict(delivery.envelope, notifyMs=int(self.sb.now() * 1000))
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = signature_headers(delivery.webhook.secret, body)
        headers["Content-Type"] = "application/json"
        try:
            response = await client.post(delivery.webhook.url, content=body, headers=headers)
            delivery.last_status = response.status_code
            ok = response.status_code == 200  # NCS takes a notice as received on 200 only
        except httpx.HTTPError as exc:
            delivery.last_status = type(exc).__name__
            ok = False
        if ok:
            delivery.delivered = True
            self.stats["delivered"] += 1
            return
        self.stats["failed_attempts"] += 1
        retries = delivery.attempts - 1
        if retries >= len(RETRY_DELAYS_S) or delivery.webhook not in self.webhooks:
            delivery.dropped = True
            self.stats["dropped"] += 1
            return
        delivery.due = time.monotonic() + RETRY_DELAYS_S[retries]
        self._queue.append(delivery)
        if self._wake is not None:
            self._wake.set()

    async def aclose(self) -> None:
        """Stop the background task (deliveries in flight are abandoned)."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        task, self._task = self._task, None
        for pending in [task, *self._in_flight]:
            if pending is not None and not pending.done():
                pending.cancel()
        for pending in [task, *self._in_flight]:
            if pending is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
