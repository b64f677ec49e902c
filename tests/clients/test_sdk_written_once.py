"""`Client` and `AsyncClient` share one declaration of every call and one control flow.

The calls are declared once (`audiostore.client.api.Api`) and written once as flows; these
tests check that both clients really are that one thing: the same call objects, the same
signatures, and the same requests on the wire for the same work against a real server.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from fixtures_client_server import Served
from server_process import free_port

from audiostore.client import AsyncClient, Client, ConnectionFailed, NotFoundError, RetryPolicy
from audiostore.client.api import Api, Items, Method

# Written by hand in each client, because their types differ: typed overloads (waveform)
# and the blocking or async stream object (stream_queue); their logic is a flow all the same.
HAND_WRITTEN = {"waveform", "stream_queue"}
CLOSING = {"close", "aclose"}


def _calls(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}


def test_each_call_is_declared_once_for_both_clients() -> None:
    shared = _calls(Client) - CLOSING
    assert shared == _calls(AsyncClient) - CLOSING
    declared = {n for n, v in vars(Api).items() if isinstance(v, (Method, Items))}
    assert declared == shared - HAND_WRITTEN
    for name in declared:
        # the same object on both: nothing of the call is written per client
        assert inspect.getattr_static(Client, name) is inspect.getattr_static(AsyncClient, name)


def test_both_clients_show_the_same_signatures_and_docs() -> None:
    sync, aio = Client("http://127.0.0.1:1"), AsyncClient("http://127.0.0.1:1")
    for name in _calls(Client) - CLOSING:
        s, a = getattr(sync, name), getattr(aio, name)
        assert inspect.signature(s).parameters == inspect.signature(a).parameters, name
        assert inspect.iscoroutinefunction(a) or inspect.isasyncgenfunction(a), name
        assert not inspect.iscoroutinefunction(s), name
        assert s.__doc__ and a.__doc__, name
    assert "Upload a path" in (sync.upload.__doc__ or "")
    assert inspect.signature(sync.upload) == inspect.signature(aio.upload)
    assert str(inspect.signature(sync.list).return_annotation) == "Iterator[AudioObject]"
    assert str(inspect.signature(aio.list).return_annotation) == "AsyncIterator[AudioObject]"
    with pytest.raises(TypeError, match="nam"):
        sync.upload(b"x", nam="typo")  # unknown keywords still fail at the call
    sync.close()


class _Recording(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.inner.handle_request(request)


class _AsyncRecording(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)


class _Cut(Exception):
    pass


def _cut_midway(received: int, total: int | None) -> None:
    if 0 < received < (total or 0):
        raise _Cut()


def _work(c: Any, run: Callable[..., Any], each: Callable[..., list[Any]], audio: Path, tmp: Path) -> None:
    """Upload, a cut and resumed download, a page walk, cached batch signing, delete: the
    flows of retries aside (tested in test_sdk_in_process), through either client."""
    ids = [run(c.upload, audio, collection="once").id for _ in range(3)]
    target = tmp / "copy.wav"
    with pytest.raises(_Cut):
        run(c.download, ids[0], target, progress=_cut_midway)
    assert run(c.download, ids[0], target) == target
    assert target.read_bytes() == audio.read_bytes()
    assert [o.id for o in each(c.list, collection="once", limit=2, page_size=1)] == ids[::-1][:2]
    first = run(c.sign_many, [ids[0], ids[1], ids[0]], expires_in=600)
    assert [u.id for u in first] == [ids[0], ids[1], ids[0]] and all(u.url for u in first)
    again = run(c.sign_many, [ids[1], ids[2]], expires_in=600)  # only ids[2] is asked
    assert again[0].url == first[1].url and again[1].url
    for audio_id in ids:
        run(c.delete, audio_id)
    with pytest.raises(NotFoundError):
        run(c.get, ids[0])


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _wire(seen: list[httpx.Request]) -> list[tuple[str, str, str, str]]:
    """What went out, with the ids made alike (each run uploads its own)."""
    ids: dict[str, str] = {}

    def alike(text: str) -> str:
        return _UUID.sub(lambda m: ids.setdefault(m.group(), f"<id{len(ids)}>"), text)

    out = []
    for r in seen:
        body = r.content.decode() if r.method == "POST" and r.url.path == "/v1/urls" else ""
        query = ",".join(sorted(r.url.params))
        out.append((r.method, alike(r.url.path), r.headers.get("range", ""), alike(body) + query))
    return out


def test_both_clients_send_the_same_requests(served: Served, tones: dict[str, Path], tmp_path: Path) -> None:
    sync_transport = _Recording()
    with Client(served.url, api_key=served.new_key("once-sync"), transport=sync_transport) as c:
        (tmp_path / "sync").mkdir()
        _work(c, lambda f, *a, **k: f(*a, **k), lambda f, **k: list(f(**k)), tones["wav"], tmp_path / "sync")

    async def collect(items: AsyncIterator[Any]) -> list[Any]:
        return [item async for item in items]

    async_transport = _AsyncRecording()
    aio = AsyncClient(served.url, api_key=served.new_key("once-async"), transport=async_transport)
    with start_blocking_portal() as portal:
        (tmp_path / "async").mkdir()
        _work(aio, lambda f, *a, **k: portal.call(lambda: f(*a, **k)),
              lambda f, **k: portal.call(collect, f(**k)), tones["wav"], tmp_path / "async")
        portal.call(aio.aclose)

    wire = _wire(sync_transport.seen)
    assert wire == _wire(async_transport.seen)
    content = [w for w in wire if w[1].endswith("/content")]
    assert len(content) == 2 and content[0][2] == "" and content[1][2].startswith("bytes=")
    batches = [w[3] for w in wire if w[1] == "/v1/urls"]
    assert len(batches) == 2 and "<id1>" in batches[0] and "<id2>" not in batches[0]
    assert "<id2>" in batches[1] and "<id1>" not in batches[1]  # the cached one is not asked again


def _refused(kind: str) -> tuple[Client | AsyncClient, list[float]]:
    slept: list[float] = []
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    policy = RetryPolicy(attempts=3, backoff=0.01)
    if kind == "sync":
        return Client(url, retry=policy, sleep=slept.append), slept

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
    return AsyncClient(url, retry=policy, sleep=sleep), slept


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_refused_connection_is_retried_then_reported(kind: str) -> None:
    c, slept = _refused(kind)
    for call in (lambda: c.get("x"), lambda: c.tts("never sent, so safe to repeat")):
        slept.clear()
        with pytest.raises(ConnectionFailed, match="Cannot reach"):
            result = call()
            if inspect.isawaitable(result):
                await result
        assert len(slept) == 2  # three tries, two waits
    if isinstance(c, Client):
        c.close()
    else:
        await c.aclose()
