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

    # Within the grace period nothing is judged: an upload may be in flight. The report
    # says what it left alone, so "0 found" does not read as "all clean".
    report = await reconcile(api.runtime, grace=3600)
    assert (report.orphan_blobs, report.missing_blobs, report.found) == (0, 0, False)
    assert (report.young_blobs, report.young_rows) == (1, 2)
    assert report.orphans == [] and report.broken == []

    api.clock.advance(7200)
    report = await reconcile(api.runtime, grace=0)
    assert report.counts() == {
        "orphan_blobs": 1, "orphan_blobs_deleted": 0, "missing_blobs": 1,
        "broken_rows_removed": 0, "blobs_checked": 2, "rows_checked": 2,
        "young_blobs": 0, "young_rows": 0,
    }
    assert await api.row_count() == 2  # a dry run changes nothing
    # ... and lists exactly what a fix would delete, keys and ids whole.
    assert report.found and not report.fixed
    listed = report.to_dict()
    assert listed["orphan_blob_keys"] == [{"store": "primary", "key": orphan}]
    assert listed["objects_missing_blob"] == [{"id": broken["id"], "owner": broken["owner"], "key": broken["key"]}]
    assert listed["grace_seconds"] == 0 and listed["fixed"] is False

    report = await reconcile(api.runtime, fix=True, grace=0)
    assert (report.orphan_blobs_deleted, report.broken_rows_removed) == (1, 1)
    assert [o.key for o in report.orphans] == [orphan] and [b.id for b in report.broken] == [broken["id"]]
    assert await api.blob_keys() == [keep["key"]]
    assert (await api.http.get(f"/v1/audio/{keep['id']}", headers=api.alice)).status_code == 200
    assert (await api.http.get(f"/v1/audio/{broken['id']}", headers=api.alice)).status_code == 404

    clean = await reconcile(api.runtime, fix=True, grace=0)
    assert (clean.orphan_blobs, clean.missing_blobs, clean.found) == (0, 0, False)
