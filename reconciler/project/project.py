"""The project: settings, manifests, state and engine, and the plan and apply workflows."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as replace_options
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import (
    PlanError,
    SettingsError,
    StalePlanError,
    StateError,
    ValidationError,
)
from reconciler.manifests import load_desired, load_settings
from reconciler.manifests.excerpt import with_excerpts
from reconciler.manifests.settings import environ_for
from reconciler.manifests.shared import SharedLoads
from reconciler.models import DesiredAgent, DesiredSet, LiveStatus, Plan, Settings, StateDoc
from reconciler.models.hosts import is_loopback_url
from reconciler.models.settings import is_sandbox
from reconciler.plan import DesiredView, PlanOptions, build_plan_with_views
from reconciler.project.credentials import credentials_error, secret_values
from reconciler.project.inputs import Inputs, Sources, gc_paused, read_inputs, read_resources_into
from reconciler.project.locate import require_project
from reconciler.project.planchecks import (
    check_actions,
    check_resources_unmoved,
    check_same_manifests,
    check_same_state,
    check_starts_not_running,
    ensure_applicable,
    recorded_starts,
    resources_to_recheck,
)
from reconciler.project.planfile import SavedPlan
from reconciler.project.platform import PlatformSession, project_kinds
from reconciler.project.rooms import check_other_rooms
from reconciler.state import StateLocker, open_backend

if TYPE_CHECKING:
    from reconciler.apply import ApplyContext, ApplyEvent, ApplyResult
    from reconciler.apply.context import ActiveListing
    from reconciler.engine import EngineClient, RetryEvent

# The engine client (httpx) and the apply executor are imported where they are used, so that
# commands that never talk to the engine (plan --no-refresh, validate, show) start faster.


@dataclass
class PlanOutcome:
    """A plan and what it was made from."""

    plan: Plan
    desired: DesiredSet
    state: StateDoc
    live: LiveStatus
    notes: list[str] = field(default_factory=list)
    """What happened on the way (journal entries resolved, ...)."""
    state_recorded: bool = True
    """Whether the state was read from its file (False: none yet, ``state`` is a fresh one)."""
    listing: ActiveListing | None = None
    """The agents the refresh saw active under the state lock (a plan with ``resolve``): the
    apply of this plan may count them for its capacity check instead of listing again."""
    views: Mapping[str, DesiredView] = field(default_factory=dict)
    """The plan's view of each agent it starts, restarts or updates: what the apply records."""


@dataclass
class Hooks:
    """Callbacks the CLI passes in to report progress (never required)."""

    on_event: Callable[[ApplyEvent], None] | None = None
    on_retry: Callable[[RetryEvent], None] | None = None
    on_engine_call: Callable[[str, int], None] | None = None
    """Every engine call: its operation and HTTP status (0: no answer), e.g. for metrics."""
    on_note: Callable[[str], None] | None = None
    should_stop: Callable[[], bool] | None = None


