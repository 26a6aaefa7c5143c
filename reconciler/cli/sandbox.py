"""`reconciler sandbox serve`: run the local sandbox engine as an HTTP server.

Secrets are never command-line values (they would show in `ps` and shell history): the
customer secret comes from AGORA_CUSTOMER_SECRET and the App Certificate from
AGORA_APP_CERTIFICATE, or from the variables named with `--customer-secret-env` and
`--app-certificate-env`. The customer id, not a secret, may be given with `--customer-id`
(default AGORA_CUSTOMER_ID, else "sandbox"; the secret defaults to "sandbox" too). Without a
certificate, `agora token=` authentication is rejected (401); Basic works.

Fidelity options: `--presence` (who is in a channel agents first join: nobody by default, so an
agent's idle timeout runs out unless a user joins through `/_sandbox/channels/...`),
`--idle-before-join/--no-idle-before-join`, `--token-check strict|lenient` (strict by default:
with a certificate, agents with a bad token fail) and `--name-scope channel|app`.

`--webhook URL` (repeatable) sends the notification events (NCS) of every agent lifecycle change
there, signed with the secret in RECONCILER_NCS_SECRET (or the variable `--webhook-secret-env`
names), as Agora's notification service would; `--webhook-app-id` sends them one App ID's events
only, as a real project's webhook.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.globals import SuggestingGroup
from reconciler.cli.runner import Terminated
from reconciler.errors import ReconcilerError
from reconciler.models import Settings
from reconciler.models.hosts import is_loopback_host
from reconciler.models.masking import mask_url_credentials
from reconciler.sandbox import serve
from reconciler.sandbox.config import (
    NAME_SCOPES,
    PRESENCE_MODES,
    TOKEN_CHECKS,
    SandboxConfig,
    config_from_env,
)
from reconciler.sandbox.ncs import check_app_id, check_webhook
from reconciler.sandbox.server import ServeError

_SHARE = click.FloatRange(0, 1)
_SECONDS = click.FloatRange(min=0)
_TUNING: tuple[tuple[str, object, click.ParamType[Any] | None, str | None], ...] = (
    ("--pcu-limit", 20, click.IntRange(min=0), None),
    ("--latency-ms", 0.0, _SECONDS, None),
    ("--error-rate", 0.0, _SHARE, "Share of requests answered 503 ServiceUnavailable."),
    ("--rate-limit", 0.0, _SHARE, "Share of requests answered 429 with Retry-After."),
    ("--stop-delay", 1.0, _SECONDS, "Seconds an agent stays STOPPING before STOPPED."),
    ("--start-delay", 0.0, _SECONDS, "Seconds an agent stays STARTING (0: RUNNING at once)."),
    (
        "--presence",
        "empty",
        click.Choice(PRESENCE_MODES),
        "Who is in a channel when the first agent joins it: nobody, or its remote users.",
    ),
    (
        "--idle-before-join/--no-idle-before-join",
        True,
        None,
        "Whether the idle timeout counts down before any remote user has joined.",
    ),
    (
        "--token-check",
        "strict",
        click.Choice(TOKEN_CHECKS),
        "strict: agents whose token is bad (signature, app id, channel, uid, expiry) fail.",
    ),
    (
        "--name-scope",
        "channel",
        click.Choice(NAME_SCOPES),
        "Where a join name must be unique among active agents: the App ID or the channel.",
    ),
)
"""The sandbox's tunings, each shown with its default: flag, default, type, help. Each sets
the config field its flag names (``--stop-delay`` and ``--start-delay`` set ``*_s``)."""

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _tuning_options(command: _Command) -> _Command:
    """Add the options of :data:`_TUNING`, in its order."""
    for flag, default, kind, text in reversed(_TUNING):
        option = click.option(flag, default=default, show_default=True, type=kind, help=text)
        command = option(command)
    return command


def _tuning_fields(tuning: dict[str, Any]) -> dict[str, Any]:
    """The config fields the tuning options set, by the options' names."""
    renamed = {"stop_delay": "stop_delay_s", "start_delay": "start_delay_s"}
    return {renamed.get(name, name): value for name, value in tuning.items()}


