"""Options several commands share, one decorator each.

Each command stacks exactly the options it honours, so its ``--help`` lists nothing it would
then refuse: ``plan`` and ``apply`` take ``--replace``, ``destroy`` does not; ``apply`` and
``destroy`` take the state lock and so ``--lock-timeout``, ``plan`` (read-only) does not.
"""

from __future__ import annotations

import click
from click.decorators import FC

from reconciler.cli.completion import complete_agent_names


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
        help="Limit the plan to these agents (repeatable).",
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


def lock_timeout_option(func: FC) -> FC:
    return click.option(
        "--lock-timeout",
        type=float,
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
