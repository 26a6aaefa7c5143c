"""The engine client's connection pools: small pools that together hold ``max_connections``,
made when first needed, sharing one verifying TLS context."""

from __future__ import annotations

import asyncio
import ssl
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from reconciler.engine.pools import POOL_SIZE, ConnectionPools
from reconciler.errors import SettingsError


def _context(pool: httpx.AsyncClient) -> ssl.SSLContext:
    context = pool._transport._pool._ssl_context  # type: ignore[attr-defined]
    assert isinstance(context, ssl.SSLContext)
    return context


@pytest.mark.parametrize(
    ("connections", "sizes"),
    [(1, [1]), (10, [10]), (11, [6, 5]), (50, [10] * 5), (55, [10, 9, 9, 9, 9, 9])],
)
def test_pools_hold_max_connections_together_in_pools_of_at_most_pool_size(
    connections: int, sizes: list[int]
) -> None:
    pools = ConnectionPools(max_connections=connections, timeout=5, headers={})
    assert pools.sizes == sizes
    assert sum(pools.sizes) == connections
    assert max(pools.sizes) <= POOL_SIZE


def test_with_a_transport_there_is_one_pool_of_every_connection() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    pools = ConnectionPools(max_connections=50, timeout=5, headers={}, transport=transport)
    assert pools.sizes == [50]


def test_pools_are_made_only_when_the_ones_made_are_busy() -> None:
    asyncio.run(_made_when_busy())


async def _made_when_busy() -> None:
    pools = ConnectionPools(max_connections=25, timeout=5, headers={})
    assert pools.opened == 1
    async with AsyncExitStack() as stack:
        first = [await stack.enter_async_context(pools.client()) for _ in range(9)]
        assert pools.opened == 1 and len(set(map(id, first))) == 1
        second = await stack.enter_async_context(pools.client())
        assert pools.opened == 2 and second is not first[0]
    # Everything is free again: the first pool serves the next request.
    async with pools.client() as again:
        assert again is first[0]
    await pools.aclose()


def test_every_pool_shares_one_verifying_tls_context() -> None:
    asyncio.run(_one_context())


async def _one_context() -> None:
    pools = ConnectionPools(max_connections=30, timeout=5, headers={})
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(pools.client()) for _ in range(30)]
    made = {id(c): c for c in clients}
    assert len(made) == 3
    contexts = {id(_context(c)) for c in made.values()}
    assert len(contexts) == 1
    context = _context(clients[0])
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    await pools.aclose()


def test_an_unreadable_ca_bundle_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    with pytest.raises(SettingsError, match="check SSL_CERT_FILE and SSL_CERT_DIR"):
        ConnectionPools(max_connections=5, timeout=5, headers={})


def test_busy_pools_take_requests_beyond_their_size_on_the_least_busy() -> None:
    pools = ConnectionPools(max_connections=20, timeout=5, headers={})

    async def hold(n: int) -> list[httpx.AsyncClient]:
        async with AsyncExitStack() as stack:
            return [await stack.enter_async_context(pools.client()) for _ in range(n)]

    clients = asyncio.run(hold(21))
    counts = sorted(sum(1 for c in clients if c is p) for p in {id(c): c for c in clients}.values())
    assert counts == [10, 11]
