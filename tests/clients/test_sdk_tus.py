"""The SDK's tus uploads against a real `audiostore serve`, through a relay that cuts the
connection in the middle of a PATCH: large files go by tus in chunks, a cut upload goes on
from the service's offset (sync and async, one flow), a state file resumes it in a new
client, and a file that is not audio is refused at the end with nothing stored."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from audio_factory import make_tone
from cutting_relay import CuttingRelay
from fixtures_client_server import Served

from audiostore.client import (
    DEFAULT_TUS_THRESHOLD,
    AsyncClient,
    Client,
    ConnectionFailed,
    RejectedInputError,
    RetryPolicy,
    UploadStateFile,
)

MiB = 1024 * 1024
CHUNK = 1 * MiB


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Just over the default threshold: a 55 s stereo 44.1 kHz WAV (about 9.3 MiB)."""
    path = make_tone(tmp_path_factory.mktemp("tus-sdk") / "rehearsal.wav", "wav", seconds=55.0, channels=2)
    assert path.stat().st_size > DEFAULT_TUS_THRESHOLD
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def head_offset(served: Served, key: str, location: str) -> int:
    got = httpx.head(location, headers={"Authorization": f"Bearer {key}", "Tus-Resumable": "1.0.0"})
    assert got.status_code == 200
    return int(got.headers["upload-offset"])


def objects_in(served: Served, key: str, collection: str) -> list[str]:
    with Client(served.url, api_key=key) as c:
        return [o.id for o in c.list(collection=collection)]


def resumed_at(progress: list[tuple[int, int | None]]) -> list[int]:
    """Where the bar went back to (a PATCH that started below the bytes already counted)."""
    return [progress[i][0] for i in range(1, len(progress)) if progress[i][0] < progress[i - 1][0]]


def test_large_file_goes_by_tus_in_chunks_small_one_in_one_post(
    served: Served, big_wav: Path, tones: dict[str, Path]
) -> None:
    key = served.new_key("tus-sdk-chunks")
    size = big_wav.stat().st_size
    seen: list[tuple[int, int | None]] = []
    with CuttingRelay(served.proc.port) as relay, Client(relay.url, api_key=key) as c:
        obj = c.upload(big_wav, collection="takes", metadata={"take": 3}, progress=lambda s, t: seen.append((s, t)))
        assert relay.requests == {"POST": 1, "PATCH": math.ceil(size / (4 * MiB))}
        small = c.upload(tones["wav"], collection="takes")
        assert relay.requests["POST"] == 1  # not by tus: one POST /v1/audio
    # the same AudioObject as a plain upload: fields applied, with a signed url
    assert obj.sha256 == sha256_of(big_wav) and obj.size == size
    assert obj.name == "rehearsal.wav" and obj.collection == "takes" and obj.metadata == {"take": 3}
    assert obj.duration == pytest.approx(55.0, abs=0.01) and obj.url and obj.url_expires_at
    assert httpx.get(obj.url, headers={"Range": "bytes=0-3"}).content == b"RIFF"
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert sorted(objects_in(served, key, "takes")) == sorted([obj.id, small.id])


def test_a_cut_patch_resumes_from_the_services_offset(served: Served, big_wav: Path) -> None:
    key = served.new_key("tus-sdk-cut")
    size = big_wav.stat().st_size
    progress: list[tuple[int, int | None]] = []
    # the first connection dies inside the 4th chunk, the second inside its 3rd
    with CuttingRelay(served.proc.port, cuts=[int(3.5 * CHUNK), int(2.5 * CHUNK)]) as relay, \
            Client(relay.url, api_key=key) as c:
        obj = c.upload(big_wav, collection="cut", tus_chunk_bytes=CHUNK,
                       progress=lambda s, t: progress.append((s, t)))
        assert relay.cut_count == 2 and relay.requests["POST"] == 1
        assert relay.requests["HEAD"] >= 2  # asked where the service stood after each cut
        # what was acknowledged was not sent again: at most the cut chunks twice
        assert relay.upstream_bytes < size + 2 * CHUNK + 64 * 1024
    back = resumed_at(progress)
    assert len(back) == 2 and all(b > 0 and b % CHUNK == 0 for b in back), back
    assert obj.sha256 == sha256_of(big_wav)
    assert objects_in(served, key, "cut") == [obj.id]
    assert not [p for p in (served.proc.data_dir / "uploads").glob("*.part")]


