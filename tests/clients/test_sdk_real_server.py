"""The SDK's sync `Client` (and AsyncClient) against a real `audiostore serve` process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixtures_client_server import Served

from audiostore.client import AsyncClient, Client, NotFoundError, RetryPolicy


class GatewayHiccup(httpx.BaseTransport):
    """A real HTTP transport that answers 503 once after the server handled an upload."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.posts: list[httpx.Request] = []
        self.hiccups = 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/v1/audio":
            self.posts.append(request)
            if self.hiccups:
                self.hiccups -= 1
                response.read()
                response.close()
                return httpx.Response(503, headers={"Retry-After": "0"})
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def sdk_key(served: Served) -> str:
    return served.new_key("sdk-user")


def test_upload_download_sign_list_delete(served: Served, sdk_key: str, tones: dict[str, Path], tmp_path: Path) -> None:
    with Client(served.url, api_key=sdk_key) as c:
        seen: list[tuple[int, int | None]] = []
        obj = c.upload(tones["wav"], collection="real", progress=lambda s, t: seen.append((s, t)))
        size = tones["wav"].stat().st_size
        assert seen[-1] == (size, size) and obj.owner == "sdk-user"
        # Loudness is measured by the server in the background, just after the 201.
        deadline = time.monotonic() + 30
        while (got := c.get(obj.id)).analysis == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got.analysis == "done" and got.loudness_lufs is not None and got.true_peak_dbtp is not None

        signed = c.sign(obj.id, expires_in=120)
        assert c.sign(obj.id, expires_in=120) is signed  # cached
        part = httpx.get(signed.url, headers={"Range": "bytes=10-19"})  # no header needed
        assert part.status_code == 206 and part.content == tones["wav"].read_bytes()[10:20]

        out = tmp_path / "cut.wav"

        def cut(received: int, total: int | None) -> None:
            if 0 < received < (total or 0):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            c.download(obj.id, out, progress=cut)
        assert (tmp_path / "cut.wav.part").exists()
        progress: list[tuple[int, int | None]] = []
        c.download(obj.id, out, progress=lambda r, t: progress.append((r, t)))
        assert progress[0][0] > 0 and progress[-1] == (size, size)
        assert out.read_bytes() == tones["wav"].read_bytes()

        assert [o.id for o in c.list(collection="real")] == [obj.id]
        c.delete(obj.id)
        with pytest.raises(NotFoundError):
            c.get(obj.id)


def test_retry_after_503_stores_once(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("retry-user")
    transport = GatewayHiccup()
    with Client(served.url, api_key=key, transport=transport, retry=RetryPolicy(attempts=3, backoff=0.01)) as c:
        obj = c.upload(tones["mp3"])
        assert len(transport.posts) == 2
        assert transport.posts[0].headers["idempotency-key"] == transport.posts[1].headers["idempotency-key"]
        assert [o.id for o in c.list()] == [obj.id]


async def test_async_client_against_real_server(served: Served, sdk_key: str, tones: dict[str, Path]) -> None:
    async with AsyncClient(served.url, api_key=sdk_key) as c:
        with tones["flac"].open("rb") as f:
            obj = await c.upload(f, collection="async")
        assert [o.id async for o in c.list(collection="async")] == [obj.id]
        urls = await c.sign_many([obj.id])
        assert urls[0].url and httpx.get(urls[0].url).content == tones["flac"].read_bytes()
        await c.delete(obj.id)


def test_tts_through_the_sdk(served: Served, sdk_key: str) -> None:
    with Client(served.url, api_key=sdk_key) as c:
        spoken = c.tts("Hello from the SDK.", format="wav")
        assert spoken["url"] and spoken["duration"] > 0.3
        c.delete(spoken["id"])


def test_client_package_needs_no_server_modules() -> None:
    code = (
        "import sys, audiostore.client as c\n"
        "bad = [m for m in ('fastapi', 'starlette', 'sqlalchemy', 'av', 'obstore', 'granian', 'alembic') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "assert c.Client and c.AsyncClient\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_client_exports_are_complete() -> None:
    import audiostore.client as pkg

    public = {n for n in dir(pkg) if not n.startswith("_") and n[0].isupper()}
    modules = {"async_client", "errors", "models", "protocol", "retry", "sync_client", "upload_source", "url_cache"}
    assert public - set(pkg.__all__) <= set(), public - set(pkg.__all__)
    assert set(pkg.__all__) <= set(dir(pkg))
    assert not set(pkg.__all__) & modules


def test_admin_keys_over_the_sdk(served: Served) -> None:
    from audiostore.client import AuthenticationError

    with Client(served.url, api_key=served.admin_key) as admin:
        made = admin.create_key("sdk-keys", label="made by the SDK")
        assert made.owner == "sdk-keys" and not made.admin and made.key.startswith("as_")
        with Client(served.url, api_key=made.key) as user:
            assert list(user.list(limit=1)) == []
            with pytest.raises(AuthenticationError) as denied:
                user.create_key("sdk-keys", admin=True)
            assert denied.value.status == 403
        listed = admin.list_keys(owner="sdk-keys")
        assert [k.id for k in listed] == [made.id] and not hasattr(listed[0], "key")
        admin.revoke_key(made.id)
        with pytest.raises(NotFoundError):
            admin.revoke_key(made.id)
        assert admin.list_keys(owner="sdk-keys")[0].revoked_at is not None


async def test_admin_keys_over_the_async_sdk(served: Served) -> None:
    async with AsyncClient(served.url, api_key=served.admin_key) as admin:
        made = await admin.create_key("sdk-keys-async", admin=True)
        assert made.admin
        assert [k.prefix for k in await admin.list_keys(owner="sdk-keys-async")] == [made.prefix]
        await admin.revoke_key(made.prefix)
        assert (await admin.list_keys(owner="sdk-keys-async"))[0].revoked_at is not None
