"""Many clients at once doing everything (upload, list with URLs, get, patch, delete, sign a
rendition, render, waveform, queue): never a 5xx, and afterwards the store holds exactly the
blobs the catalogue names (originals, renditions, waveforms): no orphan, none missing."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
from sqlalchemy import text

from conftest import Api

ROUNDS, AT_ONCE = 6, 25  # 150 requests, 25 in flight


async def test_mixed_concurrent_use_leaves_store_and_catalogue_agreeing(api: Api, wav_bytes: bytes) -> None:
    rng = random.Random(7)
    ids: list[str] = []
    answers: list[tuple[str, int]] = []

    async def one(i: int) -> None:
        kind = rng.choice(["upload", "upload", "list", "get", "delete", "patch", "url", "render",
                           "waveform", "queue"])
        if kind == "upload":
            r = await api.http.post("/v1/audio", files={"file": ("a.wav", wav_bytes, "audio/wav")},
                                    headers=api.alice)
            if r.status_code == 201:
                ids.append(r.json()["id"])
        elif kind == "list":
            r = await api.http.get("/v1/audio", params={"urls": "true"}, headers=api.alice)
        elif not ids:
            return
        else:
            r = await _on_one(api, kind, rng.choice(ids), ids, i)
        answers.append((kind, r.status_code))

    for round_ in range(ROUNDS):
        await asyncio.gather(*[one(round_ * AT_ONCE + i) for i in range(AT_ONCE)])
    await api.settled()

    assert answers and all(status < 500 for _, status in answers), answers
    assert {kind for kind, _ in answers} >= {"upload", "delete", "render"}
    async with api.runtime.catalog.engine.connect() as c:
        named = {row[0] for row in await c.execute(text("SELECT key FROM audio"))}
        named |= {row[0] for row in await c.execute(text("SELECT key FROM derived_blobs"))}
    assert set(await api.blob_keys()) == named


async def _on_one(api: Api, kind: str, audio_id: str, ids: list[str], i: int) -> httpx.Response:
    base = f"/v1/audio/{audio_id}"
    h = api.alice
    if kind == "get":
        return await api.http.get(base, headers=h)
    if kind == "delete":
        return await api.http.delete(base, headers=h)
    if kind == "patch":
        return await api.http.patch(base, json={"metadata": {"i": i}}, headers=h)
    if kind == "url":
        return await api.http.post(f"{base}/url", json={"format": "opus"}, headers=h)
    if kind == "render":
        return await api.http.get(f"{base}/content?format=mp3", headers=h)
    if kind == "waveform":
        return await api.http.get(f"{base}/waveform", headers=h)
    return await api.http.put("/v1/queues/mixed", json={"audio_ids": ids[-5:]}, headers=h)
