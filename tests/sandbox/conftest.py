"""Fixtures of the sandbox tests: in-process engines (ASGI transport, fake time source) and
served sandboxes (uvicorn in a subprocess on a free loopback port)."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # agora-agents 2.12.0 declares pydantic-v1 style configs and warns on import.
    warnings.simplefilter("ignore")
    import agora_agent
    import agora_agent.agentkit.token
    import agora_agent.client  # noqa: F401

from reconciler.sandbox import SandboxConfig, create_app
from tests.sandbox.sandbox_helpers import (
    CERT,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    Client,
    FakeTime,
    asgi_client,
    http_client,
)
from tests.served import ServedSandbox


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_engine(fake_time: FakeTime) -> Iterator[Callable[..., Client]]:
    """Build in-process engines: `make_engine(pcu_limit=2, ...)` (SandboxConfig overrides)."""
    made: list[Client] = []

    def factory(**overrides: Any) -> Client:
        values: dict[str, Any] = {
            "customer_id": CUSTOMER_ID,
            "customer_secret": CUSTOMER_SECRET,
            "seed": 7,
            "stop_delay_s": 1.0,
        }
        values.update(overrides)
        app = create_app(SandboxConfig(**values), time_source=fake_time)
        client = asgi_client(app)
        client.app = app
        client.time = fake_time
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
        client.app.state.sandbox.close()


@pytest.fixture
def engine(make_engine: Callable[..., Client]) -> Client:
    """An in-process engine with Basic credentials, no certificate, stop delay 1 s."""
    return make_engine()


@pytest.fixture
def cert_engine(make_engine: Callable[..., Client]) -> Client:
    """An in-process engine with an App Certificate (token auth on, join token required)."""
    return make_engine(app_certificate=CERT)


# -- served sandboxes ------------------------------------------------------------------------


Served = ServedSandbox


def start_served(
    workdir: Path, db: str, *args: str, certificate: str | None = CERT
) -> ServedSandbox:
    """Serve a sandbox (Basic credentials, and ``certificate`` if any) until it answers."""
    env = {**os.environ, "AGORA_CUSTOMER_ID": CUSTOMER_ID, "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET}
    env.pop("AGORA_APP_CERTIFICATE", None)
    if certificate is not None:
        env["AGORA_APP_CERTIFICATE"] = certificate
    return ServedSandbox(
        db=db, args=args, env=env, log=workdir / f"sandbox-{uuid.uuid4().hex[:8]}.log"
    )


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start served sandboxes (stopped at teardown): `server_factory(db, *args)`."""
    started: list[Served] = []

    def factory(db: str, *args: str, certificate: str | None = CERT) -> Served:
        served = start_served(tmp_path, db, *args, certificate=certificate)
        started.append(served)
        return served

    yield factory
    for served in started:
        served.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One served sandbox per test module (with a certificate, stop delay 0.2 s, seed 11)."""
    workdir = tmp_path_factory.mktemp("served")
    server = start_served(
        workdir,
        str(workdir / "engine.db"),
        "--seed",
        "11",
        "--stop-delay",
        "0.2",
        "--pcu-limit",
        "100",
    )
    yield server
    server.stop()


@pytest.fixture
def served_client(served: Served) -> Iterator[Client]:
    """A Client of the module's served sandbox, reset before each test."""
    client = http_client(served.url)
    client.control("POST", "/reset")
    yield client
    client.close()
