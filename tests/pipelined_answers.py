"""One request and then a health check on the same raw connection: both answers, as bytes.

For refusals the server answers before it has read the body: a client that sends the whole
body before reading (as most do) must still get the refusal, and the connection must stay
open for its next request, which is what the second answer shows."""

from __future__ import annotations

import socket
import time

HEALTH_CHECK = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


def send_then_health(port: int, request: bytes, *, timeout: float = 30.0) -> bytes:
    """Send `request` (head and body) whole, then a health check; read until two answers
    have begun, the server closes, or `timeout` seconds pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        s.sendall(HEALTH_CHECK)
        answers = b""
        deadline = time.monotonic() + timeout
        while answers.count(b"HTTP/1.1 ") < 2 and time.monotonic() < deadline:
            got = s.recv(65536)
            if not got:
                break
            answers += got
    return answers
