"""``reconciler plan`` and ``reconciler show``: compute, render and save plans."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reconciler.cli.context import (
    command_prefix,
    environments_to_plan,
    given_path,
    project_from_context,
    projects_from_context,
    writable_path,
)
from reconciler.cli.options import (
    compact_option,
    exclude_option,
    output_format_option,
    refresh_option,
    replace_option,
    target_option,
    timeout_option,
)
from reconciler.cli.output import note, retry_reporter, use_color
from reconciler.cli.readonly import read_only
from reconciler.cli.runner import run_async
from reconciler.errors import EXIT_CHANGES, EXIT_OK, ReconcilerError, ValidationError
from reconciler.models import Plan
from reconciler.project import PlanOutcome, Project, load_plan_file, save_plan_file
from reconciler.project.environments import failure_of_every, plan_environments
from reconciler.project.planchecks import ensure_applicable
from reconciler.project.project import Hooks
from reconciler.render import (
    render_json_chunks,
    render_json_text,
    render_markdown,
    render_text,
    render_warnings,
)
from reconciler.render.environments import (
    FailedEnvironment,
    least_max_chars,
    render_json_environments_chunks,
    render_markdown_environments,
    render_text_environments,
)
from reconciler.render.markdown import (
    DEFAULT_MAX_CHARS,
    MIN_MAX_CHARS,
    render_markdown_failure,
)
from reconciler.render.problems import problems_text

FORMATS = ("text", "markdown", "json")
ENV_FIELD = "{env}"
"""In ``plan --env all --out``: replaced by each environment's name (one saved plan each)."""

format_option = output_format_option(
    FORMATS,
    "text for a terminal, markdown for a pull-request comment, json for machines "
    "(docs/plan-format.md).",
)
max_chars_option = click.option(
    "--max-chars",
    type=click.IntRange(min=MIN_MAX_CHARS),
    default=DEFAULT_MAX_CHARS,
    show_default=True,
    metavar="N",
    help="Size budget of --format markdown (a GitHub comment holds at most 65,536 characters); "
    "over it, every changed agent is still named and the details that fit follow.",
)


