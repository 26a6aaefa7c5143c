"""The socket ``sandbox serve`` listens on makes asyncio turn Nagle's algorithm off on every
connection it accepts (``TCP_NODELAY``), as uvicorn's own socket does: without it, an answer
written in two parts waits for the client's delayed ACK, 40 ms a request on a kept-alive
connection (the served sandbox ran benchmarks and process tests 5x slower)."""

from __future__ import annotations

import asyncio
import socket

from reconciler.sandbox.server import _bind


def test_a_connection_the_served_sandbox_accepts_has_nagle_turned_off() -> None:
    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = _bind("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            value = await asyncio.wait_for(seen, timeout=30)
            writer.close()
            return value
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0
