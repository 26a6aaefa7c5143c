"""Layer 5: the command line. The only layer that reads argv, prints and exits.

Subcommands live in their own modules and are imported lazily (``reconciler --version`` must
start fast). Every :class:`~reconciler.errors.ReconcilerError` is translated to a message on
stderr and its exit code in one place, :func:`main`; anything else is a bug and is reported as
such, without a traceback unless ``RECONCILER_DEBUG`` is set. Usage errors exit 1, not click's 2
(which would read as "changes present").
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.cli.globals import ENVIRONMENT_HELP, SuggestingGroup, with_globals
from reconciler.cli.output import color_forced
from reconciler.cli.runner import Terminated, install_sigterm, restore_sigint
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ReconcilerError,
    ValidationError,
)

_Command = TypeVar("_Command", bound=Callable[..., Any])

# command name -> (module, attribute)
_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("reconciler.cli.init", "init_cmd"),
    "validate": ("reconciler.cli.validate", "validate_cmd"),
    "schema": ("reconciler.cli.validate", "schema_cmd"),
    "plan": ("reconciler.cli.plan", "plan_cmd"),
    "apply": ("reconciler.cli.apply", "apply_cmd"),
    "destroy": ("reconciler.cli.apply", "destroy_cmd"),
    "show": ("reconciler.cli.plan", "show_cmd"),
    "drift": ("reconciler.cli.drift", "drift_cmd"),
    "import": ("reconciler.cli.imports", "import_cmd"),
    "pull": ("reconciler.cli.pull", "pull_cmd"),
    "force-unlock": ("reconciler.cli.state", "force_unlock_cmd"),
    "state": ("reconciler.cli.state", "state_group"),
    "sandbox": ("reconciler.cli.sandbox", "sandbox_group"),
    "watch": ("reconciler.cli.watch", "watch_cmd"),
    "status": ("reconciler.cli.status", "status_cmd"),
    "help": ("reconciler.cli.helptopics", "help_cmd"),
}


class LazyGroup(SuggestingGroup):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command = getattr(module, attr, None)
        return with_globals(command, cmd_name) if isinstance(command, click.Command) else None

    @staticmethod
    def _available(name: str) -> bool:
        module_name = _COMMANDS[name][0]
        return importlib.util.find_spec(module_name) is not None


def _path_option(
    decls: tuple[str, ...], text: str, *, directory: bool
) -> Callable[[_Command], _Command]:
    """An option naming a directory (or a file) as a :class:`Path`, None when not given."""
    kind = click.Path(file_okay=not directory, dir_okay=directory, path_type=Path)
    return click.option(*decls, type=kind, default=None, help=text)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=ENVIRONMENT_HELP,
)
@click.version_option(__version__, "--version", prog_name="reconciler")
@_path_option(
    ("-C", "--directory", "directory"),
    "Project directory (default: the current directory); relative paths given on the "
    "command line (--out, --config, a plan file, ...) are relative to it.",
    directory=True,
)
@_path_option(
    ("--config", "config"),
    "Settings file (default: reconciler.yaml in the project directory).",
    directory=False,
)
@click.option(
    "--env",
    "env",
    metavar="NAME",
    default=None,
    help="Environment of reconciler.yaml to work on (plan and validate: `all` for every one; "
    "default: RECONCILER_ENV).",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeatable).")
@click.option(
    "--no-color", "no_color", is_flag=True, help="No colour in the output (as NO_COLOR=1)."
)
@click.pass_context
def cli(
    ctx: click.Context,
    directory: Path | None,
    config: Path | None,
    env: str | None,
    verbose: int,
    no_color: bool,
) -> None:
    """Declarative infrastructure for Agora Conversational AI agents.

    Manifests in agents.d/ declare the agents that should run; `plan` shows what would change on
    the engine and `apply` makes it so.
    """
    ctx.ensure_object(dict)
    ctx.obj["directory"] = directory if directory is not None else Path.cwd()
    ctx.obj["config"] = config
    if env is not None:
        ctx.obj["env"] = env
    ctx.obj["verbose"] = verbose
    ctx.obj["no_color"] = no_color
    if color_forced():  # what use_color paints reaches a pipe unstripped (CI logs)
        ctx.color = True


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``reconciler`` console script."""
    # Turn SIGTERM into an exception, so that `with` blocks run: the state lock is released and
    # nothing is left half-written; apply installs its own graceful handler while it runs.
    install_sigterm()
    try:
        # From here on Ctrl-C is a KeyboardInterrupt caught below (exit 130); until here the
        # entry point's start-up handler exits 130 itself (see reconciler/__main__.py).
        restore_sigint()
        result: Any = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except ValidationError as exc:
        from reconciler.render.problems import problems_text

        click.echo(f"Error: {problems_text(exc)}", err=True)
        sys.exit(exc.exit_code)
    except ReconcilerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        click.echo("Aborted.", err=True)  # e.g. end of input at a prompt
        sys.exit(EXIT_ERROR)
    except click.UsageError as exc:
        # click exits 2 for a usage error (an unknown option, a bad --format, a missing
        # argument); here 2 means "changes present" (plan --detailed-exitcode), so CI would
        # read a typo as a plan with changes. A usage error is an error like any other.
        exc.show()
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        click.echo("Terminated.", err=True)
        sys.exit(EXIT_TERMINATED)
    except OSError as exc:
        # A file or directory the command could not use (a path under a file, a full disk, a
        # permission): the user's environment, not a bug, when the error names the path.
        if exc.filename is None or os.environ.get("RECONCILER_DEBUG"):
            _internal_error(exc)
        click.echo(f"Error: cannot use {exc.filename}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:
        _internal_error(exc)
    sys.exit(result if isinstance(result, int) else 0)


def _internal_error(exc: Exception) -> NoReturn:
    """A bug: its type and message (a traceback with ``RECONCILER_DEBUG=1``), exit 1."""
    if os.environ.get("RECONCILER_DEBUG"):
        raise exc
    click.echo(
        f"Internal error ({type(exc).__name__}): {exc}\n"
        "This is a bug in reconciler; rerun with RECONCILER_DEBUG=1 for a traceback.",
        err=True,
    )
    sys.exit(EXIT_ERROR)
