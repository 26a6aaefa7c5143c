"""The controller against the in-process sandbox: one run, heal-only, errors that never stop
the loop, and the local lease."""

from __future__ import annotations

import asyncio
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyEvent
from reconciler.errors import LockHeldError, SettingsError, StateBindingError, StateError
from reconciler.project import Project
from reconciler.project.project import Hooks
from reconciler.watch.controller import Watcher, WatchOptions
from reconciler.watch.lease import Lease
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.ncs import Notice
from reconciler.watch.receiver import EventReceiver
from tests.watch.test_events import SECRET, signed
from tests.watch.test_events import event as ncs_event
from tests.watch.waiting import until

ROOT = Path(__file__).resolve().parents[2]
ENV = {"OPENAI_API_KEY": "sk-watch-test"}


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    shutil.copy(ROOT / "tests" / "single_environment.yaml", tmp_path / "reconciler.yaml")
    return tmp_path


def _watcher(directory: Path, *, heal_only: bool = False, interval: float = 30.0) -> Watcher:
    project = Project.open(directory, None, ENV)
    options = WatchOptions(directory=directory, config=None, interval=interval, heal_only=heal_only)
    return Watcher(project, options, metrics=WatchMetrics(), jitter=lambda: 0.0)


def _add_manifest(directory: Path, name: str) -> None:
    text = (directory / "agents.d" / "support-en.yaml").read_text(encoding="utf-8")
    text = text.replace("support-en", name).replace('"1001"', '"1777"')
    (directory / "agents.d" / f"{name}.yaml").write_text(text, encoding="utf-8")


def _sample(watcher: Watcher, name: str, **labels: str) -> float:
    value = watcher.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_one_run_starts_every_manifest_and_counts_the_actions(directory: Path) -> None:
    watcher = _watcher(directory)
    asyncio.run(watcher.reconcile())
    state = watcher.project.store.load()
    assert sorted(state.agents) == ["concierge", "sales-en", "support-en"]
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="ok") == 3
    assert _sample(watcher, "reconciler_watch_reconcile_runs_total", outcome="ok") == 1
    calls = "reconciler_watch_engine_calls_total"
    assert _sample(watcher, calls, route="join", status="200") == 3
    assert _sample(watcher, calls, route="list", status="200") >= 1


def test_a_run_rereads_the_manifests(directory: Path) -> None:
    watcher = _watcher(directory)
    asyncio.run(watcher.reconcile())
    _add_manifest(directory, "support-de")
    asyncio.run(watcher.reconcile())
    assert "support-de" in watcher.project.store.load().agents


def test_heal_only_does_not_start_a_new_manifest(directory: Path) -> None:
    asyncio.run(_watcher(directory).reconcile())
    _add_manifest(directory, "support-de")
    watcher = _watcher(directory, heal_only=True)
    asyncio.run(watcher.reconcile())
    assert "support-de" not in watcher.project.store.load().agents
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="held") == 1


def test_heal_only_keeps_a_removed_manifest_running(directory: Path) -> None:
    asyncio.run(_watcher(directory).reconcile())
    (directory / "agents.d" / "sales-en.yaml").unlink()
    watcher = _watcher(directory, heal_only=True)
    asyncio.run(watcher.reconcile())
    assert "sales-en" in watcher.project.store.load().agents


def test_heal_only_never_changes_a_platform_resource(directory: Path) -> None:
    asyncio.run(_watcher(directory).reconcile())
    before = _watcher(directory).project.store.load().resources
    assert set(before) == {"SecretSet/llm_keys", "SavedAgent/support", "PhoneNumber/support-line"}
    manifest = directory / "agents.d" / "platform.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("Answer briefly and in plain words.", "Answer in one sentence.")
    manifest.write_text(text[: text.index("---\nkind: PhoneNumber")], encoding="utf-8")
    watcher = _watcher(directory, heal_only=True)
    asyncio.run(watcher.reconcile())
    assert watcher.project.store.load().resources == before
    held = "reconciler_watch_actions_total"
    assert _sample(watcher, held, action="update", outcome="held") == 1
    assert _sample(watcher, held, action="delete", outcome="held") == 1
    assert _sample(watcher, "reconciler_watch_reconcile_runs_total", outcome="ok") == 1