class Project:
    """One project directory: ``reconciler.yaml``, ``agents.d/``, ``state/``."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        """Opened for a read-only command (:mod:`reconciler.cli.readonly`): nothing is written,
        not even the embedded sandbox's database (each client it opens is read-only), and
        taking the state lock (what every write does first) is refused as a defect."""
        self.process_environ = environ
        """The process environment as given."""
        self.environ = environ_for(settings.variables, environ)
        """The process environment as the project's environment sees it (its variables)."""
        self.clock = clock
        self.backend = open_backend(settings, environ, read_only=read_only)
        self.store = self.backend.store
        self.platform = PlatformSession(settings, read_only=read_only)
        """The Conversational AI Platform, for the resources of its kinds."""
        self.kinds = project_kinds(self.platform)
        """Every kind the manifests may declare, bound to :attr:`platform`."""
        self.shared_loads: SharedLoads | None = None
        """Files and documents shared with the other environments' projects of this process
        (``plan --env all``); the manifests are then read in this process, one load at a
        time."""

    @classmethod
    def open(
        cls,
        directory: Path,
        config: Path | None,
        environ: Mapping[str, str],
        environment: str | None = None,
        *,
        read_only: bool = False,
    ) -> Project:
        """The project in ``directory`` as ``environment`` sees it (``read_only``: for a
        read-only command); refuses (writing nothing) a directory that is not one."""
        require_project(directory, config)
        settings = load_settings(directory, config, environ, environment)
        return cls(settings, environ, read_only=read_only)

    def use_settings(self, settings: Settings) -> None:
        """Work with ``settings`` from now on (re-read ones: a watch's next run)."""
        self.settings = settings
        self.environ = environ_for(settings.variables, self.process_environ)

    def load_desired(
        self, *, allow_unset: bool = False, meanwhile: Callable[[], None] | None = None
    ) -> DesiredSet:
        """The manifests' agents; ``meanwhile`` runs while worker processes read them (see
        :func:`reconciler.manifests.load_desired`)."""
        shared = self.shared_loads
        if shared is None:
            return load_desired(
                self.settings, self.environ, allow_unset=allow_unset, meanwhile=meanwhile
            )
        with shared.turn():
            return load_desired(
                self.settings,
                self.environ,
                allow_unset=allow_unset,
                shared=shared,
                meanwhile=meanwhile,
            )

    def _load_for_inputs(
        self, allow_unset: bool, meanwhile: Callable[[], None] | None = None
    ) -> DesiredSet:
        """The manifests a plan is made from; one environment's (``plan --env all`` checks
        every environment together) checked against the rooms of the others on its App ID."""
        desired = self._load_plain(allow_unset, meanwhile)
        if self.shared_loads is None:
            check_other_rooms(self.settings, self.process_environ, desired)
        return desired

    def _load_plain(
        self, allow_unset: bool, meanwhile: Callable[[], None] | None = None
    ) -> DesiredSet:
        """The manifests a destroy plan is made from: it starts nothing, so no room is checked
        (it stays the way out of a clash)."""
        return self.load_desired(allow_unset=allow_unset, meanwhile=meanwhile)

    def lock(self, command: str, timeout: float) -> StateLocker:
        """The state lock every write of the state takes first (refused when read-only)."""
        return self.backend.lock(command, timeout)  # refused when read-only

    def refuse_if_read_only(self, doing: str) -> None:
        """Raise :class:`StateError` if the project was opened for a read-only command: a write
        (``doing``) there is a defect, refused before anything is written."""
        if self.read_only:
            raise StateError(
                f"{doing} would write, but the project was opened for a read-only command "
                "(a defect in reconciler)"
            )

    def engine_client(
        self,
        *,
        on_retry: Callable[[RetryEvent], None] | None = None,
        secrets: Iterable[str] = (),
        parallelism: int | None = None,
        on_response: Callable[[str, int], None] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[EngineClient]:
        """A client of the project's engine (see :func:`reconciler.project.connect.engine_client`),
        read-only when the project is."""
        from reconciler.project.connect import engine_client

        return engine_client(
            self.settings,
            read_only=self.read_only,
            on_retry=on_retry,
            secrets=secrets,
            parallelism=parallelism,
            on_response=on_response,
        )

    def require_credentials(self, why: str) -> None:
        """Raise :class:`SettingsError` naming what is missing if the engine cannot be reached."""
        missing = credentials_error(self.settings, why)
        if missing is not None:
            raise missing
        self.settings.refuse_placeholders()

    def _options(
        self,
        targets: tuple[str, ...],
        replace: tuple[str, ...],
        destroy: bool,
        force: bool,
        excludes: tuple[str, ...] = (),
    ) -> PlanOptions:
        return PlanOptions(
            app_id=self.settings.app_id,
            engine=self.settings.engine_label,
            platform=self.settings.platform_label,
            environment=self.settings.environment or "",
            max_concurrent_agents=self.settings.max_concurrent_agents,
            token_renewal_window_s=self.settings.token_renewal_window_s,
            rotate_before_cap_s=self.settings.rotate_before_cap_s,
            targets=targets,
            excludes=excludes,
            replace=replace,
            destroy=destroy,
            force=force,
            max_unavailable=self.settings.max_unavailable,
            kinds=self.kinds,
        )

    async def plan(
        self,
        *,
        refresh: bool | None = None,
        targets: tuple[str, ...] = (),
        excludes: tuple[str, ...] = (),
        replace: tuple[str, ...] = (),
        destroy: bool = False,
        force: bool = False,
        hooks: Hooks | None = None,
        allow_unset: bool = False,
        resolve: bool = False,
        parallelism: int | None = None,
    ) -> PlanOutcome:
        """Plan, settling journal entries first when refreshing.

        ``allow_unset`` (``plan --no-refresh``, as in a fork's pull request without secrets)
        accepts unset variables: the plan shows their values as unknown and cannot be applied.
        With ``resolve`` (apply and destroy, which hold the lock) the settled journal is written
        to state; without it (plan) nothing is written: the plan is made as if settled, and
        each entry's fate (what apply will do about it) is among the plan's warnings.
        ``parallelism`` (apply's flag) bounds the refresh's calls in flight as it bounds
        apply's (default: the settings').

        Without ``resolve`` no lock is needed and no file is written: state is replaced by
        atomic renames, so the snapshot read is consistent, and with no state recorded yet the
        plan is made against a fresh document that exists only in memory
        (``PlanOutcome.state_recorded`` is then False).
        """
        hooks = hooks or Hooks()
        inputs = await self._read_plan_inputs(
            hooks,
            refresh=refresh,
            allow_unset=allow_unset,
            resolve=resolve,
            destroy=destroy,
            parallelism=parallelism,
        )
        options = self._options(targets, replace, destroy, force, excludes)
        if inputs.journal or inputs.adopted:
            options = replace_options(
                options, warnings=(*options.warnings, *inputs.journal), adopted=inputs.adopted
            )
        plan, views = self._build_plan(inputs, options)
        return PlanOutcome(
            plan=plan,
            desired=inputs.desired,
            state=inputs.state,
            live=inputs.live,
            notes=inputs.notes,
            state_recorded=inputs.recorded,
            listing=inputs.listing,
            views=views,
        )

    async def _read_plan_inputs(
        self,
        hooks: Hooks,
        *,
        refresh: bool | None,
        allow_unset: bool,
        resolve: bool,
        destroy: bool,
        parallelism: int | None,
    ) -> Inputs:
        """Read what :meth:`plan` is made from: the manifests (only their names and kinds when
        destroying), the state, and, when refreshing, the engine's and the Platform's answers
        about what state records."""

        def open_client() -> contextlib.AbstractAsyncContextManager[EngineClient]:
            return self.engine_client(
                on_retry=hooks.on_retry, parallelism=parallelism, on_response=hooks.on_engine_call
            )

        sources = Sources(
            settings=self.settings,
            environ=self.environ,
            store=self.store,
            clock=self.clock,
            load_desired=self._load_for_inputs if not destroy else self._load_plain,
            open_client=open_client,
            workers=1 if self.shared_loads is not None else None,
        )
        inputs = await read_inputs(
            sources, refresh=refresh, allow_unset=allow_unset, resolve=resolve
        )
        if inputs.live.refreshed and (inputs.state.resources or inputs.state.creating):
            await read_resources_into(
                inputs,
                platform=self.platform,
                kinds=self.kinds,
                store=self.store,
                resolve=resolve,
                on_retry=hooks.on_retry,
                on_response=hooks.on_engine_call,
                parallelism=parallelism,
            )
        return inputs

    def _build_plan(
        self, inputs: Inputs, options: PlanOptions
    ) -> tuple[Plan, dict[str, DesiredView]]:
        """:func:`build_plan_with_views` of ``inputs``, with the garbage collector paused; a
        problem located in the manifests is shown with their lines."""
        with gc_paused():
            try:
                return build_plan_with_views(
                    inputs.desired, inputs.state, inputs.live, now=self.clock(), options=options
                )
            except ValidationError as exc:
                problems = with_excerpts(exc.problems, self.settings.project_dir)
                raise ValidationError(problems, exc.what) from None

    def check_saved_plan(
        self, saved: SavedPlan
    ) -> tuple[DesiredSet, StateDoc, Mapping[str, DesiredView]]:
        """Load manifests and state; refuse ``saved`` if either moved on or an action is unfit.

        Returns the manifests and the state to apply it to (the recorded state, or the fresh
        (empty) state the plan was made for when none was recorded then), and the view of each
        desired agent the check computed (for :meth:`apply`).
        """
        plan = saved.plan
        environment = self.settings.environment or ""
        if plan.environment != environment:
            made = f"environment {plan.environment}" if plan.environment else "no environment"
            used = f"--env {environment}" if environment else "no environment"
            raise PlanError(
                f"the plan was made for {made} (app {plan.app_id}), this run uses {used} "
                f"(app {self.settings.app_id}); plan again with the environment to apply"
            )
        if plan.app_id and plan.app_id != self.settings.app_id:
            raise PlanError(
                f"the plan was made for app {plan.app_id}, this project uses {self.settings.app_id}"
            )
        if plan.engine and plan.engine != self.settings.engine_label:
            raise PlanError(
                f"the plan was made for engine {plan.engine}, this project uses engine "
                f"{self.settings.engine_label}"
            )
        if plan.platform and plan.platform != self.settings.platform_label:
            raise PlanError(
                f"the plan was made for the Platform {plan.platform}, this project uses "
                f"{self.settings.platform_label}"
            )
        with gc_paused():
            desired = self.load_desired()
            recorded = self.store.exists
            state = self.store.load()
        if saved.fresh_state is not None:
            if recorded:
                raise StalePlanError(
                    "stale plan: it was made before any state was recorded, and "
                    f"{self.store.where} exists now (serial {state.serial}); plan again"
                )
            state = saved.fresh_state
        elif not recorded:
            raise StalePlanError(
                f"stale plan: it was made for state lineage {plan.lineage} (serial "
                f"{plan.serial}), and {self.store.where} does not exist now; plan again"
            )
        check_same_state(plan, state)
        # Before the actions are checked: a plan made while starts were unsettled assumed their
        # outcome (an adopted record the state does not hold yet), which is not an edit.
        unsettled = sorted({p.wire_name for p in state.journal if p.op == "join"})
        if unsettled:
            raise StalePlanError(
                f"state holds {len(unsettled)} interrupted start(s) ({', '.join(unsettled)}) "
                "that a saved plan cannot settle; run `reconciler apply` without a plan file "
                "to settle them, then plan again"
            )
        updating = sorted(a for a, r in state.resources.items() if r.updating is not None)
        if updating:
            raise StalePlanError(
                f"state holds {len(updating)} interrupted update(s) ({', '.join(updating)}) "
                "that a saved plan cannot settle; run `reconciler apply` without a plan file "
                "to settle them, then plan again"
            )
        creating = sorted(state.creating)
        if creating:
            raise StalePlanError(
                f"state holds {len(creating)} interrupted create(s) ({', '.join(creating)}): the "
                "saved plan was reviewed without knowing whether they landed, and cannot settle "
                "them; run `reconciler apply` without a plan file to settle them, then run "
                "`reconciler plan` again"
            )
        check_actions(plan, state, saved.path)
        views = check_same_manifests(plan, state, desired)
        return desired, state, views

    async def apply(
        self,
        plan: Plan,
        desired: DesiredSet,
        state: StateDoc,
        *,
        parallelism: int | None = None,
        hooks: Hooks | None = None,
        saved: bool = False,
        listing: ActiveListing | None = None,
        views: Mapping[str, DesiredView] | None = None,
        wait_s: float | None = None,
    ) -> tuple[ApplyResult, StateDoc]:
        """Carry out ``plan`` (the caller holds the lock).

        ``wait_s``: then wait up to that long until every agent started is up, read from the
        engine's list (:func:`reconciler.apply.readiness.wait_until_up`); None: the join's
        answer is enough.

        ``saved``: the plan comes from a file (checked with :meth:`check_saved_plan`); before
        anything is done, the engine is asked whether the recorded agent of every name it
        starts is still active, and the plan is refused (stale) if one is.

        State is written through the store's write log (O(changed records) per write),
        folded into the state when the apply ends. ``listing`` (the plan's
        :attr:`PlanOutcome.listing`, made under the same lock) lets the capacity check count
        the agents the plan's refresh saw active instead of listing again; ``views`` (the
        plan's :attr:`PlanOutcome.views`, or those of :meth:`check_saved_plan`) are recorded as
        they are, not computed again.
        """
        from reconciler.apply import apply_plan
        from reconciler.engine import refresh as refresh_live

        self.refuse_if_read_only("apply")
        ensure_applicable(plan)
        hooks = hooks or Hooks()
        parallelism = parallelism or self.settings.parallelism
        async with self.engine_client(
            on_retry=hooks.on_retry,
            secrets=secret_values(desired),
            parallelism=parallelism,
            on_response=hooks.on_engine_call,
        ) as client:
            restarted = recorded_starts(plan, state) if saved else {}
            if restarted:
                live = await refresh_live(client, restarted, self.clock())
                check_starts_not_running(plan, state, live)
            ctx = self._apply_context(
                client, plan, desired, hooks, parallelism, listing=listing, wait_s=wait_s
            )
            async with contextlib.AsyncExitStack() as stack:
                if any(r.action != "no-op" for r in plan.resources):
                    await self._connect_platform(stack, desired, hooks, parallelism)
                    if saved:
                        await self._check_resources_unmoved(plan, state)
                with self.store.write_log():
                    result, doc = await apply_plan(plan, desired, state, ctx, views)
            if wait_s is not None and not result.interrupted:
                from reconciler.apply.readiness import wait_until_up

                await wait_until_up(ctx, result, wait_s)
            return result, doc

    def _apply_context(
        self,
        client: EngineClient,
        plan: Plan,
        desired: DesiredSet,
        hooks: Hooks,
        parallelism: int,
        *,
        listing: ActiveListing | None,
        wait_s: float | None,
    ) -> ApplyContext:
        """What :meth:`apply` hands the executor: the client, the store, the settings' limits
        and timeouts, the hooks, and a token minter when an agent needs one."""
        from reconciler.apply import ApplyContext

        return ApplyContext(
            client=client,
            store=self.store,
            mint_token=self._token_minter() if _needs_tokens(plan, desired) else None,
            parallelism=parallelism,
            max_concurrent_agents=self.settings.max_concurrent_agents,
            stop_wait_timeout_s=self.settings.stop_wait_timeout_s,
            ready_timeout_s=wait_s,
            poll_interval_s=poll_interval_for(self.settings.engine),
            clock=self.clock,
            on_event=hooks.on_event or (lambda _e: None),
            should_stop=hooks.should_stop or (lambda: False),
            active_listing=listing,
            kinds=self.kinds,
        )

    async def _connect_platform(
        self,
        stack: contextlib.AsyncExitStack,
        desired: DesiredSet,
        hooks: Hooks,
        parallelism: int,
    ) -> None:
        """Open the Platform session :meth:`apply` changes resources through, closed with
        ``stack``."""
        await stack.enter_async_context(
            self.platform.connect(
                secrets=secret_values(desired),
                on_retry=hooks.on_retry,
                on_response=hooks.on_engine_call,
                parallelism=parallelism,
            )
        )

    async def _check_resources_unmoved(self, plan: Plan, state: StateDoc) -> None:
        """Read each recorded resource a saved plan changes; refuse the plan if one moved."""
        records = resources_to_recheck(plan, state)
        live = {
            address: await self.kinds.kind(record.kind).read(record.id)
            for address, record in sorted(records.items())
        }
        check_resources_unmoved(plan, state, live, self.kinds)

    def _token_minter(self) -> Callable[[DesiredAgent, float], tuple[str, float]]:
        from reconciler.engine import mint_agent_token

        settings = self.settings
        if settings.app_certificate is None:
            raise SettingsError(
                "token: auto needs app_certificate in reconciler.yaml "
                "(usually ${AGORA_APP_CERTIFICATE})"
            )
        certificate = settings.app_certificate.get_secret_value()

        def mint(agent: DesiredAgent, now: float) -> tuple[str, float]:
            return mint_agent_token(
                settings.app_id,
                certificate,
                agent.channel,
                agent.agent_rtc_uid,
                settings.token_ttl_s,
                now,
                agent.enable_rtm,
            )

        return mint


def _needs_tokens(plan: Plan, desired: DesiredSet) -> bool:
    for action in plan.agents:
        agent = desired.agents.get(action.name)
        if agent is not None and agent.token_mode == "auto" and action.action != "no-op":
            return True
    return False


def poll_interval_for(engine: str) -> float:
    """Seconds between polls while waiting for a stop: 0.25 on the in-process sandbox or an
    engine on loopback (a served sandbox), 1 elsewhere."""
    return 0.25 if is_sandbox(engine) or is_loopback_url(engine) else 1.0
