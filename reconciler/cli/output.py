"""Terminal output helpers for the CLI: colour decisions, progress, apply lines and summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:  # annotations only: plan --no-refresh never loads the engine client (httpx)
    from reconciler.apply import ApplyResult
    from reconciler.engine import RetryEvent
    from reconciler.models.plan import Operation


def use_color(stream: TextIO) -> bool:
    """Whether to paint ``stream``: ``--no-color`` and ``NO_COLOR`` (https://no-color.org) turn
    colour off; otherwise ``FORCE_COLOR`` (https://force-color.org, e.g. in GitHub Actions logs)
    turns it on; otherwise colour only on a terminal."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, dict) and obj.get("no_color"):
        return False
    if os.environ.get("NO_COLOR", "") != "":
        return False
    if color_forced():
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def color_forced() -> bool:
    """Whether ``FORCE_COLOR`` asks for colour without a terminal. The root command then tells
    click not to strip colour from what it echoes to a pipe (its default), so the colour
    :func:`use_color` allows reaches a CI log."""
    return os.environ.get("FORCE_COLOR", "") not in ("", "0", "false")


def note(message: str) -> None:
    """A line of progress or warning: always stderr, so stdout stays the plan alone."""
    click.echo(message, err=True)


def retry_line(event: RetryEvent) -> str:
    """``retry: join attempt 1/6 failed (HTTP 503 ServiceUnavailable); next in 0.4s``."""
    return (
        f"retry: {event.operation} attempt {event.attempt}/{event.max_attempts} failed "
        f"({event.cause}); next in {event.delay_s:.1f}s"
    )


NOTICE_WAIT_S = 5.0
"""A wait before another attempt this long or longer is announced on stderr even without -v."""


def waiting_line(event: RetryEvent) -> str:
    """``waiting: the engine answered HTTP 503 ServiceUnavailable to list; retrying in 30s
    (attempt 2 of 6)``: why the command is silent, and for how long."""
    who = "the Platform" if event.service == "platform" else "the engine"
    why = (
        f"{who} answered {event.cause} to {event.operation}"
        if event.status
        else f"{event.operation} got no answer from {who} ({event.cause})"
    )
    return (
        f"waiting: {why}; retrying in {event.delay_s:.0f}s "
        f"(attempt {event.attempt + 1} of {event.max_attempts})"
    )


def retry_reporter(
    ctx: click.Context, environ: Mapping[str, str], prefix: str = ""
) -> Callable[[RetryEvent], None]:
    """A retry callback for stderr: every retry (:func:`retry_line`) with ``-v`` or
    ``RECONCILER_LOG``; otherwise only the waits of :data:`NOTICE_WAIT_S` or more
    (:func:`waiting_line`), so a command never waits long in silence. Each line starts with
    ``prefix`` (``plan --env all``: ``[prod] ``, which environment waits)."""
    verbose = (ctx.find_root().obj or {}).get("verbose", 0)
    if verbose or environ.get("RECONCILER_LOG"):

        def report(event: RetryEvent) -> None:
            note(prefix + retry_line(event))

        return report

    def notice(event: RetryEvent) -> None:
        if event.delay_s >= NOTICE_WAIT_S:
            note(prefix + waiting_line(event))

    return notice


def summary_line(result: ApplyResult, operation: Operation) -> str:
    """``Apply complete: 3 started, 1 updated, 1 restarted, 2 stopped.`` (and what was left).

    Says exactly what was done and what was not: restarts left stopped, actions the engine
    carried out that the state could not record, failures, actions never begun. ``operation``
    (:attr:`Plan.operation <reconciler.models.Plan.operation>`) names the run and the command
    it advises: ``Destroy interrupted: 2 stopped; 1 not attempted; run reconciler destroy``.
    """
    run = operation.capitalize()
    parts = []
    for action, word in (
        ("start", "started"),
        ("update", "updated"),
        ("renew-token", "token(s) renewed"),
        ("restart", "restarted"),
        ("stop", "stopped"),
        ("rename", "renamed"),
        ("forget", "forgotten"),
        ("adopt", "adopted"),
        ("create", "created"),  # the actions of resources of kinds other than Agent
        ("replace", "replaced"),
        ("delete", "deleted"),
    ):
        n = result.count(action)
        if n:
            parts.append(f"{n} {word}")
    body = ", ".join(parts) if parts else "nothing changed"
    left: list[str] = []
    if result.left_stopped:
        left.append(
            f"{len(result.left_stopped)} stopped for restart, not started: "
            + ", ".join(result.left_stopped)
        )
    if result.left_deleted:
        left.append(
            f"{len(result.left_deleted)} deleted for replacement, not created again: "
            + ", ".join(result.left_deleted)
        )
    unrecorded = result.unrecorded
    if unrecorded:
        left.append(
            f"{len(unrecorded)} done on the engine but not recorded in state: "
            + ", ".join(r.name for r in unrecorded)
        )
    failed = len(result.failed) - len(unrecorded)
    if failed:
        left.append(f"{failed} failed")
    if result.not_attempted:
        why = ""
        if result.rollout_halted_by:
            at = ", ".join(result.rollout_halted_by)
            why = f" (the rolling restart ended at the failed {at})"
        left.append(f"{len(result.not_attempted)} not attempted{why}")
    tail = "".join(f"; {part}" for part in left)
    if result.aborted:
        return (
            f"{run} stopped early: {body}{tail}. {result.aborted}. "
            f"Run reconciler {operation} again once that is fixed."
        )
    if result.interrupted:
        again = f"; run reconciler {operation}" if left else ""
        return f"{run} interrupted: {body}{tail}{again}. State is saved."
    if left:
        return f"{run} failed: {body}{tail}."
    return f"{run} complete: {body}."
