"""``reconciler apply`` and ``reconciler destroy``: make the engine match, with consent."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from reconciler.apply import ApplyResult, apply_verdict
from reconciler.apply.context import INTERRUPT_GRACE_S, ActiveListing
from reconciler.cli.context import given_path, project_from_context
from reconciler.cli.options import (
    compact_option,
    exclude_option,
    lock_timeout_option,
    output_format_option,
    parallelism_option,
    refresh_option,
    replace_option,
    target_option,
    timeout_option,
)
from reconciler.cli.output import note, retry_reporter, summary_line, use_color
from reconciler.cli.plan import make_plan, render
from reconciler.cli.progress import JsonEvents, TextProgress, engine_actions
from reconciler.cli.runner import run_async
from reconciler.engine import RetryEvent
from reconciler.errors import EXIT_ERROR, EXIT_OK, DeadlineExceededError, PlanError
from reconciler.models import DesiredSet, Plan, StateDoc
from reconciler.models.deadline import Deadline, current_deadline, deadline_scope, extend_current
from reconciler.plan import DesiredView
from reconciler.project import PlanOutcome, Project, load_plan_file
from reconciler.project.planchecks import ensure_applicable
from reconciler.project.planfile import SavedPlan
from reconciler.project.project import Hooks


def _confirm(plan: Plan, auto_approve: bool, verb: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        saved = " (or apply a saved plan file)" if verb == "apply" else ""
        raise PlanError(
            f"refusing to {verb} without confirmation: stdin is not a terminal; "
            f"review the plan and pass --auto-approve{saved}"
        )
    asked = time.monotonic()
    answer = click.prompt(
        f"\nDo you want to {verb} these changes? Only 'yes' will be accepted",
        default="",
        show_default=False,
    )
    extend_current(time.monotonic() - asked)  # the deadline counts no time spent answering
    if answer.strip() != "yes":
        raise PlanError(f"{verb} cancelled")


EVENT_FORMATS = ("text", "json")

format_option = output_format_option(
    EVENT_FORMATS,
    "text for people; json: one event per line for machines (docs/apply-events.md; "
    "needs --auto-approve or a plan file).",
)


def _check_json_consent(verb: str, auto_approve: bool, fmt: str) -> None:
    """``--format json`` leaves no one to ask: it needs ``--auto-approve`` (a usage error, said
    before the state lock is taken or the engine asked)."""
    if fmt == "json" and not auto_approve:
        raise click.UsageError(
            f"--format json needs --auto-approve (there is no one to ask to {verb})"
        )


def _plan_and_confirm(
    ctx: click.Context,
    project: Project,
    verb: str,
    auto_approve: bool,
    fmt: str = "text",
    **options: Any,
) -> PlanOutcome | None:
    """Plan (settling the journal), show it, and get consent; None when there is nothing to do."""
    _check_json_consent(verb, auto_approve, fmt)
    outcome = make_plan(ctx, project, resolve=True, **options)
    if fmt == "text":
        click.echo(render(outcome.plan, "text"))
    ensure_applicable(outcome.plan)
    if not outcome.plan.has_changes:
        verdict = apply_verdict(ApplyResult(), outcome.state)
        if verdict.error is not None:
            raise verdict.error
        _nothing_to_do(outcome.plan, fmt)
        return None
    _confirm(outcome.plan, auto_approve, verb)
    return outcome


def _plan_and_execute(
    ctx: click.Context,
    project: Project,
    verb: str,
    auto_approve: bool,
    fmt: str,
    wait_s: float | None,
    **options: Any,
) -> int:
    """Plan, show, confirm and carry out (``apply`` or ``destroy``); ``options`` go to the
    plan, its ``parallelism`` to the run too."""
    outcome = _plan_and_confirm(ctx, project, verb, auto_approve, fmt, **options)
    if outcome is None:
        return EXIT_OK
    return _execute(
        project,
        outcome.plan,
        outcome.desired,
        outcome.state,
        options.get("parallelism"),
        fmt,
        listing=outcome.listing,
        views=outcome.views,
        wait_s=wait_s,
    )


def _execute(
    project: Project,
    plan: Plan,
    desired: DesiredSet,
    state: StateDoc,
    parallelism: int | None,
    fmt: str = "text",
    *,
    saved: bool = False,
    wait_s: float | None = None,
    listing: ActiveListing | None = None,
    views: Mapping[str, DesiredView] | None = None,
) -> int:
    """Carry out ``plan`` and report it; every message names ``plan.operation``."""
    began = time.monotonic()
    printer = _progress_printer(plan, fmt, wait_s)
    stop = _StopSwitch(plan, current_deadline())
    report_retry = retry_reporter(click.get_current_context(), project.environ)

    def on_retry(event: RetryEvent) -> None:
        printer.retry(event, report_retry)

    hooks = Hooks(on_event=printer, on_retry=on_retry, should_stop=stop.should_stop)

    async def apply() -> tuple[ApplyResult, StateDoc]:
        return await project.apply(
            plan,
            desired,
            state,
            parallelism=parallelism,
            hooks=hooks,
            saved=saved,
            listing=listing,
            views=views,
            wait_s=wait_s,
        )

    result, applied = run_async(_run_interruptible(apply, printer, stop))
    printer.finish(result, summary_line(result, plan.operation), time.monotonic() - began)
    _raise_if_past_deadline(stop, result, plan.operation)
    verdict = apply_verdict(result, applied)
    if verdict.error is not None:
        raise verdict.error
    return verdict.exit_code


def _progress_printer(plan: Plan, fmt: str, wait_s: float | None) -> TextProgress | JsonEvents:
    """The progress of ``plan``'s apply: JSON events, or text lines (a bar on a terminal)."""
    if fmt == "json":
        return JsonEvents(plan, plan.operation)
    return TextProgress(
        engine_actions(plan),
        color=use_color(sys.stdout),
        bar=_is_tty(sys.stderr),
        wait=wait_s is not None,
        buffered=not _is_tty(sys.stdout),
    )