def render(plan: Plan, fmt: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The plan in ``fmt``, ready for stdout (markdown within ``max_chars``)."""
    if fmt == "markdown":
        return render_markdown(plan, max_chars=max_chars)
    if fmt == "json":
        return render_json_text(plan)
    verbose, compact = _text_options()
    return render_text(plan, color=use_color(sys.stdout), verbose=verbose, compact=compact)


def _text_options() -> tuple[bool, bool | None]:
    """``-v`` and ``--compact`` of the running command, as :func:`render_text` takes them."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False, None
    obj = ctx.find_root().obj
    verbose = bool(isinstance(obj, dict) and obj.get("verbose"))
    compact: bool | None = ctx.params.get("compact")
    return verbose, compact


def echo_plan(plan: Plan, fmt: str, max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """Print :func:`render` on stdout; JSON piece by piece, never held whole in memory."""
    if fmt != "json":
        click.echo(render(plan, fmt, max_chars))
        return
    for chunk in render_json_chunks(plan):
        click.echo(chunk, nl=False)
    click.echo()


def make_plan(ctx: click.Context, project: Project, **options: Any) -> PlanOutcome:
    """Plan, with notes and warnings on stderr, never on stdout."""
    hooks = Hooks(on_retry=retry_reporter(ctx, project.environ))
    outcome: PlanOutcome = run_async(project.plan(hooks=hooks, **options))
    for line in outcome.notes:
        note(line)
    for warning in render_warnings(outcome.plan):
        note(warning)
    return outcome


@read_only()
@click.command("plan")
@refresh_option
@target_option
@exclude_option
@replace_option
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Save the plan for `reconciler apply FILE` (--env all: a path holding {env}, one "
    "plan per environment). Relative to -C DIR, as every path option.",
)
@format_option
@max_chars_option
@click.option("--destroy", is_flag=True, help="Plan to stop every agent in state.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0: none, 1: error)."
)
@timeout_option
@compact_option
@click.pass_context
def plan_cmd(
    ctx: click.Context,
    refresh: bool | None,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    replace: tuple[str, ...],
    out: Path | None,
    fmt: str,
    max_chars: int,
    destroy: bool,
    detailed_exitcode: bool,
    compact: bool | None,
) -> int:
    """Show what apply would change on the engine, and why.

    Reads the manifests, the recorded state and (with credentials) the engine's live status;
    writes nothing but the --out file. It takes no lock: state is written atomically, so the
    plan reads a consistent snapshot even while an apply runs.

    \b
    Examples:
      reconciler plan
      reconciler plan --out reviewed.plan --format markdown > comment.md
      reconciler plan --no-refresh --target support-en
      reconciler plan --env all --format markdown > comment.md   # every environment

    \b
    Exit codes:
      0  success (no changes, unless --detailed-exitcode)
      1  error: bad input, engine failure, a plan that cannot be applied
      2  changes present (only with --detailed-exitcode)
      3  the state is locked by another run (only when interrupted engine calls must be
         resolved first)
      124  the deadline (--timeout) ran out while waiting on the engine
      130  interrupted (Ctrl-C); an --out file is written whole or not at all
    """
    environments = environments_to_plan(ctx)
    if environments is not None:
        if out is not None and ENV_FIELD not in str(out):
            raise click.UsageError(
                f"a saved plan covers one environment: with --env all, --out names one file per "
                f"environment with {ENV_FIELD} (e.g. --out 'plans/{ENV_FIELD}.plan')"
            )
        return _plan_environments(
            ctx, environments, fmt, max_chars, detailed_exitcode, out,
            refresh=refresh, targets=targets, excludes=excludes, replace=replace,
            destroy=destroy,
        )  # fmt: skip
    saved_to = writable_path(ctx, out) if out is not None else None
    project = project_from_context(ctx)
    with _failure_comment(project, fmt):
        outcome = make_plan(
            ctx,
            project,
            refresh=refresh,
            targets=targets,
            excludes=excludes,
            replace=replace,
            destroy=destroy,
            allow_unset=refresh is False,
        )
    plan = outcome.plan
    echo_plan(plan, fmt, max_chars)
    if plan.errors or (out is not None and plan.unknown_variables):
        ensure_applicable(plan)
    if out is not None and saved_to is not None:
        _save(ctx, outcome, saved_to, out)
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


@contextlib.contextmanager
def _failure_comment(project: Project, fmt: str) -> Iterator[None]:
    """With ``--format markdown``, a plan that fails still prints its comment: that the plan
    failed, and why; the error is raised on."""
    try:
        yield
    except ReconcilerError as error:
        if fmt == "markdown":
            settings = project.settings
            click.echo(
                render_markdown_failure(settings.environment, settings.app_id, _error_text(error))
            )
        raise


def _save(ctx: click.Context, outcome: PlanOutcome, saved_to: Path, out: Path) -> None:
    """Write the plan to ``saved_to`` (with the fresh state it was made against, when none is
    recorded yet), and say how to apply it (``out`` as the user wrote it)."""
    plan = outcome.plan
    save_plan_file(plan, saved_to, fresh_state=None if outcome.state_recorded else outcome.state)
    env = f" --env {plan.environment}" if plan.environment else ""
    note(f"Saved the plan to {saved_to}; apply it with: {command_prefix(ctx)}{env} apply {out}")


def _plan_environments(
    ctx: click.Context,
    environments: tuple[str, ...],
    fmt: str,
    max_chars: int,
    detailed_exitcode: bool,
    out: Path | None,
    **options: Any,
) -> int:
    """``plan --env all``: every environment planned concurrently, rendered together (also
    when none could be planned: the comment says why, per environment)."""
    for name in environments if out is not None else ():  # refused before any work
        writable_path(ctx, Path(str(out).replace(ENV_FIELD, name)))
    opened = projects_from_context(ctx, environments)
    projects = [project for _name, project in opened if isinstance(project, Project)]

    def hooks_for(project: Project) -> Hooks:
        prefix = f"[{project.settings.environment}] "
        return Hooks(on_retry=retry_reporter(ctx, project.environ, prefix))

    allow_unset = options["refresh"] is False
    made = (
        dict(run_async(plan_environments(projects, hooks_for, allow_unset=allow_unset, **options)))
        if projects
        else {}
    )
    everything = [
        (name, made[name] if isinstance(opened_as, Project) else opened_as)
        for name, opened_as in opened
    ]
    planned = [(name, o) for name, o in everything if isinstance(o, PlanOutcome)]
    failed = [(name, o) for name, o in everything if isinstance(o, ReconcilerError)]
    for name, outcome in planned:
        for line in [*outcome.notes, *render_warnings(outcome.plan)]:
            note(f"[{name}] {line}")
    plans: list[tuple[str, Plan | FailedEnvironment]] = [
        (name, o.plan if isinstance(o, PlanOutcome) else FailedEnvironment(_error_text(o)))
        for name, o in everything
    ]
    _echo_environments(plans, fmt, max_chars)
    every = failure_of_every(everything)
    if every is not None:  # each environment's error is shown above; this one is the command's
        raise every
    for name, error in failed:  # the others are shown; nothing is saved; the exit code says so
        note(f"Error: environment {name} could not be planned: {_error_text(error)}")
    if failed:
        return failed[0][1].exit_code
    for _name, outcome in planned:
        plan = outcome.plan
        if plan.errors or (out is not None and plan.unknown_variables):
            ensure_applicable(plan)
    if out is not None:
        _save_environments(ctx, planned, out)
    if detailed_exitcode and any(outcome.plan.has_changes for _name, outcome in planned):
        return EXIT_CHANGES
    return EXIT_OK


def _echo_environments(
    plans: list[tuple[str, Plan | FailedEnvironment]], fmt: str, max_chars: int
) -> None:
    """Print every environment's plan (or error, in its place) in ``fmt`` on stdout; a
    ``--max-chars`` too small for the comment of them all is a usage error."""
    if fmt == "markdown":
        least = least_max_chars(plans)
        if max_chars < least:
            raise click.UsageError(
                f"--max-chars {max_chars} is too small for the comment of {len(plans)} "
                f"environments: it needs at least {least}"
            )
        click.echo(render_markdown_environments(plans, max_chars=max_chars))
    elif fmt == "json":
        for chunk in render_json_environments_chunks(plans):
            click.echo(chunk, nl=False)
        click.echo()
    else:
        verbose, compact = _text_options()
        text = render_text_environments(
            plans, color=use_color(sys.stdout), verbose=verbose, compact=compact
        )
        click.echo(text)


def _save_environments(
    ctx: click.Context, planned: list[tuple[str, PlanOutcome]], out: Path
) -> None:
    """Save each environment's plan at ``out`` with ``{env}`` replaced by its name."""
    for name, outcome in planned:
        given = Path(str(out).replace(ENV_FIELD, name))
        path = given_path(ctx, given)
        fresh = None if outcome.state_recorded else outcome.state
        path.parent.mkdir(parents=True, exist_ok=True)
        save_plan_file(outcome.plan, path, fresh_state=fresh)
        note(
            f"Saved the plan of {name} to {path}; apply it with: "
            f"{command_prefix(ctx)} --env {name} apply {given}"
        )


def _error_text(error: ReconcilerError) -> str:
    """An error as ``main`` prints it (a validation error with each problem's excerpt)."""
    return problems_text(error) if isinstance(error, ValidationError) else str(error)


@read_only()
@click.command("show")
@click.argument("planfile", type=click.Path(path_type=Path))
@format_option
@max_chars_option
@compact_option
@click.pass_context
def show_cmd(
    ctx: click.Context, planfile: Path, fmt: str, max_chars: int, compact: bool | None
) -> int:
    """Render a saved plan (PLANFILE: relative to -C DIR, as every path).

    \b
    Examples:
      reconciler show reviewed.plan
      reconciler show reviewed.plan --format markdown --max-chars 20000

    Exit codes: 0 shown, 1 not a readable plan file.
    """
    echo_plan(load_plan_file(given_path(ctx, planfile)).plan, fmt, max_chars)
    return EXIT_OK