def test_an_invalid_manifest_never_stops_the_loop_and_it_recovers_when_fixed(
    directory: Path,
) -> None:
    manifest = directory / "agents.d" / "support-en.yaml"
    good = manifest.read_text(encoding="utf-8")
    manifest.write_text(good.replace("channel: support-en", "channel: [not, a, channel]"))
    watcher = _watcher(directory, interval=0.05)

    async def scenario() -> None:
        loop = asyncio.create_task(watcher.run())
        await until(
            "two failed runs",
            lambda: _sample(watcher, "reconciler_watch_reconcile_runs_total", outcome="error") >= 2,
        )
        readiness = watcher.status.readiness()
        assert not readiness.ready and readiness.reason == "manifests or settings invalid"
        assert not loop.done()
        manifest.write_text(good, encoding="utf-8")
        await until("readiness", lambda: watcher.status.readiness().ready)
        watcher.request_stop()
        await asyncio.wait_for(loop, 5)

    asyncio.run(scenario())
    assert sorted(watcher.project.store.load().agents) == ["concierge", "sales-en", "support-en"]
    assert not watcher.lease.held


def test_a_second_watch_on_local_state_is_refused(directory: Path) -> None:
    first = Lease(Project.open(directory, None, ENV))
    assert first.try_acquire()
    first.check()  # an OS lock held through an open descriptor stays held
    try:
        with pytest.raises(LockHeldError):
            Lease(Project.open(directory, None, ENV)).try_acquire()
    finally:
        first.release()
    second = Lease(Project.open(directory, None, ENV))
    assert second.try_acquire()
    second.release()


def test_checking_a_state_lock_that_is_not_held_is_an_error(directory: Path) -> None:
    lock = Project.open(directory, None, ENV).lock("watch", 0.0)
    with pytest.raises(StateError, match="not held"):
        lock.check()


def test_a_changed_state_location_is_refused_until_restart(directory: Path) -> None:
    watcher = _watcher(directory)
    settings = directory / "reconciler.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace(
            "state: state/agents.json", "state: elsewhere/agents.json"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match="restart it"):
        asyncio.run(watcher.reconcile())
    assert _sample(watcher, "reconciler_watch_reconcile_runs_total", outcome="error") == 1


def test_a_running_watch_keeps_working_when_environments_are_added(directory: Path) -> None:
    """docs/environments.md: the running App ID and state become one environment unchanged;
    a watch started before keeps healing it, as that environment, without a restart."""
    watcher = _watcher(directory)
    asyncio.run(watcher.reconcile())
    before = {n: r.agent_id for n, r in watcher.project.store.load().agents.items()}
    settings = directory / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8")
    text = text.replace("app_id: ", "# app_id: ").replace("state: ", "# state: ")
    settings.write_text(
        text
        + "environments:\n"
        + "  staging:\n"
        + '    app_id: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"\n'
        + "    state: state/staging.json\n"
        + "  prod:\n"
        + "    app_id: ${AGORA_APP_ID:-0123456789abcdef0123456789abcdef}\n"
        + "    state: state/agents.json\n",
        encoding="utf-8",
    )
    _add_manifest(directory, "support-de")
    asyncio.run(watcher.reconcile())
    assert watcher.project.settings.environment == "prod"
    after = watcher.project.store.load().agents
    assert {n: after[n].agent_id for n in before} == before
    assert "support-de" in after
    assert not (directory / "state" / "staging.json").exists()


def test_a_running_watch_refuses_environments_none_of_which_is_its_own(directory: Path) -> None:
    watcher = _watcher(directory)
    asyncio.run(watcher.reconcile())
    settings = directory / "reconciler.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + "environments:\n  other:\n    app_id: '5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a'\n"
        + "    state: state/other.json\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match="none of them with this watch's"):
        asyncio.run(watcher.reconcile())