class _StopSwitch:
    """When an apply stops beginning new actions: after a Ctrl-C (or SIGTERM), or at the
    command's deadline, as after Ctrl-C; the calls in flight (and the start of a restart
    whose old agent is stopped) may take ``INTERRUPT_GRACE_S`` more, no longer."""

    def __init__(self, plan: Plan, deadline: Deadline | None) -> None:
        self.requested = False
        self.deadline = deadline
        self.finishing = deadline.later(INTERRUPT_GRACE_S) if deadline else None
        self._plan = plan

    def should_stop(self) -> bool:
        """Whether no new action may begin."""
        return self.requested or (self.deadline is not None and self.deadline.expired())

    def request(self) -> None:
        """A signal's handler: say (once) what happens now, and stop beginning actions."""
        if not self.requested:
            restarts = (
                " (restarts whose old agent is stopped get their new one first)"
                if self._plan.summary.restart
                else ""
            )
            note(
                f"\nInterrupt received: {self._plan.operation} finishes the calls in flight "
                f"and saves state{restarts}..."
            )
        self.requested = True


async def _run_interruptible(
    apply: Callable[[], Awaitable[tuple[ApplyResult, StateDoc]]],
    printer: TextProgress | JsonEvents,
    stop: _StopSwitch,
) -> tuple[ApplyResult, StateDoc]:
    """Run ``apply`` under the switch's finishing deadline, with SIGINT and SIGTERM turning
    the switch and the printer ticking every second; the text lines held back are flushed
    whatever ends the run."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.request)
    if isinstance(printer, JsonEvents):  # from here on, a Ctrl-C ends it with its summary
        printer.start()
    ticker = asyncio.create_task(_tick(printer))
    try:
        with deadline_scope(stop.finishing):
            return await apply()
    finally:
        ticker.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if isinstance(printer, TextProgress):
            printer.flush()


async def _tick(printer: TextProgress | JsonEvents) -> None:
    """Tick the printer every second, until cancelled."""
    while True:
        await asyncio.sleep(1.0)
        printer.tick()


def _raise_if_past_deadline(stop: _StopSwitch, result: ApplyResult, operation: str) -> None:
    """A :class:`DeadlineExceededError` when the deadline, not a Ctrl-C, left work undone."""
    deadline = stop.deadline
    if deadline is not None and deadline.expired() and not stop.requested and not result.ok:
        raise DeadlineExceededError(
            f"{operation} stopped at {deadline}: no action began after it, and the calls in "
            f"flight were finished and recorded (see the summary above); run reconciler "
            f"{operation} again to carry out the rest, with a longer --timeout if needed"
        )


def _nothing_to_do(plan: Plan, fmt: str, *, said: bool = True) -> None:
    """A plan without changes: a line for people (unless the rendered plan ``said`` so
    already), a start and a summary event for machines."""
    message = f"No changes. Nothing to {plan.operation}."
    if fmt == "json":
        events = JsonEvents(plan, plan.operation)
        events.start()
        events.finish(ApplyResult(), message, 0.0)
    elif not said:
        click.echo(message)


def _is_tty(stream: Any) -> bool:
    """A live progress bar only on a terminal (``NO_COLOR`` removes colour, not progress)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@refresh_option
