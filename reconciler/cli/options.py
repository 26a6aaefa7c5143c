"""Options several commands share, one decorator each.

Each command stacks exactly the options it honours, so its ``--help`` lists nothing it would
then refuse: ``plan`` and ``apply`` take ``--replace``, ``destroy`` does not; ``apply`` and
``destroy`` take the state lock and so ``--lock-timeout``, ``plan`` (read-only) does not.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
from click.core import ParameterSource
from click.decorators import FC

from reconciler.cli.completion import complete_agent_names
from reconciler.models.deadline import DEFAULT_TIMEOUT_S, Deadline, deadline_scope


def output_format_option(formats: Sequence[str], text: str) -> Callable[[FC], FC]:
    """``--format`` (the parameter ``fmt``): one of ``formats``, ``text`` by default; ``text``
    is its help."""
    return click.option(
        "--format", "fmt", type=click.Choice(formats), default="text", show_default=True, help=text
    )


def refresh_option(func: FC) -> FC:
    return click.option(
        "--refresh/--no-refresh",
        default=None,
        help="Read the engine's live status first (default: when credentials are set).",
    )(func)


def target_option(func: FC) -> FC:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_agent_names,
        help="Limit the plan to these agents (NAME) and resources (KIND/NAME, with what they "
        "reference) (repeatable).",
    )(func)


def exclude_option(func: FC) -> FC:
    return click.option(
        "--exclude",
        "excludes",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_agent_names,
        help="Leave these agents (NAME) and resources (KIND/NAME, with what references them) "
        "out of the plan, untouched (repeatable; the negation of --target).",
    )(func)


def replace_option(func: FC) -> FC:
    return click.option(
        "--replace",
        "replace",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_agent_names,
        help="Force a restart of these agents (repeatable).",
    )(func)


def compact_option(func: FC) -> FC:
    """``--compact/--full``: one line an agent, or every change in full (default: compact only
    past a threshold of agents; ``-v`` shows everything)."""
    return click.option(
        "--compact/--full",
        "compact",
        default=None,
        help="Text plan: one line an agent (action, name, channel, reason), or every change "
        "in full [default: one line an agent past 20 agents; -v: in full, with defaults].",
    )(func)


class _Seconds(click.types.FloatParamType):
    """A number of seconds to wait: 0 or more (``inf``: as long as it takes), never ``nan``."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        seconds: float = super().convert(value, param, ctx)
        if not seconds >= 0:  # also false for nan, which no wait could ever reach
            self.fail(f"{value!r} is not a number of seconds (0 or more)", param, ctx)
        return seconds


def lock_timeout_option(func: FC) -> FC:
    return click.option(
        "--lock-timeout",
        type=_Seconds(),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for the state lock instead of failing at once.",
    )(func)


def parallelism_option(func: FC) -> FC:
    return click.option(
        "--parallelism",
        type=click.IntRange(1, 500),
        default=None,
        help="Engine calls in flight (default: parallelism in reconciler.yaml).",
    )(func)


TIMEOUT_ENV = "RECONCILER_TIMEOUT"
DEFAULT_TIMEOUT = f"{DEFAULT_TIMEOUT_S / 60:.0f}m"


def command_deadline(
    text: str, source: ParameterSource | None, environ: Mapping[str, str]
) -> Deadline:
    """The deadline from now: ``--timeout`` when given, else ``RECONCILER_TIMEOUT`` when set,
    else the option's default, worded by where it came from (``--timeout 10m``,
    ``RECONCILER_TIMEOUT=10m``, ``the default --timeout 30m``)."""
    from reconciler.watch.interval import parse_duration

    given = source not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
    value = environ.get(TIMEOUT_ENV, "").strip()
    if not given and value:
        return Deadline.after(parse_duration(value, what=TIMEOUT_ENV), f"{TIMEOUT_ENV}={value}")
    seconds = parse_duration(text, what="--timeout")
    wording = f"--timeout {text}" if given else f"the default --timeout {text}"
    return Deadline.after(seconds, wording)


def timeout_option(func: FC) -> FC:
    """``--timeout DURATION``: the command's deadline for waiting on the engine, in all.

    The command runs inside :func:`~reconciler.models.deadline.deadline_scope`, so every engine
    client it opens obeys the deadline (docs/operations.md, "Deadlines and waits").
    """

    @functools.wraps(func)
    def with_deadline(*args: Any, timeout: str, **kwargs: Any) -> Any:
        source = click.get_current_context().get_parameter_source("timeout")
        with deadline_scope(command_deadline(timeout, source, os.environ)):
            return func(*args, **kwargs)

    return click.option(
        "--timeout",
        "timeout",
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="DURATION",
        help="Give up waiting on the engine after this long in all (e.g. 30s, 10m, 1h; "
        f"{TIMEOUT_ENV} when not given); exit 124 when it runs out.",
    )(with_deadline)  # type: ignore[return-value]
