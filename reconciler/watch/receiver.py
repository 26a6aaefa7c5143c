"""The event listener of ``watch --listen``: what happens to a POST on the NCS path.

In order, for every request (the HTTP endpoint's threads call :meth:`EventReceiver.handle`):

1. The body is read whole (at most ``MAX_BODY_BYTES``) and its signature checked with the secret
   of ``RECONCILER_NCS_SECRET`` (the environment only). A missing or bad signature, or no secret
   configured, is refused with 401, counted, logged (at most once a minute per reason, so that a
   wrong secret shows and a flood of forgeries does not flood the log), and nothing else is
   done with the body.
2. A verified body that is not a notification envelope is refused with 400 (counted).
3. Every verified notice is counted as received. A standby answers it 503 without remembering
   it (counted as ignored, ``standby``): NCS resends a notice until it gets a 200, and a resend
   that reaches the leader (or this replica once it leads) is acted on at once, where a 200
   would have left the event to polling.
4. The leader answers 200 (NCS then stops resending). It acts on the notice only when it is the
   first delivery of its ``noticeId`` (a bounded memory), the event may need healing
   (:data:`~reconciler.watch.ncs.ACTIONABLE`: agent left, token expiring) and its agent is one
   the state records (an agent id of ours): then the controller is told (``on_notice``), which
   reconciles at once. Otherwise it is counted as ignored with the reason (``duplicate``,
   ``other_product``: not a Conversational AI notification (``productId`` other than 17),
   ``not_actionable``, ``foreign``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.watch.logs import log
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.ncs import Notice, NoticeError, NoticeMemory, parse_notice, signature_problem

__all__ = ["DEFAULT_PATH", "MAX_BODY_BYTES", "SECRET_ENV", "EventReceiver", "HealTimer", "Reply"]

SECRET_ENV = "RECONCILER_NCS_SECRET"
DEFAULT_PATH = "/ncs"
MAX_BODY_BYTES = 1 << 20
NOTICE_MEMORY = 10_000
REFUSAL_LOG_EVERY_S = 60.0
"""A refused event is logged at most this often per reason (the others are counted meanwhile):
a wrong secret shows in the log, a flood of forgeries does not flood it."""
WHY_REFUSED = {
    "no_secret": f"{SECRET_ENV} is not set",
    "missing_signature": "it carries neither Agora-Signature nor Agora-Signature-V2",
    "bad_signature": f"its signature does not match the secret in {SECRET_ENV} (is it the one "
    "Agora Console shows for this project?)",
    "malformed": "it is not a notification (a JSON object with noticeId and eventType, and a "
    "Content-Length)",
    "too_large": f"its body is over {MAX_BODY_BYTES} bytes",
}


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to one event."""

    status: int
    outcome: str

    @property
    def body(self) -> bytes:
        return json.dumps({"outcome": self.outcome}).encode() + b"\n"


class EventReceiver:
    """Verifies, deduplicates and routes notification events (see the module docstring)."""

    def __init__(
        self,
        *,
        secret: str | None,
        metrics: WatchMetrics,
        is_leader: Callable[[], bool],
        owned: Callable[[], frozenset[str]],
        on_notice: Callable[[Notice], None],
        path: str = DEFAULT_PATH,
        memory: int = NOTICE_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret or None
        self.metrics = metrics
        self.path = path
        self._is_leader = is_leader
        self._owned = owned
        self._on_notice = on_notice
        self._memory = NoticeMemory(memory)
        self._lock = threading.Lock()
        self._clock = clock
        self._logged: dict[str, float] = {}
        """When a refusal was last logged, by reason."""
        self._unlogged: dict[str, int] = {}
        """Refusals counted but not logged since, by reason."""

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured (without one every event is refused)."""
        return self._secret is not None

    def refuse_malformed(self) -> Reply:
        """A request whose ``Content-Length`` is no length (not read)."""
        return self._refuse("malformed", 400)

    def refuse_oversized(self) -> Reply:
        """A body longer than ``MAX_BODY_BYTES`` (not read)."""
        return self._refuse("too_large", 413)

    def _refuse(self, reason: str, status: int) -> Reply:
        """Count a refusal, log it unless one of ``reason`` was logged less than
        :data:`REFUSAL_LOG_EVERY_S` ago, and answer ``status``."""
        self.metrics.event_refused(reason)
        now = self._clock()
        with self._lock:
            last = self._logged.get(reason)
            if last is not None and now - last < REFUSAL_LOG_EVERY_S:
                self._unlogged[reason] = self._unlogged.get(reason, 0) + 1
                return Reply(status, "refused")
            self._logged[reason] = now
            more = self._unlogged.pop(reason, 0)
        since = f" ({more} more since the last such line)" if more else ""
        log(
            logging.WARNING,
            "event.refused",
            f"a notification event was refused with {status}: {WHY_REFUSED[reason]}{since}; "
            "until events are accepted, polling alone heals",
            reason=reason,
            status=status,
        )
        return Reply(status, "refused")

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Answer one POST (``headers`` keyed in lower case); see the module docstring."""
        if self._secret is None:
            return self._refuse("no_secret", 401)
        problem = signature_problem(self._secret, body, headers)
        if problem is not None:
            return self._refuse(problem, 401)
        try:
            notice = parse_notice(body)
        except NoticeError:
            return self._refuse("malformed", 400)
        self.metrics.event_received(notice.documented_type)
        if not self._is_leader():  # not remembered: NCS resends it, the leader acts on that
            self.metrics.event_ignored("standby")
            return Reply(503, "standby")
        with self._lock:
            first = self._memory.first_time(notice.notice_id)
        outcome = self._route(notice, first)
        if outcome == "acted":
            self.metrics.event_acted(notice.documented_type)
            self._on_notice(notice)
        else:
            self.metrics.event_ignored(outcome)
        return Reply(200, outcome)

    def _route(self, notice: Notice, first: bool) -> str:
        if not first:
            return "duplicate"
        if not notice.conversational_ai:
            return "other_product"
        if not notice.actionable:
            return "not_actionable"
        if notice.agent_id is None or notice.agent_id not in self._owned():
            return "foreign"
        return "acted"


class HealTimer:
    """Event-to-healed time: from an event acted on to the end of the first successful reconcile
    run that began after it (the run that saw what the event announced)."""

    def __init__(self, metrics: WatchMetrics) -> None:
        self.metrics = metrics
        self._pending: dict[str, float] = {}

    def event(self, agent_id: str, at: float) -> None:
        """An event about ``agent_id`` was acted on at ``at`` (monotonic seconds)."""
        self._pending.setdefault(agent_id, at)

    def run_succeeded(self, began: float, ended: float) -> None:
        """A reconcile run from ``began`` to ``ended`` succeeded."""
        for agent_id, at in list(self._pending.items()):
            if at <= began:
                self.metrics.event_healed(ended - at)
                del self._pending[agent_id]