@target_option
@exclude_option
@replace_option
@lock_timeout_option
@timeout_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@format_option
@parallelism_option
@compact_option
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until every agent started is RUNNING (read from the engine's list); "
    "--no-wait: done when the engine answers the start.",
)
@click.option(
    "--wait-timeout",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="How long to wait for the agents started to be RUNNING; past it, their action fails.",
)
@click.pass_context
def apply_cmd(
    ctx: click.Context,
    planfile: Path | None,
    refresh: bool | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    replace: tuple[str, ...],
    lock_timeout: float,
    auto_approve: bool,
    fmt: str,
    parallelism: int | None,
    compact: bool | None,
    wait: bool,
    wait_timeout: str,
) -> int:
    """Make the engine match the manifests (or apply exactly a saved PLANFILE).

    PLANFILE, like every path given on the command line, is relative to -C DIR.

    Without PLANFILE it plans, shows the plan and asks for confirmation (--auto-approve skips
    the question); with PLANFILE it applies exactly that plan if state and manifests have not
    moved on since it was made.

    An agent is up when the engine reports it RUNNING, not when it answers the start: apply
    waits for that (--wait-timeout), and fails the action of an agent that fails to start or
    is still STARTING at the timeout, with the engine's reason; --no-wait does not wait.

    A saved plan is checked before anything is done: it must be unaltered (its digest), of a
    format this version reads, made for the current state and manifests, and every action in
    it must fit the state (only recorded agents are stopped; no recorded agent that still runs
    is started again). With PLANFILE, --target, --replace and --refresh/--no-refresh are
    refused: they belong to `reconciler plan`.

    \b
    Examples:
      reconciler apply
      reconciler apply --auto-approve --parallelism 20
      reconciler plan --out reviewed.plan && reconciler apply reviewed.plan
      reconciler apply --auto-approve --format json | jq -c 'select(.type=="summary")'

    \b
    Exit codes:
      0    applied (or nothing to do)
      1    error, or an action failed (the summary says which and what to run)
      3    stale plan file, or the state is locked by another run
      124  the deadline (--timeout) ran out (calls in flight finish and are recorded first)
      130  interrupted (calls in flight finish and are recorded first)
    """
    from reconciler.watch.interval import parse_duration

    _check_apply_flags(ctx, planfile is not None, wait, refresh, targets, excludes, replace)
    if planfile is None:
        _check_json_consent("apply", auto_approve, fmt)
    wait_s = parse_duration(wait_timeout, what="--wait-timeout") if wait else None
    project = project_from_context(ctx)
    project.require_credentials("apply")
    with project.lock("apply", lock_timeout):
        if planfile is not None:
            saved = load_plan_file(given_path(ctx, planfile))
            return _apply_saved(project, saved, parallelism, fmt, wait_s)
        return _plan_and_execute(
            ctx, project, "apply", auto_approve, fmt, wait_s, refresh=refresh, targets=targets,
            excludes=excludes, replace=replace, parallelism=parallelism,
        )  # fmt: skip


def _check_apply_flags(
    ctx: click.Context,
    planfile: bool,
    wait: bool,
    refresh: bool | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    replace: tuple[str, ...],
) -> None:
    """Usage errors of ``apply``: a plan's flags given with a ``planfile``, ``--wait-timeout``
    with ``--no-wait``."""
    if planfile and (targets or excludes or replace or refresh is not None):
        raise click.UsageError(
            "--target, --exclude, --replace and --refresh/--no-refresh belong to the plan, "
            "not to `apply FILE`"
        )
    if not wait and ctx.get_parameter_source("wait_timeout") != ParameterSource.DEFAULT:
        raise click.UsageError("--wait-timeout is how long to wait: it has no use with --no-wait")


def _apply_saved(
    project: Project,
    saved: SavedPlan,
    parallelism: int | None,
    fmt: str,
    wait_s: float | None,
) -> int:
    """Apply exactly the ``saved`` plan (under the lock), once checked against the current
    state and manifests."""
    desired, state, views = project.check_saved_plan(saved)
    plan = saved.plan
    if not plan.has_changes:
        _nothing_to_do(plan, fmt, said=False)
        return EXIT_OK
    return _execute(
        project,
        plan,
        desired,
        state,
        parallelism,
        fmt,
        saved=True,
        views=views,
        wait_s=wait_s,
    )


@click.command("destroy")
@refresh_option
@target_option
@exclude_option
@lock_timeout_option
@timeout_option
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@format_option
@parallelism_option
@click.option("--force", is_flag=True, help="Destroy protected agents (protect: true) too.")
@compact_option
@click.pass_context
def destroy_cmd(
    ctx: click.Context,
    refresh: bool | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    lock_timeout: float,
    auto_approve: bool,
    fmt: str,
    parallelism: int | None,
    force: bool,
    compact: bool | None,
) -> int:
    """Stop every agent and delete every Platform resource recorded in state.

    Resources are deleted before what they reference (a number before the saved agent it
    routes to, the agent before its secret set). Refuses (exit 1, nothing stopped or deleted)
    while anything to stop or delete is protected (protect: true in its manifest when last
    applied), unless --force.

    \b
    Examples:
      reconciler destroy
      reconciler destroy --auto-approve --target legacy-fr
      reconciler destroy --force

    \b
    Exit codes:
      0    everything stopped and deleted (or nothing recorded)
      1    error, or a stop or delete failed
      3    the state is locked by another run
      124  the deadline (--timeout) ran out
      130  interrupted
    """
    _check_json_consent("destroy", auto_approve, fmt)
    project = project_from_context(ctx)
    project.require_credentials("destroy")
    with project.lock("destroy", lock_timeout):
        return _plan_and_execute(
            ctx, project, "destroy", auto_approve, fmt, None, refresh=refresh, targets=targets,
            excludes=excludes, destroy=True, force=force, parallelism=parallelism,
        )  # fmt: skip


__all__ = ["EXIT_ERROR", "apply_cmd", "destroy_cmd"]
