"""An upload refused before its body is read still gets its answer to a client that sends the
whole body before reading (as most do): the server reads and drops up to 8 MiB of it first,
so the connection is not reset under the client and stays open for its next request. Raw
sockets against a real `audiostore serve` (granian), one route and refusal each."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipelined_answers import send_then_health
from server_process import ServerProcess

BODY = os.urandom(7 * 1024 * 1024)  # under the 8 MiB read before a refusal


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    data = tmp_path_factory.mktemp("refused") / "audiostore-data"
    proc = ServerProcess(data, env={"AUDIOSTORE_MAX_UPLOAD_BYTES": str(1024 * 1024)}).start()
    try:
        yield proc, (data / "admin.key").read_text().strip()
    finally:
        proc.stop()


def _send_then_read(port: int, head: str) -> bytes:
    """Send `head` and BODY, then a health check on the same connection; what came back."""
    return send_then_health(port, head.encode() + f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY)


def _refused(answers: bytes, status: int, code: str) -> None:
    assert answers.startswith(f"HTTP/1.1 {status} ".encode()), answers[:300]
    assert f'"code":"{code}"'.encode() in answers.replace(b": ", b":"), answers[:600]
    assert b"HTTP/1.1 200 " in answers.split(code.encode(), 1)[1]  # the connection stayed open


def _cases(base: str, admin: str) -> Iterator[tuple[str, str, int, str]]:
    auth = f"Authorization: Bearer {admin}\r\n"
    yield "too large (Content-Length)", (
        f"POST /v1/audio?name=a.wav HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: audio/wav\r\n"
    ), 413, "too_large"
    yield "no key", (
        "POST /v1/audio HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
    ), 401, "unauthorized"
    token = httpx.post(f"{base}/v1/tokens", headers={"Authorization": f"Bearer {admin}"},
                       json={"scopes": ["read"]}, timeout=30).json()["token"]
    yield "a token without the upload scope", (
        f"POST /v1/audio HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: audio/wav\r\n"
    ), 403, "scope_denied"
    issued = httpx.post(f"{base}/v1/audio/upload-url", headers={"Authorization": f"Bearer {admin}"},
                        json={}, timeout=30).json()
    signed = httpx.URL(issued["url"])
    yield "a signed upload URL whose terms were changed", (
        f"PUT {signed.raw_path.decode().replace('max_bytes=', 'max_bytes=9')} HTTP/1.1\r\nHost: x\r\n"
    ), 403, "signature_invalid"
    made = httpx.post(f"{base}/v1/uploads", timeout=30, headers={
        "Authorization": f"Bearer {admin}", "Tus-Resumable": "1.0.0", "Upload-Length": "1000"})
    assert made.status_code == 201, made.text
    location = httpx.URL(made.headers["location"]).raw_path.decode()
    yield "a tus PATCH at the wrong offset", (
        f"PATCH {location} HTTP/1.1\r\nHost: x\r\n{auth}Tus-Resumable: 1.0.0\r\n"
        "Upload-Offset: 5\r\nContent-Type: application/offset+octet-stream\r\n"
    ), 409, "upload_offset_mismatch"


def test_every_upload_route_answers_a_refusal_before_the_body(server: tuple[ServerProcess, str]) -> None:
    proc, admin = server
    cases = list(_cases(proc.url, admin))
    for what, head, status, code in cases:
        try:
            answers = _send_then_read(proc.port, head)
        except OSError as exc:  # a reset while sending: the answer is lost
            pytest.fail(f"{what}: {exc!r}")
        _refused(answers, status, code)
    health = httpx.get(f"{proc.url}/v1/audio", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert json.loads(health.text)["items"] == []  # nothing was stored
