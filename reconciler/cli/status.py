"""``reconciler status``: every managed resource as the engine reports it now (read-only).

A table with a header (name, kind, id, channel, live status, uptime, token expiry, why it is not
running) plus the unmanaged agents in managed channels; ``--format json`` for machines;
``--watch`` asks again every ``--interval`` and, on a terminal, redraws the table in place
(like ``watch`` or ``kubectl get -w``). It writes nothing and takes no lock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

import click

from reconciler.cli.context import project_from_context
from reconciler.cli.options import output_format_option
from reconciler.cli.output import retry_reporter
from reconciler.cli.readonly import read_only
from reconciler.cli.runner import run_async
from reconciler.engine import RetryEvent
from reconciler.errors import EXIT_OK, EngineUnavailableError
from reconciler.project import Project
from reconciler.project.operations import check_status
from reconciler.render.jsontext import dumps
from reconciler.render.status import status_json, status_text
from reconciler.status import StatusReport

FORMATS = ("text", "json")
CLEAR_SCREEN = "\033[H\033[2J"
"""Cursor home and clear the screen: how ``--watch`` redraws on a terminal."""


@read_only()
@click.command("status")
@output_format_option(
    FORMATS,
    "text: a table; json: one document (one per refresh with --watch, a line each).",
)
@click.option("--watch", "-w", "watch", is_flag=True, help="Refresh until interrupted.")
@click.option(
    "--interval",
    default="2s",
    show_default=True,
    metavar="DURATION",
    help="Time between refreshes with --watch (e.g. 2s, 1m).",
)
@click.pass_context
def status_cmd(ctx: click.Context, fmt: str, watch: bool, interval: str) -> int:
    """Show every managed resource with its live status from the engine.

    For each resource recorded in state: its kind, id, channel, the engine's status (RUNNING,
    STARTING, IDLE, FAILED, STOPPED, MISSING) with the reason it is not running, its uptime
    and when its token expires; for each recorded Platform resource (SecretSet, SavedAgent,
    PhoneNumber): PRESENT, MISSING (deleted outside) or CREATING (an interrupted create not
    settled yet); then the active agents no record names in a managed channel (unmanaged).
    Needs engine credentials; writes nothing.

    \b
    Examples:
      reconciler status
      reconciler status --watch --interval 5s
      reconciler status --format json | jq '.resources[] | select(.status != "RUNNING")'

    When the Platform cannot be read, the agents are still shown and the Platform's rows are
    UNKNOWN; the command then exits 1 (with --watch it keeps refreshing).

    Exit codes: 0 shown (also after Ctrl-C ends --watch), 1 error (engine unreachable, the
    Platform unreachable after showing the rest, no credentials, bad settings or state).
    """
    from reconciler.watch.interval import parse_duration

    period = parse_duration(interval, what="--interval")
    project = project_from_context(ctx)
    on_retry = retry_reporter(ctx, project.environ)
    if not watch:
        report = _show(project, fmt, on_retry, redraw=False)
        if report.unread:  # shown what was read; fail for what was not
            raise EngineUnavailableError("status incomplete: " + "; ".join(report.unread))
        return EXIT_OK
    redraw = fmt == "text" and _is_tty()
    try:
        while True:
            _show(project, fmt, on_retry, redraw=redraw, every=interval)
            pause(period)
    except KeyboardInterrupt:
        return EXIT_OK


def pause(seconds: float) -> None:
    """Wait between two refreshes of ``--watch`` (Ctrl-C ends the wait, and the command)."""
    time.sleep(seconds)


def _show(
    project: Project,
    fmt: str,
    on_retry: Callable[[RetryEvent], None],
    *,
    redraw: bool,
    every: str = "",
) -> StatusReport:
    report = run_async(check_status(project, on_retry=on_retry))
    if fmt == "json":
        click.echo(dumps(status_json(report), separators=(",", ":") if every else None,
                         indent=None if every else 2))  # fmt: skip
        return report
    text = status_text(report)
    if every:
        when = datetime.fromtimestamp(report.checked_at, timezone.utc).strftime("%H:%M:%SZ")
        text = f"Every {every}: reconciler status   {when}   (Ctrl-C to stop)\n\n{text}"
    if redraw:
        click.echo(CLEAR_SCREEN + text)
    elif every:
        click.echo(text + "\n")
    else:
        click.echo(text)
    return report


def _is_tty() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())
