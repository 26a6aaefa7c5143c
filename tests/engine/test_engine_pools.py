"""The engine client's pooled transport: small pools that together hold ``max_connections``,
made when first needed, every one verifying certificates and using the environment's proxy."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest

from reconciler.engine import pools
from reconciler.engine.auth import BasicAuth
from reconciler.engine.client import EngineClient
from reconciler.engine.pools import (
    PooledTransport,
    needs_tls,
    pool_sizes,
    trusting_nothing,
    verifying_context,
)
from reconciler.errors import SettingsError
from tests.engine.engine_helpers import APP_ID


@pytest.fixture
def ten_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pools of up to ten connections, so that a test can fill one and see the next opened."""
    monkeypatch.setattr(pools, "POOL_SIZE", 10)


def test_every_connection_is_a_pool_of_its_own_by_default() -> None:
    assert pool_sizes(5) == [1] * 5
    assert PooledTransport(3, make_pool=HeldPools()).sizes == [1, 1, 1]


class HeldPools:
    """A pool factory whose pools answer only once released, recording who served what."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.served: list[int] = []
        self.release = asyncio.Event()

    def __call__(self, size: int) -> httpx.AsyncBaseTransport:
        number = len(self.sizes)
        self.sizes.append(size)

        async def handler(request: httpx.Request) -> httpx.Response:
            self.served.append(number)
            if request.url.path != "/quick":
                await self.release.wait()
            return httpx.Response(200, text=f"pool {number}")

        return httpx.MockTransport(handler)


async def _send(transport: PooledTransport, path: str = "/held") -> httpx.Response:
    return await transport.handle_async_request(httpx.Request("GET", f"https://engine.test{path}"))


async def _hold(
    transport: PooledTransport, pools: HeldPools, count: int
) -> list[asyncio.Task[httpx.Response]]:
    """Start ``count`` more held requests and wait until each has reached a pool."""
    expected = len(pools.served) + count
    tasks = [asyncio.create_task(_send(transport)) for _ in range(count)]
    while len(pools.served) < expected:
        await asyncio.sleep(0)
    return tasks


@pytest.mark.usefixtures("ten_a_pool")
@pytest.mark.parametrize(
    ("connections", "sizes"),
    [(1, [1]), (10, [10]), (11, [6, 5]), (50, [10] * 5), (55, [10, 9, 9, 9, 9, 9])],
)
def test_pools_hold_max_connections_together_in_pools_of_at_most_pool_size(
    connections: int, sizes: list[int]
) -> None:
    assert pool_sizes(connections) == sizes
    assert PooledTransport(connections, make_pool=HeldPools()).sizes == sizes
    assert sum(sizes) == connections and max(sizes) <= pools.POOL_SIZE


@pytest.mark.usefixtures("ten_a_pool")
def test_pools_are_made_only_when_the_ones_made_are_busy() -> None:
    async def main() -> None:
        pools = HeldPools()
        transport = PooledTransport(25, make_pool=pools)
        assert transport.sizes == [9, 8, 8] and transport.opened == 1
        tasks = await _hold(transport, pools, 9)
        assert transport.opened == 1 and set(pools.served) == {0}
        tasks += await _hold(transport, pools, 1)
        assert transport.opened == 2 and pools.served[-1] == 1
        pools.release.set()
        answers = await asyncio.gather(*tasks)
        assert all(answer.is_success for answer in answers)
        again = await _send(transport, "/quick")  # everything is free: the first pool serves
        assert again.text == "pool 0"
        await transport.aclose()

    asyncio.run(main())


@pytest.mark.usefixtures("ten_a_pool")
def test_busy_pools_take_requests_beyond_their_size_on_the_least_busy() -> None:
    async def main() -> list[int]:
        pools = HeldPools()
        transport = PooledTransport(20, make_pool=pools)
        tasks = await _hold(transport, pools, 21)
        pools.release.set()
        await asyncio.gather(*tasks)
        return sorted(pools.served.count(number) for number in set(pools.served))

    assert asyncio.run(main()) == [10, 11]


def test_answers_are_read_in_full_before_the_pool_is_free() -> None:
    async def main() -> bytes:
        transport = PooledTransport(1, make_pool=HeldPools())
        response = await _send(transport, "/quick")
        assert response.is_closed
        return response.content

    assert asyncio.run(main()) == b"pool 0"


def test_network_pools_verify_certificates_and_host_names() -> None:
    context = verifying_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_an_unreadable_ca_bundle_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    with pytest.raises(SettingsError, match="check SSL_CERT_FILE and SSL_CERT_DIR"):
        PooledTransport(5)


def test_the_network_pools_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> list[bytes]:
        request_lines: list[bytes] = []
        body = b'{"agent_id": "A1", "status": "RUNNING"}'

        async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request_lines.append(await reader.readline())
            while (await reader.readline()).strip():
                pass
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n" + body)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        base = "http://engine.test/api/conversational-ai-agent"
        async with server, EngineClient(APP_ID, [base], BasicAuth("a", "secret-value")) as client:
            agent = await client.get("A1")
        assert agent.status == "RUNNING"
        return request_lines

    path = f"/api/conversational-ai-agent/v2/projects/{APP_ID}/agents/A1"
    assert asyncio.run(main()) == [f"GET http://engine.test{path} HTTP/1.1\r\n".encode()]


def test_one_trust_store_is_loaded_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: each client (refresh, then apply) loaded the trust store again."""
    loads: list[int] = []
    real = httpx.create_ssl_context

    def counting() -> ssl.SSLContext:
        loads.append(1)
        return real()

    monkeypatch.setattr(pools.httpx, "create_ssl_context", counting)
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent/one-trust-store-per-process")
    PooledTransport(5, tls=True)
    PooledTransport(20, tls=True)
    assert len(loads) == 1


def test_no_trust_store_is_loaded_when_no_request_can_use_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: an apply against an http:// engine loaded the trust store twice."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not needs_tls(["http://127.0.0.1:8787/api/conversational-ai-agent"])
    assert needs_tls(["http://127.0.0.1:1", "https://api.agora.io/api/conversational-ai-agent"])
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:3128")
    assert needs_tls(["http://127.0.0.1:8787"])
    monkeypatch.delenv("HTTPS_PROXY")

    def refuse() -> ssl.SSLContext:
        raise AssertionError("the trust store was loaded")

    monkeypatch.setattr(pools.httpx, "create_ssl_context", refuse)
    client = EngineClient(APP_ID, ["http://127.0.0.1:9"], BasicAuth("id", "secret"))
    asyncio.run(client.aclose())


def test_the_context_of_plain_http_pools_verifies_and_trusts_nothing() -> None:
    context = trusting_nothing()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() == []


def test_httpcore_learns_the_async_library_without_searching_for_a_module() -> None:
    """Regression: without sniffio, httpcore's every request tried `import sniffio` several
    times, each a search of sys.path that failed (17% of an apply's CPU)."""
    import sys

    from httpcore._synchronization import current_async_library

    async def ask() -> str:
        return current_async_library()

    assert asyncio.run(ask()) == "asyncio"
    assert sys.modules.get("sniffio") is not None
