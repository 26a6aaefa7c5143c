"""The Prometheus metrics of a watch process, in a registry of its own.

Every name starts with ``reconciler_watch_``; labels carry only action kinds, outcomes and
engine statuses, never an agent's spec or any value from the manifests, so nothing secret can
reach them. An event's type is a label value only when Agora documents it
(:data:`~reconciler.watch.ncs.EVENT_TYPES`); any other number a signed body carries counts as
``other``, so a sender cannot make a series per integer. ``prometheus-client`` is imported here
only (the ``watch`` command is the only one that loads this module).
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reconciler.apply import ApplyResult
from reconciler.engine import RetryEvent
from reconciler.models import LiveStatus, Plan, StateDoc
from reconciler.models.live import STATUS_CODES
from reconciler.watch.ncs import EVENT_TYPES

__all__ = ["WatchMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MISSING = "MISSING"
"""The status of a recorded agent the engine does not know (any more)."""
OTHER_EVENT = "other"
"""The ``event_type`` label of every event type Agora does not document, and the ``status``
label of every engine status it does not document."""


def event_type_label(event_type: int | None) -> str:
    """The ``event_type`` label of ``event_type``: its number when it is a documented type,
    else :data:`OTHER_EVENT` (the label's values stay bounded whatever a sender puts there).
    None (an event of another Agora product) is :data:`OTHER_EVENT` too."""
    return str(event_type) if event_type in EVENT_TYPES else OTHER_EVENT


def status_label(status: str) -> str:
    """The ``status`` label of an engine status: its name when the engine documents it (or
    ``MISSING``), else ``other`` (whatever text an engine sends cannot grow the label)."""
    return status if status in STATUS_CODES or status == MISSING else OTHER_EVENT


class WatchMetrics:
    """Reconcile runs and durations, actions, agents by status, leadership, last success."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The families are registered (and so exposed) in this order.
        self._reconcile_families()
        self._engine_families()
        self._replica_families()
        self._event_families()

    def _reconcile_families(self) -> None:
        """Reconcile runs by outcome, their duration, the actions applied, agents by status."""
        self.runs = Counter(
            "reconciler_watch_reconcile_runs",
            "Reconcile runs by outcome (ok, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "reconciler_watch_reconcile_duration_seconds",
            "Duration of a reconcile run (plan and apply).",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.actions = Counter(
            "reconciler_watch_actions",
            "Actions applied, by kind (start, restart, ...) and outcome (ok, failed, "
            "not_attempted, held).",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.agents = Gauge(
            "reconciler_watch_agents",
            "Recorded agents by the engine's status at the last refresh (MISSING: unknown to "
            "the engine; other: a status the engine does not document).",
            ["status"],
            registry=self.registry,
        )
        for outcome in ("ok", "error"):
            self.runs.labels(outcome=outcome)

    def _engine_families(self) -> None:
        """Engine calls and retries, by route and HTTP status."""
        self.engine_calls = Counter(
            "reconciler_watch_engine_calls",
            "Engine calls (every attempt), by route (join, leave, update, get, list, turns) and "
            "HTTP status (0: no answer).",
            ["route", "status"],
            registry=self.registry,
        )
        self.engine_retries = Counter(
            "reconciler_watch_engine_retries",
            "Engine calls that failed and were tried again, by route (join, leave, update, get, "
            "list) and HTTP status (0: no answer).",
            ["route", "status"],
            registry=self.registry,
        )

    def _replica_families(self) -> None:
        """This replica's leadership, readiness and last successful run."""
        self.leader = Gauge(
            "reconciler_watch_leader",
            "1 while this replica holds the lease and reconciles, 0 on standby.",
            registry=self.registry,
        )
        self.ready = Gauge(
            "reconciler_watch_ready", "1 when /readyz answers 200.", registry=self.registry
        )
        self.last_success = Gauge(
            "reconciler_watch_last_success_timestamp_seconds",
            "Unix time of the end of the last successful reconcile run.",
            registry=self.registry,
        )

    def _event_families(self) -> None:
        """Notification events received, refused, acted on and ignored, and the time from an
        event acted on to the run that healed."""
        self.events_received = Counter(
            "reconciler_watch_events_received",
            "Notification events (NCS webhooks) with a valid signature, by event type (other: "
            "a type Agora does not document).",
            ["event_type"],
            registry=self.registry,
        )
        self.events_refused = Counter(
            "reconciler_watch_events_refused",
            "Notification events refused, by reason (missing_signature, bad_signature, "
            "no_secret, malformed, too_large); never acted on.",
            ["reason"],
            registry=self.registry,
        )
        self.events_acted = Counter(
            "reconciler_watch_events_acted",
            "Notification events that made the leader reconcile at once, by event type (other: "
            "a type Agora does not document).",
            ["event_type"],
            registry=self.registry,
        )
        self.events_ignored = Counter(
            "reconciler_watch_events_ignored",
            "Verified notification events not acted on, by reason (duplicate, standby, "
            "other_product, not_actionable, foreign).",
            ["reason"],
            registry=self.registry,
        )
        self.event_heal = Histogram(
            "reconciler_watch_event_to_healed_seconds",
            "From an event acted on to the end of the successful reconcile run that followed.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        for reason in ("missing_signature", "bad_signature"):
            self.events_refused.labels(reason=reason)

    def run_finished(self, ok: bool, seconds: float, now: float) -> None:
        self.runs.labels(outcome="ok" if ok else "error").inc()
        self.duration.observe(seconds)
        if ok:
            self.last_success.set(now)

    def applied(self, plan: Plan, result: ApplyResult) -> None:
        for action in result.results:
            self.actions.labels(action=action.action, outcome="ok" if action.ok else "failed").inc()
        for name in result.not_attempted:
            planned = plan.agent(name)
            kind = planned.action if planned is not None else "unknown"
            self.actions.labels(action=kind, outcome="not_attempted").inc()

    def called(self, route: str, status: int) -> None:
        """The engine client's response hook: one attempt of ``route`` answered ``status``."""
        self.engine_calls.labels(route=route, status=str(status)).inc()

    def retried(self, event: RetryEvent) -> None:
        """The engine client's retry hook."""
        self.engine_retries.labels(route=event.operation, status=str(event.status)).inc()

    def held(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.actions.labels(action=kind, outcome="held").inc()

    def observed(self, state: StateDoc, live: LiveStatus) -> None:
        """Set the agents gauge from the recorded agents and what the engine said of them."""
        if not live.refreshed:
            return
        tally: Tally[str] = Tally()
        for record in state.agents.values():
            seen = live.agents.get(record.agent_id)
            tally[status_label(seen.status) if seen is not None else MISSING] += 1
        self.agents.clear()
        for status, count in tally.items():
            self.agents.labels(status=status).set(count)

    def event_received(self, event_type: int | None) -> None:
        """A verified event of ``event_type`` arrived (None: of another Agora product)."""
        self.events_received.labels(event_type=event_type_label(event_type)).inc()

    def event_refused(self, reason: str) -> None:
        self.events_refused.labels(reason=reason).inc()

    def event_acted(self, event_type: int | None) -> None:
        """A verified event of ``event_type`` made the leader reconcile at once."""
        self.events_acted.labels(event_type=event_type_label(event_type)).inc()

    def event_ignored(self, reason: str) -> None:
        self.events_ignored.labels(reason=reason).inc()

    def event_healed(self, seconds: float) -> None:
        self.event_heal.observe(seconds)

    def exposition(self) -> bytes:
        """The text format of every metric (what ``/metrics`` answers)."""
        data: bytes = generate_latest(self.registry)
        return data
