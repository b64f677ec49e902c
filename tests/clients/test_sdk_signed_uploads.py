"""Signed upload URLs through the SDK and the CLI, against a real `audiostore serve`: a key
makes one (`create_upload_url`, `audiostore upload-url`), and whoever holds it sends one
file with no key (`upload_to_signed_url`, `audiostore upload --signed-url`): in one PUT, or
by tus above the threshold, resuming after a cut and across clients with a state file. A
second use and a late use are clear errors; the key never travels with the file. The paths
that reach the backend (the ingest of a PUT and of a tus upload, the stored object, the URL's
one use recorded in the catalogue) run on local disk + SQLite and on S3 + PostgreSQL
(`served_on`); the rest on the first only."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from audio_factory import make_tone
from cutting_relay import CuttingRelay
from fixtures_client_server import Served
from pipelined_answers import send_then_health

from audiostore.client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    GoneError,
    PermissionDeniedError,
    RetryPolicy,
    UploadStateFile,
    UploadUrl,
    upload_to_signed_url,
)

CHUNK = 256 * 1024


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1.7 MiB: seven tus PATCHes of 256 KiB."""
    return make_tone(tmp_path_factory.mktemp("signed") / "session.wav", "wav", seconds=10.0, channels=2)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def through(relay: CuttingRelay, url: str) -> str:
    """The same signed URL, sent through `relay` (the signature covers the query, not the host)."""
    return urlunsplit(urlsplit(url)._replace(netloc=f"127.0.0.1:{relay.port}"))


def stored_sha256(served: Served, audio_id: str) -> str:
    """The sha256 of the stored object's bytes as the service serves them (from the blob
    store), checked against what the catalogue recorded."""
    with Client(served.url, api_key=served.admin_key) as admin:
        recorded = admin.get(audio_id).sha256
    got = httpx.get(f"{served.url}/v1/audio/{audio_id}/content", timeout=60,
                    headers={"Authorization": f"Bearer {served.admin_key}"})
    assert got.status_code == 200, got.text
    assert hashlib.sha256(got.content).hexdigest() == recorded
    return recorded


class Recording(httpx.HTTPTransport):
    """The real transport, noting each request's Authorization header."""

    def __init__(self) -> None:
        super().__init__()
        self.authorization: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.authorization.append(request.headers.get("authorization"))
        return super().handle_request(request)


def test_a_signed_url_stores_one_file_with_no_key(served_on: Served, tones: dict[str, Path]) -> None:
    served = served_on
    key = served.new_key("signed-put")
    with Client(served.url, api_key=key) as c:
        made = c.create_upload_url(collection="phone", name="memo.wav", formats=["wav"], max_bytes=5_000_000)
    assert isinstance(made, UploadUrl) and made.method == "PUT" and made.formats == ["wav"]
    seen: list[tuple[int, int | None]] = []
    stored = upload_to_signed_url(made, tones["wav"], progress=lambda s, t: seen.append((s, t)))
    size = tones["wav"].stat().st_size
    assert stored.audio is not None and stored.audio.id == stored.id
    assert stored.audio.owner == "signed-put" and stored.audio.collection == "phone" and stored.audio.name == "memo.wav"
    assert stored.audio.sha256 == sha256_of(tones["wav"]) == stored_sha256(served, stored.id)
    assert seen[0] == (0, size) and seen[-1] == (size, size)

    with pytest.raises(GoneError) as again:
        upload_to_signed_url(made.url, tones["wav"])
    assert again.value.status == 410 and again.value.code == "upload_url_used"
    assert "used already" in again.value.message
    with Client(served.url, api_key=key) as c:
        assert [o.id for o in c.list(collection="phone")] == [stored.id]  # stored once


def test_a_refused_put_is_read_before_the_answer_so_the_client_gets_it(
    served: Served, tones: dict[str, Path]
) -> None:
    """A used URL is refused before its body is read; the server reads the body anyway (up
    to a bound), so a client still sending it gets the 410 rather than a reset connection:
    the connection even stays open for the next request."""
    with Client(served.url, api_key=served.new_key("signed-drain")) as c:
        made = c.create_upload_url()
    upload_to_signed_url(made, tones["wav"])
    body = tones["wav"].read_bytes()
    target = httpx.URL(made.url).raw_path.decode()
    head = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: {len(body)}\r\n\r\n"
    answers = send_then_health(served.proc.port, head.encode() + body)
    assert answers.startswith(b"HTTP/1.1 410 ") and b"upload_url_used" in answers
    assert b"HTTP/1.1 200 " in answers.split(b"upload_url_used", 1)[1]


