"""Requests that race each other on one object answer 2xx or 4xx, never 500, and leave the
store and catalogue consistent (on SQLite + local disk and PostgreSQL + S3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from conftest import Api

from audiostore.errors import NotFound
from audiostore.service import Principal


async def test_concurrent_deletes_of_one_object_succeed_once(api: Api, tones: dict[str, Path]) -> None:
    """SQLite ignores FOR UPDATE: a select-then-update let several deletes 'win' and one fail
    with a StaleDataError (a 500). The delete is now one conditional UPDATE ... RETURNING."""
    for _ in range(3):
        obj = (await api.upload(tones["wav"])).json()
        answers = await asyncio.gather(*[
            api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice) for _ in range(6)
        ])
        assert sorted(r.status_code for r in answers) == [204, 404, 404, 404, 404, 404]
    assert await api.row_count() == 0
    assert await api.blob_keys() == []


async def test_renditions_asked_while_the_object_is_deleted_are_404(api: Api, tones: dict[str, Path]) -> None:
    """On S3 the original vanished under the renderer: BlobNotFound was a 500."""
    for _ in range(3):
        obj = (await api.upload(tones["wav"])).json()
        renders = [api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.alice)
                   for _ in range(3)]
        answers = await asyncio.gather(*renders, api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice))
        assert answers[-1].status_code == 204
        for r in answers[:-1]:
            assert r.status_code in (200, 404), r.text
            if r.status_code == 404:
                assert r.json()["error"]["code"] == "not_found"
    await api.settled()
    assert await api.row_count() == 0
    assert await api.blob_keys() == []  # no rendition left behind either


async def test_one_idempotency_key_sent_at_once_stores_one_object(api: Api, wav_bytes: bytes) -> None:
    async def post() -> httpx.Response:
        return await api.http.post("/v1/audio", files={"file": ("a.wav", wav_bytes, "audio/wav")},
                                   headers={**api.alice, "Idempotency-Key": "one-take"})

    answers = await asyncio.gather(*[post() for _ in range(6)])
    assert {r.status_code for r in answers} <= {201, 409}
    stored = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(stored) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_key_in_progress"
    assert await api.row_count() == 1


async def test_a_rendition_finished_after_its_delete_gathered_keys_leaves_no_blob(
    api: Api, tones: dict[str, Path]
) -> None:
    """The delete's steps, with a rendition finishing in between: marked deleting, blob keys
    gathered, then the rendition's row and blob go in, then blobs and rows are deleted. The
    renderer must notice and take its blob back (else it outlives its object)."""
    obj = (await api.upload(tones["wav"])).json()
    await api.settled()
    rt = api.runtime
    row = await rt.audio.get(Principal(owner="alice"), obj["id"])
    doomed = await rt.catalog.mark_deleting(obj["id"], owner=None, now=rt.clock())
    assert doomed is not None
    gathered = [doomed.key, *await rt.catalog.derived_blobs.keys_of([doomed.id])]
    with pytest.raises(NotFound):
        await rt.renditions.ensure_rendition(row, rt.queues.stream_profile())
    await rt.store.delete_many(gathered)
    await rt.catalog.delete_rows([obj["id"]])
    assert await api.blob_keys() == []