async def test_the_async_client_resumes_with_the_same_flow(served: Served, big_wav: Path) -> None:
    key = served.new_key("tus-sdk-async")
    progress: list[tuple[int, int | None]] = []
    with CuttingRelay(served.proc.port, cuts=[int(2.5 * CHUNK)]) as relay:
        async with AsyncClient(relay.url, api_key=key) as c:
            obj = await c.upload(big_wav, collection="async", tus_chunk_bytes=CHUNK,
                                 progress=lambda s, t: progress.append((s, t)))
        assert relay.cut_count == 1 and relay.requests["HEAD"] >= 1
    assert resumed_at(progress) == [2 * CHUNK]
    assert obj.sha256 == sha256_of(big_wav) and objects_in(served, key, "async") == [obj.id]


def test_a_state_file_lets_a_new_client_resume(served: Served, big_wav: Path, tmp_path: Path) -> None:
    key = served.new_key("tus-sdk-state")
    size = big_wav.stat().st_size
    state = UploadStateFile(tmp_path / "uploads.json")
    once = RetryPolicy(attempts=1)
    with CuttingRelay(served.proc.port, cuts=[int(3.5 * CHUNK)]) as relay:
        with Client(relay.url, api_key=key, retry=once) as c, pytest.raises(ConnectionFailed):
            c.upload(big_wav, collection="state", tus_chunk_bytes=CHUNK, upload_state=state)
        entries = state._read()
        assert len(entries) == 1
        (location,) = [e["url"] for e in entries.values()]
        assert head_offset(served, key, location) == 3 * CHUNK
        sent_before = relay.upstream_bytes
        with Client(relay.url, api_key=key) as c:  # "a new process": only the file remains
            obj = c.upload(big_wav, collection="state", tus_chunk_bytes=CHUNK, upload_state=state)
        assert relay.upstream_bytes - sent_before < size - 3 * CHUNK + 64 * 1024
    assert obj.sha256 == sha256_of(big_wav) and objects_in(served, key, "state") == [obj.id]
    assert state._read() == {}  # stored: forgotten
    # other fields are another upload: the fingerprint covers them
    with Client(served.url, api_key=key) as c:
        other = c.upload(big_wav, collection="state-2", tus_chunk_bytes=4 * MiB, upload_state=state)
    assert other.id != obj.id and other.collection == "state-2"


def test_a_large_file_that_is_not_audio_is_refused_and_nothing_stays(served: Served, tmp_path: Path) -> None:
    key = served.new_key("tus-sdk-junk")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(os.urandom(DEFAULT_TUS_THRESHOLD + 1000))
    state = UploadStateFile(tmp_path / "uploads.json")
    with Client(served.url, api_key=key) as c, pytest.raises(RejectedInputError) as refused:
        c.upload(junk, collection="junk", upload_state=state)
    assert refused.value.status in (415, 422)
    assert objects_in(served, key, "junk") == [] and state._read() == {}


def test_bytes_and_file_objects_go_by_tus_too_a_pipe_does_not(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("tus-sdk-sources")
    data = tones["wav"].read_bytes()
    with CuttingRelay(served.proc.port, cuts=[200 * 1024]) as relay, Client(relay.url, api_key=key) as c:
        from_bytes = c.upload(data, name="b.wav", collection="src", tus_threshold=0, tus_chunk_bytes=64 * 1024)
        with tones["wav"].open("rb") as f:
            f.seek(0)
            from_file = c.upload(f, collection="src", tus_threshold=0, tus_chunk_bytes=100_000)
        assert relay.cut_count == 1 and relay.requests["POST"] == 2
        patches = relay.requests["PATCH"]
        with subprocess.Popen(["cat", str(tones["wav"])], stdout=subprocess.PIPE) as cat:
            assert cat.stdout is not None
            from_pipe = c.upload(cat.stdout, name="p.wav", collection="src", tus_threshold=0)
        assert relay.requests["PATCH"] == patches and relay.requests["POST"] == 2  # one POST /v1/audio
    digest = hashlib.sha256(data).hexdigest()
    assert from_bytes.sha256 == from_file.sha256 == from_pipe.sha256 == digest
    assert from_file.name == "tone.wav" and from_bytes.name == "b.wav"
