"""`reconciler watch` as real processes against a served sandbox: self-healing, the local lock,
leadership on PostgreSQL (kill -9 and SIGTERM hand-overs), and no secret in what it shows."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks
from tests.state.pg import admin
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

NAMES = ["concierge", "sales-en", "support-en"]


def _all_running(sandbox: Sandbox) -> bool:
    return sorted(running_names(sandbox)) == NAMES


def _healed(sandbox: Sandbox, name: str, crashed_id: str) -> bool:
    now = running_names(sandbox).get(name)
    return now is not None and now != crashed_id


def _runs(watch: WatchProcess) -> float:
    """How many reconcile runs of ``watch`` have ended."""
    return sum(
        watch.metric(f'reconciler_watch_reconcile_runs_total{{outcome="{outcome}"}}') or 0
        for outcome in ("ok", "error")
    )


def _no_duplicate_joins(sandbox: Sandbox) -> None:
    names = join_names(sandbox)
    assert len(names) == len(set(names)), f"a join was sent twice: {sorted(names)}"


def _no_leaks(*watches: WatchProcess) -> None:
    texts = [(str(w.log), w.log_text()) for w in watches]
    for w in watches:
        for path in ("/metrics", "/readyz", "/healthz"):
            response = w.get(path)
            if response is not None:
                texts.append((f"{w.url}{path}", response.text))
    assert leaks(texts) == []


def test_watch_restarts_a_crashed_agent_within_two_intervals(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    watch = WatchProcess(project, log=tmp_path / "watch.log")
    try:
        wait_for("the first run to start every agent", lambda: _all_running(sandbox), 20, watch)
        wait_for("readiness", watch.is_ready, 10, watch)
        crashed = running_names(sandbox)["support-en"]
        crash(sandbox, crashed)
        # Counted in runs, not seconds: the run under way at the crash may have refreshed
        # before it; the next one starts after it and must heal.
        runs_at_crash = _runs(watch)
        wait_for(
            "the crashed agent to be restarted",
            lambda: _healed(sandbox, "support-en", crashed),
            60,
            watch,
        )
        assert _runs(watch) <= runs_at_crash + 2, "healed by the second run after the crash"
        _no_duplicate_joins(sandbox)
        assert watch.metric('reconciler_watch_agents{status="RUNNING"}') is not None
        _no_leaks(watch)
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()
    assert "Traceback" not in watch.log_text()


def test_a_second_watch_on_local_state_exits_3_at_once(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    first = WatchProcess(project, log=tmp_path / "first.log")
    try:
        wait_for("the first watch to lead", first.is_leader, 20, first)
        second = WatchProcess(project, log=tmp_path / "second.log")
        try:
            assert second.wait_exit(15) == 3, second.log_text()
            assert "locked" in second.log_text()
        finally:
            second.stop()
        assert first.process.poll() is None
    finally:
        first.stop()


def test_heal_only_watch_does_not_start_a_new_manifest(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    project.apply()
    text = project.manifest("support-en").read_text(encoding="utf-8")
    project.manifest("support-de").write_text(
        text.replace("support-en", "support-de").replace('"1001"', '"1777"'), encoding="utf-8"
    )
    watch = WatchProcess(project, "--heal-only", log=tmp_path / "watch.log")
    try:
        wait_for(
            "a heal-only run",
            lambda: (
                (watch.metric('reconciler_watch_actions_total{action="start",outcome="held"}') or 0)
                >= 1
            ),
            20,
            watch,
        )
        crashed = running_names(sandbox)["sales-en"]
        crash(sandbox, crashed)
        runs_at_crash = _runs(watch)  # counted in runs, not seconds (see the first test)
        wait_for(
            "the crashed agent to be restarted",
            lambda: _healed(sandbox, "sales-en", crashed),
            60,
            watch,
        )
        assert _runs(watch) <= runs_at_crash + 2, "healed by the second run after the crash"
        assert "support-de" not in running_names(sandbox)
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()


def test_replicas_on_postgresql_have_one_leader_and_hand_over_on_kill_and_sigterm(
    tmp_path: Path, sandbox: Sandbox, pg_url: str
) -> None:
    project = make_project(tmp_path, sandbox)
    project.set_setting("state", pg_url)
    a = WatchProcess(project, log=tmp_path / "a.log")
    b = WatchProcess(project, log=tmp_path / "b.log")
    c: WatchProcess | None = None
    try:
        wait_for("every agent started", lambda: _all_running(sandbox), 25, a, b)
        wait_for("both replicas ready", lambda: a.is_ready() and b.is_ready(), 15, a, b)
        leaders = [w for w in (a, b) if w.is_leader()]
        assert len(leaders) == 1, "exactly one replica leads"
        leader = leaders[0]
        standby = b if leader is a else a

        # kill -9: the server drops the leader's session and with it the advisory lock
        leader.signal(SIGKILL)
        leader.wait_exit(10)
        wait_for("the standby to lead", standby.is_leader, 60, standby)
        crashed = running_names(sandbox)["concierge"]
        crash(sandbox, crashed)
        runs_at_crash = _runs(standby)
        wait_for(
            "the new leader to heal", lambda: _healed(sandbox, "concierge", crashed), 60, standby
        )
        assert _runs(standby) <= runs_at_crash + 2, "healed by the second run after the crash"

        # SIGTERM: exit 0 and the lease is released at once
        c = WatchProcess(project, log=tmp_path / "c.log")
        wait_for("the third replica on standby", c.is_ready, 15, c)
        assert not c.is_leader()
        standby.signal(SIGTERM)
        assert standby.wait_exit(15) == 0, standby.log_text()
        wait_for("the third replica to lead", c.is_leader, 60, c)
        _no_duplicate_joins(sandbox)
        assert _all_running(sandbox)
        _no_leaks(a, b, c)
    finally:
        for w in (a, b, c):
            if w is not None:
                w.stop()


def test_replicas_survive_a_database_outage_and_recover_without_duplicates(
    tmp_path: Path, sandbox: Sandbox, pg_url: str
) -> None:
    database = urlsplit(pg_url).path.lstrip("/")
    project = make_project(tmp_path, sandbox)
    project.set_setting("state", pg_url)
    a = WatchProcess(project, log=tmp_path / "a.log")
    b = WatchProcess(project, log=tmp_path / "b.log")
    try:
        wait_for("both replicas ready", lambda: a.is_ready() and b.is_ready(), 25, a, b)
        wait_for("every agent started", lambda: _all_running(sandbox), 15, a, b)
        with admin() as conn:  # the database refuses connections and drops the open ones
            conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        crashed = running_names(sandbox)["sales-en"]
        crash(sandbox, crashed)
        wait_for("both replicas not ready", lambda: not a.is_ready() and not b.is_ready(), 10, a, b)
        assert a.process.poll() is None and b.process.poll() is None
        assert not a.is_leader() and not b.is_leader()
        assert "sales-en" not in running_names(sandbox), "nothing is done without the state"
        with admin() as conn:
            conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        wait_for("a leader again", lambda: a.is_leader() or b.is_leader(), 20, a, b)
        wait_for("the crash healed", lambda: _healed(sandbox, "sales-en", crashed), 10, a, b)
        wait_for("both ready", lambda: a.is_ready() and b.is_ready(), 10, a, b)
        assert [a.is_leader(), b.is_leader()].count(True) == 1
        _no_duplicate_joins(sandbox)
        assert _all_running(sandbox)
        for w in (a, b):
            w.signal(SIGTERM)
            assert w.wait_exit(15) == 0, w.log_text()
    finally:
        a.stop()
        b.stop()


def test_watch_renews_a_token_near_expiry_in_place(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    project.set_setting("token_ttl_s", 60)
    project.set_setting("token_renewal_window_s", 57)
    watch = WatchProcess(project, log=tmp_path / "watch.log")
    try:
        wait_for("every agent started", lambda: _all_running(sandbox), 20, watch)
        before = running_names(sandbox)
        renewals = 'reconciler_watch_actions_total{action="renew-token",outcome="ok"}'
        wait_for("a token renewal", lambda: (watch.metric(renewals) or 0) >= 1, 10, watch)
        assert running_names(sandbox)["concierge"] == before["concierge"], "renewed in place"
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()


def test_sigterm_mid_apply_finishes_the_calls_in_flight_records_them_and_exits_0(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_fault(route="join", action="delay", delay_ms=1500, times=3)
    watch = WatchProcess(project, log=tmp_path / "watch.log")
    try:
        wait_for("the apply to begin", lambda: "apply.begin" in watch.log_text(), 20, watch)
        wait_for("the joins to reach the engine", lambda: sandbox.fault_hits() == 3, 60, watch)
        watch.signal(SIGTERM)  # the joins are on their way, held back by the engine
        assert watch.wait_exit(60) == 0, watch.log_text()
    finally:
        watch.stop()
    state = project.state()
    assert state["pending"] == []
    recorded = {name: record["agent_id"] for name, record in state["agents"].items()}
    assert sorted(recorded) == NAMES, "the joins in flight finished"
    assert recorded == running_names(sandbox), "every agent the engine started is recorded"
    assert "Traceback" not in watch.log_text()


def test_a_failed_action_is_logged_as_json_without_secrets_and_the_next_run_heals(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    project.set_setting("max_attempts", 2)
    sandbox.add_fault(
        route="join",
        name=project.wire("sales-en"),
        status=400,
        reason="InvalidRequestBody",
        detail=f"llm.api_key {SECRETS['OPENAI_API_KEY']} is not accepted",
        times=1,
    )
    sandbox.add_fault(route="list", status=503, times=1)
    watch = WatchProcess(project, "--log-format", "json", log=tmp_path / "watch.log")
    try:
        wait_for("every agent running after a retry", lambda: _all_running(sandbox), 20, watch)
        wait_for("readiness", watch.is_ready, 10, watch)
        lines = [json.loads(line) for line in watch.log_text().splitlines() if line.strip()]
        assert all({"ts", "level", "event", "msg"} <= set(line) for line in lines)
        failed = [line for line in lines if line["event"] == "reconcile.failed"]
        assert failed and failed[0]["reason"] == "actions failed"
        assert "sales-en" in failed[0]["msg"]
        assert watch.metric('reconciler_watch_reconcile_runs_total{outcome="error"}') == 1.0
        retries = 'reconciler_watch_engine_retries_total{route="list",status="503"}'
        assert watch.metric(retries) == 1.0
        _no_leaks(watch)
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()


def test_sighup_rereads_the_manifests_and_reconciles_at_once(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    watch = WatchProcess(project, interval="10m", log=tmp_path / "watch.log")
    try:
        wait_for("every agent started", lambda: _all_running(sandbox), 20, watch)
        wait_for("readiness", watch.is_ready, 10, watch)
        text = project.manifest("support-en").read_text(encoding="utf-8")
        project.manifest("support-de").write_text(
            text.replace("support-en", "support-de").replace('"1001"', '"1777"'), encoding="utf-8"
        )
        watch.signal(signal.SIGHUP)
        wait_for("the new manifest", lambda: "support-de" in running_names(sandbox), 8, watch)
        watch.signal(SIGTERM)
        assert watch.wait_exit(15) == 0, watch.log_text()
    finally:
        watch.stop()
