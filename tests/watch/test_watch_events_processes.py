"""Healing from notification events, with real processes: a served sandbox sends signed NCS
events to `watch --interval 5m` replicas, so anything healed within the wait below was healed
by an event, not by polling. Forged and foreign events change nothing; on PostgreSQL only the
leader acts, and after a kill -9 the standby heals the next crash from its event."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, join_directly
from tests.watch.conftest import make_project
from tests.watch.watch_process import (
    SIGKILL,
    SIGTERM,
    WatchProcess,
    crash,
    join_names,
    running_names,
    wait_for,
)

pytestmark = pytest.mark.slow

SECRET = "ncs-secret-of-the-e2e-tests"
NAMES = ["concierge", "sales-en", "support-en"]
HEAL_WAIT_S = 20.0
"""Generous, and still far below the 5 minute interval: a heal within it came from an event."""


def _watch(project: Project, log: Path) -> WatchProcess:
    project.env["RECONCILER_NCS_SECRET"] = SECRET
    return WatchProcess(project, interval="5m", log=log)


def _webhook(sandbox: Sandbox, watch: WatchProcess) -> None:
    sandbox.control("POST", "/webhooks", {"url": f"{watch.url}/ncs", "secret": SECRET})


def _healed(sandbox: Sandbox, name: str, crashed_id: str) -> bool:
    now = running_names(sandbox).get(name)
    return now is not None and now != crashed_id


def _count(watch: WatchProcess, line: str) -> float:
    return watch.metric(line) or 0.0


def _leads_ready(watch: WatchProcess) -> bool:
    """Leading, with a successful run done (``/leaderz`` answers 200 from then on)."""
    response = watch.get("/leaderz")
    return response is not None and response.status_code == 200 and watch.is_ready()


def _post(watch: WatchProcess, envelope: dict[str, object], secret: str) -> httpx.Response:
    body = json.dumps(envelope, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{watch.url}/ncs",
        content=body,
        headers={"Content-Type": "application/json", "Agora-Signature-V2": signature},
        timeout=5,
    )


def test_an_event_heals_a_crash_at_once_and_forged_foreign_and_replayed_events_change_nothing(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    watch = _watch(project, tmp_path / "watch.log")
    try:
        wait_for("every agent started", lambda: sorted(running_names(sandbox)) == NAMES, 25, watch)
        wait_for("readiness", watch.is_ready, 15, watch)
        runs = 'reconciler_watch_reconcile_runs_total{outcome="ok"}'
        assert _count(watch, runs) == 1.0
        _webhook(sandbox, watch)

        # a foreign agent crashes: its (validly signed) events are not ours
        stranger = join_directly(sandbox, "stranger", "stranger-room", "4242")
        sandbox.control("DELETE", "/requests")
        crash(sandbox, stranger)
        foreign = 'reconciler_watch_events_ignored_total{reason="foreign"}'
        wait_for("the foreign 102", lambda: _count(watch, foreign) >= 1, 15, watch)
        # a forged event about one of ours
        ours = running_names(sandbox)["support-en"]
        forged = {"noticeId": "forged-1", "productId": 17, "eventType": 102, "notifyMs": 1,
                  "payload": {"agent_id": ours}}  # fmt: skip
        assert _post(watch, forged, "not-the-secret").status_code == 401
        refused = 'reconciler_watch_events_refused_total{reason="bad_signature"}'
        assert _count(watch, refused) == 1.0
        assert _count(watch, runs) == 1.0, "no run for a forged or foreign event"
        assert sandbox.control("GET", "/requests")["requests"] == [], "no engine call at all"
        assert sandbox.agent(stranger)["status"] == "FAILED"

        # one of ours crashes: its event heals it long before the 5 minute interval
        crashed = running_names(sandbox)["sales-en"]
        crash(sandbox, crashed)
        wait_for("the event-driven heal", lambda: _healed(sandbox, "sales-en", crashed),
                 HEAL_WAIT_S, watch)  # fmt: skip
        acted = 'reconciler_watch_events_acted_total{event_type="102"}'
        wait_for("the event counted", lambda: _count(watch, acted) >= 1, 10, watch)
        heal_count = "reconciler_watch_event_to_healed_seconds_count"
        wait_for("the heal time observed", lambda: _count(watch, heal_count) >= 1, 10, watch)

        # a replay of a delivered event (same noticeId, fresh signature) is not acted on again
        delivered = [d for d in sandbox.control("GET", "/webhooks")["deliveries"]
                     if d["delivered"] and d["eventType"] == 102
                     and d["payload"]["agent_id"] == crashed]  # fmt: skip
        assert delivered, "the sandbox delivered the 102 of the crash"
        replay = {"noticeId": delivered[0]["noticeId"], "productId": 17, "eventType": 102,
                  "notifyMs": 2, "payload": delivered[0]["payload"]}  # fmt: skip
        answer = _post(watch, replay, SECRET)
        assert (answer.status_code, answer.json()["outcome"]) == (200, "duplicate")

        names = join_names(sandbox)
        assert len(names) == len(set(names)), "no join was sent twice"
        assert "stranger" in names and names.count("stranger") == 1, "the stranger was left alone"
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()
    assert "Traceback" not in watch.log_text()
    assert SECRET not in watch.log_text()


def test_replicas_on_postgresql_only_the_leader_acts_and_the_standby_heals_after_a_kill(
    tmp_path: Path, sandbox: Sandbox, pg_url: str
) -> None:
    project = make_project(tmp_path, sandbox)
    project.set_setting("state", pg_url)
    a = _watch(project, tmp_path / "a.log")
    b = _watch(project, tmp_path / "b.log")
    try:
        wait_for("every agent started", lambda: sorted(running_names(sandbox)) == NAMES, 25, a, b)
        wait_for("both replicas ready", lambda: a.is_ready() and b.is_ready(), 20, a, b)
        _webhook(sandbox, a)
        _webhook(sandbox, b)
        leaders = [w for w in (a, b) if w.is_leader()]
        assert len(leaders) == 1, "exactly one replica leads"
        leader = leaders[0]
        standby = b if leader is a else a

        crashed = running_names(sandbox)["concierge"]
        crash(sandbox, crashed)
        wait_for("the leader to heal from the event",
                 lambda: _healed(sandbox, "concierge", crashed), HEAL_WAIT_S, a, b)  # fmt: skip
        acted = 'reconciler_watch_events_acted_total{event_type="102"}'
        left_alone = 'reconciler_watch_events_ignored_total{reason="standby"}'
        wait_for("the standby to leave it", lambda: _count(standby, left_alone) >= 1, 10, a, b)
        assert _count(leader, acted) >= 1
        assert _count(standby, acted) == 0

        leader.signal(SIGKILL)
        leader.wait_exit(10)
        wait_for("the standby to lead", standby.is_leader, 15, standby)
        wait_for("its first run as leader", lambda: _leads_ready(standby), 15, standby)
        crashed = running_names(sandbox)["sales-en"]
        crash(sandbox, crashed)
        wait_for("the new leader to heal from the event",
                 lambda: _healed(sandbox, "sales-en", crashed), HEAL_WAIT_S, standby)  # fmt: skip
        wait_for("its event counted", lambda: _count(standby, acted) >= 1, 10, standby)
        names = join_names(sandbox)
        assert len(names) == len(set(names)), "no join was sent twice"
        standby.signal(SIGTERM)
        assert standby.wait_exit(15) == 0, standby.log_text()
    finally:
        a.stop()
        b.stop()
