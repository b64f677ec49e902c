"""tus concatenation on two real `audiostore serve` processes sharing one PostgreSQL, one S3
bucket (SeaweedFS) and the parts folder, by raw HTTP: partials written on either instance
make one final upload whose object is the file; two final uploads of the same partials sent
at once, one to each instance, store one object (the claim is one conditional UPDATE under
row locks), and the other is refused with nothing written."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from audio_factory import make_tone
from fixtures_seaweedfs import SeaweedFS
from server_process import ServerProcess
from test_tus_two_instances import new_owner_key, pair, parts_dir, stored_blobs  # noqa: F401  # fixture

pytestmark = [pytest.mark.s3, pytest.mark.postgres]
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def partial(server: ServerProcess, auth: dict[str, str], data: bytes) -> str:
    made = httpx.post(f"{server.url}/v1/uploads", headers={
        **auth, "Upload-Length": str(len(data)), "Upload-Concat": "partial"})
    assert made.status_code == 201, made.text
    loc = str(made.headers["location"])
    for start in range(0, len(data), 64 * 1024):  # bounded: the data is a few hundred KiB
        piece = data[start:start + 64 * 1024]
        r = httpx.patch(server.url + loc, content=piece, headers={
            **auth, "Content-Type": CHUNK, "Upload-Offset": str(start),
            "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(piece).digest()).decode()})
        assert r.status_code == 204, r.text
    return loc


def test_partials_on_both_instances_make_one_object(
    pair: tuple[ServerProcess, ServerProcess], tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    a, b = pair
    auth = {**TUS, "Authorization": f"Bearer {new_owner_key(a, 'alice-joined')}"}
    data = make_tone(tmp_path / "take.wav", "wav", seconds=4.0, channels=2).read_bytes()
    half = len(data) // 2
    first, second = partial(a, auth, data[:half]), partial(b, auth, data[half:])
    assert stored_blobs(seaweedfs, a, "alice-joined") == 0  # complete partials are never stored
    meta = "name " + base64.b64encode(b"joined.wav").decode()
    r = httpx.post(f"{b.url}/v1/uploads", headers={
        **auth, "Upload-Concat": f"final;{a.url}{first} {b.url}{second}", "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    audio_id = r.headers["audiostore-audio-id"]
    got = httpx.get(f"{a.url}/v1/audio/{audio_id}/content", headers=auth)
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert httpx.get(f"{a.url}/v1/audio/{audio_id}", headers=auth).json()["name"] == "joined.wav"
    head = httpx.head(a.url + r.headers["location"], headers=auth)
    assert head.headers["upload-concat"] == f"final;{first} {second}"
    assert head.headers["upload-offset"] == str(len(data))
    assert stored_blobs(seaweedfs, a, "alice-joined") == 1
    assert list(parts_dir(a).glob("*.part")) == []


def test_two_finals_of_the_same_partials_on_two_instances_store_once(
    pair: tuple[ServerProcess, ServerProcess], tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    a, b = pair
    auth = {**TUS, "Authorization": f"Bearer {new_owner_key(a, 'alice-racing-finals')}"}
    data = make_tone(tmp_path / "race.wav", "wav", seconds=3.0, channels=2).read_bytes()
    third = len(data) // 3
    for round_no in range(3):  # three races, each with fresh partials
        locs = [partial(a, auth, data[:third]), partial(b, auth, data[third:2 * third]),
                partial(a, auth, data[2 * third:])]
        concat = "final;" + " ".join(locs)
        go = threading.Barrier(2, timeout=10)
        answers: dict[str, httpx.Response] = {}

        def send(name: str, server: ServerProcess) -> None:
            go.wait()
            answers[name] = httpx.post(f"{server.url}/v1/uploads", headers={**auth, "Upload-Concat": concat},
                                       timeout=60)

        threads = [threading.Thread(target=send, args=(n, s)) for n, s in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        codes = sorted(r.status_code for r in answers.values())
        assert codes in ([201, 404], [201, 409]), [(r.status_code, r.text) for r in answers.values()]
        assert stored_blobs(seaweedfs, a, "alice-racing-finals") == round_no + 1
        listed = httpx.get(f"{a.url}/v1/audio", headers=auth).json()["items"]
        assert len(listed) == round_no + 1
        assert listed[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert list(parts_dir(a).glob("*.part")) == []
