"""A tiny HTTP server per service process: ``/healthz`` (alive), ``/readyz`` (connected, serving),
``/metrics`` (Prometheus text format). Kubernetes probes and Prometheus scrape it.

Dependency-free on purpose (asyncio streams): every service image has it, trainers included.
Bounded: it listens on 127.0.0.1 unless told otherwise (deployments set ``HPO_HTTP_HOST=0.0.0.0``),
serves at most ``MAX_CONNECTIONS`` clients at once (others are closed at once), and reads at most
``MAX_HEADER_BYTES`` of request line and headers, with a 5 s timeout, before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Readiness = Callable[[], bool]

MAX_CONNECTIONS = 32
MAX_HEADER_BYTES = 8 * 1024
READ_TIMEOUT_SECONDS = 5.0


class ProbeServer:
    def __init__(self, registry: CollectorRegistry, ready: Readiness, host: str = "127.0.0.1", port: int = 0) -> None:
        self._registry = registry
        self._ready = ready
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the probe server is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port, limit=MAX_HEADER_BYTES)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections >= MAX_CONNECTIONS:
            writer.close()
            return
        self._connections += 1
        try:
            request_line = await self._read_head(reader)
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = self._respond(parts[0] if parts else "", path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bytes:
        """The request line, after reading (and dropping) the headers within the size and time limits."""
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            request_line = await reader.readline()
            read = len(request_line)
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                read += len(line)
                if read > MAX_HEADER_BYTES:
                    raise ValueError("request head too large")
        return request_line

    def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"only GET\n"
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            ready = self._ready()
            return (
                ("200 OK" if ready else "503 Service Unavailable"),
                "text/plain",
                b"ready\n" if ready else b"not ready\n",
            )
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return "404 Not Found", "text/plain", b"try /healthz, /readyz or /metrics\n"
