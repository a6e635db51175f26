"""A tiny HTTP endpoint for an edge's gauges: ``GET /metrics`` (Prometheus text) and
``GET /status`` (JSON). An edge runs no FastAPI service, so this is plain asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import json

from processtwin.edge.forwarder import EdgeForwarder

__all__ = ["serve_metrics"]


async def serve_metrics(fwd: EdgeForwarder, host: str, port: int) -> asyncio.Server:
    """Start serving; the caller closes the returned server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await asyncio.wait_for(reader.readline(), 5.0)).split()
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            path = request[1].decode(errors="replace") if len(request) > 1 else "/"
            if path == "/metrics":
                status, ctype, body = "200 OK", "text/plain; version=0.0.4", fwd.prometheus()
            elif path == "/status":
                status, ctype, body = "200 OK", "application/json", json.dumps(fwd.snapshot())
            else:
                status, ctype, body = "404 Not Found", "text/plain", "not found\n"
            data = body.encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: "
                         f"{len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port)
