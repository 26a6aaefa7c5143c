"""The controller loop of ``reconciler watch``.

Every interval, at once on SIGHUP, and at once when a notification event says that one of its
agents left or failed (:meth:`Watcher.notice`, called by the listener of
:mod:`reconciler.watch.receiver`; polling stays the safety net), the leader re-reads the
settings and the manifests (a git-sync sidecar or a ``git pull`` changes what it applies),
refreshes, plans with the
journal settled (``Project.plan(resolve=True)``), and applies under the same rules as
``apply`` (``ensure_applicable``: errors such as a capacity overrun refuse the whole plan;
the journal, the channel locks and the capacity check of the executor). A standby polls the
lease instead. No error ends the loop: it is logged, the replica reports not ready, and the
next run comes after a back-off with jitter (doubling up to ten intervals, at most five
minutes unless the interval is longer).

SIGTERM or SIGINT stops the loop: while planning, the run is cancelled (nothing is written by a
plan except the settled journal, one whole write at a time); while applying, the apply is told
to stop (the calls in flight finish and are recorded, a restart whose old agent is already
stopped gets its new one), then the lease is released.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.apply import ApplyEvent, ApplyResult, apply_verdict
from reconciler.errors import (
    ApplyError,
    EngineError,
    EnvironmentChoiceError,
    PlanError,
    ReconcilerError,
    SettingsError,
    StateError,
    ValidationError,
)
from reconciler.manifests import load_settings
from reconciler.models import Settings
from reconciler.project import Project
from reconciler.project.planchecks import ensure_applicable
from reconciler.project.project import Hooks
from reconciler.state.binding import StateBinding
from reconciler.watch.heal import HealSplit, heal_only
from reconciler.watch.lease import Lease
from reconciler.watch.logs import log
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.ncs import ACTIONABLE, Notice
from reconciler.watch.receiver import HealTimer
from reconciler.watch.status import WatchStatus

__all__ = ["WatchOptions", "Watcher", "failure_reason"]

STANDBY_POLL_S = 2.0
"""The longest a standby waits between two tries of the lease."""
MAX_BACKOFF_S = 300.0


@dataclass(frozen=True)
class WatchOptions:
    directory: Path
    config: Path | None
    interval: float = 30.0
    heal_only: bool = False
    standby_poll_s: float = STANDBY_POLL_S


def failure_reason(exc: BaseException) -> str:
    """A short category for ``/readyz`` (the message itself goes to the log only)."""
    if isinstance(exc, StateError):
        return "state unreachable or refused"
    if isinstance(exc, EngineError):
        return "engine unreachable or failing"
    if isinstance(exc, ValidationError | SettingsError):
        return "manifests or settings invalid"
    if isinstance(exc, PlanError):
        return "plan cannot be applied"
    if isinstance(exc, ApplyError):
        return "actions failed"
    return "unexpected error"


def backoff_delay(interval: float, failures: int, jitter: float) -> float:
    """Seconds before the next try after ``failures`` failures in a row (``jitter`` in [0, 1))."""
    cap = max(interval, min(MAX_BACKOFF_S, interval * 10))
    base: float = min(cap, interval * 2.0 ** min(failures - 1, 20))
    return base * (0.5 + jitter / 2)


class Watcher:
    """One replica: competes for the lease and, while it leads, reconciles."""

    def __init__(
        self,
        project: Project,
        options: WatchOptions,
        *,
        metrics: WatchMetrics,
        status: WatchStatus | None = None,
        lease: Lease | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.project = project
        self.options = options
        self.metrics = metrics
        self.status = status or WatchStatus()
        self.lease = lease or Lease(project)
        self._jitter = jitter
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.phase = "idle"
        self.runs = 0
        """Reconcile runs finished (successfully or not) while leading."""
        self.owned: frozenset[str] = frozenset()
        """The agent ids the state recorded at the end of the last run (before the first run
        since this replica took the lease ends: when it began), and those the run in progress
        started (events about others are not ours)."""
        self.heal_timer = HealTimer(metrics)
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- control -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log(logging.INFO, "watch.stopping", "stop requested: finishing the calls in flight")
        self._stop.set()

    def wake(self) -> None:
        """Reconcile now (SIGHUP) instead of at the end of the interval."""
        log(logging.INFO, "watch.wake", "reconciling now (SIGHUP)")
        self._wake.set()

    def notice(self, notice: Notice) -> None:
        """An event that may need healing arrived (any thread): reconcile now."""
        loop, at = self._loop, time.monotonic()
        if loop is None:
            return  # not running (any more): the next watch polls
        try:
            loop.call_soon_threadsafe(self._on_notice, notice, at)
        except RuntimeError:  # the loop closed meanwhile (the watch is stopping)
            return

    def _on_notice(self, notice: Notice, at: float) -> None:
        if notice.agent_id is not None:
            self.heal_timer.event(notice.agent_id, at)
        what = ACTIONABLE.get(notice.event_type, str(notice.event_type))
        log(
            logging.INFO,
            "event.received",
            f"reconciling now ({what}: event {notice.event_type})",
            agent_id=notice.agent_id,
            notice_id=notice.notice_id,
        )
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def leads(self) -> bool:
        """Whether an event is this replica's to act on: it holds the lease and is not stopping
        (a stopping leader runs no reconcile any more; its listener answers as a standby, so
        that NCS resends the event to whoever leads next)."""
        return self.lease.held and not self._stop.is_set()

    async def run_with_signals(self) -> None:
        """:meth:`run`, with SIGTERM/SIGINT stopping it and SIGHUP waking it."""
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        for sig in handled[:2]:
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.wake)
        try:
            await self.run()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Lead or stand by until :meth:`request_stop`; never returns on an error."""
        failures = 0
        leading = False
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stop.is_set():
                delay = self.options.interval
                try:
                    if self.lease.try_acquire():
                        if not leading:
                            log(logging.INFO, "lease.acquired", "leading: this replica reconciles")
                            # another leader may have started or stopped agents meanwhile: the
                            # first run reads them from the state, not from this one's last run
                            self.owned = frozenset()
                        leading = True
                        self.metrics.leader.set(1)
                        await self._reconcile_until_stopped()
                        self.status.leading(True)
                    else:
                        if leading:
                            log(logging.WARNING, "lease.lost", "standing by: another replica leads")
                        leading = False
                        self.metrics.leader.set(0)
                        self.metrics.agents.clear()  # the leader reports them
                        self.status.standing_by(True, "another replica leads")
                        delay = min(self.options.interval, self.options.standby_poll_s)
                    failures = 0
                except Exception as exc:  # the loop must survive anything
                    failures += 1
                    leading = self._failed(exc, failures)
                    delay = backoff_delay(self.options.interval, failures, self._jitter())
                if leading and failures == 0:
                    await self._sleep_leading(delay)
                    leading = self.lease.held
                else:
                    await self._sleep(delay)
        finally:
            self._loop = None  # events from now on are left to polling
            self.status.stopping()
            self.lease.release()
            self.metrics.leader.set(0)
            log(logging.INFO, "watch.stopped", "stopped; lease released")

    def _failed(self, exc: Exception, failures: int) -> bool:
        """Log a failed run or lease try, update readiness; return whether still leading."""
        if isinstance(exc, StateError):
            self.lease.lost()
        reason = failure_reason(exc)
        if isinstance(exc, ReconcilerError):
            message = str(exc)
        else:
            message = f"internal error ({type(exc).__name__}); set RECONCILER_DEBUG=1 for details"
        log(logging.ERROR, "reconcile.failed", message, reason=reason, failures=failures)
        if not isinstance(exc, ReconcilerError) and os.environ.get("RECONCILER_DEBUG"):
            logging.getLogger("reconciler.watch").exception("internal error")
        leading = self.lease.held
        if leading:
            self.status.leading(False, reason)
        else:
            self.metrics.leader.set(0)
            self.status.standing_by(False, reason)
        return leading

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True when cut short by a stop request or SIGHUP."""
        if self._stop.is_set():
            return True
        stop = asyncio.create_task(self._stop.wait())
        wake = asyncio.create_task(self._wake.wait())
        try:
            done, _ = await asyncio.wait(
                {stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
            wake.cancel()
            self._wake.clear()
        return bool(done)

    async def _sleep_leading(self, seconds: float) -> None:
        """Wait ``seconds`` as leader, making sure every few seconds that the lease is held.

        A leader whose database session died (the server then gives the lock to a standby)
        steps down here rather than at its next run, so two replicas never both report
        leading for longer than one check.
        """
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or await self._sleep(min(left, self.options.standby_poll_s)):
                return
            try:
                self.lease.check()
            except StateError as exc:
                self._failed(exc, 1)
                return

    async def _reconcile_until_stopped(self) -> None:
        """One reconcile run; a stop request cancels it while it plans (see module docstring)."""
        run = asyncio.create_task(self.reconcile())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done() and self.phase != "apply":
                run.cancel()
            try:
                await run
            except asyncio.CancelledError:
                if not self._stop.is_set():
                    raise
                log(logging.INFO, "reconcile.cancelled", "stopped while planning")
        finally:
            stop.cancel()

    # -- one run -------------------------------------------------------------------------------

    def _reload_settings(self) -> None:
        project = self.project
        old = project.settings
        try:
            fresh = load_settings(
                self.options.directory,
                self.options.config,
                project.process_environ,
                old.environment,
            )
        except EnvironmentChoiceError as exc:
            if old.environment is not None or not exc.declared:
                raise
            fresh = self._same_environment(exc.declared)
        moved = fresh.state != old.state or (
            old.state_is_database and fresh.effective_state_key != old.effective_state_key
        )  # a local state has no key: only a database state moves with it
        if moved:
            raise SettingsError(
                f"the state location changed in the settings (now {fresh.state_shown}, key "
                f"{fresh.effective_state_key}); this watch keeps {old.state_shown} (key "
                f"{old.effective_state_key}): restart it to use the new one"
            )
        project.use_settings(fresh)
        # The App ID or the engine may have changed: the state is checked against the new ones
        # (a state of another App ID or engine is refused, as by every command).
        project.store.binding = StateBinding.of(fresh)

    def _same_environment(self, declared: tuple[str, ...]) -> Settings:
        """The declared environment that is what this watch works on (same engine, App ID and
        state), once environments were added to the settings while it ran (see
        docs/environments.md): it keeps working, on that environment, without a restart."""
        project, old = self.project, self.project.settings
        options = self.options
        for name in declared:
            try:
                fresh = load_settings(
                    options.directory, options.config, project.process_environ, name
                )
            except ReconcilerError:
                continue
            if (fresh.engine, fresh.app_id, fresh.state, fresh.effective_state_key) == (
                old.engine,
                old.app_id,
                old.state,
                old.effective_state_key,
            ):
                log(
                    logging.INFO,
                    "settings.environment",
                    f"the settings declare environments now; this watch works on {name} "
                    "(the same engine, App ID and state)",
                )
                return fresh
        raise SettingsError(
            f"the settings declare the environments {', '.join(declared)} now, none of them with "
            f"this watch's engine, App ID and state ({old.state_shown}); restart it with --env"
        )

    def _log_heal_only(self, split: HealSplit) -> None:
        """Log and count what --heal-only held back; log what it healed with a recorded spec."""
        for healed in split.recorded:
            rotated = (
                f"; {', '.join(healed.rotated)} take their current value (changed in the "
                "environment since; the state keeps no copy of the old one)"
                if healed.rotated
                else ""
            )
            log(
                logging.WARNING,
                "heal_only.recorded_spec",
                f"{healed.name} is down and its manifest changed: starting it with the spec it "
                f"was last applied with; the change waits for review (--heal-only){rotated}",
                agent=healed.name,
            )
        if split.held_resources:
            self.metrics.held([r.action for r in split.held_resources])
            log(
                logging.WARNING,
                "heal_only.held",
                f"{len(split.held_resources)} change(s) of the Platform's resources held for "
                "review (--heal-only): "
                + ", ".join(f"{r.action} {r.address}" for r in split.held_resources),
                held=len(split.held_resources),
            )
        if split.held:
            why = dict(split.unhealed)
            self.metrics.held([a.action for a in split.held])
            log(
                logging.WARNING,
                "heal_only.held",
                f"{len(split.held)} manifest change(s) held for review (--heal-only): "
                + ", ".join(
                    f"{a.action} {a.name}"
                    + (f" (down; not healed: {why[a.name]})" if a.name in why else "")
                    for a in split.held
                ),
                held=len(split.held),
            )

    async def reconcile(self) -> None:
        """Re-read, refresh, plan and apply once; raise on failure (the loop logs it)."""
        began = time.monotonic()
        ok = False
        try:
            await self._reconcile()
            ok = True
            self.heal_timer.run_succeeded(began, time.monotonic())
        finally:
            self.phase = "idle"
            self.runs += 1
            seconds = time.monotonic() - began
            self.metrics.run_finished(ok, seconds, time.time())

    def _applied(self, event: ApplyEvent) -> None:
        """An apply step, as the engine answers it: an agent this run started is ours from then
        on, so an event about it (it left while the run still applies) is acted on, not taken
        for another's; one it stopped is not any more (that it left is what was asked)."""
        agent_id = event.agent_id
        answered = event.status in ("answered", "done")
        if not answered or not agent_id or "/" in event.name:  # KIND/NAME: not an agent
            return
        if event.phase == "start" and agent_id not in self.owned:
            self.owned = self.owned | {agent_id}
        elif event.phase == "stop" and agent_id in self.owned:
            self.owned = self.owned - {agent_id}

    async def _reconcile(self) -> None:
        self.phase = "plan"
        self._reload_settings()
        project = self.project
        if not self.owned:  # a first run: what the state records is ours while it plans
            self.owned = frozenset(r.agent_id for r in project.store.load().agents.values())
        hooks = Hooks(
            on_event=self._applied,
            on_retry=self.metrics.retried,
            on_engine_call=self.metrics.called,
            should_stop=self._stop.is_set,
        )
        outcome = await project.plan(refresh=True, resolve=True, hooks=hooks)
        for note in outcome.notes:
            log(logging.INFO, "journal.settled", note)
        self.owned = frozenset(record.agent_id for record in outcome.state.agents.values())
        ensure_applicable(outcome.plan)
        self.metrics.observed(outcome.state, outcome.live)
        plan, desired, views = outcome.plan, outcome.desired, outcome.views
        if self.options.heal_only:
            split = heal_only(plan, desired, outcome.state)
            plan = split.plan
            desired = split.desired or desired
            views = {**views, **split.views}  # agents started with their recorded spec
            self._log_heal_only(split)
        state = outcome.state
        if plan.has_changes:
            if self._stop.is_set():
                return
            self.phase = "apply"
            summary = plan.summary
            log(
                logging.INFO,
                "apply.begin",
                f"applying {summary.changes} action(s)",
                start=summary.start,
                restart=summary.restart,
                update=summary.update,
                stop=summary.stop,
                renew_token=summary.renew_token,
                rename=summary.rename,
                forget=summary.forget,
            )
            result, state = await project.apply(
                plan, desired, state, hooks=hooks, listing=outcome.listing, views=views
            )
            self.owned = frozenset(record.agent_id for record in state.agents.values())
            self.metrics.applied(plan, result)
            done = sum(1 for r in result.results if r.ok)
            failed = [r for r in result.results if not r.ok]
            log(
                logging.INFO if not failed else logging.WARNING,
                "apply.done",
                f"{done} action(s) done, {len(failed)} failed",
                done=done,
                failed=len(failed),
                interrupted=result.interrupted,
            )
        else:
            result = ApplyResult()
        verdict = apply_verdict(result, state)
        if verdict.error is not None:
            raise ApplyError(verdict.one_line)
        changes = plan.summary.changes
        log(
            logging.INFO if changes else logging.DEBUG,
            "reconcile.done",
            "reconciled",
            changes=changes,
        )
