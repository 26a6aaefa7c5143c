"""``apply --parallelism N``: the engine client lets N calls overlap, whatever the settings say."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.models import LiveStatus, Settings
from reconciler.plan import PlanOptions, build_plan
from reconciler.project import Project
from reconciler.project import connect as connect_module
from tests.apply.harness import agent, desired


class OverlapCounter(httpx.AsyncBaseTransport):
    """Passes requests on, holding each join a moment, and records how many joins overlap."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hold_s: float) -> None:
        self.inner = inner
        self.hold_s = hold_s
        self.joins_in_flight = 0
        self.most_joins_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/join"):
            return await self.inner.handle_async_request(request)
        self.joins_in_flight += 1
        self.most_joins_in_flight = max(self.most_joins_in_flight, self.joins_in_flight)
        try:
            await asyncio.sleep(self.hold_s)
            return await self.inner.handle_async_request(request)
        finally:
            self.joins_in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> list[OverlapCounter]:
    made: list[OverlapCounter] = []
    real = connect_module.sandbox_transport

    def counting(
        settings: Settings, *, read_only: bool
    ) -> tuple[httpx.AsyncBaseTransport, Callable[[], None]]:
        transport, close = real(settings, read_only=read_only)
        made.append(OverlapCounter(transport, hold_s=0.05))
        return made[-1], close

    monkeypatch.setattr(connect_module, "sandbox_transport", counting)
    return made


def _apply_new_agents(tmp_path: Path, count: int, parallelism: int | None) -> None:
    settings = Settings(project_dir=tmp_path, max_concurrent_agents=100)
    assert settings.parallelism == 10  # the settings' default, below the flag's value
    project = Project(settings, {})
    want = desired(*(agent(f"a{i}", token_mode="none") for i in range(count)))
    state = project.store.load()
    plan = build_plan(
        want,
        state,
        LiveStatus(),
        now=time.time(),
        options=PlanOptions(app_id=settings.app_id, max_concurrent_agents=100),
    )
    result, _ = asyncio.run(project.apply(plan, want, state, parallelism=parallelism))
    assert result.ok and result.count("start") == count


def test_the_parallelism_flag_lets_that_many_joins_overlap_above_the_settings_value(
    tmp_path: Path, counter: list[OverlapCounter]
) -> None:
    _apply_new_agents(tmp_path, 20, parallelism=20)
    assert counter[-1].most_joins_in_flight == 20


def test_without_the_flag_the_settings_parallelism_bounds_the_joins_in_flight(
    tmp_path: Path, counter: list[OverlapCounter]
) -> None:
    _apply_new_agents(tmp_path, 20, parallelism=None)
    assert counter[-1].most_joins_in_flight == 10
