"""``reconciler help [TOPIC|COMMAND]``: topics beside the commands' own ``--help``.

``reconciler help environment`` lists every environment variable the tool reads (each command's
``--help`` lists only those it reads); ``reconciler help plan`` is ``reconciler plan --help``.
"""

from __future__ import annotations

import click

from reconciler.cli.globals import ENVIRONMENT_HELP
from reconciler.cli.readonly import read_only

TOPICS = {"environment": ENVIRONMENT_HELP.replace("\b\n", "", 1)}
"""Topic name -> its text."""


@read_only()
@click.command("help")
@click.argument("topic", required=False, metavar="[TOPIC|COMMAND]")
@click.pass_context
def help_cmd(ctx: click.Context, topic: str | None) -> None:
    """Show a help topic (environment) or a command's help.

    \b
    Examples:
      reconciler help environment     # every environment variable, and what reads it
      reconciler help plan            # as reconciler plan --help

    Exit codes: 0 shown, 1 no such topic or command.
    """
    root = ctx.find_root()
    if topic is None:
        click.echo(root.get_help())
        click.echo(f"\nTopics: {', '.join(sorted(TOPICS))} (reconciler help TOPIC)")
        return
    if topic in TOPICS:
        click.echo(TOPICS[topic])
        return
    group = root.command
    command = group.get_command(root, topic) if isinstance(group, click.Group) else None
    if command is None:
        known = ", ".join(sorted(TOPICS))
        raise click.UsageError(f"no help topic or command {topic!r} (topics: {known})")
    with click.Context(command, info_name=topic, parent=root) as sub:
        click.echo(command.get_help(sub))
