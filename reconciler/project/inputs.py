"""What a plan is made from: manifests, state and the engine's live status, read side by side.

:func:`read_inputs` loads the state, then the manifests while the refresh's engine calls are
in flight, then settles the journal and finishes the refresh. In order:

1. The state is read first (it is small) so that the refresh can start at once; a state error
   is held back until the manifests are loaded, so that a manifest error still wins as it did
   when manifests were read first.
2. The refresh starts as a task before the manifests load, when it can: refresh is on, the
   engine's credentials are set, the engine is not the in-process sandbox (nothing to wait
   for there, and building it writes ``.sandbox/``), and the state holds no journal entries
   (they are settled before the refresh, which then sees what settling recorded). The
   manifests then load in a thread beside the refresh when they load in this process anyway,
   or when the refresh will be long (see :func:`_load_beside`); otherwise they load in forked
   worker processes from this thread (a process that forks must have no other thread), and
   the refresh waits for them.
3. A manifest error cancels the refresh task and is raised as before (also when the engine
   client cannot even be opened: the manifests then load first and the client's error follows).
   The engine client scrubs the manifests' secrets from error texts once they are known; the
   early refresh is used only if it succeeded: if it failed, the refresh runs again, so its
   error is the one it always was, scrubbed of every secret.
4. Pending entries are settled (written with ``resolve``, previewed without), then refreshed.

Under the state lock (``resolve``), the agents the refresh saw active are kept as an
:class:`~reconciler.apply.context.ActiveListing` for the capacity check of the apply that
follows (see ``reconciler.apply.starts.check_capacity`` for when it is fresh enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.errors import ReconcilerError, StateError
from reconciler.manifests import parallel
from reconciler.manifests.loader import ENV_WORKERS, discover
from reconciler.models import DesiredSet, LiveStatus, StateDoc
from reconciler.models.live import STATUS_CODES

if TYPE_CHECKING:
    from reconciler.apply.context import ActiveListing
    from reconciler.engine import EngineClient
    from reconciler.project.project import Hooks, Project

__all__ = ["Inputs", "adoptions", "gc_paused", "read_inputs"]


@dataclass
class Inputs:
    """The manifests, the (settled) state and the live status a plan is made from."""

    desired: DesiredSet
    state: StateDoc
    recorded: bool
    """Whether the state was read from its file (False: none yet)."""
    live: LiveStatus = field(default_factory=LiveStatus)
    notes: list[str] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    """Each journal entry's fate, previewed (plan without ``resolve``)."""
    adopted: tuple[tuple[str, str], ...] = ()
    listing: ActiveListing | None = None


async def read_inputs(
    project: Project,
    *,
    refresh: bool | None,
    allow_unset: bool,
    resolve: bool,
    parallelism: int | None,
    hooks: Hooks,
) -> Inputs:
    """Read what a plan is made from (see the module docstring)."""
    with gc_paused():
        try:
            recorded, state, held = project.store.exists, project.store.load(), None
        except StateError as exc:
            recorded, state, held = False, None, exc

    def load() -> DesiredSet:
        with gc_paused():
            return project.load_desired(allow_unset=allow_unset and refresh is False)

    settings = project.settings
    early = (
        state is not None
        and not state.journal
        and refresh is not False
        and settings.has_credentials
        and settings.engine != "sandbox"
    )
    if early and state is not None:
        async with contextlib.AsyncExitStack() as stack:
            try:
                client = await stack.enter_async_context(_client(project, hooks, parallelism))
            except Exception:  # raised again below, after the manifests (as it always was)
                client = None
            if client is not None:
                return await _beside(project, client, state, recorded, load, refresh, resolve)
    desired = load()
    if held is not None:
        raise held
    assert state is not None
    inputs = Inputs(desired, state, recorded)
    if project.should_refresh(refresh):
        async with _client(project, hooks, parallelism) as client:
            client.add_secrets(_secrets(desired))
            await _settle_and_refresh(project, client, inputs, resolve, None)
    return inputs


async def _beside(
    project: Project,
    client: EngineClient,
    state: StateDoc,
    recorded: bool,
    load: Callable[[], DesiredSet],
    refresh: bool | None,
    resolve: bool,
) -> Inputs:
    """Load the manifests while the refresh is in flight (steps 2 and 3 of the docstring)."""
    from reconciler.engine import refresh as refresh_live

    listed_at = time.monotonic()
    task = asyncio.ensure_future(refresh_live(client, state.agents, project.clock()))
    try:
        beside = _load_beside(project, len(state.agents))
        desired = await asyncio.to_thread(load) if beside else load()
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    client.add_secrets(_secrets(desired))
    project.should_refresh(refresh)  # the credentials are set: this cannot refuse
    inputs = Inputs(desired, state, recorded)
    early = (await asyncio.gather(task, return_exceptions=True))[0]
    if isinstance(early, BaseException) and not isinstance(early, Exception):
        raise early  # cancelled or interrupted, not a failed call
    live = early if isinstance(early, LiveStatus) else None  # failed: refreshed again, scrubbed
    await _settle_and_refresh(project, client, inputs, resolve, live, listed_at)
    return inputs


