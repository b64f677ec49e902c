"""Instances started at the same moment on one empty catalogue all migrate it, and it ends at
head once: the second waits for the first's migrations instead of running them again."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from audiostore.catalog import Catalog, create_engine, current_revision, head_revision, upgrade


async def test_instances_started_together_migrate_once(catalog: Catalog) -> None:
    url = catalog.engine.url.render_as_string(hide_password=False)
    others = [create_engine(url) for _ in range(3)]
    try:
        await asyncio.wait_for(
            asyncio.gather(upgrade(catalog.engine), *(upgrade(e) for e in others)), timeout=120)
        for engine in (catalog.engine, *others):
            assert await current_revision(engine) == head_revision()
        async with catalog.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one()
        assert versions == 1
    finally:
        for engine in others:
            await engine.dispose()
