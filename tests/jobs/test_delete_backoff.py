"""Durable deletes while the bucket cannot be reached (nothing listens on its port): the
client gets 204 at once, the row stays `deleting`, and the retry job backs off, doubling."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import backend_settings_s3, make_api
from server_process import free_port

from audiostore.catalog import DELETING, AudioRow
from audiostore.jobs import run_job


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_failed_deletes_retry_with_growing_backoff(
    database_url: str, tmp_path: Path, tones: dict[str, Path]
) -> None:
    unreachable = type("Nobody", (), {"endpoint": f"http://127.0.0.1:{free_port()}",
                                      "region": "us-east-1", "access_key": "k", "secret_key": "s"})()
    settings = backend_settings_s3(
        tmp_path, unreachable, "gone", database_url, fallback="spool",  # type: ignore[arg-type]
        auth_cache_seconds=0, delete_retry_base=30, delete_retry_max=100,
    )
    api, runtime = await make_api(settings)
    try:
        obj = (await api.upload(tones["wav"])).json()
        assert obj["location"] == "spool"
        r = await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)
        assert r.status_code == 204
        assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404

        async def row() -> AudioRow:
            async with runtime.catalog.database.session() as s:
                return (await s.execute(select(AudioRow))).scalar_one()

        assert (await row()).state == DELETING
        waits = []
        for attempt in (1, 2, 3, 4):
            result = await run_job(runtime, "retry_deletes")
            assert result.counts == {"retried": 1, "deleted": 0, "still_failing": 1}
            # Not due again until the backoff has passed.
            assert (await run_job(runtime, "retry_deletes")).counts["retried"] == 0
            current = await row()
            assert current.attempts == attempt
            assert current.next_attempt_at is not None
            wait = (current.next_attempt_at - api.clock()).total_seconds()
            waits.append(round(wait))
            api.clock.advance(wait + 1)
        assert waits == [30, 60, 100, 100]  # doubling from the base, capped at the max
        # The spool copy went at once; the row waits only for the bucket.
        assert not [p for p in (tmp_path / "data" / "spool").rglob("*") if p.is_file()]
    finally:
        await api.http.aclose()
        await runtime.close()
