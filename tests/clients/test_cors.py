"""CORS (AUDIOSTORE_CORS_ORIGINS): preflights and exposed headers, on the API and on signed URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Api, backend_settings_local, make_api
from fixtures_client_server import CORS_ORIGIN, Served
from server_process import ServerProcess, free_port

ORIGIN = "https://daw.example.com"
EXPOSED = {"content-range", "accept-ranges", "content-length", "etag"}


@pytest.fixture
async def cors_api(tmp_path: Path) -> AsyncIterator[Api]:
    a, runtime = await make_api(backend_settings_local(tmp_path, cors_origins=[ORIGIN, "http://other.test"]))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def _exposed(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")}


async def test_preflight_for_an_idempotent_upload(cors_api: Api) -> None:
    r = await cors_api.http.options("/v1/audio", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
    })
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "idempotency-key" in allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in r.headers


async def test_signed_url_range_read_exposes_headers(cors_api: Api, tones: dict[str, Path]) -> None:
    obj = (await cors_api.upload(tones["wav"])).json()
    pre = await cors_api.http.options(obj["url"], headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range",
    })
    assert pre.status_code == 200 and "range" in pre.headers["access-control-allow-headers"].lower()
    r = await cors_api.http.get(obj["url"], headers={"Origin": ORIGIN, "Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert EXPOSED <= _exposed(r)
    api_read = await cors_api.http.get(f"/v1/audio/{obj['id']}", headers={**cors_api.alice, "Origin": ORIGIN})
    assert api_read.headers["access-control-allow-origin"] == ORIGIN


async def test_errors_carry_cors_headers_so_browsers_can_read_them(cors_api: Api) -> None:
    r = await cors_api.http.get("/v1/audio", headers={"Origin": ORIGIN, "Authorization": "Bearer as_x_y"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
    assert r.json()["error"]["code"] == "unauthorized"


async def test_other_origins_get_no_cors(cors_api: Api) -> None:
    r = await cors_api.http.get("/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = await cors_api.http.options("/v1/audio", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers


async def test_no_setting_no_cors_headers(api: Api) -> None:
    r = await api.http.get("/v1/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_cors_on_the_real_server(served: Served, tones: dict[str, Path]) -> None:
    from audiostore.client import Client

    with Client(served.url, api_key=served.admin_key) as c:
        obj = c.upload(tones["wav"], collection="cors")
        signed = c.sign(obj.id).url
        c_headers = {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "range"}
        assert httpx.options(signed, headers=c_headers).status_code == 200
        r = httpx.get(signed, headers={"Origin": CORS_ORIGIN, "Range": "bytes=0-99"})
        assert r.status_code == 206 and r.headers["access-control-allow-origin"] == CORS_ORIGIN
        assert EXPOSED <= _exposed(r)
        c.delete(obj.id)


async def test_preflight_max_age_is_a_setting(tmp_path: Path) -> None:
    """Seed 002 caches preflights for an hour: AUDIOSTORE_CORS_MAX_AGE (default 600)."""
    for settings_age, said in ((None, "600"), (3600, "3600")):
        extra = {} if settings_age is None else {"cors_max_age": settings_age}
        a, runtime = await make_api(backend_settings_local(tmp_path / said, cors_origins=[ORIGIN], **extra))
        try:
            r = await a.http.options("/v1/audio", headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
            assert r.headers["access-control-max-age"] == said
        finally:
            await a.http.aclose()
            await runtime.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Run in a page of CORS_ORIGIN: every request below is cross-origin to the real server, and the
# custom headers (Authorization, Range, tus's) make Chromium send a real preflight first.
_BROWSER_CALLS = """async ([base, token, id, wav]) => {
  const auth = {Authorization: "Bearer " + token};
  const out = {};
  const part = await fetch(`${base}/v1/audio/${id}/content`, {headers: {...auth, Range: "bytes=0-9"}});
  out.range = [part.status, part.headers.get("content-range"), (await part.arrayBuffer()).byteLength];
  const body = Uint8Array.from(atob(wav), c => c.charCodeAt(0));
  const up = await fetch(`${base}/v1/audio?collection=takes`, {
    method: "POST", headers: {...auth, "Content-Type": "audio/wav", "Idempotency-Key": "take-1"}, body});
  out.upload = [up.status, (await up.json()).collection];
  const tus = {"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Upload-Length": "3",
               "Upload-Checksum": "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "Upload-Metadata": "filename eC53YXY=",
               "Upload-Concat": "partial", "Upload-Defer-Length": "1",
               "Content-Type": "application/offset+octet-stream"};
  for (const method of ["PATCH", "HEAD", "DELETE"]) {
    // No tus route may be mounted here: any answer at all means the preflight let it through.
    const r = await fetch(`${base}/v1/uploads/x`, {method, headers: {...auth, ...tus},
                                                    body: method === "PATCH" ? "abc" : undefined});
    out[method] = r.status;
  }
  const denied = await fetch(`${base}/v1/audio/${id}`, {method: "DELETE", headers: auth});
  out.denied = [denied.status, (await denied.json()).error.code];
  return out;
}"""


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A real second origin on loopback: a tiny page server on its own port."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"<!doctype html><title>daw</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def cors_served(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Served]:
    """A real server that allows `page_origin` only."""
    data = tmp_path_factory.mktemp("cors-serve") / "audiostore-data"
    proc = ServerProcess(data, env={"AUDIOSTORE_CORS_ORIGINS": page_origin}).start()
    try:
        yield Served(proc, (data / "admin.key").read_text().strip())
    finally:
        proc.stop()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                    "(apt-get install chromium; .ci/run does this)")
def test_a_page_on_another_origin_uses_a_client_token(
    cors_served: Served, page_origin: str, tones: dict[str, Path]
) -> None:
    """Chromium itself runs the preflights (PATCH/HEAD/DELETE with Authorization and the tus
    headers) against a real server, from a page of another origin (another port)."""
    import base64

    from playwright.sync_api import sync_playwright

    from audiostore.client import Client

    served = cors_served
    with Client(served.url, api_key=served.admin_key) as c:
        obj = c.upload(tones["wav"], collection="takes", owner="browser-app")
        token = c.create_token(["read", "upload"], owner="browser-app", collections=["takes"]).token
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.goto(f"{page_origin}/app")
            wav = base64.b64encode(tones["wav"].read_bytes()).decode()
            out = page.evaluate(_BROWSER_CALLS, [served.url, token, obj.id, wav])
        finally:
            browser.close()
    assert out["range"] == [206, f"bytes 0-9/{obj.size}", 10]  # Content-Range readable: exposed
    assert out["upload"] == [201, "takes"]
    for method in ("PATCH", "HEAD", "DELETE"):
        assert out[method] in (404, 405), (method, out)  # reached the server: preflight passed
    assert out["denied"] == [403, "scope_denied"]  # error bodies are readable across origins
    # What the server allowed and exposes, from its answer to the same preflight.
    pre = httpx.options(f"{served.url}/v1/uploads/x", headers={
        "Origin": page_origin, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, tus-resumable, upload-offset, upload-checksum, upload-concat"})
    assert pre.status_code == 200 and "PATCH" in pre.headers["access-control-allow-methods"]
    exposed = {h.strip().lower() for h in httpx.get(
        f"{served.url}/v1/health", headers={"Origin": page_origin}).headers["access-control-expose-headers"].split(",")}
    assert {"upload-offset", "upload-length", "location", "tus-resumable", "tus-version",
            "tus-extension", "tus-max-size", "tus-checksum-algorithm", "upload-expires",
            "upload-concat"} <= exposed
