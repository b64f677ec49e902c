"""A whole local file goes to the server as one `http.response.pathsend` (the server reads and
sends the file itself), not as body chunks passed through our layers: on granian that is
the cheapest way to send a file (BENCHMARKS.md, "Full-file GET: where the CPU goes"), and
the access log and metrics still count its bytes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from audiostore.http.app import create_app
from conftest import Api


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "extensions": {"http.response.pathsend": {}},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("backend", ["local"], indirect=True)
async def test_a_whole_local_file_is_one_pathsend_and_its_bytes_are_logged(
    api: Api, tones: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    obj = (await api.upload(tones["wav"])).json()
    app = create_app(api.runtime)
    auth = [(b"authorization", f"Bearer {api.alice_key}".encode())]
    with caplog.at_level(logging.INFO, logger="audiostore.access"):
        sent = await _call(app, f"/v1/audio/{obj['id']}/content", auth)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["status"] == 200
    assert Path(sent[1]["path"]).read_bytes() == tones["wav"].read_bytes()
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(obj["size"]).encode()
    assert headers[b"x-content-type-options"] == b"nosniff" and b"x-request-id" in headers
    lines = [r.getMessage() for r in caplog.records if r.name == "audiostore.access"]
    assert any(f"status=200 bytes={obj['size']} " in line for line in lines), lines