@click.group("sandbox", cls=SuggestingGroup)
def sandbox_group() -> None:
    """Run the local emulator of Agora's Conversational AI Engine and Platform APIs."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind; 0 lets the system choose one (the line on stderr names it).",
)
@click.option(
    "--db",
    "db_path",
    default=".sandbox/engine.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file the agents live in, relative to -C DIR as every path (the embedded "
    'sandbox\'s file: serve finds the agents apply started there; "" keeps them in memory).',
)
@_tuning_options
@click.option("--seed", default=None, type=int, help="Seed of agent ids and injected faults.")
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="URL",
    help="Send notification events (NCS) there, signed with the secret in --webhook-secret-env "
    "(repeatable; POST /_sandbox/webhooks adds more at run time).",
)
@click.option(
    "--webhook-app-id",
    default=None,
    metavar="APP_ID",
    help="Send the --webhook URLs the events of this App ID only, as a real project's webhook "
    "(default: those of every App ID).",
)
@click.option(
    "--webhook-secret-env",
    default="RECONCILER_NCS_SECRET",
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the secret that signs the notification events.",
)
@click.option(
    "--customer-id",
    default=None,
    metavar="ID",
    help="Customer id of Basic auth [default: AGORA_CUSTOMER_ID, else sandbox].",
)
@click.option(
    "--customer-secret-env",
    default="AGORA_CUSTOMER_SECRET",
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the customer secret (unset: sandbox).",
)
@click.option(
    "--app-certificate-env",
    default="AGORA_APP_CERTIFICATE",
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the App Certificate [default: else the project's].",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    /,
    host: str,
    port: int,
    db_path: str,
    seed: int | None,
    webhooks: tuple[str, ...],
    webhook_app_id: str | None,
    webhook_secret_env: str,
    customer_id: str | None,
    customer_secret_env: str,
    app_certificate_env: str,
    **tuning: Any,
) -> None:
    """Serve the sandbox engine over HTTP until interrupted.

    Secrets come from the environment only (AGORA_CUSTOMER_SECRET and AGORA_APP_CERTIFICATE,
    or the variables named by --customer-secret-env / --app-certificate-env; the webhook secret
    from RECONCILER_NCS_SECRET or --webhook-secret-env). Run inside a project (or with -C DIR /
    --config), it reads reconciler.yaml: without the certificate variable set, the project's
    app_certificate (its default included) checks tokens, as the embedded sandbox does. It
    prints the lines that point a project at it.

    \b
    Examples:
      reconciler sandbox serve --port 8787
      reconciler sandbox serve --latency-ms 100 --error-rate 0.05
      RECONCILER_NCS_SECRET=... reconciler sandbox serve --webhook http://127.0.0.1:9108/ncs

    Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 cannot start (port in use, bad option).
    """
    project = _project_settings(ctx)
    if db_path:
        from reconciler.cli.context import given_path

        db_path = str(given_path(ctx, Path(db_path)))
    certificate_from = app_certificate_env if os.environ.get(app_certificate_env) else ""
    hooks, webhook_app_id = _checked_webhooks(webhooks, webhook_app_id, webhook_secret_env)
    config = config_from_env(
        certificate_env=app_certificate_env,
        secret_env=customer_secret_env,
        customer_id=customer_id,
        db_path=db_path or None,
        seed=seed,
        webhooks=hooks,
        webhook_app_id=webhook_app_id,
        **_tuning_fields(tuning),
    )
    if not certificate_from and project is not None and project.app_certificate is not None:
        certificate_from = _shown_config(project)
        config = replace(config, app_certificate=project.app_certificate.get_secret_value())
    if not is_loopback_host(host):
        click.echo(f"warning: serving on {host}, reachable beyond this machine", err=True)
    token = (
        f"on, certificate from {certificate_from}"
        if config.app_certificate
        else f"off (set {app_certificate_env})"
    )
    listening = _announcer(
        host,
        config,
        project,
        where=db_path or "memory",
        token=token,
        customer_secret_env=customer_secret_env,
        webhooks=webhooks,
        webhook_app_id=webhook_app_id,
    )
    try:
        serve(config, host, port, on_listening=listening)
    except ServeError as exc:
        raise ReconcilerError(str(exc)) from None
    except Terminated:  # uvicorn stops on SIGTERM, then raises it again: a clean stop, exit 0
        return


def _checked_webhooks(
    webhooks: tuple[str, ...], webhook_app_id: str | None, secret_env: str
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The ``--webhook`` URLs, each with the secret from ``secret_env``, and the checked
    ``--webhook-app-id``; a URL without a secret or a bad value is a usage error."""
    secret = os.environ.get(secret_env) or ""
    if webhooks and not secret:
        raise click.UsageError(f"--webhook needs a secret: set {secret_env}")
    try:
        hooks = tuple(check_webhook(url, secret) for url in webhooks)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from None
    try:
        app_id = check_app_id(webhook_app_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook-app-id") from None
    return hooks, app_id


def _announcer(
    host: str,
    config: SandboxConfig,
    project: Settings | None,
    *,
    where: str,
    token: str,
    customer_secret_env: str,
    webhooks: tuple[str, ...],
    webhook_app_id: str | None,
) -> Callable[[int], None]:
    """What ``serve`` says on stderr once it listens on the bound port: its URL, database and
    token auth, the project read, the lines that point a project at it, and where
    notification events go."""

    def listening(bound: int) -> None:
        url = f"http://{_reachable(host)}:{bound}"
        click.echo(f"Sandbox engine on {url} (db: {where}, token auth: {token})", err=True)
        if project is not None:
            shown = _shown_config(project)
            click.echo(f"Read {shown} (project {project.project_dir}).", err=True)
        variables = project.variables if project is not None else {}
        lines = pointing_lines(url, config, customer_secret_env, variables)
        click.echo("\n".join(lines) + "\n", err=True)
        of = f" of App ID {webhook_app_id}" if webhook_app_id else ""
        for hook in webhooks:
            click.echo(f"Notification events{of} to {mask_url_credentials(hook)}", err=True)

    return listening


def pointing_lines(
    url: str, config: SandboxConfig, secret_env: str, variables: Mapping[str, str] | None = None
) -> list[str]:
    """The shell lines that point a project at the served sandbox (no secret is printed: a
    secret from the environment is named, not shown). ``variables``: the environment's renamed
    variables (``AGORA_CUSTOMER_ID: PROD_AGORA_CUSTOMER_ID``), whose names the lines use."""
    names = variables or {}
    customer_id = names.get("AGORA_CUSTOMER_ID", "AGORA_CUSTOMER_ID")
    customer_secret = names.get("AGORA_CUSTOMER_SECRET", "AGORA_CUSTOMER_SECRET")
    certificate = names.get("AGORA_APP_CERTIFICATE", "AGORA_APP_CERTIFICATE")
    secret = (
        f'export {customer_secret}="${secret_env}"  # the value this sandbox was given'
        if os.environ.get(secret_env)
        else f"export {customer_secret}=sandbox"
    )
    return [
        "To point a project at it (then reconciler plan / apply as usual):",
        f"  export RECONCILER_ENGINE={url}",
        f"  export RECONCILER_PLATFORM={url}",
        f"  export {customer_id}={shlex.quote(config.customer_id)}",
        f"  {secret}",
        f"  # and export the variables your manifests read for secrets ({certificate}",
        "  # too): a sensitive ${VAR:-default} is a placeholder for engine: sandbox only;",
        "  # `reconciler validate` lists those not set (settings and manifests, with the file)",
    ]


def _project_settings(ctx: click.Context) -> Settings | None:
    """The settings of the project serve runs in (-C DIR / --config, --env), None outside a
    project. Without --env in a project of several environments: the first one declared."""
    from reconciler.cli.common import project_settings
    from reconciler.errors import EnvironmentChoiceError

    obj = ctx.find_root().obj
    options = obj if isinstance(obj, dict) else {}
    directory = Path(options.get("directory") or Path.cwd())
    if options.get("config") is None and not (directory / "reconciler.yaml").is_file():
        return None
    try:
        return project_settings(ctx)
    except EnvironmentChoiceError as exc:
        if not exc.declared:
            raise
        click.echo(
            f"Environment {exc.declared[0]} (the first declared; --env NAME for another).",
            err=True,
        )
        return project_settings(ctx, exc.declared[0])


def _shown_config(settings: Settings) -> str:
    path = settings.config_path
    if path is None:
        return "reconciler.yaml"
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _reachable(host: str) -> str:
    """The address a client on this machine uses for ``host`` (a wildcard: loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