async def _settle_and_refresh(
    project: Project,
    client: EngineClient,
    inputs: Inputs,
    resolve: bool,
    live: LiveStatus | None,
    listed_at: float | None = None,
) -> None:
    """Settle journal entries, then refresh (unless ``live`` is the refresh already made)."""
    from reconciler.apply import preview_journal, resolve_journal, settle
    from reconciler.engine import refresh as refresh_live

    state = before = inputs.state
    if state.journal and resolve:
        state, inputs.notes = await resolve_journal(state, client, project.store, project.clock)
    elif state.journal:
        settlements = await preview_journal(state, client, project.clock)
        inputs.journal = [s.preview() for s in settlements]
        state = settle(state, settlements)
    inputs.state, inputs.adopted = state, adoptions(before, state)
    if live is None:
        listed_at = time.monotonic()
        live = await refresh_live(client, state.agents, project.clock())
    inputs.live = live
    if resolve and listed_at is not None:
        inputs.listing = _active_listing(live, listed_at)


_ACTIVE_LISTED = frozenset(
    status for status, code in STATUS_CODES.items() if code in (1, 2, 5)
)  # STARTING, RUNNING, RECOVERING: what the capacity check's own list asks for


def _active_listing(live: LiveStatus, listed_at: float) -> ActiveListing:
    from reconciler.apply.context import ActiveListing

    active = frozenset(a.agent_id for a in live.agents.values() if a.status in _ACTIVE_LISTED)
    return ActiveListing(agent_ids=active, listed_at=listed_at)


def _load_beside(project: Project, recorded: int) -> bool:
    """Whether to load the manifests in a thread, beside the refresh (else in this thread).

    Yes when they load in this process anyway. When they would load in forked workers (which
    a thread rules out), yes only if the state records at least half as many agents as there
    are manifest files: the refresh then lists them, a page of 100 per engine round trip, which
    takes longer than the workers save over one process (on this project's benchmarks, 2,000
    manifests load in 1.1 s forked and 1.3 s in one process; their 20 pages take 2 s or more).
    Plans of mostly new agents (one short list) keep the workers.
    """
    if project.environ.get(ENV_WORKERS, "").strip() == "1":
        return True
    agents_dir = project.settings.agents_path
    if not agents_dir.is_dir():
        return True  # the load reports it at once
    try:
        files = len(discover(agents_dir).files)
    except (OSError, ReconcilerError):  # the load reports it
        return True
    return parallel.worker_count(files) <= 1 or 2 * recorded >= files


def _client(
    project: Project, hooks: Hooks, parallelism: int | None
) -> contextlib.AbstractAsyncContextManager[EngineClient]:
    """The engine client; the manifests' secrets are added once they are loaded."""
    from reconciler.project.connect import engine_client

    return engine_client(
        project.settings,
        on_retry=hooks.on_retry,
        parallelism=parallelism,
        on_response=hooks.on_engine_call,
    )


def _secrets(desired: DesiredSet) -> set[str]:
    from reconciler.project.project import secret_values  # project.py imports this module

    return secret_values(desired)


def adoptions(before: StateDoc, after: StateDoc) -> tuple[tuple[str, str], ...]:
    """``(name, agent_id)`` of each agent that settling the journal took into state: a recorded
    start whose record now carries the entry's wire name (the engine's evidence)."""
    found = []
    for entry in before.journal:
        record = after.agents.get(entry.name)
        old = before.agents.get(entry.name)
        if (
            entry.op == "join"
            and record is not None
            and record.wire_name == entry.wire_name
            and (old is None or old.agent_id != record.agent_id)
        ):
            found.append((entry.name, record.agent_id))
    return tuple(found)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while manifests, state or a plan are built.

    Those steps allocate millions of small dicts and lists that all stay alive; the collector
    would scan the growing heap again and again for cycles there are none of (about 10% of a
    5,000-agent plan). Reference counting still frees everything as usual; the collector is
    back on as soon as the step ends, and the next collection finds any cycle made meanwhile.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
