"""Connecting to the engine: the in-process sandbox for ``engine: sandbox``, else HTTP.

``engine: sandbox`` builds the sandbox's ASGI app on ``.sandbox/engine.db`` and talks to it
through ``httpx.ASGITransport``: no port, no credentials, the same wire contract. The sandbox
keeps its faithful defaults: empty channels (an agent's idle timeout runs out unless it is 0),
strict token checks, and a token required at join when the project has an App Certificate.

A read-only command (see :mod:`reconciler.cli.readonly`) connects ``read_only``: the sandbox
then works on an in-memory copy of ``.sandbox/engine.db`` (empty when there is none), so the
time-driven transitions it makes while answering happen in memory and are discarded, and
neither ``.sandbox/`` nor its files are created or changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import httpx

from reconciler.engine import ClientOptions, EngineClient, RetryEvent, RetryPolicy, build_client
from reconciler.errors import SettingsError
from reconciler.models import Settings


def sandbox_transport(
    settings: Settings, *, read_only: bool
) -> tuple[httpx.AsyncBaseTransport, Callable[[], None]]:
    """An in-process transport to the sandbox engine stored in the project's ``.sandbox/``
    (``read_only``: to an in-memory copy of it, which writes nothing)."""
    from reconciler.sandbox import SandboxConfig, create_app

    db = settings.sandbox_db_path
    if db.exists() and not db.is_file():
        raise SettingsError(f"sandbox_db: {db} is not a file; name a file (.sandbox/engine.db)")
    if not read_only:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            ignore = db.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
        except OSError as exc:
            raise SettingsError(
                f"sandbox_db: cannot make the directory of {db}: {exc.strerror or exc}"
            ) from None
    cert = settings.app_certificate.get_secret_value() if settings.app_certificate else None
    config = SandboxConfig(
        customer_id=settings.customer_id.get_secret_value() if settings.customer_id else "sandbox",
        customer_secret=(
            settings.customer_secret.get_secret_value() if settings.customer_secret else "sandbox"
        ),
        app_certificate=cert,
        pcu_limit=max(20, settings.max_concurrent_agents),
        stop_delay_s=0.5,
        db_path=str(db),
        db_read_only=read_only,
    )
    try:
        app = create_app(config)
    except sqlite3.DatabaseError as exc:  # a stray file, a truncated copy
        raise SettingsError(
            f"{db}: cannot use it as the embedded sandbox's database ({exc}); move it away "
            "to start an empty sandbox"
        ) from None
    except sqlite3.Error as exc:
        raise SettingsError(f"sandbox_db: cannot open the sandbox's database {db}: {exc}") from None
    return httpx.ASGITransport(app=app), app.state.sandbox.close


@asynccontextmanager
async def engine_client(
    settings: Settings,
    *,
    read_only: bool,
    on_retry: Callable[[RetryEvent], None] | None = None,
    secrets: Iterable[str] = (),
    parallelism: int | None = None,
    on_response: Callable[[str, int], None] | None = None,
) -> AsyncIterator[EngineClient]:
    """An open :class:`EngineClient` for the project's engine.

    ``parallelism`` (default: the settings') is how many requests the client has in flight.
    ``read_only`` (the project's :attr:`~reconciler.project.Project.read_only`): an embedded
    sandbox writes nothing (see :func:`sandbox_transport`).

    ``secrets`` (and the settings' own credentials) are scrubbed from any engine text the client
    quotes in an error, whichever call it answers.
    """
    settings.refuse_placeholders()  # a sandbox placeholder never reaches another engine
    transport: httpx.AsyncBaseTransport | None = None
    close: Callable[[], None] = _nothing
    if settings.uses_sandbox:
        transport, close = sandbox_transport(settings, read_only=read_only)
    retry = RetryPolicy(settings.max_attempts, on_retry=on_retry)
    try:
        options = ClientOptions(transport, None, retry, parallelism, on_response)
        client = build_client(settings, options)
        client.add_secrets(secrets)
        if transport is None:  # the in-process sandbox's default credentials are no secret
            client.add_secrets(settings.credentials())
        async with client:
            yield client
    finally:
        close()


def _nothing() -> None:
    return None
