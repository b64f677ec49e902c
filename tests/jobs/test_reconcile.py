"""Reconcile: blobs no object owns and objects whose blob is gone are found (after the grace
period only), reported, and with `fix` repaired; live objects are never touched."""

from __future__ import annotations

from pathlib import Path

import uuid_utils

from conftest import Api

from audiostore.blobstores.spooling import primary_of
from audiostore.jobs import reconcile


async def test_reconcile_finds_and_fixes_orphans_both_ways(api: Api, tones: dict[str, Path]) -> None:
    store = primary_of(api.runtime.store)
    keep = (await api.upload(tones["wav"])).json()
    broken = (await api.upload(tones["mp3"])).json()
    await store.delete_many([broken["key"]])  # its blob vanished behind the service's back
    orphan = f"alice/default/2026-01-01/{uuid_utils.uuid7()}.wav"
    await store.put_file(orphan, tones["wav"], content_type="audio/wav")

    # Within the grace period nothing is judged: an upload may be in flight.
    report = await reconcile(api.runtime, grace=3600)
    assert (report.orphan_blobs, report.missing_blobs) == (0, 0)

    api.clock.advance(7200)
    report = await reconcile(api.runtime, grace=0)
    assert report.counts() == {
        "orphan_blobs": 1, "orphan_blobs_deleted": 0, "missing_blobs": 1,
        "broken_rows_removed": 0, "blobs_checked": 2, "rows_checked": 2,
    }
    assert await api.row_count() == 2  # a dry run changes nothing

    report = await reconcile(api.runtime, fix=True, grace=0)
    assert (report.orphan_blobs_deleted, report.broken_rows_removed) == (1, 1)
    assert await api.blob_keys() == [keep["key"]]
    assert (await api.http.get(f"/v1/audio/{keep['id']}", headers=api.alice)).status_code == 200
    assert (await api.http.get(f"/v1/audio/{broken['id']}", headers=api.alice)).status_code == 404

    clean = await reconcile(api.runtime, fix=True, grace=0)
    assert (clean.orphan_blobs, clean.missing_blobs) == (0, 0)
