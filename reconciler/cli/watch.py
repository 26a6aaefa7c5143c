"""``reconciler watch``: reconcile on an interval, self-heal, stand by behind a leader."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from reconciler.cli.context import project_dir, project_from_context
from reconciler.cli.runner import run_async
from reconciler.errors import EXIT_OK

LOG_FORMATS = ("text", "json")


@click.command("watch")
@click.option(
    "--interval",
    default="30s",
    show_default=True,
    help="Time between reconcile runs: 30s, 2m, 1h, 500ms (SIGHUP runs one at once).",
)
@click.option(
    "--heal-only",
    is_flag=True,
    help="Only heal drift (start exited recorded agents, restart before the runtime cap, renew "
    "tokens); never apply manifest changes (new, changed or removed agents).",
)
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Serve /healthz, /readyz, /metrics, /leaderz and the notification events (POST /ncs, "
    "see --ncs-path) there (e.g. 127.0.0.1:9108).",
)
@click.option(
    "--ncs-path",
    default="/ncs",
    show_default=True,
    metavar="PATH",
    help="Where --listen accepts Agora's notification events (signed with the secret in "
    "RECONCILER_NCS_SECRET); an agent of this state that left (event 102) or whose token "
    "expires soon (104) is reconciled at once.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Log lines on stderr: text for people, json (one object per line) for collectors.",
)
@click.pass_context
def watch_cmd(
    ctx: click.Context,
    interval: str,
    heal_only: bool,
    listen: str | None,
    ncs_path: str,
    log_format: str,
) -> int:
    """Keep the engine matching the manifests: plan and apply on every interval.

    Every interval (and on SIGHUP) it re-reads reconciler.yaml and agents.d/, refreshes, plans
    and applies under the same rules as `apply --auto-approve`. Errors (engine or database down,
    invalid manifests) are logged and retried with back-off; they never stop it.

    With local state it holds the state lock for its lifetime (one replica; a second one exits
    3). With PostgreSQL state several replicas may run: the one holding the state key's lock
    leads, the others stand by and take over when it goes away.

    With --listen it also accepts Agora's notification events (NCS webhooks) at POST /ncs:
    signed with the secret in RECONCILER_NCS_SECRET (401 otherwise), deduplicated, and for an
    agent of this state that left (event 102, however it ended) or whose token expires soon
    (104), the leader reconciles at once instead of at the next interval (a standby answers 503,
    so that NCS resends the event and the leader acts on it; other events are only counted).

    SIGTERM: the calls in flight finish and are recorded, the lock is released, exit 0.

    \b
    Examples:
      reconciler watch
      reconciler watch --interval 1m --listen 127.0.0.1:9108 --log-format json
      reconciler watch --heal-only
      RECONCILER_NCS_SECRET=... reconciler watch --interval 5m --listen 0.0.0.0:9108

    \b
    Exit codes:
      0    stopped by SIGTERM or Ctrl-C
      1    bad option or settings at start
      3    local state locked by another run
    """
    from reconciler.watch import parse_duration, parse_listen
    from reconciler.watch.endpoint import PATHS
    from reconciler.watch.interval import WatchOptionError
    from reconciler.watch.logs import LOGGER, make_formatter

    seconds = parse_duration(interval)
    address = parse_listen(listen) if listen is not None else None
    if (
        not ncs_path.startswith("/")
        or ncs_path in PATHS
        or any(c in ncs_path for c in "?#")
        or any(c.isspace() for c in ncs_path)
    ):  # a request's path never holds a space, ? or #: such a path would match no event
        raise WatchOptionError(
            f"--ncs-path: {ncs_path!r} must be a path starting with / (without spaces, ? or #) "
            "other than " + ", ".join(PATHS)
        )
    with _logging_to_stderr(LOGGER, make_formatter(log_format), ctx):
        return _watch(ctx, seconds, address, heal_only, ncs_path)


def _watch(
    ctx: click.Context,
    seconds: float,
    address: tuple[str, int] | None,
    heal_only: bool,
    ncs_path: str,
) -> int:
    """The watch itself, once its options are checked (its log lines go to stderr)."""
    from reconciler.watch.controller import Watcher, WatchOptions
    from reconciler.watch.endpoint import Endpoint
    from reconciler.watch.logs import log
    from reconciler.watch.metrics import WatchMetrics
    from reconciler.watch.receiver import SECRET_ENV, EventReceiver
    from reconciler.watch.status import WatchStatus

    project = project_from_context(ctx)
    project.require_credentials("watch")
    directory, config = project_dir(ctx)
    options = WatchOptions(
        directory=directory, config=config, interval=seconds, heal_only=heal_only
    )
    metrics = WatchMetrics()
    status = WatchStatus()
    watcher = Watcher(project, options, metrics=metrics, status=status)
    endpoint = None
    if address is not None:
        secret = project.environ.get(SECRET_ENV) or None
        receiver = EventReceiver(
            secret=secret,
            metrics=metrics,
            is_leader=lambda: watcher.leads,
            owned=lambda: watcher.owned,
            on_notice=watcher.notice,
            path=ncs_path,
        )
        if secret is None:
            log(
                logging.WARNING,
                "events.disabled",
                f"{SECRET_ENV} is not set: notification events at {ncs_path} are refused (401); "
                "polling alone heals",
            )
        endpoint = Endpoint(*address, status, metrics, receiver)
    # SIGHUP means "reconcile now"; until the loop handles it (the first run comes at once
    # anyway) it must not end the process, as its default action would.
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        # Local state: refused at once (exit 3) if another run holds the lock; PostgreSQL: a
        # refusal only means standing by, and the loop keeps trying.
        if not watcher.lease.shared:
            watcher.lease.try_acquire()
        if endpoint is not None:
            endpoint.start()
            host, port = endpoint.address
            log(
                logging.INFO,
                "endpoint.listening",
                f"serving /healthz, /readyz, /metrics, /leaderz and POST {ncs_path} on "
                f"{host}:{port}",
                host=host,
                port=port,
            )
        run_async(watcher.run_with_signals())
    finally:
        if endpoint is not None:
            endpoint.stop()
        watcher.lease.release()
        signal.signal(signal.SIGHUP, previous_hup)
    return EXIT_OK


@contextmanager
def _logging_to_stderr(
    logger: logging.Logger, formatter: logging.Formatter, ctx: click.Context
) -> Iterator[None]:
    """Send ``logger``'s lines to this run's stderr while it runs; then put back what was there
    (run in-process, a handler left on a stream its caller closed fails every later line)."""
    saved = (list(logger.handlers), logger.propagate, logger.level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logger.handlers[:] = [handler]
    logger.propagate = False
    verbose = (ctx.find_root().obj or {}).get("verbose", 0)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
