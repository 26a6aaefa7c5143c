"""What a plan is made from: manifests, state and the engine's live status, read side by side.

:func:`read_inputs` loads the state, then the manifests while the refresh's engine calls are
in flight, then settles the journal and finishes the refresh. In order:

1. The state is read first (it is small) so that the refresh can start at once, when there is
   one to start (see 2); otherwise it is read while worker processes read the manifests (forked
   first, so that they do not copy it), or before the manifests when those load in this
   process. A state error is held back until the manifests are loaded, so that a manifest error
   still wins as it did when manifests were read first.
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

Whether to refresh at all is decided once, by :func:`refresh_decision`. :func:`read_inputs`
takes what it reads from as explicit collaborators (:class:`Sources`), not the whole project,
and returns everything it learned as one value (:class:`Inputs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from reconciler.errors import EngineError, ReconcilerError, SettingsError, StateError
from reconciler.manifests import parallel
from reconciler.manifests.loader import ENV_WORKERS, discover
from reconciler.models import DesiredSet, LiveStatus, Settings, StateDoc
from reconciler.models.live import ACTIVE_STATUSES, LiveAgent
from reconciler.project.credentials import credentials_error, secret_values
from reconciler.state import StateStore

if TYPE_CHECKING:
    from reconciler.apply.context import ActiveListing
    from reconciler.engine import EngineClient, RetryEvent
    from reconciler.kinds import KindRegistry
    from reconciler.project.platform import PlatformSession

__all__ = [
    "Inputs",
    "LoadDesired",
    "RefreshDecision",
    "Sources",
    "adoptions",
    "gc_paused",
    "import_channels",
    "read_inputs",
    "read_resources_into",
    "refresh_decision",
]


class LoadDesired(Protocol):
    """How :func:`read_inputs` loads the manifests."""

    def __call__(
        self, allow_unset: bool, meanwhile: Callable[[], None] | None = None
    ) -> DesiredSet:
        """The manifests' agents; ``allow_unset``: accept unset variables; ``meanwhile``: run
        it while worker processes read the files (first when there are none), at most once."""
        ...


@dataclass(frozen=True)
class Sources:
    """What a plan's inputs are read from: the collaborators :func:`read_inputs` uses."""

    settings: Settings
    environ: Mapping[str, str]
    store: StateStore
    clock: Callable[[], float]
    load_desired: LoadDesired
    """Load the manifests (see :class:`LoadDesired`)."""
    open_client: Callable[[], contextlib.AbstractAsyncContextManager[EngineClient]]
    """Open the engine client (the manifests' secrets are added once they are loaded)."""
    workers: int | None = None
    """How many processes ``load_desired`` reads the manifests with (``None``: as
    ``RECONCILER_WORKERS`` in :attr:`environ` says, else the loader's choice)."""


@dataclass(frozen=True)
class RefreshDecision:
    """Whether a plan asks the engine, decided once (see :func:`refresh_decision`)."""

    refresh: bool
    refusal: ReconcilerError | None = None
    """Why a refresh that was asked for cannot be made (no credentials): raised once the
    manifests are loaded, so that a manifest error still wins."""


def refresh_decision(settings: Settings, refresh: bool | None) -> RefreshDecision:
    """Refresh unless told not to; a refresh without credentials is an error, never skipped."""
    if refresh is False:
        return RefreshDecision(refresh=False)
    missing = credentials_error(settings, "reading the engine's live status")
    if missing is None:
        try:
            settings.refuse_placeholders()
        except ReconcilerError as exc:  # a placeholder secret: refused as it is
            return RefreshDecision(refresh=True, refusal=exc)
        return RefreshDecision(refresh=True)
    hint = (
        "; export them, or plan against the recorded state only with --no-refresh "
        "(as in a fork's pull request, which has no secrets)"
    )
    return RefreshDecision(refresh=True, refusal=SettingsError(f"{missing}{hint}"))


@dataclass
class Inputs:
    """The manifests, the (settled) state and the live status a plan is made from, and what
    reading them learned that the apply after the plan needs."""

    desired: DesiredSet
    state: StateDoc
    recorded: bool
    """Whether the state was read from its file (False: none yet)."""
    live: LiveStatus = field(default_factory=LiveStatus)
    notes: list[str] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    """Each journal entry's fate, previewed (plan without ``resolve``)."""
    adopted: tuple[tuple[str, str], ...] = ()
    """``(name, agent_id)`` of each agent settling the journal took into state (the evidence)."""
    listing: ActiveListing | None = None
    """The agents the refresh saw active under the state lock (``resolve``), for the capacity
    check of the apply that follows."""