def test_a_pipe_goes_as_one_put_never_to_a_tus_url(served: Served, tones: dict[str, Path]) -> None:
    with Client(served.url, api_key=served.new_key("signed-pipe")) as c:
        made = c.create_upload_url()
    with subprocess.Popen(["cat", str(tones["wav"])], stdout=subprocess.PIPE) as cat:
        assert cat.stdout is not None
        with pytest.raises(ValueError, match="known size"):
            upload_to_signed_url(made.tus_url, cat.stdout)
        stored = upload_to_signed_url(made.url, cat.stdout, tus_threshold=0)  # unread: a PUT
    assert stored.audio is not None and stored.audio.sha256 == sha256_of(tones["wav"])


def test_the_clients_key_never_goes_to_the_signed_url(served: Served, tones: dict[str, Path], long_wav: Path) -> None:
    key = served.new_key("signed-nokey")
    transport = Recording()
    with Client(served.url, api_key=key, transport=transport) as c:
        small, large = c.create_upload_url(collection="a"), c.create_upload_url(collection="b")
        assert transport.authorization == [f"Bearer {key}"] * 2
        c.upload_to_signed_url(small, tones["wav"])
        c.upload_to_signed_url(large, long_wav, tus_threshold=0, tus_chunk_bytes=CHUNK)
    assert len(transport.authorization) > 4 and set(transport.authorization[2:]) == {None}


def test_a_large_file_goes_by_tus_and_resumes_after_cuts(served_on: Served, long_wav: Path) -> None:
    served = served_on
    with Client(served.url, api_key=served.new_key("signed-tus")) as c:
        made = c.create_upload_url(collection="long", formats=["wav"])
    progress: list[tuple[int, int | None]] = []
    size = long_wav.stat().st_size
    with CuttingRelay(served.proc.port, cuts=[int(2.5 * CHUNK), int(1.5 * CHUNK)]) as relay:
        stored = upload_to_signed_url(through(relay, made.url), long_wav, tus_threshold=1_000_000,
                                      tus_chunk_bytes=CHUNK, progress=lambda s, t: progress.append((s, t)))
        assert relay.cut_count == 2 and relay.requests["POST"] == 1 and relay.requests["HEAD"] >= 2
        assert relay.upstream_bytes < size + 2 * CHUNK + 64 * 1024  # only the cut chunks twice
    assert stored.audio is None  # a tus answer names only the id
    assert stored_sha256(served, stored.id) == sha256_of(long_wav)
    assert progress[-1] == (size, size)
    with pytest.raises(GoneError) as again:  # the tus creation is the URL's one use too
        upload_to_signed_url(made, long_wav, tus_threshold=0)
    assert again.value.code == "upload_url_used"


def test_a_state_file_resumes_a_signed_tus_upload_in_a_new_client(
    served_on: Served, long_wav: Path, tmp_path: Path
) -> None:
    served = served_on
    with Client(served.url, api_key=served.new_key("signed-state")) as c:
        made = c.create_upload_url(collection="state")
    state = UploadStateFile(tmp_path / "uploads.json")
    with CuttingRelay(served.proc.port, cuts=[int(3.5 * CHUNK)]) as relay:
        tus_url = through(relay, made.tus_url)
        with pytest.raises(ConnectionFailed):
            upload_to_signed_url(tus_url, long_wav, tus_chunk_bytes=CHUNK, upload_state=state,
                                 retry=RetryPolicy(attempts=1))
        assert len(state._read()) == 1
        sent_before = relay.upstream_bytes
        # "a new process": the URL's one creation is spent, the state file has the upload
        stored = upload_to_signed_url(tus_url, long_wav, tus_chunk_bytes=CHUNK, upload_state=state)
        assert relay.requests["POST"] == 1
        assert relay.upstream_bytes - sent_before < long_wav.stat().st_size - 3 * CHUNK + 64 * 1024
    assert stored_sha256(served, stored.id) == sha256_of(long_wav) and state._read() == {}


