"""A throwaway PostgreSQL database per test, or a skip that says how to get one.

The server is ``RECONCILER_TEST_PG_URL`` (a URL of a database to connect to for administration),
by default ``postgresql://postgres@127.0.0.1:5432/postgres``. Each test using :func:`pg_url` gets
a fresh database ``reconciler_test_<random>``, dropped (with its sessions) at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ENV_URL = "RECONCILER_TEST_PG_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get(ENV_URL) or DEFAULT_URL


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection for administration; skips the test when the server is down."""
    try:
        return psycopg.connect(admin_url(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip(
            f"PostgreSQL not reachable at {urlsplit(admin_url()).hostname}:"
            f"{urlsplit(admin_url()).port or 5432}; start it or set {ENV_URL}"
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty database (dropped after the test)."""
    name = f"reconciler_test_{secrets.token_hex(6)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url(), name)
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
