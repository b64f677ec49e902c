"""The SDK's AsyncClient against the real app in-process (httpx's ASGI transport)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import Api, backend_settings_local, served_api

from audiostore.client import (
    AsyncClient,
    AuthenticationError,
    NotFoundError,
    RejectedInputError,
    RetryPolicy,
    SignedUrl,
    SignedUrlCache,
)
from audiostore.client.upload_source import CHUNK_BYTES


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the real app; can answer 503 after the app handled a request
    (a gateway timing out after the upload was stored), or fail to connect, N times."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self.fail_after_handling: dict[tuple[str, str], int] = {}
        self.refuse_connect: dict[tuple[str, str], int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if self.refuse_connect.get(key, 0) > 0:
            self.refuse_connect[key] -= 1
            raise httpx.ConnectError("connection refused (injected)", request=request)
        response = await self.inner.handle_async_request(request)
        if self.fail_after_handling.get(key, 0) > 0:
            self.fail_after_handling[key] -= 1
            await response.aread()
            return httpx.Response(503, json={"error": {"code": "gateway", "message": "injected"}})
        return response


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def local_api(tmp_path: Path) -> AsyncIterator[Api]:
    async with served_api(backend_settings_local(tmp_path, auth_cache_seconds=0)) as a:
        yield a


@pytest.fixture
async def sdk(local_api: Api) -> AsyncIterator[tuple[AsyncClient, Recording]]:
    transport = Recording(local_api.http._transport)  # the app's own ASGI transport
    async with AsyncClient("http://testserver", api_key=local_api.alice_key, transport=transport,
                           retry=RetryPolicy(attempts=4), sleep=_no_sleep) as c:
        yield c, transport


async def test_upload_path_reports_progress_to_the_full_size(sdk, tones: dict[str, Path]) -> None:
    c, _ = sdk
    seen: list[tuple[int, int | None]] = []
    obj = await c.upload(tones["wav"], collection="takes", ttl_seconds=3600, metadata={"take": 1},
                         progress=lambda sent, total: seen.append((sent, total)))
    size = tones["wav"].stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert obj.size == size and obj.name == "tone.wav" and obj.collection == "takes"
    assert obj.format == "wav" and obj.duration == pytest.approx(2.0, abs=0.05)
    assert obj.metadata == {"take": 1} and isinstance(obj.created_at, datetime)
    assert obj.expires_at is not None and obj["id"] == obj.id  # dict-style reads still work
    assert (await c.get(obj.id)).sha256 == obj.sha256
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    changed = await c.update(obj.id, name="renamed.wav", expires_at=later, metadata={"take": 2})
    assert changed.name == "renamed.wav" and changed.expires_at == later and changed.metadata == {"take": 2}
    kept = await c.update(obj.id, clear_expiry=True)
    assert kept.expires_at is None


async def test_upload_bytes_and_file_objects(sdk, tones: dict[str, Path], local_api: Api) -> None:
    c, _ = sdk
    data = tones["mp3"].read_bytes()
    from_bytes = await c.upload(data, name="from-bytes.mp3")
    assert from_bytes.name == "from-bytes.mp3" and from_bytes.size == len(data)

    class Pipe(io.RawIOBase):
        """A non-seekable stream that records how much it was asked for at once."""

        def __init__(self, payload: bytes) -> None:
            self.buf = io.BytesIO(payload)
            self.largest_read = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.largest_read = max(self.largest_read, n if n >= 0 else 1 << 62)
            return self.buf.read(n)

    pipe = Pipe(tones["flac"].read_bytes())
    seen: list[tuple[int, int | None]] = []
    obj = await c.upload(pipe, name="piped.flac", progress=lambda s, t: seen.append((s, t)))
    assert obj.format == "flac" and obj.size == tones["flac"].stat().st_size
    assert pipe.largest_read <= CHUNK_BYTES  # streamed in chunks, never read whole
    assert seen[-1] == (obj.size, None)  # a pipe's size is unknown up front

    with tones["ogg"].open("rb") as f:
        obj = await c.upload(f)
    assert obj.name == "tone.ogg" and obj.format == "ogg"
    assert await local_api.row_count() == 3


async def test_retry_after_injected_503_stores_once(sdk, tones: dict[str, Path], local_api: Api) -> None:
    c, transport = sdk
    transport.fail_after_handling[("POST", "/v1/audio")] = 1
    seen: list[tuple[int, int | None]] = []
    obj = await c.upload(tones["wav"], progress=lambda s, t: seen.append((s, t)))
    posts = [r for r in transport.requests if r.method == "POST"]
    assert len(posts) == 2  # the first was stored, then answered 503 by the "gateway"
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert await local_api.row_count() == 1
    assert [o.id async for o in c.list()] == [obj.id]
    assert seen[-1] == (obj.size, obj.size)


async def test_connection_errors_are_retried(sdk, tones: dict[str, Path]) -> None:
    c, transport = sdk
    obj = await c.upload(tones["wav"])
    transport.refuse_connect[("GET", f"/v1/audio/{obj.id}")] = 2
    assert (await c.get(obj.id)).id == obj.id
    transport.fail_after_handling[("GET", f"/v1/audio/{obj.id}")] = 10
    from audiostore.client import ServerError

    with pytest.raises(ServerError):  # gives up after its attempts
        await c.get(obj.id)


async def test_download_resumes_after_a_cut(sdk, tones: dict[str, Path], tmp_path: Path) -> None:
    c, transport = sdk
    obj = await c.upload(tones["wav"])
    target = tmp_path / "copy.wav"

    class Cut(Exception):
        pass

    def cut_midway(received: int, total: int | None) -> None:
        if 0 < received < (total or 0):
            raise Cut()

    with pytest.raises(Cut):
        await c.download(obj.id, target, progress=cut_midway)
    part = tmp_path / "copy.wav.part"
    assert not target.exists() and 0 < part.stat().st_size < obj.size

    seen: list[tuple[int, int | None]] = []
    await c.download(obj.id, target, progress=lambda r, t: seen.append((r, t)))
    assert target.read_bytes() == tones["wav"].read_bytes() and not part.exists()
    assert seen[0][0] > 0  # continued from the part, not started over
    assert seen[-1] == (obj.size, obj.size)
    last_get = [r for r in transport.requests if r.url.path.endswith("/content")][-1]
    assert last_get.headers["range"] == f"bytes={seen[0][0]}-"


async def test_resume_with_a_foreign_part_file_is_caught(sdk, tones: dict[str, Path], tmp_path: Path) -> None:
    c, _ = sdk
    obj = await c.upload(tones["wav"])
    target = tmp_path / "copy.wav"
    (tmp_path / "copy.wav.part").write_bytes(b"\x00" * 1000)  # not this object's bytes
    from audiostore.client import DownloadCorrupted

    with pytest.raises(DownloadCorrupted):
        await c.download(obj.id, target)
    assert not (tmp_path / "copy.wav.part").exists() and not target.exists()
    await c.download(obj.id, target)  # starts over cleanly
    assert target.read_bytes() == tones["wav"].read_bytes()
    await c.download(obj.id, target, resume=False)
    assert target.read_bytes() == tones["wav"].read_bytes()


async def test_list_iterates_pages(sdk, tones: dict[str, Path]) -> None:
    c, transport = sdk
    ids = [(await c.upload(tones["wav"], collection="paged")).id for _ in range(5)]
    before = len(transport.requests)
    listed = [o.id async for o in c.list(collection="paged", page_size=2)]
    assert listed == ids[::-1]
    assert len(transport.requests) - before == 3  # 2 + 2 + 1
    assert [o.id async for o in c.list(collection="paged", limit=3, page_size=2)] == ids[::-1][:3]
    page = await c.list_page(collection="paged", limit=2)
    assert len(page.items) == 2 and page.next_cursor


async def test_sign_caches_until_shortly_before_expiry(sdk, tones: dict[str, Path]) -> None:
    c, transport = sdk
    obj = await c.upload(tones["wav"])
    a = await c.sign(obj.id, expires_in=600)
    b = await c.sign(obj.id, expires_in=600)
    assert a == b
    assert sum(1 for r in transport.requests if r.url.path.endswith("/url")) == 1
    fetched = httpx.AsyncClient(transport=transport.inner, base_url="http://testserver")
    got = await fetched.get(a.url, headers={"Range": "bytes=0-99"})
    assert got.status_code == 206 and got.content == tones["wav"].read_bytes()[:100]
    fresh = await c.sign(obj.id, expires_in=600, cached=False)
    assert fresh.expires_at >= a.expires_at

    items = await c.sign_many([obj.id, "0190d6f0-0000-7000-8000-000000000000"], expires_in=600)
    assert items[0].url == fresh.url  # from the cache
    assert items[1].url is None and items[1].error is not None and items[1].error.code == "not_found"

    await c.delete(obj.id)
    with pytest.raises(NotFoundError) as exc:
        await c.sign(obj.id, expires_in=600)
    assert exc.value.code == "not_found" and exc.value.status == 404


def test_url_cache_refreshes_before_expiry() -> None:
    now = [1_000_000.0]
    cache = SignedUrlCache(clock=lambda: now[0])
    signed = SignedUrl(id="a", url="u", expires_at=datetime.fromtimestamp(now[0] + 3600, UTC))
    cache.put(signed, 3600)
    assert cache.get("a", 3600) == signed
    assert cache.get("a", 60) is None  # another lifetime is another entry
    now[0] += 3600 - 301
    assert cache.get("a", 3600) == signed
    now[0] += 2  # within the last 5 minutes: refresh
    assert cache.get("a", 3600) is None
    short = SignedUrl(id="b", url="u", expires_at=datetime.fromtimestamp(now[0] + 60, UTC))
    cache.put(short, 60)
    now[0] += 29
    assert cache.get("b", 60) == short
    now[0] += 2
    assert cache.get("b", 60) is None
    cache.put(SignedUrl(id="c", url="u", expires_at=datetime.fromtimestamp(now[0] - 1, UTC)), None)
    assert cache.get("c", None) is None


async def test_errors_carry_the_catalogue_code(sdk, local_api: Api, tmp_path: Path) -> None:
    c, _ = sdk
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio " * 200)
    with pytest.raises(RejectedInputError) as exc:
        await c.upload(junk)
    assert exc.value.code == "unsupported_format" and exc.value.status == 415
    with pytest.raises(RejectedInputError) as exc:
        await c.upload(b"RIFF", name="x.wav", metadata=None, ttl_seconds=-5)
    assert exc.value.status in (415, 422)
    async with AsyncClient("http://testserver", api_key="as_bad_key", transport=local_api.http._transport) as bad:
        with pytest.raises(AuthenticationError) as exc:
            await bad.get("0190d6f0-0000-7000-8000-000000000000")
    assert exc.value.code == "unauthorized"
    assert await local_api.row_count() == 0


async def test_list_by_exact_name_with_urls(sdk, tones: dict[str, Path]) -> None:
    c, _ = sdk
    story = await c.upload(tones["wav"], name="story.mp3")
    await c.upload(tones["wav"], name="other.mp3")
    found = [item async for item in c.list(name="story.mp3", urls=True, expires_in=60)]
    assert [i.id for i in found] == [story.id]
    assert found[0].url and found[0].url_expires_at
