"""`Ingest.store`, the one way bytes become a stored object, called without HTTP: from a
local file (`FileUploadSource`, as speech and assembled resumable uploads are), and from a
source whose body turns out bad halfway."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audio_factory import write_wav
from audiostore import metrics
from audiostore.errors import (
    BadRequest,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from audiostore.service import FileUploadSource, Principal, UploadFields
from conftest import Api

ALICE = Principal("alice")


def scratch_left(api: Api) -> list[Path]:
    tmp = api.runtime.ingest.tmp_dir
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def test_a_file_source_is_stored_ready_with_its_hash_and_a_working_url(
    api: Api, tones: dict[str, Path]
) -> None:
    tone = tones["flac"]
    stored = await api.runtime.ingest.store(
        ALICE, FileUploadSource(tone, fields=UploadFields(collection="voice", metadata={"take": 2}))
    )
    row = stored.row
    assert not stored.replayed
    assert (row.state, row.owner, row.collection, row.name) == ("ready", "alice", "voice", tone.name)
    assert row.format == "flac" and row.size == tone.stat().st_size
    assert row.sha256 == hashlib.sha256(tone.read_bytes()).hexdigest()
    assert row.meta == {"take": 2}
    assert await api.blob_keys() == [row.key]
    r = await api.http.get(stored.signed.url.removeprefix("http://testserver"))
    assert r.status_code == 200 and r.content == tone.read_bytes()
    await api.settled()
    assert scratch_left(api) == []  # the staging file went with the analysis


async def test_the_file_name_and_fields_name_the_object(api: Api, tones: dict[str, Path]) -> None:
    source = FileUploadSource(tones["wav"], filename="take.wav", fields=UploadFields(name="final.wav"))
    assert (await api.runtime.ingest.store(ALICE, source)).row.name == "final.wav"
    source = FileUploadSource(tones["wav"], filename="take.wav")
    assert (await api.runtime.ingest.store(ALICE, source)).row.name == "take.wav"


async def test_a_refused_file_writes_nothing(api: Api, tmp_path: Path) -> None:
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio at all " * 1000)
    with pytest.raises(UnsupportedMediaType):
        await api.runtime.ingest.store(ALICE, FileUploadSource(junk))
    bad_fields = FileUploadSource(junk, fields=UploadFields(ttl_seconds=-1))
    with pytest.raises(ValidationFailed):  # the fields are checked before the bytes are probed
        await api.runtime.ingest.store(ALICE, bad_fields)
    assert await api.row_count() == 0
    assert await api.blob_keys() == []
    assert scratch_left(api) == []
    assert junk.exists()  # the caller's file stays the caller's


async def test_a_file_over_the_upload_limit_writes_nothing(small_api: Api, tmp_path: Path) -> None:
    big = write_wav(tmp_path / "big.wav", 128 * 1024)
    with pytest.raises(PayloadTooLarge):
        await small_api.runtime.ingest.store(ALICE, FileUploadSource(big))
    assert await small_api.row_count() == 0
    assert await small_api.blob_keys() == []
    assert scratch_left(small_api) == []


async def test_the_same_key_replays_the_first_object(api: Api, tones: dict[str, Path]) -> None:
    ingest = api.runtime.ingest
    first = await ingest.store(ALICE, FileUploadSource(tones["mp3"]), "take-1")
    again = await ingest.store(ALICE, FileUploadSource(tones["mp3"]), "take-1")
    assert again.replayed and again.row.id == first.row.id
    assert again.signed.audio_id == first.row.id
    assert await api.row_count() == 1 and await api.blob_keys() == [first.row.key]
    other_fields = FileUploadSource(tones["mp3"], fields=UploadFields(collection="elsewhere"))
    with pytest.raises(IdempotencyKeyReused):
        await ingest.store(ALICE, other_fields, "take-1")
    other_owner = await ingest.store(Principal("bob"), FileUploadSource(tones["mp3"]), "take-1")
    assert not other_owner.replayed and other_owner.row.id != first.row.id
    assert await api.row_count() == 2
    await api.settled()
    assert scratch_left(api) == []


class CutSource:
    """A body of unknown length whose first megabytes are good audio, then a parse error:
    long enough that an S3 runtime starts the early put (intent row, multipart upload)."""

    def __init__(self, wav: bytes) -> None:
        self.wav = wav
        self.filename = "cut.wav"
        self.declared_content_type = "audio/wav"
        self.declared_length: int | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        for offset in range(0, len(self.wav), 1024 * 1024):
            yield self.wav[offset : offset + 1024 * 1024]
        raise BadRequest("The body is malformed halfway.")

    def head_fields(self) -> UploadFields:
        return UploadFields()

    def fields(self) -> UploadFields:
        raise AssertionError("never asked: the body failed first")


async def test_a_body_that_fails_halfway_leaves_no_row_blob_or_scratch(api: Api, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "cut.wav", 10 * 1024 * 1024).read_bytes()
    aborted = metrics.EARLY_PUTS.labels("aborted")._value.get()  # noqa: SLF001
    with pytest.raises(BadRequest):
        await api.runtime.ingest.store(ALICE, CutSource(wav), "cut-1")
    if api.runtime.settings.store == "s3":  # the early put had begun, and was aborted
        assert metrics.EARLY_PUTS.labels("aborted")._value.get() == aborted + 1  # noqa: SLF001
    assert await api.row_count() == 0  # the early put's intent row (S3) was taken back too
    assert await api.blob_keys() == []
    assert scratch_left(api) == []
    # The key was never claimed: a retry with a good body stores afresh.
    good = FileUploadSource(tmp_path / "cut.wav")
    assert not (await api.runtime.ingest.store(ALICE, good, "cut-1")).replayed