def test_a_changed_app_id_is_refused_by_the_next_run_and_nothing_is_started(
    directory: Path,
) -> None:
    settings = directory / "reconciler.yaml"
    watcher = _watcher(directory)
    asyncio.run(watcher.reconcile())
    text = settings.read_text(encoding="utf-8")
    other = "fedcba9876543210fedcba9876543210"
    settings.write_text(
        text.replace("${AGORA_APP_ID:-0123456789abcdef0123456789abcdef}", other), encoding="utf-8"
    )
    with pytest.raises(StateBindingError, match=f"App ID {other}"):
        asyncio.run(watcher.reconcile())
    assert _sample(watcher, "reconciler_watch_actions_total", action="start", outcome="ok") == 3


def _leader_receiver(watcher: Watcher) -> EventReceiver:
    """The event listener of ``watcher`` as the leader's: events about the agents it owns are
    acted on (nothing is woken: the test reads the outcome)."""
    return EventReceiver(
        secret=SECRET,
        metrics=watcher.metrics,
        is_leader=lambda: True,
        owned=lambda: watcher.owned,
        on_notice=lambda _notice: None,
    )


def _receive_events_when_answered(watcher: Watcher, phase: str) -> dict[str, str]:
    """Deliver to ``watcher``'s listener, while it applies, an event saying that the agent of
    each ``phase`` call the engine just answered left; the outcomes by agent name."""
    outcomes: dict[str, str] = {}
    apply = watcher.project.apply
    receiver = _leader_receiver(watcher)

    async def apply_receiving_events(*args: Any, hooks: Hooks, **kwargs: Any) -> Any:
        reported = hooks.on_event

        def on_event(event: ApplyEvent) -> None:
            if reported is not None:
                reported(event)
            if event.status == "answered" and event.phase == phase and event.agent_id:
                body = ncs_event(notice_id=f"{phase}-{event.name}", agent_id=event.agent_id)
                outcomes[event.name] = receiver.handle(body, signed(body)).outcome

        return await apply(*args, hooks=replace(hooks, on_event=on_event), **kwargs)

    watcher.project.apply = apply_receiving_events  # type: ignore[method-assign]
    return outcomes


def test_an_event_about_an_agent_the_run_in_progress_started_is_acted_on(
    directory: Path,
) -> None:
    """The agent a run just started is ours from the engine's answer on: an event saying it
    left, arriving while the run still applies (other starts, the wait for RUNNING), makes the
    leader reconcile again at once instead of being ignored as foreign."""
    watcher = _watcher(directory)
    outcomes = _receive_events_when_answered(watcher, "start")
    asyncio.run(watcher.reconcile())
    assert outcomes == {"concierge": "acted", "sales-en": "acted", "support-en": "acted"}


def test_an_event_about_an_agent_the_run_in_progress_stopped_is_not_acted_on(
    directory: Path,
) -> None:
    """The agent a run stops is no longer one the state records: that it left is what the run
    asked for, not a reason to reconcile again."""
    asyncio.run(_watcher(directory).reconcile())
    (directory / "agents.d" / "concierge.yaml").unlink()
    watcher = _watcher(directory)
    outcomes = _receive_events_when_answered(watcher, "stop")
    asyncio.run(watcher.reconcile())
    assert outcomes == {"concierge": "foreign"}


def test_an_event_arriving_once_the_loop_has_stopped_is_dropped_quietly(directory: Path) -> None:
    """The listener answers until it is shut down, after the loop ended: an event then is left
    to the next watch (it polls), never an error in the listener's thread."""
    watcher = _watcher(directory)
    watcher.request_stop()
    asyncio.run(watcher.run())
    watcher.notice(Notice(notice_id="late", event_type=102, agent_id="AGENT"))
    assert not watcher.lease.held


