"""The plan-to-apply hand-over is a value: read_inputs works from explicit collaborators, the
decision to refresh is made once, what the plan learned (its refresh's listing, the views of
what it starts or updates) travels in its outcome, and one verdict turns an apply's result into
an exit code and an error for every command that applies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import reconciler.apply.run as run_module
from reconciler.apply import ActionResult, ApplyResult, apply_verdict
from reconciler.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, SettingsError
from reconciler.models import DesiredSet, Settings, StateDoc
from reconciler.models.state import JournalEntry
from reconciler.project import Project, load_plan_file, save_plan_file
from reconciler.project.inputs import Sources, read_inputs, refresh_decision
from reconciler.state import LocalStateStore
from tests.apply.harness import MANIFEST_TEMPLATE


def write_manifests(directory: Path, *names: str) -> None:
    (directory / "agents.d").mkdir(exist_ok=True)
    for name in names:
        (directory / "agents.d" / f"{name}.yaml").write_text(MANIFEST_TEMPLATE.format(name=name))


# -- read_inputs and its collaborators ----------------------------------------------------------


def test_read_inputs_reads_from_the_collaborators_it_is_given_not_from_a_project(
    tmp_path: Path,
) -> None:
    loads: list[bool] = []
    desired = DesiredSet()

    def load(allow_unset: bool, meanwhile: Callable[[], None] | None = None) -> DesiredSet:
        loads.append(allow_unset)
        return desired

    @contextlib.asynccontextmanager
    async def no_engine() -> AsyncIterator[Any]:
        raise AssertionError("--no-refresh opens no engine client")
        yield

    sources = Sources(
        settings=Settings(project_dir=tmp_path),
        environ={},
        store=LocalStateStore(tmp_path / "state" / "agents.json"),
        clock=lambda: 1_800_000_000.0,
        load_desired=load,
        open_client=no_engine,
    )
    inputs = asyncio.run(read_inputs(sources, refresh=False, allow_unset=True, resolve=False))
    assert inputs.desired is desired and loads == [True]
    assert not inputs.recorded and not inputs.live.refreshed and inputs.listing is None


def test_without_an_early_refresh_the_state_is_read_while_the_manifests_load(
    tmp_path: Path,
) -> None:
    events: list[str] = []

    class Store(LocalStateStore):
        def load(self) -> StateDoc:
            events.append("state")
            return super().load()

    store = Store(tmp_path / "state" / "agents.json")
    store.write(store.load())
    events.clear()

    def load(allow_unset: bool, meanwhile: Callable[[], None] | None = None) -> DesiredSet:
        events.append("manifests")
        assert meanwhile is not None  # (worker processes would be reading them now)
        meanwhile()
        return DesiredSet()

    @contextlib.asynccontextmanager
    async def no_engine() -> AsyncIterator[Any]:
        raise AssertionError("--no-refresh opens no engine client")
        yield

    sources = Sources(
        settings=Settings(project_dir=tmp_path),
        environ={},
        store=store,
        clock=lambda: 1_800_000_000.0,
        load_desired=load,
        open_client=no_engine,
    )
    inputs = asyncio.run(read_inputs(sources, refresh=False, allow_unset=True, resolve=False))
    assert events == ["manifests", "state"]
    assert inputs.recorded and inputs.state.serial == 1


def test_may_we_refresh_is_decided_once_by_refresh_decision(tmp_path: Path) -> None:
    sandbox = Settings(project_dir=tmp_path)
    remote = Settings(project_dir=tmp_path, engine="https://engine.example")
    assert not refresh_decision(remote, False).refresh  # --no-refresh needs no credentials
    assert (
        refresh_decision(sandbox, None).refresh and refresh_decision(sandbox, None).refusal is None
    )
    refused = refresh_decision(remote, None)
    assert refused.refresh and isinstance(refused.refusal, SettingsError)
    assert "reading the engine's live status needs the credentials" in str(refused.refusal)
    assert "--no-refresh" in str(refused.refusal)
    ready = remote.model_copy(
        update={"customer_id": SecretStr("id"), "customer_secret": SecretStr("secret")}
    )
    assert refresh_decision(ready, None).refusal is None


def test_a_refresh_without_credentials_is_refused_after_the_manifests_load(tmp_path: Path) -> None:
    write_manifests(tmp_path, "a")
    project = Project(Settings(project_dir=tmp_path, engine="https://engine.example"), {})
    with pytest.raises(SettingsError, match="plan against the recorded state only"):
        asyncio.run(project.plan())


# -- what the plan learned travels in its outcome ------------------------------------------------


def test_the_apply_records_the_views_the_plan_handed_over_without_computing_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_manifests(tmp_path, "a", "b")
    project = Project(Settings(project_dir=tmp_path), {})

    async def go() -> StateDoc:
        outcome = await project.plan(resolve=True)
        assert sorted(outcome.views) == ["a", "b"]  # both are started

        def computed_again(*_args: Any) -> None:
            raise AssertionError("the apply computed a view the plan handed over")

        monkeypatch.setattr(run_module, "desired_view", computed_again)
        result, state = await project.apply(
            outcome.plan, outcome.desired, outcome.state, views=outcome.views
        )
        assert result.ok, result
        for name, view in outcome.views.items():
            assert (state.agents[name].spec, state.agents[name].spec_digest) == (
                view.spec,
                view.digest,
            )
        return state

    with project.lock("apply", 0):
        asyncio.run(go())


def test_a_saved_plan_hands_over_the_views_its_check_computed(tmp_path: Path) -> None:
    write_manifests(tmp_path, "a")
    project = Project(Settings(project_dir=tmp_path), {})
    outcome = asyncio.run(project.plan())
    path = tmp_path / "reviewed.plan"
    fresh = outcome.state if not outcome.state_recorded else None
    save_plan_file(outcome.plan, path, fresh_state=fresh)
    desired, state, views = project.check_saved_plan(load_plan_file(path))
    assert views["a"].digest == outcome.plan.agents[0].desired_digest
    assert list(desired.agents) == ["a"] and state.lineage == outcome.state.lineage


# -- one verdict -------------------------------------------------------------------------------


def _journaled(state: StateDoc, name: str) -> StateDoc:
    entry = JournalEntry(
        id="e1", op="join", name=name, wire_name=f"{name}-1", generation=1, channel=name,
        created_at=1.0,
    )  # fmt: skip
    return state.model_copy(update={"journal": [entry]})


def test_the_verdict_of_a_clean_apply_is_success(tmp_path: Path) -> None:
    state = LocalStateStore(tmp_path / "agents.json").load()
    assert apply_verdict(ApplyResult(), state).exit_code == EXIT_OK
    assert apply_verdict(ApplyResult(), state).error is None


def test_the_verdict_weighs_failures_then_an_early_stop_then_an_interruption_then_the_journal(
    tmp_path: Path,
) -> None:
    state = _journaled(LocalStateStore(tmp_path / "agents.json").load(), "a")
    failed = ApplyResult(results=[ActionResult("b", "start", False, reason="X", detail="no")])
    verdict = apply_verdict(failed, state)
    assert verdict.exit_code == EXIT_ERROR and verdict.error is not None
    assert str(verdict.error) == "these actions failed:\n  - b start (X): no"
    assert verdict.one_line == "these actions failed: b start (X): no"
    aborted = apply_verdict(ApplyResult(aborted="state not written"), state)
    assert str(aborted.error) == "state not written"
    interrupted = apply_verdict(ApplyResult(interrupted=True), state)
    assert (interrupted.exit_code, interrupted.error) == (EXIT_INTERRUPTED, None)
    unsettled = apply_verdict(ApplyResult(), state)
    assert unsettled.exit_code == EXIT_ERROR
    assert str(unsettled.error).startswith("interrupted start(s) of a could not be settled")
