"""Read the first bytes of an endless ASGI response, then disconnect like a real client.

httpx's ASGITransport waits for the whole body, which never comes for a live stream; this
drives the real app directly over ASGI (same routing, middleware and StreamingResponse).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class StreamRead:
    status: int
    headers: dict[str, str]
    body: bytes
    ended: bool  # the server finished the body on its own


async def read_stream(
    app: Any, url: str, headers: dict[str, str], *, max_bytes: int, timeout: float = 120.0
) -> StreamRead:
    parts = urlsplit(url)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": parts.path, "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    status = 0
    resp_headers: dict[str, str] = {}
    body = bytearray()
    ended = False
    enough = asyncio.Event()
    disconnected = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, ended
        if message["type"] == "http.response.start":
            status = message["status"]
            resp_headers.update({k.decode().lower(): v.decode() for k, v in message["headers"]})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                ended = True
                enough.set()
            elif len(body) >= max_bytes:
                enough.set()

    task = asyncio.create_task(app(scope, receive, send))
    try:
        waiter = asyncio.create_task(enough.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task in done and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if not done:
            raise TimeoutError(f"no {max_bytes} bytes within {timeout} s")
    finally:
        disconnected.set()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return StreamRead(status, resp_headers, bytes(body), ended)
