"""Against a real `audiostore serve`: bodies cut off, malformed chunked framing and slow
headers are the client's mistakes: a 4xx or a closed connection, never a 500, never counted
as a 5xx in /metrics, and nothing stored."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_process import ServerProcess

HEADER_TIMEOUT_MS = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("cut-bodies") / "audiostore-data"
    env = {"AUDIOSTORE_HTTP1_HEADER_READ_TIMEOUT_MS": str(HEADER_TIMEOUT_MS)}
    proc = ServerProcess(data, env=env).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def key(server: ServerProcess) -> str:
    return (server.data_dir / "admin.key").read_text().strip()


def _answer(sock: socket.socket, *, within: float = 10.0) -> bytes:
    """Everything the server sends until it closes, or what came within `within` seconds."""
    sock.settimeout(within)
    out = b""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            got = sock.recv(65536)
            if not got:
                break
            out += got
    except TimeoutError:
        pass
    return out


def _status(answer: bytes) -> int | None:
    """The status line's code, or None when the server closed without answering."""
    if not answer:
        return None
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer.split(b" ", 2)[1])


def _stored(server: ServerProcess, key: str) -> tuple[list[str], list[Path]]:
    items = httpx.get(f"{server.url}/v1/audio", headers={"Authorization": f"Bearer {key}"}).json()["items"]
    blobs = [p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()] if (server.data_dir / "blobs").exists() else []
    return [i["id"] for i in items], blobs


def _counted(server: ServerProcess) -> tuple[float, float]:
    """(uploads counted in /metrics, of them with a 5xx status)."""
    total = errors = 0.0
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith("audiostore_http_requests_total{") and 'route="/v1/audio"' in line and 'method="POST"' in line:
            value = float(line.rsplit(" ", 1)[1])
            total += value
            errors += value if 'status="5' in line else 0
    return total, errors


def _upload_head(key: str, content_type: str, framing: str) -> bytes:
    return (f"POST /v1/audio HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {content_type}\r\n{framing}\r\n\r\n").encode()


MULTIPART = "multipart/form-data; boundary=b0undary"
FILE_PART = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF'


def _cases(key: str, wav: bytes) -> dict[str, tuple[bytes, bool]]:
    """name -> (bytes sent, whether the client then half-closes instead of waiting)."""
    chunked = "Transfer-Encoding: chunked"
    return {
        "raw, bad chunk size": (_upload_head(key, "audio/wav", chunked) + b"10\r\n" + wav[:16] + b"\r\nZZ\r\nxx\r\n", False),
        "multipart, bad chunk size": (_upload_head(key, MULTIPART, chunked) + b"%x\r\n" % len(FILE_PART) + FILE_PART + b"\r\n-1\r\n", False),
        "raw, chunk longer than sent": (_upload_head(key, "audio/wav", chunked) + b"fffff\r\n" + wav[:1000], True),
        "raw, cut before Content-Length": (_upload_head(key, "audio/wav", f"Content-Length: {len(wav)}") + wav[: len(wav) // 2], True),
        "multipart, cut before Content-Length": (_upload_head(key, MULTIPART, "Content-Length: 100000") + FILE_PART + wav[:2000], True),
    }


def test_cut_and_malformed_bodies_are_4xx_or_closed_never_5xx(server: ServerProcess, key: str, tones: dict[str, Path]) -> None:
    wav = tones["wav"].read_bytes()
    (counted, errors), answered = _counted(server), 0
    for name, (data, half_close) in _cases(key, wav).items():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            status = _status(_answer(sock))
        assert status is None or 400 <= status < 500, (name, status)
        answered += status is not None
    # A request is counted as it finishes, maybe just after its answer left: wait (bounded).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _counted(server)[0] < counted + answered:
        time.sleep(0.1)
    assert _counted(server) == (counted + answered, errors), "a cut body was counted as a 5xx"
    assert _stored(server, key) == ([], [])
    # The server is fine afterwards.
    ok = httpx.post(f"{server.url}/v1/audio", headers={"Authorization": f"Bearer {key}"},
                    files={"file": ("a.wav", wav, "audio/wav")})
    assert ok.status_code == 201, ok.text


def test_a_connection_that_never_finishes_its_headers_is_closed(server: ServerProcess) -> None:
    """AUDIOSTORE_HTTP1_HEADER_READ_TIMEOUT_MS reaches granian: a slowloris connection is
    closed after it (1 s here), not after granian's own 30 s."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        answer = _answer(sock, within=20)  # well under granian's default 30 s
        waited = time.monotonic() - started
    assert waited < 20, "the connection was still open after 20 s"
    assert _status(answer) in (None, 408), answer[:80]
    assert httpx.get(f"{server.url}/v1/health").status_code == 200