def test_an_event_during_the_first_runs_plan_about_a_recorded_agent_is_acted_on(
    directory: Path,
) -> None:
    """A watch that has just started knows its agents from the state before its first run has
    planned: an event saying one of them left, arriving while that run plans, makes the leader
    reconcile again at once instead of being ignored as foreign until the next interval."""
    asyncio.run(_watcher(directory).reconcile())  # an earlier apply recorded the agents
    recorded = _watcher(directory).project.store.load().agents["support-en"].agent_id
    watcher = _watcher(directory)
    receiver = _leader_receiver(watcher)
    outcomes: list[str] = []
    plan = watcher.project.plan

    async def plan_receiving_an_event(*args: Any, **kwargs: Any) -> Any:
        body = ncs_event(notice_id="first-run", agent_id=recorded)
        outcomes.append(receiver.handle(body, signed(body)).outcome)
        return await plan(*args, **kwargs)

    watcher.project.plan = plan_receiving_an_event  # type: ignore[method-assign]
    asyncio.run(watcher.reconcile())
    assert outcomes == ["acted"]


class _HandedOverLease:
    """A PostgreSQL-like lease that this replica holds, then loses to another replica (which
    runs ``meanwhile`` while it leads), then holds again."""

    shared = True

    def __init__(self, meanwhile: Any) -> None:
        self._answers = [True, False, True]
        self._meanwhile = meanwhile
        self.held = False

    def try_acquire(self) -> bool:
        self.held = self._answers.pop(0) if self._answers else True
        if not self.held:
            worker = threading.Thread(target=self._meanwhile)
            worker.start()
            worker.join()
        return self.held

    def check(self) -> None:
        return None

    def lost(self) -> None:
        self.held = False

    def release(self) -> None:
        self.held = False


def test_a_replica_that_leads_again_knows_the_agents_another_leader_started_meanwhile(
    directory: Path,
) -> None:
    """A replica that stood by while another led, and leads again, reads the agents the state
    records now, not those of its own last run: an event saying an agent the other leader
    started left, arriving while its first run as leader again plans, is acted on, not taken
    for another's (it would then wait for the next interval)."""
    other = _watcher(directory)

    def other_leader_starts_an_agent() -> None:
        _add_manifest(directory, "support-de")
        asyncio.run(other.reconcile())

    watcher = _watcher(directory, interval=0.01)
    watcher.lease = _HandedOverLease(other_leader_starts_an_agent)  # type: ignore[assignment]
    receiver = _leader_receiver(watcher)
    outcomes: list[str] = []
    plan = watcher.project.plan

    async def plan_receiving_an_event(*args: Any, **kwargs: Any) -> Any:
        if watcher.runs == 1:  # the first run after the hand-over and back
            started = watcher.project.store.load().agents["support-de"].agent_id
            body = ncs_event(notice_id="back", agent_id=started)
            outcomes.append(receiver.handle(body, signed(body)).outcome)
            watcher.request_stop()
        return await plan(*args, **kwargs)

    watcher.project.plan = plan_receiving_an_event  # type: ignore[method-assign]
    asyncio.run(watcher.run())
    assert outcomes == ["acted"]


def test_a_leader_that_is_stopping_answers_events_as_a_standby_so_that_ncs_resends_them(
    directory: Path,
) -> None:
    """A leader told to stop runs no reconcile any more: an event it answered 200 would be
    lost (NCS does not resend it). It answers 503 instead, so a resend reaches the replica
    that leads next (or this watch once restarted)."""
    watcher = _watcher(directory)
    assert watcher.lease.try_acquire()
    try:
        receiver = EventReceiver(
            secret=SECRET,
            metrics=watcher.metrics,
            is_leader=lambda: watcher.leads,
            owned=lambda: frozenset({"AGENT"}),
            on_notice=watcher.notice,
        )
        assert watcher.leads
        watcher.request_stop()
        body = ncs_event(notice_id="while-stopping", agent_id="AGENT")
        reply = receiver.handle(body, signed(body))
        assert (reply.status, reply.outcome) == (503, "standby")
    finally:
        watcher.lease.release()
