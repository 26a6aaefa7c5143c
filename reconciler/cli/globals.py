"""What every command shares: the global options (accepted before or after the command's name),
the help epilog listing the environment, nearest-command suggestions and untruncated summaries.

``reconciler plan -C dir -v`` and ``reconciler -C dir -v plan`` mean the same: the global options
are added to every leaf command, and their callbacks write the same keys of the root context's
``obj`` that the root group's own options write.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

_SETTINGS = frozenset(
    {"validate", "plan", "apply", "destroy", "show", "drift", "import", "force-unlock", "watch",
     "status", "state show", "state list", "state pull", "state push", "state mv", "state rm",
     "state unprotect", "state rebind", "state where", "pull", "sandbox serve"}
)  # fmt: skip
"""Commands that read reconciler.yaml (and the variables its ``${...}`` name)."""
_ENGINE = frozenset({"plan", "apply", "destroy", "drift", "import", "watch", "status", "pull"})
"""Commands that call the engine."""
_MANIFESTS = frozenset(
    {"validate", "plan", "apply", "destroy", "drift", "import", "watch", "state mv", "state rm",
     "pull"}
)  # fmt: skip
"""Commands that read agents.d/."""
_WRITERS = frozenset(
    {"apply", "destroy", "import", "watch", "state push", "state mv", "state rm",
     "state unprotect", "state rebind", "pull"}
)  # fmt: skip
"""Commands that write the state."""
_DEADLINE = frozenset({"plan", "apply", "destroy", "drift", "import", "pull"})
"""Commands with a deadline (``--timeout``)."""
_EVERY: frozenset[str] = frozenset({"*"})


@dataclass(frozen=True)
class Variable:
    """An environment variable the tool reads, and the commands that read it."""

    names: str
    meaning: str
    commands: frozenset[str]

    def read_by(self, command: str) -> bool:
        """Whether ``command`` (``"plan"``, ``"state list"``) reads this variable."""
        return "*" in self.commands or command in self.commands


ENVIRONMENT: tuple[Variable, ...] = (
    Variable(
        "AGORA_APP_ID, AGORA_APP_CERTIFICATE",
        "the app (read by ${...} in reconciler.yaml)",
        _SETTINGS,
    ),
    Variable(
        "AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET",
        "REST credentials of the engine and the Platform (never on the command line)",
        _ENGINE | {"sandbox serve"},
    ),
    Variable("RECONCILER_ENGINE", "engine to use instead of `engine:` in reconciler.yaml",
             _SETTINGS),
    Variable(
        "RECONCILER_PLATFORM",
        "Platform to use instead of `platform:` in reconciler.yaml",
        _SETTINGS,
    ),
    Variable("RECONCILER_ENV=NAME", "the environment to work on (--env)", _SETTINGS),
    Variable("RECONCILER_LOG=1", "print retries on stderr (like -v)", _ENGINE),
    Variable("RECONCILER_TIMEOUT=D", "deadline of a command's waits on the engine (--timeout)",
             _DEADLINE),
    Variable("RECONCILER_WORKERS=N", "processes that read a large agents.d/ (1: a single one)",
             _MANIFESTS),
    Variable(
        "RECONCILER_STATE_LOG_FROM_BYTES=N",
        "local state size from which a state write keeps a log (0: always)",
        _WRITERS,
    ),
    Variable(
        "PGHOST, PGPASSWORD, PGSSLROOTCERT",
        "libpq's defaults for a PostgreSQL state (state: postgresql://...)",
        _SETTINGS - {"validate", "sandbox serve"},
    ),
    Variable(
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "a proxy for the engine and Platform calls (as any httpx client reads them)",
        _ENGINE,
    ),
    Variable(
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "certificate authorities to trust for an https:// engine or Platform",
        _ENGINE,
    ),
    Variable(
        "RECONCILER_NCS_SECRET",
        "secret of Agora's notification events (watch --listen, sandbox serve --webhook)",
        frozenset({"watch", "sandbox serve"}),
    ),
    Variable("RECONCILER_DEBUG=1", "show a traceback for an internal error", _EVERY),
    Variable("NO_COLOR, FORCE_COLOR", "turn colour off, or on without a terminal (also --no-color)",
             _EVERY),
)  # fmt: skip
"""Every environment variable the tool reads: ``reconciler help environment`` lists them all,
each command's ``--help`` those it reads."""


def environment_help(command: str | None = None) -> str:
    """The ``Environment:`` epilog: every variable, or those ``command`` reads."""
    chosen = [v for v in ENVIRONMENT if command is None or v.read_by(command)]
    lines = ["\b", "Environment:"]
    for variable in chosen:
        if len(variable.names) <= 22:
            lines.append(f"  {variable.names.ljust(22)} {variable.meaning}")
        else:
            lines.append(f"  {variable.names}")
            lines.append(f"  {'':22} {variable.meaning}")
    if command is not None:
        lines.append("  (all of them: reconciler help environment)")
    return "\n".join(lines)


ENVIRONMENT_HELP = environment_help()
"""The whole list (the top-level help and ``reconciler help environment``)."""

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
            help="Project directory (default: the current directory); relative paths given on "
            "the command line (--out, --config, a plan file, ...) are relative to it.",
        ),
        click.Option(
            ["--config", "_global_config"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_store("config"),
            help="Settings file (default: reconciler.yaml in the project directory).",
        ),
        click.Option(
            ["--env", "_global_env"],
            metavar="NAME",
            expose_value=False,
            callback=_store("env"),
            help="Environment of reconciler.yaml to work on (plan and validate: `all` for every "
            "one; default: RECONCILER_ENV).",
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


def with_globals(command: click.Command, path: str = "") -> click.Command:
    """Give a leaf command the global options and the epilog of the environment it reads (once).

    ``path`` is the command's name below ``reconciler`` (``"state list"``; default: its name).
    """
    if getattr(command, _MARK, False) or isinstance(command, click.Group):
        return command
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for option in global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    environment = environment_help(path or command.name or "")
    command.epilog = f"{command.epilog}\n\n{environment}" if command.epilog else environment
    setattr(command, _MARK, True)
    return command


class SuggestingGroup(click.Group):
    """A group that suggests the nearest command for a typo and never cuts summaries short."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return with_globals(command, f"{self.name} {cmd_name}") if command is not None else None

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
