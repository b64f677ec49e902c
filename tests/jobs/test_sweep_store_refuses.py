"""A sweep while the bucket cannot be reached deletes nothing: its batches turn `deleting`,
due for the delete-retry job, which finishes them once the bucket answers; nothing is left
behind and nothing live is touched. On PostgreSQL (row-locked batches) and SQLite (claims)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import backend_settings_s3
from expired_seed import seed_expired
from fixtures_postgres import Postgres
from fixtures_seaweedfs import SeaweedFS, weed_ports

from audiostore.blobstores.spooling import primary_of
from audiostore.catalog import AudioRow
from audiostore.jobs import run_job
from audiostore.runtime import Runtime

pytestmark = [pytest.mark.s3]

EXPIRED, LIVE = 30, 5


async def states(rt: Runtime) -> dict[str, int]:
    async with rt.catalog.engine.connect() as conn:
        stmt = select(AudioRow.state, func.count()).group_by(AudioRow.state)
        return {state: n for state, n in (await conn.execute(stmt)).all()}


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_sweep_with_the_bucket_down_hands_its_batches_to_the_retry_job(
    database: str, seaweedfs: SeaweedFS, s3_bucket: str, postgres: Postgres, tmp_path: Path
) -> None:
    db_url = postgres.new_database() if database == "postgresql" else (
        f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    )
    up = backend_settings_s3(tmp_path, seaweedfs, s3_bucket, db_url, sweep_batch_size=7)
    # The same catalogue and bucket name, but an endpoint where nothing listens.
    down = up.model_copy(update={"s3_endpoint": f"http://127.0.0.1:{weed_ports(1)[0]}"})
    dead, live = await seed_expired(up, tmp_path, expired=EXPIRED, live=LIVE, owner="tts")

    rt = Runtime.build(down)
    try:
        swept = await run_job(rt, "sweep_expired")
        assert swept.error is None
        assert swept.counts["deleted"] == 0
        assert swept.counts["left_for_retry"] == swept.counts["expired"] > 0
        # The first refused batch stops the sweep; what it did not reach stays expired,
        # invisible, for the next sweep.
        assert await states(rt) == {
            "deleting": swept.counts["expired"],
            "ready": EXPIRED + LIVE - swept.counts["expired"],
        }
    finally:
        await rt.close()

    rt = Runtime.build(up)
    try:
        retried = await run_job(rt, "retry_deletes")
        assert retried.counts["deleted"] == swept.counts["expired"]
        again = await run_job(rt, "sweep_expired")
        assert again.counts["deleted"] == EXPIRED - swept.counts["expired"]
        assert await states(rt) == {"ready": LIVE}
        left = sorted([m.key async for m in primary_of(rt.store).list("")])
        assert left == sorted(live)
    finally:
        await rt.close()
        if database == "postgresql":
            postgres.drop_database(db_url)