async def read_inputs(
    sources: Sources,
    *,
    refresh: bool | None,
    allow_unset: bool,
    resolve: bool,
) -> Inputs:
    """Read what a plan is made from (see the module docstring)."""
    decision = refresh_decision(sources.settings, refresh)
    remote = decision.refresh and decision.refusal is None and not sources.settings.uses_sandbox
    read = _StateRead(sources.store)
    if remote:  # an early refresh needs the state first
        read()

    def load(meanwhile: Callable[[], None] | None = None) -> DesiredSet:
        with gc_paused():
            return sources.load_desired(allow_unset and refresh is False, meanwhile)

    if remote and read.state is not None and not read.state.journal:
        async with contextlib.AsyncExitStack() as stack:
            try:
                client = await stack.enter_async_context(sources.open_client())
            except Exception:  # raised again below, after the manifests (as it always was)
                client = None
            if client is not None:
                return await _beside(sources, client, read.state, read.recorded, load, resolve)
    # Otherwise the state is read while worker processes read the manifests (if they do).
    desired = load(read)
    read()
    if read.held is not None:
        raise read.held
    assert read.state is not None
    inputs = Inputs(desired, read.state, read.recorded)
    if decision.refusal is not None:
        raise decision.refusal
    if decision.refresh:
        async with sources.open_client() as client:
            client.add_secrets(secret_values(desired))
            await _settle_and_refresh(sources, client, inputs, resolve, None)
    return inputs


class _StateRead:
    """Reads the state once, when called; a state error is held back (raised once the
    manifests are loaded, so that a manifest error still wins)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.done = False
        self.recorded = False
        self.state: StateDoc | None = None
        self.held: StateError | None = None

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        with gc_paused():
            try:
                self.recorded, self.state = self.store.exists, self.store.load()
            except StateError as exc:
                self.held = exc


async def _beside(
    sources: Sources,
    client: EngineClient,
    state: StateDoc,
    recorded: bool,
    load: Callable[[], DesiredSet],
    resolve: bool,
) -> Inputs:
    """Load the manifests while the refresh is in flight (steps 2 and 3 of the docstring)."""
    from reconciler.engine import refresh as refresh_live

    listed_at = time.monotonic()
    task = asyncio.ensure_future(refresh_live(client, state.agents, sources.clock()))
    try:
        beside = _load_beside(sources, len(state.agents))
        desired = await asyncio.to_thread(load) if beside else load()
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    client.add_secrets(secret_values(desired))
    inputs = Inputs(desired, state, recorded)
    early = (await asyncio.gather(task, return_exceptions=True))[0]
    if isinstance(early, BaseException) and not isinstance(early, Exception):
        raise early  # cancelled or interrupted, not a failed call
    live = early if isinstance(early, LiveStatus) else None  # failed: refreshed again, scrubbed
    await _settle_and_refresh(sources, client, inputs, resolve, live, listed_at)
    return inputs


async def _settle_and_refresh(
    sources: Sources,
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
        state, inputs.notes = await resolve_journal(state, client, sources.store, sources.clock)
    elif state.journal:
        settlements = await preview_journal(state, client, sources.clock)
        inputs.journal = [s.preview() for s in settlements]
        state = settle(state, settlements)
    inputs.state, inputs.adopted = state, adoptions(before, state)
    if live is None:
        listed_at = time.monotonic()
        live = await refresh_live(client, state.agents, sources.clock())
    channels = import_channels(inputs.desired, state)
    if channels:  # an agent's channel is learned only from a channel-filtered list
        listed_at = time.monotonic()
        live = await refresh_live(client, state.agents, sources.clock(), channels=channels)
        live = await identify_imports(client, inputs.desired, state, live)
    inputs.live = live
    if resolve and listed_at is not None:
        inputs.listing = _active_listing(live, listed_at)


def _active_listing(live: LiveStatus, listed_at: float) -> ActiveListing:
    """The active agents of the refresh: those the capacity check's own list would return."""
    from reconciler.apply.context import ActiveListing

    active = frozenset(a.agent_id for a in live.agents.values() if a.status in ACTIVE_STATUSES)
    return ActiveListing(agent_ids=active, listed_at=listed_at)


