"""What every command shares: the global options (accepted before or after the command's name),
the help epilog listing the environment, nearest-command suggestions and untruncated summaries.

``reconciler plan -C dir -v`` and ``reconciler -C dir -v plan`` mean the same: the global options
are added to every leaf command, and their callbacks write the same keys of the root context's
``obj`` that the root group's own options write.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import click

ENVIRONMENT_HELP = """\b
Environment:
  AGORA_APP_ID, AGORA_APP_CERTIFICATE   the app (read by ${...} in reconciler.yaml)
  AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET
                         REST credentials of the engine (never on the command line)
  RECONCILER_ENGINE      engine to use instead of `engine:` in reconciler.yaml
  RECONCILER_LOG=1       print retries on stderr (like -v)
  RECONCILER_TIMEOUT=D   deadline of a command's waits on the engine (--timeout)
  RECONCILER_DEBUG=1     show a traceback for an internal error
  RECONCILER_WORKERS=N   processes that read a large agents.d/ (1: a single one)
  RECONCILER_STATE_LOG_FROM_BYTES=N
                         local state size from which apply writes a log (0: always)
  RECONCILER_NCS_SECRET  secret of Agora's notification events (watch --listen, sandbox
                         serve --webhook)
  NO_COLOR, FORCE_COLOR  turn colour off, or on without a terminal (also --no-color)"""

_MARK = "_reconciler_globals"


def _store(key: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None or value is False or value == 0:
            return
        root = ctx.find_root()
        root.ensure_object(dict)
        if key == "verbose":
            root.obj["verbose"] = int(root.obj.get("verbose", 0)) + int(value)
        else:
            root.obj[key] = value

    return callback


def global_options() -> list[click.Option]:
    """Fresh copies of the global options, as a subcommand accepts them."""
    return [
        click.Option(
            ["-C", "--directory", "_global_directory"],
            type=click.Path(file_okay=False, path_type=Path),
            expose_value=False,
            callback=_store("directory"),
            help="Project directory (default: the current directory).",
        ),
        click.Option(
            ["--config", "_global_config"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_store("config"),
            help="Settings file (default: reconciler.yaml in the project directory).",
        ),
        click.Option(
            ["-v", "--verbose", "_global_verbose"],
            count=True,
            expose_value=False,
            callback=_store("verbose"),
            help="More detail on stderr (repeatable).",
        ),
        click.Option(
            ["--no-color", "_global_no_color"],
            is_flag=True,
            expose_value=False,
            callback=_store("no_color"),
            help="No colour in the output (as NO_COLOR=1).",
        ),
    ]


def with_globals(command: click.Command) -> click.Command:
    """Give a leaf command the global options and the environment epilog (once)."""
    if getattr(command, _MARK, False) or isinstance(command, click.Group):
        return command
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for option in global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    command.epilog = (
        f"{command.epilog}\n\n{ENVIRONMENT_HELP}" if command.epilog else ENVIRONMENT_HELP
    )
    setattr(command, _MARK, True)
    return command


class SuggestingGroup(click.Group):
    """A group that suggests the nearest command for a typo and never cuts summaries short."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return with_globals(command) if command is not None else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
