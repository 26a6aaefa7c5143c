"""What apply and destroy print while they run: text for people, JSON lines for machines.

Both reporters take the executor's :class:`~reconciler.apply.ApplyEvent` stream and a
:meth:`tick` once a second from the CLI's event loop:

- :class:`TextProgress` prints a line when an action begins (``sales-en: stopping...``), a
  ``still stopping... [10s elapsed]`` line every 10 s while it runs (a CI log shows that the run
  is alive), and the completion line with its duration. On a terminal, a progress bar on stderr
  counts actions (a restart is one action, done when its new agent is recorded) and shows the
  calls in flight, the calls waiting to retry and why (``2 retrying: HTTP 503``), the elapsed
  time and an estimate of the time left; it is redrawn every second.
- :class:`JsonEvents` prints one JSON object per line (``docs/apply-events.md``): ``apply_start``,
  ``action_begin``, ``action_answered``, ``action_progress``, ``action_complete``,
  ``action_failed``, ``retry``, ``note`` and ``summary``, each with a UTC timestamp, like
  Terraform's ``-json`` output, in the order things happen.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from reconciler.errors import printable
from reconciler.models.plan import STATE_ONLY_ACTIONS
from reconciler.render.jsontext import dumps

if TYPE_CHECKING:
    from reconciler.apply import ApplyEvent, ApplyResult
    from reconciler.engine import RetryEvent
    from reconciler.models import Plan

EVENTS_FORMAT_VERSION = "2.0"
"""Version of the ``--format json`` event stream; the major part changes on a break."""
_COUNTED = ("start", "update", "renew-token", "restart", "stop", "rename", "forget", "adopt")
"""The actions the summary event counts."""
_RESOURCE_COUNTED = ("create", "replace", "delete")
"""Counted too when the plan has resources (their updates are among ``update``)."""
PROGRESS_EVERY_S = 10.0
"""How often a still-running action is reported."""
_MOST_PENDING = 1000
"""Lines held back at most (see ``TextProgress.buffered``)."""

_DONE_VERB = {
    ("stop", "stop"): "stopped",
    ("restart", "stop"): "stopped (restart)",
    ("update", "update"): "updated",
    ("renew-token", "update"): "token renewed",
    ("start", "start"): "started",
    ("restart", "start"): "started (restart)",
    # Resources of other kinds (KIND/NAME): created, updated in place, replaced, deleted.
    ("create", "create"): "created",
    ("replace", "delete"): "deleted (replace)",
    ("replace", "create"): "created (replace)",
    ("delete", "delete"): "deleted",
}
_BEGIN_VERB = {
    ("stop", "stop"): "stopping",
    ("restart", "stop"): "stopping for restart",
    ("update", "update"): "updating",
    ("renew-token", "update"): "renewing token",
    ("start", "start"): "starting",
    ("restart", "start"): "starting (restart)",
    ("create", "create"): "creating",
    ("replace", "delete"): "deleting for replace",
    ("replace", "create"): "creating (replace)",
    ("delete", "delete"): "deleting",
}
_TWO_STEPS = ("restart", "replace")
"""Actions made of two engine calls (a stop or delete, then a start or create): one action,
done when its second call is."""
_FIRST_STEPS = ("stop", "delete")
"""The phases of the first call of a two-step action."""


def engine_actions(plan: Plan) -> int:
    """Actions the plan carries out on the engine, resources' included: the progress bar's
    unit (a restart or a replace is one)."""
    return len(_engine_actions(plan))


def engine_steps(plan: Plan) -> int:
    """Engine calls the plan makes: one per action, two for a restart (its stop and start) or
    a replace (its delete and create)."""
    return sum(2 if action in _TWO_STEPS else 1 for _, action, _ in _engine_actions(plan))


def _engine_actions(plan: Plan) -> list[tuple[str, str, str]]:
    """``(name, action, reason)`` of each action that calls the engine: agents, then
    resources (by address)."""
    agents: list[tuple[str, str, str]] = [
        (a.name, a.action, a.reason)
        for a in plan.agents
        if a.action != "no-op" and a.action not in STATE_ONLY_ACTIONS
    ]
    agents.extend((r.address, r.action, r.reason) for r in plan.resources if r.action != "no-op")
    return agents


def _verb(table: dict[tuple[str, str], str], action: str, phase: str) -> str:
    """The words of a step: by its action and phase; an action of its own words otherwise."""
    return table.get((action, phase), action)


class _Running:
    """The actions in progress and when each began, for the still-running lines."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.since: dict[tuple[str, str], tuple[float, str, int]] = {}

    def begin(self, event: ApplyEvent) -> None:
        self.since[(event.name, event.phase)] = (self.clock(), event.action, 0)

    def end(self, event: ApplyEvent) -> None:
        self.since.pop((event.name, event.phase), None)

    def __len__(self) -> int:
        return len(self.since)

    def due(self) -> list[tuple[str, str, str, float]]:
        """(name, action, phase, elapsed) of each action due for a still-running report."""
        now = self.clock()
        out = []
        for (name, phase), (began, action, reported) in sorted(self.since.items()):
            elapsed = now - began
            if elapsed >= (reported + 1) * PROGRESS_EVERY_S:
                self.since[(name, phase)] = (began, action, int(elapsed // PROGRESS_EVERY_S))
                out.append((name, action, phase, elapsed))
        return out


def finishes_action(event: ApplyEvent, *, wait: bool = False) -> bool:
    """Whether ``event`` ends its action: a failure, or the success of its last phase (a
    restart's start; the stop of a restart is half of it; with ``wait``, a start ends when its
    agent is up)."""
    if event.status == "failed":
        return True
    if event.status != "done" or (event.action in _TWO_STEPS and event.phase in _FIRST_STEPS):
        return False
    return not (wait and event.phase == "start" and event.action in ("start", "restart"))


def clock_text(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    s = max(0, int(seconds))
    hours, rest = divmod(s, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Retries:
    """The calls waiting to retry now (a retry's wait ends when its next attempt is sent)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.waits: list[tuple[float, str]] = []
        self.total = 0

    def add(self, event: RetryEvent) -> None:
        self.total += 1
        self.waits.append((self.clock() + event.delay_s, _short_cause(event)))

    def now(self) -> tuple[int, str]:
        """How many calls wait to retry, and the most frequent cause among them."""
        at = self.clock()
        self.waits = [(until, cause) for until, cause in self.waits if until > at]
        if not self.waits:
            return 0, ""
        causes = [cause for _, cause in self.waits]
        return len(causes), max(sorted(set(causes)), key=causes.count)


def _short_cause(event: RetryEvent) -> str:
    return f"HTTP {event.status}" if event.status else event.cause


class TextProgress:
    """Lines on stdout per action; a progress bar on stderr when ``bar`` (a terminal)."""

    def __init__(
        self,
        total_actions: int,
        *,
        color: bool,
        bar: bool,
        wait: bool = False,
        clock: Callable[[], float] = time.monotonic,
        buffered: bool = False,
    ) -> None:
        self.total = max(total_actions, 1)
        self.buffered = buffered
        """Lines written in one turn of the event loop go out together at its end, in one
        write, not in a write each: for output that is not a terminal (a CI log, a pipe), where
        a write per line (unbuffered, as under ``PYTHONUNBUFFERED``) woke the reader twice per
        agent. No line waits longer than the turn that printed it (a script reading the output
        acts on it as it happens)."""
        self._pending: list[str] = []
        self.wait = wait
        self.waiting = 0
        self.done = 0
        self.failed = 0
        self.color = color
        self.bar = bar
        self.clock = clock
        self.began = clock()
        self.running = _Running(clock)
        self.retries = _Retries(clock)

    def __call__(self, event: ApplyEvent) -> None:
        if event.status == "answered":
            self.running.end(event)
            self._draw()
            return
        if event.phase == "wait":
            self.waiting += {"begin": 1, "done": -1, "failed": -1}.get(event.status, 0)
        if event.status == "begin" and event.phase == "wait":
            self._draw()  # the bar says that the run waits; no line per agent
            return
        if event.status == "begin":
            self.running.begin(event)
            verb = _verb(_BEGIN_VERB, event.action, event.phase)
            self._line(f"{event.name}: {verb}...")
            return
        if finishes_action(event, wait=self.wait):
            self.done += 1
        if event.status == "failed":
            self.running.end(event)
            self.failed += 1
            self._line(f"{event.name}: FAILED: {event.message}", "red")
        elif event.status == "done" and event.phase == "wait":
            self._line(f"{event.name}: {event.message} (waited {event.duration_s:.1f}s)", "green")
        elif event.status == "done":
            self.running.end(event)
            verb = _verb(_DONE_VERB, event.action, event.phase)
            agent = f" [{event.agent_id}]" if event.agent_id else ""
            extra = f"; {event.message}" if event.message else ""
            self._line(f"{event.name}: {verb}{agent} after {event.duration_s:.1f}s{extra}", "green")
        else:
            self._line(f"{event.name}: {event.message}")

    def retry(self, event: RetryEvent, report: Callable[[RetryEvent], None]) -> None:
        """A call is about to be retried: counted on the bar; ``report`` may print a line."""
        self.retries.add(event)
        self._clear()
        self.flush()  # the lines before it first, should both streams go to one log
        report(event)
        self._draw()

    def tick(self) -> None:
        """Report actions that have been running for another ``PROGRESS_EVERY_S``; redraw."""
        for name, action, phase, elapsed in self.running.due():
            verb = _verb(_BEGIN_VERB, action, phase)
            self._line(f"{name}: still {verb}... [{int(elapsed)}s elapsed]")
        self.flush()
        self._draw()

    def finish(self, result: ApplyResult, summary: str, elapsed_s: float) -> None:
        self._clear()
        self.flush()
        click.echo("")
        click.echo(f"{summary} ({elapsed_s:.1f}s)")

    def _line(self, text: str, fg: str | None = None) -> None:
        self._clear()
        text = printable(text)
        if self.buffered:  # as click.echo writes it to a stream that is not a terminal
            self._pending.append(text + "\n")
            if len(self._pending) == 1:
                _at_end_of_turn(self.flush)
            elif len(self._pending) >= _MOST_PENDING:
                self.flush()
        else:
            click.echo(click.style(text, fg=fg) if self.color and fg else text)
        self._draw()

    def flush(self) -> None:
        """Write the lines held back (see :attr:`buffered`), in one write."""
        if self._pending:
            text, self._pending = "".join(self._pending), []
            sys.stdout.write(text)
            sys.stdout.flush()

    def _clear(self) -> None:
        if self.bar:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def status_line(self) -> str:
        """The bar: actions done of all, calls in flight, retries waiting, elapsed, ETA."""
        width = 24
        done = min(self.done, self.total)
        filled = int(width * done / self.total)
        elapsed = self.clock() - self.began
        parts = [f"[{'#' * filled}{'-' * (width - filled)}] {done}/{self.total} actions"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if len(self.running):
            parts.append(f"{len(self.running)} in flight")
        if self.waiting:
            parts.append(f"{self.waiting} starting (not yet RUNNING)")
        waiting, cause = self.retries.now()
        if waiting:
            parts.append(f"{waiting} retrying: {cause}")
        parts.append(f"elapsed {clock_text(elapsed)}")
        if 0 < done < self.total:
            parts.append(f"ETA {clock_text(elapsed / done * (self.total - done))}")
        return "  ".join(parts)

    def _draw(self) -> None:
        if not self.bar:
            return
        sys.stderr.write("\r\033[K" + self.status_line())
        sys.stderr.flush()


def _at_end_of_turn(work: Callable[[], None]) -> None:
    """Run ``work`` once the event loop's current turn is over (at once outside a loop)."""
    try:
        asyncio.get_running_loop().call_soon(work)
    except RuntimeError:  # no running loop
        work()


class JsonEvents:
    """One JSON object per line on stdout: the machine-readable apply (and destroy) stream."""

    def __init__(
        self,
        plan: Plan,
        command: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.wall = wall
        self.running = _Running(clock)
        self.reasons = {a.name: a.reason for a in plan.agents}
        self.reasons.update((r.address, r.reason) for r in plan.resources)
        self.counted = _COUNTED + (_RESOURCE_COUNTED if plan.resources else ())
        self.plan = plan
        self.command = command

    def start(self) -> None:
        """The ``apply_start`` event: said once the run handles Ctrl-C itself, so a stream
        that has begun always ends with its ``summary``."""
        plan, command = self.plan, self.command
        self._emit(
            "apply_start",
            format_version=EVENTS_FORMAT_VERSION,
            command=command,
            engine=plan.engine,
            app_id=plan.app_id,
            lineage=plan.lineage,
            serial=plan.serial,
            steps=engine_steps(plan),
            actions=[
                *(
                    {"name": a.name, "action": a.action, "reason": a.reason}
                    for a in plan.agents
                    if a.action != "no-op"
                ),
                *(
                    {"name": r.address, "action": r.action, "reason": r.reason}
                    for r in plan.resources
                    if r.action != "no-op"
                ),
            ],
        )

    def __call__(self, event: ApplyEvent) -> None:
        base = {
            "name": event.name,
            "action": event.action,
            "phase": event.phase,
            "reason": self.reasons.get(event.name, ""),
            "agent_id": event.agent_id,
        }
        if event.status == "begin":
            self.running.begin(event)
            self._emit("action_begin", **base)
        elif event.status == "answered":
            self.running.end(event)
            self._emit("action_answered", **base)
        elif event.status in ("done", "failed"):
            self.running.end(event)
            kind = "action_complete" if event.status == "done" else "action_failed"
            self._emit(kind, **base, duration_s=round(event.duration_s, 3), message=event.message)
        else:
            self._emit("note", **base, message=event.message)

    def retry(self, event: RetryEvent, report: Callable[[RetryEvent], None]) -> None:
        """A call is about to be retried: a ``retry`` event (``report`` prints on stderr)."""
        report(event)
        self._emit(
            "retry",
            operation=event.operation,
            attempt=event.attempt,
            max_attempts=event.max_attempts,
            delay_s=round(event.delay_s, 3),
            cause=event.cause,
            status=event.status or None,
        )

    def tick(self) -> None:
        for name, action, phase, elapsed in self.running.due():
            self._emit(
                "action_progress",
                name=name,
                action=action,
                phase=phase,
                reason=self.reasons.get(name, ""),
                elapsed_s=round(elapsed, 1),
            )

    def finish(self, result: ApplyResult, summary: str, elapsed_s: float) -> None:
        counts = {action: result.count(action) for action in self.counted}
        self._emit(
            "summary",
            ok=result.ok,
            counts=counts,
            failed=[
                {
                    "name": r.name,
                    "action": r.action,
                    "reason": r.reason,
                    "detail": r.detail,
                    "reached_engine": r.reached_engine,
                }
                for r in result.failed
            ],
            left_stopped=list(result.left_stopped),
            not_attempted=list(result.not_attempted),
            interrupted=result.interrupted,
            duration_s=round(elapsed_s, 3),
            message=summary,
        )

    def _emit(self, kind: str, **fields: Any) -> None:
        stamp = datetime.fromtimestamp(self.wall(), tz=timezone.utc)
        record = {"type": kind, "timestamp": stamp.isoformat(timespec="milliseconds"), **fields}
        record["timestamp"] = record["timestamp"].replace("+00:00", "Z")
        click.echo(dumps(record, separators=(",", ":")))