def _load_beside(sources: Sources, recorded: int) -> bool:
    """Whether to load the manifests in a thread, beside the refresh (else in this thread).

    Yes when they load in this process anyway. When they would load in forked workers (which
    a thread rules out), yes only if the state records at least half as many agents as there
    are manifest files: the refresh then lists them, a page of 100 per engine round trip, which
    takes longer than the workers save over one process (on this project's benchmarks, 2,000
    manifests load in 1.1 s forked and 1.3 s in one process; their 20 pages take 2 s or more).
    Plans of mostly new agents (one short list) keep the workers.
    """
    workers = sources.workers
    if workers is None and sources.environ.get(ENV_WORKERS, "").strip() == "1":
        workers = 1
    if workers == 1:
        return True
    agents_dir = sources.settings.agents_path
    if not agents_dir.is_dir():
        return True  # the load reports it at once
    try:
        files = len(discover(agents_dir).files)
    except (OSError, ReconcilerError):  # the load reports it
        return True
    return parallel.worker_count(files) <= 1 or 2 * recorded >= files


def import_channels(desired: DesiredSet, state: StateDoc) -> set[str]:
    """The channels of the manifests whose ``import:`` entry the state does not record yet:
    the refresh lists them, so that the plan can check each entry's agent is in its channel."""
    return {
        agent.channel
        for name, agent in desired.agents.items()
        if agent.import_id is not None and name not in state.agents
    }


async def identify_imports(
    client: EngineClient, desired: DesiredSet, state: StateDoc, live: LiveStatus
) -> LiveStatus:
    """``live`` with the name each active agent of a pending ``import:`` entry was joined with
    (its ``turns`` answer), so that the plan refuses one another state started; an agent the
    engine cannot name keeps none (the other checks decide)."""
    ids = {
        agent.import_id
        for name, agent in desired.agents.items()
        if agent.import_id is not None and name not in state.agents
    }
    found = [live.agents[i] for i in sorted(ids) if i in live.agents and live.agents[i].active]
    if not found:
        return live

    async def named(agent: LiveAgent) -> LiveAgent:
        try:
            identity = await client.identify(agent.agent_id)
        except EngineError:
            return agent
        return agent.model_copy(update={"join_name": identity.name})

    identified = await asyncio.gather(*(named(agent) for agent in found))
    agents = {**live.agents, **{agent.agent_id: agent for agent in identified}}
    return live.model_copy(update={"agents": agents})


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
    back on as soon as the step ends.

    What the step allocated is then set aside (``gc.freeze``) rather than left young: the first
    collection after the pause would otherwise scan every object of the step at once (about
    0.1 s after reading 5,000 manifests), to find nothing. The next pause hands those objects
    back to the collector's oldest generation (``gc.unfreeze``), so that a long-running
    ``watch`` still finds any cycle among them in a full collection.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


async def read_resources_into(
    inputs: Inputs,
    *,
    platform: PlatformSession,
    kinds: KindRegistry,
    store: StateStore,
    resolve: bool,
    on_retry: Callable[[RetryEvent], None] | None = None,
    on_response: Callable[[str, int], None] | None = None,
    parallelism: int | None = None,
) -> None:
    """Settle the write-ahead entries of resources' creates and updates (written with
    ``resolve``, previewed without: :mod:`reconciler.apply.creates`,
    :mod:`reconciler.apply.updates`), then read every recorded resource
    through its kind into ``inputs.live.resources``."""
    from reconciler.apply.creates import look_for_creates, settle_creates
    from reconciler.apply.updates import look_for_updates, settle_updates
    from reconciler.kinds import read_resources

    async with platform.connect(
        secrets=secret_values(inputs.desired),
        on_retry=on_retry,
        on_response=on_response,
        parallelism=parallelism,
    ):
        if inputs.state.creating:
            settlements = await look_for_creates(inputs.state, kinds)
            settled = settle_creates(inputs.state, settlements)
            if resolve:
                inputs.state = store.write(settled)
                inputs.notes.extend(s.done() for s in settlements)
            else:
                inputs.state = settled
                inputs.journal.extend(s.preview() for s in settlements)
        updates = await look_for_updates(inputs.state, kinds)
        if updates:
            settled = settle_updates(inputs.state, updates)
            if resolve:
                inputs.state = store.write(settled)
                inputs.notes.extend(u.done() for u in updates)
            else:
                inputs.state = settled
                inputs.journal.extend(u.preview() for u in updates)
        found = await read_resources(kinds, inputs.state.resources)
    inputs.live = inputs.live.model_copy(update={"resources": found})
