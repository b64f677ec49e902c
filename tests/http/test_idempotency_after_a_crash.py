"""An `Idempotency-Key` whose first upload crashed, or is still storing its blob after
`ABANDONED_AFTER`: a retry never makes a second object. (Both backends: local + SQLite,
S3 + PostgreSQL; the app's clock is the test's.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from audiostore.catalog import PENDING
from audiostore.jobs import run_job
from audiostore.service.idempotent_upload import ABANDONED_AFTER
from conftest import Api


async def _post(api: Api, path: Path, key: str):
    return await api.upload(path, headers={**api.alice, "Idempotency-Key": key}, collection="takes")


async def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


async def _crash(api: Api, path: Path, key: str, monkeypatch: pytest.MonkeyPatch, *, at: str) -> None:
    """Run an upload that dies at `at` ("ready": its blob is written; "put": before it), with
    none of the clean-up a live process would do (as when the process is killed)."""
    ingest = api.runtime.ingest

    async def die(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as m:
        m.setattr(ingest.keys, "release", _nothing)
        m.setattr(ingest, "_take_back", _nothing)
        m.setattr(ingest, "_put_failed", _nothing)
        if at == "ready":
            m.setattr(api.runtime.catalog, "set_state", die)
        else:
            m.setattr(ingest.blobs, "put_file", die)
        try:
            r = await _post(api, path, key)
        except RuntimeError:
            pass
        else:
            assert r.status_code >= 500
    assert await api.runtime.catalog.count_state(PENDING) == 1


async def _in_progress(api: Api, path: Path, key: str) -> None:
    r = await _post(api, path, key)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "idempotency_key_in_progress"


async def test_a_retry_after_a_crash_with_a_whole_blob_answers_the_finished_object(
    api: Api, tones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _crash(api, tones["wav"], "crash-1", monkeypatch, at="ready")
    assert len(await api.blob_keys()) == 1
    # Past the claim's abandonment, before the stale-pending job: the crashed row decides.
    api.clock.advance(ABANDONED_AFTER.total_seconds() + 60)
    await _in_progress(api, tones["wav"], "crash-1")
    assert await api.row_count() == 1

    api.clock.advance(api.runtime.settings.pending_grace)
    assert (await run_job(api.runtime, "resolve_stale_pending")).counts["finished"] == 1
    again = await _post(api, tones["wav"], "crash-1")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1


async def test_a_retry_after_a_crash_before_the_blob_stores_afresh_once_rolled_back(
    api: Api, tones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _crash(api, tones["wav"], "crash-2", monkeypatch, at="put")
    api.clock.advance(ABANDONED_AFTER.total_seconds() + 60)
    await _in_progress(api, tones["wav"], "crash-2")

    api.clock.advance(api.runtime.settings.pending_grace)
    assert (await run_job(api.runtime, "resolve_stale_pending")).counts["rolled_back"] == 1
    await run_job(api.runtime, "retry_deletes")
    again = await _post(api, tones["wav"], "crash-2")
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1


async def test_a_slow_upload_past_abandoned_after_is_not_taken_over(
    api: Api, tones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request is still putting its blob (a slow store) when a retry comes after
    `ABANDONED_AFTER`: the retry waits, and then answers the first object."""
    ingest = api.runtime.ingest
    put_file = ingest.blobs.put_file
    putting, go_on = asyncio.Event(), asyncio.Event()

    async def slow_put(*args: Any, **kwargs: Any) -> Any:
        putting.set()
        await asyncio.wait_for(go_on.wait(), timeout=30)
        return await put_file(*args, **kwargs)

    monkeypatch.setattr(ingest.blobs, "put_file", slow_put)
    first = asyncio.create_task(_post(api, tones["wav"], "slow-1"))
    await asyncio.wait_for(putting.wait(), timeout=30)
    monkeypatch.setattr(ingest.blobs, "put_file", put_file)
    api.clock.advance(ABANDONED_AFTER.total_seconds() + 60)
    await _in_progress(api, tones["wav"], "slow-1")
    go_on.set()
    stored = await asyncio.wait_for(first, timeout=60)
    assert stored.status_code == 201, stored.text

    again = await _post(api, tones["wav"], "slow-1")
    assert again.status_code == 201 and again.json()["id"] == stored.json()["id"]
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1


async def test_a_crash_before_the_intent_row_frees_the_key_after_abandoned_after(
    api: Api, tones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def die(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died while probing")

    with monkeypatch.context() as m:
        m.setattr(api.runtime.ingest.keys, "release", _nothing)
        m.setattr(api.runtime.ingest, "_understand", die)
        try:
            await _post(api, tones["wav"], "crash-3")
        except RuntimeError:
            pass
    assert await api.row_count() == 0
    await _in_progress(api, tones["wav"], "crash-3")
    api.clock.advance(ABANDONED_AFTER.total_seconds() + 1)
    again = await _post(api, tones["wav"], "crash-3")
    assert again.status_code == 201, again.text
    assert await api.row_count() == 1