async def test_the_async_client_sends_to_a_signed_url_with_the_same_flow(
    served: Served, tones: dict[str, Path], long_wav: Path
) -> None:
    async with AsyncClient(served.url, api_key=served.new_key("signed-async")) as c:
        small, large = await c.create_upload_url(), await c.create_upload_url()
        one = await c.upload_to_signed_url(small.url, tones["wav"])
        two = await c.upload_to_signed_url(large, long_wav, tus_threshold=0, tus_chunk_bytes=CHUNK)
        with pytest.raises(GoneError):
            await c.upload_to_signed_url(small, tones["wav"])
    assert one.audio is not None and one.audio.sha256 == sha256_of(tones["wav"])
    assert stored_sha256(served, two.id) == sha256_of(long_wav)


def test_an_expired_signed_url_is_a_clear_error(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("signed-late")
    with Client(served.url, api_key=key) as c:
        made = c.create_upload_url(expires_in=1)
    # Past its expiry (whole seconds) on the server's clock; a bounded wait.
    time.sleep(max(0.0, (made.expires_at - datetime.now(UTC)).total_seconds()) + 1.1)
    for tus_threshold in (None, 0):  # one PUT, and a tus creation
        with pytest.raises(PermissionDeniedError) as late:
            upload_to_signed_url(made, tones["wav"], tus_threshold=tus_threshold)
        assert late.value.status == 403 and late.value.code == "signature_expired"
        assert late.value.message == "This signed upload URL has expired; ask for a new one."
    with Client(served.url, api_key=key) as c:
        assert c.list_page().items == []


def test_the_cli_makes_and_uses_a_signed_url(
    served_on: Served, tones: dict[str, Path], long_wav: Path, tmp_path: Path
) -> None:
    served = served_on
    key = served.new_key("signed-cli")
    made = served.cli("upload-url", "-c", "cli", "-f", "wav", "--expires-in", "600", key=key)
    assert made.returncode == 0, made.stderr
    url, tus_line, summary = made.stdout.splitlines()
    assert "/v1/signed-upload?" in url and tus_line.startswith("tus ") and "formats wav" in summary
    no_key = {"AUDIOSTORE_KEY": "", "AUDIOSTORE_URL": "http://127.0.0.1:9"}  # the URL names the service
    up = served.cli("upload", "--signed-url", url, str(tones["wav"]), "--no-progress", env=no_key)
    assert up.returncode == 0, up.stderr
    audio_id, name, _, _ = up.stdout.strip().split("\t")
    assert stored_sha256(served, audio_id) == sha256_of(tones["wav"]) and name
    again = served.cli("upload", "--signed-url", url, str(tones["wav"]), "--no-progress", env=no_key)
    assert again.returncode == 6 and "upload_url_used" in again.stderr

    as_json = json.loads(served.cli("upload-url", "--json", key=key).stdout)
    big = served.cli("upload", "--signed-url", as_json["url"], str(long_wav), "--tus-threshold", "1MiB",
                     "--tus-chunk", "256KiB", "--state-file", str(tmp_path / "s.json"), "--json", env=no_key)
    assert big.returncode == 0, big.stderr
    stored = json.loads(big.stdout)
    assert stored["audio"] is None and stored_sha256(served, stored["id"]) == sha256_of(long_wav)


def test_the_cli_refuses_fixed_fields_and_a_late_url(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("signed-cli-refused")
    url = json.loads(served.cli("upload-url", "--json", key=key).stdout)["url"]
    no_key = {"AUDIOSTORE_KEY": "", "AUDIOSTORE_URL": "http://127.0.0.1:9"}
    fixed = served.cli("upload", "--signed-url", url, str(tones["wav"]), "--collection", "x", env=no_key)
    assert fixed.returncode == 2 and "--collection" in fixed.stderr
    late = served.cli("upload-url", "--expires-in", "1", "--json", key=key)
    time.sleep(2.2)
    refused = served.cli("upload", "--signed-url", json.loads(late.stdout)["url"], str(tones["wav"]), env=no_key)
    assert refused.returncode == 4 and "signature_expired: This signed upload URL has expired" in refused.stderr
    assert "key" not in refused.stderr.split("expired", 1)[1]  # the URL's fault, not a key's
