"""One access-log line per request, a request id on every answer (`X-Request-Id`), the
request metrics, and `X-Content-Type-Options: nosniff` (nosniff.py says why).

One pure ASGI layer, outermost, for everything measured or stamped on every answer: each such
layer wraps `send` again, copies the headers again and reads the clock again, and at a few
hundred microseconds a JSON request that was a fifth of the time spent in our own code.

granian's own access log knows the raw path only: no route template, owner, bytes or id to
find a request by. This pure ASGI layer, outermost, sees the final status of every answer
(errors, CORS preflights, the web page), the bytes actually handed to the server, and the
owner the auth dependency recorded. The line, on logger `audiostore.access`:

    access method=GET route=/v1/audio/{audio_id}/content status=206 bytes=65536
    duration_ms=1.8 owner=alice request_id=4bf92f3577b34da6 client=127.0.0.1

The route is the template, never the concrete path or the query: a signed URL's query is a
credential, and ids in paths would make the log a catalogue. A client's `X-Request-Id`
(letters, digits and `._:/+=@-`, up to 128) is kept, so a line can be matched with the
client's own logs; otherwise one is made up. Either way it is sent back.

The metrics (`audiostore_http_requests`, `audiostore_http_request_seconds`,
`audiostore_bytes_out`, labelled by the same route template) count every answer too, CORS
preflights and the web page included; bytes out are the body bytes handed to the server.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..access_lines import direct_writer
from ..metrics import BYTES_OUT, REQUEST_SECONDS, REQUESTS
from .nosniff import HEADER as NOSNIFF

__all__ = ["REQUEST_ID_HEADER", "AccessLog", "flush_access_log", "record_owner"]

log = logging.getLogger("audiostore.access")  # its handler: cli/server_logging.py, access_lines.py
REQUEST_ID_HEADER = b"x-request-id"
_CLIENT_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_OWNER_KEY = "audiostore.owner"


def record_owner(scope: Scope, owner: str) -> None:
    """Note who the request acts as, for its access-log line (the auth dependency calls it)."""
    facts = scope.get("state")
    if isinstance(facts, dict):
        facts[_OWNER_KEY] = owner


def flush_access_log() -> None:
    """Write the lines the access log's handler holds (access_lines.py holds them for a
    moment): the app calls it as it stops, since a server's worker may end without logging's
    own flush at exit (`process_exit.end_process`)."""
    for handler in log.handlers:
        handler.flush()


def _request_id(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _CLIENT_ID.fullmatch(value):
            return bytes(value)
    return os.urandom(16).hex().encode()  # as random as uuid4, without building a UUID


class _Labelled:
    """The metrics' children by label values, looked up once: `labels()` takes a lock and
    checks its arguments on every call."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], Counter] = {}
        self.seconds: dict[tuple[str, str], Histogram] = {}

    def record(self, route: str, method: str, status: int, seconds: float, sent: int) -> None:
        counter = self.requests.get((route, method, status))
        if counter is None:
            counter = self.requests[(route, method, status)] = REQUESTS.labels(route, method, str(status))
        counter.inc()
        timer = self.seconds.get((route, method))
        if timer is None:
            timer = self.seconds[(route, method)] = REQUEST_SECONDS.labels(route, method)
        timer.observe(seconds)
        if sent:
            BYTES_OUT.inc(sent)


class AccessLog:
    """Pure ASGI. `enabled=False` (AUDIOSTORE_ACCESS_LOG=false) keeps the request id, the
    metrics and the header, and writes no line."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled
        self._metrics = _Labelled()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        # A dict of this request's own: the owner written into it cannot reach another request
        # whatever the server does with lifespan state.
        scope["state"] = dict(scope.get("state") or {})
        status = 500
        sent = 0
        length = 0

        async def logged_send(message: Message) -> None:
            nonlocal status, sent, length
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = []
                nosniff = False
                for n, v in message.get("headers", ()):
                    name = n.lower()
                    if name == b"content-length" and v.isdigit():
                        length = int(v)
                    elif name == REQUEST_ID_HEADER:
                        continue
                    elif name == NOSNIFF[0]:
                        nosniff = True  # a route set it already
                    headers.append((n, v))
                headers.append((REQUEST_ID_HEADER, request_id))
                if not nosniff:
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.pathsend":  # the server sends the file itself
                sent += length

        try:
            await self.app(scope, receive, logged_send)
        finally:
            seconds = time.perf_counter() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self._metrics.record(template, scope["method"], status, seconds, sent)
            if self.enabled:
                self._write(scope, template, status, sent, seconds, request_id)

    @staticmethod
    def _write(scope: Scope, route: str, status: int, sent: int, seconds: float, request_id: bytes) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        line = (
            f"access method={scope['method']} route={route} status={status} bytes={sent} "
            f"duration_ms={seconds * 1000:.1f} owner={scope['state'].get(_OWNER_KEY, '-')} "
            f"request_id={request_id.decode()} client={client[0] if client else '-'}"
        )
        writer = direct_writer(log)
        if writer is not None:  # `audiostore serve`: no LogRecord, the line as it is
            writer.write_line(line)
        else:
            log.info(line)
