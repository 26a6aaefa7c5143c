"""The sandbox's work per request does not grow with the number of agents it holds.

Work is counted as SQLite virtual-machine steps (a progress handler called every step), which
is deterministic, rather than timed. Also: the status computed inside SQLite for list agrees
with `lifecycle.view` on every kind of record, and the kept count of active agents agrees with
a count from scratch as agents end, are updated and the clock moves.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reconciler.sandbox import engine_ops as ops
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.core import Sandbox
from reconciler.sandbox.lifecycle import refresh, view
from reconciler.sandbox.ncs import Notifier
from reconciler.sandbox.store import STATUS_CODE_SQL, AgentRecord, ListWindow, Store
from tests.sandbox.sandbox_helpers import APP_ID, FakeTime, join_body


def _join(sb: Sandbox, i: int) -> str:
    body = join_body(f"agent-{i:05d}", channel=f"room-{i:05d}", agent_rtc_uid=str(10_000 + i))
    return str(ops.join(sb, APP_ID, json.dumps(body).encode())["agent_id"])


@contextmanager
def _steps(store: Store) -> Iterator[list[int]]:
    """Count the SQLite VM steps run inside the block (the store's own connection)."""
    counter = [0]

    def tick() -> int:
        counter[0] += 1
        return 0

    store._conn.set_progress_handler(tick, 1)  # the store has no public hook for this
    try:
        yield counter
    finally:
        store._conn.set_progress_handler(None, 1)


def _page_query(store: Store, now: float, from_seq: int, states: set[int] | None) -> None:
    window = ListWindow(APP_ID, now, None, now - 7200, now, 7 * 86400.0, states)
    store.page_rows(window, from_seq=from_seq, limit=20)


def _work_at(size: int) -> tuple[int, int, int]:
    """VM steps of one join, of a page at the start and of one near the end, with `size` agents."""
    sb = Sandbox(SandboxConfig(pcu_limit=10**9), time_source=FakeTime())
    for i in range(size):
        _join(sb, i)
    with _steps(sb.store) as join_steps:
        _join(sb, size)
    now = sb.now()
    late = sb.store.all(APP_ID)[-30].seq
    with _steps(sb.store) as first_steps:
        _page_query(sb.store, now, 0, None)
    with _steps(sb.store) as later_steps:
        _page_query(sb.store, now, late, {2})
    return join_steps[0], first_steps[0], later_steps[0]


def test_join_and_list_pages_cost_the_same_with_ten_times_the_agents() -> None:
    small = _work_at(200)
    large = _work_at(2_000)
    # A join reads the name, the PCU count and the channel through indexes (a B-tree one level
    # deeper at most), never a scan of the active agents; a page reads its own 21 agents from
    # its cursor on, wherever that is.
    for at_small, at_large in zip(small, large, strict=True):
        assert at_large < 1.3 * at_small, (small, large)


def test_list_pages_the_same_agents_as_before() -> None:
    sb = Sandbox(SandboxConfig(pcu_limit=10**9), time_source=FakeTime())
    ids = [_join(sb, i) for i in range(250)]
    for agent_id in ids[::7]:
        ops.leave(sb, APP_ID, agent_id)
    seen: list[str] = []
    cursor = ""
    while True:
        query = {"limit": "30", "state": "2", **({"cursor": cursor} if cursor else {})}
        page = ops.list_agents(sb, APP_ID, query)
        assert page["meta"]["total"] == len(ids) - len(ids[::7])
        seen += [item["agent_id"] for item in page["data"]["list"]]
        cursor = page["meta"]["cursor"]
        if not cursor:
            break
    assert seen == [agent_id for agent_id in ids if agent_id not in ids[::7]]


def _random_record(rng: random.Random, i: int, now: float) -> AgentRecord:
    created = now - rng.choice([0.0, 5.0, 100.0, 3600.0, 300_000.0])
    maybe = lambda value: value if rng.random() < 0.5 else None  # noqa: E731
    record = AgentRecord(
        app_id=APP_ID,
        agent_id=f"A{i:031d}",
        name=f"agent-{i}",
        channel=f"room-{i % 5}",
        mode=rng.choice(["llm", "mllm"]),
        created_at=created,
        running_at=created + rng.choice([0.0, 2.0, 200.0]),
        stop_delay_s=rng.choice([0.0, 0.2, 30.0]),
        max_runtime_s=rng.choice([72 * 3600.0, 50.0, 3600.0]),
        idle_timeout=rng.choice([0, 30, 120]),
        stop_requested_at=maybe(created + rng.choice([1.0, 4.0, 99.0, 5000.0])),
        users_left_at=maybe(created + rng.choice([0.0, 10.0, 3000.0])),
        failed_at=maybe(created + rng.choice([0.5, 3.0, 90.0, 4000.0])),
        fail_message=None,
        token_issued_at=None,
        token_expires_at=maybe(created + rng.choice([-10.0, 3.0, 86400.0])),
        token_verified=None,
        terminal_at=0.0,
        join_body="{}",
        properties="{}",
        updates="[]",
        history="[]",
        status_override=maybe(rng.choice(["RECOVERING", "IDLE"])),
        override_until=maybe(created + rng.choice([1.0, 50.0, 10_000.0])),
    )
    refresh(record)
    return record


def test_status_computed_by_sqlite_is_the_status_lifecycle_gives() -> None:
    rng = random.Random(27)
    store = Store(None)
    now = 1_800_000_000.0
    records = [_random_record(rng, i, now) for i in range(600)]
    for record in records:
        store.insert(record)
    instants = [now + delta for delta in (-400_000.0, -3_000.0, -1.0, 0.0, 0.5, 3.0, 60.0, 1e6)]
    instants += [r.terminal_at for r in records[:20]] + [r.running_at for r in records[:20]]
    for at in instants:
        rows = store._conn.execute(
            f"SELECT agent_id, {STATUS_CODE_SQL} FROM agents ORDER BY seq", {"now": at}
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(r.agent_id, view(r, at).code) for r in records]


def test_kept_active_count_equals_a_count_from_scratch() -> None:
    rng = random.Random(28)
    store = Store(None)
    now = 1_800_000_000.0
    records: list[AgentRecord] = []
    for step, i in enumerate(itertools.count()):
        if step >= 400:
            break
        at = now + rng.choice([-50.0, 0.0, 1.0, 10.0, 500.0, 100_000.0]) + step
        action = rng.random()
        if action < 0.5 or not records:
            record = _random_record(rng, i, now + step)
            store.insert(record)
            records.append(record)
        elif action < 0.8:
            record = rng.choice(records)
            record.stop_requested_at = at + rng.choice([-5.0, 0.0, 5.0])
            refresh(record)
            store.save(record)
        elif action < 0.85:
            store.reset()
            records = []
        expected = sum(1 for r in records if r.terminal_at > at)
        assert store.count_active(APP_ID, at) == expected, step


def _webhook_join_work(size: int) -> int:
    """VM steps of the notifier's sweep after one join, with `size` agents and a webhook."""
    time = FakeTime()
    sb = Sandbox(SandboxConfig(pcu_limit=10**9), time_source=time)
    notifier = Notifier(sb, (("http://127.0.0.1:9/hook", "secret"),))
    for i in range(size):
        _join(sb, i)
    time.tick(60.0)
    notifier.sweep()  # the joins above are notified; the watermark moves past their slack
    time.tick(60.0)
    _join(sb, size)
    emitted = notifier.stats["emitted"]
    with _steps(sb.store) as steps:
        notifier.sweep()
    assert notifier.stats["emitted"] == emitted + 1  # the new agent's 101, nothing else
    return steps[0]


@pytest.mark.slow
def test_a_join_notified_to_a_webhook_costs_the_same_with_ten_times_the_agents() -> None:
    small = _webhook_join_work(1_000)
    large = _webhook_join_work(10_000)
    # the sweep reads the instants between two sweeps through one index per kind of instant
    # (start, end, token warning), never every agent
    assert large < 1.3 * small, (small, large)


def _filtered_page_work(size: int) -> int:
    """VM steps of a RUNNING list page (with its total), with `size` agents, after one join."""
    time = FakeTime()
    sb = Sandbox(SandboxConfig(pcu_limit=10**9), time_source=time)
    for i in range(size):
        _join(sb, i)
    ops.list_agents(sb, APP_ID, {"state": "2"})  # every new agent's status materialised once
    time.tick(1.0)
    _join(sb, size)
    with _steps(sb.store) as steps:
        page = ops.list_agents(sb, APP_ID, {"state": "2", "limit": "20"})
    assert page["meta"]["total"] == size + 1
    return steps[0]


@pytest.mark.slow
def test_the_total_of_a_filtered_list_costs_the_same_with_ten_times_the_agents() -> None:
    small = _filtered_page_work(1_000)
    large = _filtered_page_work(10_000)
    # the total is the kept count of RUNNING agents less those created outside the window;
    # only the agent written since the last list has its status computed again
    assert large < 1.3 * small, (small, large)


def _brute_total(
    records: list[AgentRecord], now: float, window: tuple[float, float], channel: str | None,
    states: set[int], keep: float,
) -> int:  # fmt: skip
    return sum(
        1
        for r in records
        if window[0] <= r.created_at <= window[1]
        and now < r.terminal_at + keep
        and (channel is None or r.channel == channel)
        and view(r, now).code in states
    )


def test_filtered_totals_equal_a_count_from_scratch_as_records_change_and_the_clock_moves() -> None:
    rng = random.Random(29)
    store = Store(None)
    start = 1_800_000_000.0
    now = start
    records: list[AgentRecord] = []
    codes = [0, 1, 2, 3, 4, 5, 6]
    for step in range(800):
        action = rng.random()
        if action < 0.35 or not records:
            record = _random_record(rng, step, now)
            store.insert(record)
            records.append(record)
        elif action < 0.55:
            record = rng.choice(records)
            record.stop_requested_at = now + rng.choice([-5.0, 0.0, 5.0, 40.0])
            if rng.random() < 0.3:
                record.override_until = now + rng.choice([1.0, 30.0])
                record.status_override = "IDLE"
            refresh(record)
            store.save(record)
        elif action < 0.6:
            record = rng.choice(records)
            record.users_left_at = now
            refresh(record)
            store.save_countdown(record)
        elif action < 0.62:
            store.reset()
            records = []
        # time-driven transitions that nothing writes: forward, sometimes far, rarely back
        now += rng.choice([0.0, 0.5, 1.0, 3.0, 30.0, 200.0, 5_000.0, -100.0])
        channel = rng.choice([None, None, None, "room-1"])
        window = rng.choice(
            [(now - 7200, now), (now - 7 * 86400.0, now), (now - 150, now - 2), (now, now - 100)]
        )
        keep = rng.choice([7 * 86400.0, 100.0, 0.0])
        active = {rng.choice([0, 1, 2, 3, 5])}  # the kept-count path, one active status
        for states in (set(rng.sample(codes, rng.choice([1, 2, 3]))), active):
            listed = ListWindow(APP_ID, now, channel, *window, keep, states)
            total, _ = store.list_page(listed, from_seq=0, limit=5)
            assert total == _brute_total(records, now, window, channel, states, keep), step


def test_lifecycle_instants_found_through_indexes_are_those_of_a_scan() -> None:
    rng = random.Random(30)
    store = Store(None)
    now = 1_800_000_000.0
    records = [_random_record(rng, i, now) for i in range(500)]
    for record in records:
        store.insert(record)
    lead = 30.0

    def between(at: float | None, after: float, upto: float) -> bool:
        return at is not None and after < at <= upto

    for _ in range(200):
        after = now + rng.choice([-400_000.0, -3_700.0, -100.0, -5.0, 0.0, 1.0, 60.0])
        upto = after + rng.choice([0.0, 0.2, 5.0, 120.0, 10_000.0])
        expected = [
            r.agent_id
            for r in records
            if between(r.running_at, after, upto)
            or between(r.terminal_at, after, upto)
            or (r.token_expires_at is not None and between(r.token_expires_at - lead, after, upto))
        ]
        found = [row[1] for row in store.lifecycle_between(after, upto, lead)]
        assert found == expected, (after, upto)
