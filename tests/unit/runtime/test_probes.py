"""The probe server is not an open door: loopback by default, a bounded number of clients, bounded heads."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from services.runtime.observability.probes import MAX_CONNECTIONS, MAX_HEADER_BYTES, ProbeServer
from services.runtime.settings import ProbeSettings


def test_probes_listen_on_loopback_unless_told_otherwise() -> None:
    assert ProbeSettings().http_host == "127.0.0.1"


async def _get(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    return answer


async def test_an_oversized_request_head_gets_no_answer_and_the_server_goes_on() -> None:
    server = ProbeServer(CollectorRegistry(), lambda: True)
    await server.start()
    try:
        huge = b"GET /healthz HTTP/1.1\r\n" + b"X-Junk: " + b"a" * (MAX_HEADER_BYTES * 2) + b"\r\n\r\n"
        assert await _get(server.port, huge) == b""
        assert (await _get(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
    finally:
        await server.stop()


async def test_clients_beyond_the_cap_are_closed_at_once() -> None:
    server = ProbeServer(CollectorRegistry(), lambda: True)
    await server.start()
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(MAX_CONNECTIONS)]
    try:
        await asyncio.sleep(0.1)
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(extra_reader.read(), timeout=2) == b"", "closed without an answer"
        extra_writer.close()
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        assert (await _get(server.port, b"GET /readyz HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
    finally:
        await server.stop()
